"""Django's FileBasedCache: one file per entry, named by the md5 of the made key.

The names cannot be turned back into keys, so there is no key listing; everything else is read
from the files themselves: the first pickle in each file is its expiry time, the rest the
zlib-compressed pickled value. Reading never deletes an expired file (Django's ``get`` does).
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import time
import zlib
from collections.abc import Callable
from typing import Any

from django.core.cache.backends.filebased import FileBasedCache

from . import _common
from .base import (
    Adapter,
    Capability,
    InspectionError,
    KeyInfo,
    Removal,
    Stats,
)


def _file_value(data: bytes) -> Any:
    """The value in a cache file's bytes: the expiry pickle, then the zlib-compressed pickle."""
    handle = io.BytesIO(data)
    pickle.load(handle)  # the expiry header
    return pickle.loads(zlib.decompress(handle.read()))


class FileBasedAdapter(Adapter):
    capabilities = frozenset(
        {
            Capability.STATS,
            Capability.KEY_INFO,
            Capability.PEEK,
            Capability.SET,
            Capability.DELETE,
            Capability.CLEAR,
            Capability.EXPIRE,
        }
    )
    _backend_label = "FileBasedCache"

    cache: FileBasedCache

    def location(self) -> str:
        return str(self.cache._dir)  # type: ignore[attr-defined]

    def _path(self, raw_key: str) -> str:
        name = hashlib.md5(raw_key.encode(), usedforsecurity=False).hexdigest()
        return os.path.join(self.cache._dir, name + self.cache.cache_suffix)  # type: ignore[attr-defined]

    def _files(self) -> list[str]:
        try:
            return list(self.cache._list_cache_files())  # type: ignore[attr-defined]
        except OSError as exc:
            raise InspectionError(f"Cache {self.alias!r} (FileBasedCache): {exc}") from exc

    @staticmethod
    def _expiry(path: str) -> tuple[float | None, int] | None:
        """``(expiry, file size)``; an empty or unreadable header counts as expired, like Django."""
        try:
            with open(path, "rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                try:
                    expires = pickle.load(handle)
                except (EOFError, pickle.UnpicklingError, ValueError):
                    expires = 0.0
        except FileNotFoundError:  # removed by another process since the listing
            return None
        return (None if expires is None else float(expires)), size

    @staticmethod
    def _expired(expires: float | None, now: float) -> bool:
        return expires is not None and expires < now

    def stats(self) -> Stats:
        now = time.time()
        entries = expired = size = 0
        for path in self._files():
            header = self._expiry(path)
            if header is None:
                continue
            entries += 1
            size += header[1]
            expired += self._expired(header[0], now)
        return Stats(
            entries=entries,
            expired=expired,
            size=size,
            volume=size,
            max_entries=self.cache._max_entries,
        )

    def key_info(self, raw_key: str) -> KeyInfo | None:
        path = self._path(raw_key)
        header = self._expiry(path)
        if header is None:
            return None
        try:
            stored = os.stat(path).st_mtime
        except FileNotFoundError:
            return None
        expires, size = header
        return _common.key_info_for(
            self.cache,
            raw_key,
            size=size,
            stored=stored,
            expires=expires,
            expired=self._expired(expires, time.time()),
        )

    def _stored(self, raw_key: str) -> tuple[bytes, int] | None:
        """The file's bytes and size; a file above the preview limit is not read at all."""
        try:
            with open(self._path(raw_key), "rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                return (handle.read() if size <= _common.DECODE_LIMIT else b""), size
        except FileNotFoundError:
            return None

    def _decode(self, stored: bytes, size: int | None) -> Any:
        _common.check_size(size)
        return _common.unpickle(_file_value, stored)

    def _remove(self, paths: list[str]) -> Removal:
        count = size = 0
        for path in paths:
            try:
                file_size = os.stat(path).st_size
                os.remove(path)
            except FileNotFoundError:
                continue
            count += 1
            size += file_size
        return Removal(count, size)

    def delete(self, raw_keys: list[str]) -> int:
        return self._remove([self._path(key) for key in raw_keys]).count or 0

    def clear_preview(self) -> Removal:
        count = size = 0
        for path in self._files():
            try:
                size += os.stat(path).st_size
            except FileNotFoundError:
                continue
            count += 1
        return Removal(count, size)

    def clear(self) -> Removal:
        return self._remove(self._files())

    def expire(self, progress: Callable[[int], None] | None = None) -> Removal:
        now = time.time()
        expired = []
        for path in self._files():
            header = self._expiry(path)
            if header is not None and self._expired(header[0], now):
                expired.append(path)
        return self._remove(expired)
