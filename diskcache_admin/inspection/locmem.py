"""Django's LocMemCache: read through its own dicts, under its own lock, never through ``get()``.

``get()`` would move the key to the front of the LRU order (and delete it if expired), so the
adapter copies what it needs under the cache's lock and unpickles outside it. The data lives in
*this* process: what the admin shows is the web worker's copy, not another process's.
"""

from __future__ import annotations

import dataclasses
import pickle
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

from django.core.cache.backends.locmem import LocMemCache

from . import _common
from .base import (
    Adapter,
    Capability,
    KeyInfo,
    KeyPage,
    KeyQuery,
    MatchMode,
    Order,
    Removal,
    Stats,
)


class LocMemAdapter(Adapter):
    capabilities = frozenset(
        {
            Capability.STATS,
            Capability.LIST_KEYS,
            Capability.SEARCH,
            Capability.KEY_INFO,
            Capability.PEEK,
            Capability.SET,
            Capability.DELETE,
            Capability.TOUCH,
            Capability.CLEAR,
            Capability.EXPIRE,
        }
    )
    orders: ClassVar[tuple[Order, ...]] = ("key", "size", "expires")
    match_modes: ClassVar[tuple[MatchMode, ...]] = ("prefix", "glob", "substring")
    key_filters = frozenset({"family", "expired"})
    _backend_label = "LocMemCache"

    cache: LocMemCache

    # LocMemCache's internals, typed: the stubs do not declare them.
    @property
    def _data(self) -> dict[str, bytes]:
        data: dict[str, bytes] = self.cache._cache  # type: ignore[attr-defined]
        return data

    @property
    def _expiry(self) -> dict[str, float | None]:
        expiry: dict[str, float | None] = self.cache._expire_info  # type: ignore[attr-defined]
        return expiry

    @property
    def _lock(self) -> threading.Lock:
        lock: threading.Lock = self.cache._lock  # type: ignore[attr-defined]
        return lock

    def _rows(self) -> list[tuple[str, int, float | None]]:
        """``(made key, pickled size, expiry)`` of every entry, copied under the cache's lock."""
        with self._lock:
            return [
                (key, len(pickled), self._expiry.get(key)) for key, pickled in self._data.items()
            ]

    def _info(self, raw_key: str, size: int, expires: float | None, now: float) -> KeyInfo:
        return _common.key_info_for(
            self.cache,
            raw_key,
            size=size,
            expires=expires,
            expired=expires is not None and expires <= now,
        )

    def _infos(self) -> list[KeyInfo]:
        now = time.time()
        return [self._info(key, size, expires, now) for key, size, expires in self._rows()]

    def stats(self) -> Stats:
        now = time.time()
        rows = self._rows()
        return Stats(
            entries=len(rows),
            expired=sum(1 for _k, _s, e in rows if e is not None and e <= now),
            size=sum(size for _k, size, _e in rows),
            max_entries=self.cache._max_entries,
            extra={"process_local": True},
        )

    def keys(self, query: KeyQuery) -> KeyPage:
        self.check_query(query)
        return _common.page_in_memory(self.kind, self._infos(), query, time.time())

    def iter_keys(self, pattern: str | None = None) -> Iterator[KeyInfo]:
        return iter(self._matching(KeyQuery(search=pattern or "", match="glob")))

    def _matching(self, query: KeyQuery) -> list[KeyInfo]:
        self.check_query(dataclasses.replace(query, order=self.orders[0]))
        now = time.time()
        return [info for info in self._infos() if _common.query_matches(query, info, now)]

    def delete_matching(self, query: KeyQuery) -> Removal:
        found = self._matching(query)
        return self._remove([info.raw_key for info in found])

    def key_info(self, raw_key: str) -> KeyInfo | None:
        with self._lock:
            pickled = self._data.get(raw_key)
            expires = self._expiry.get(raw_key)
        if pickled is None:
            return None
        return self._info(raw_key, len(pickled), expires, time.time())

    def _stored(self, raw_key: str) -> tuple[bytes, int] | None:
        with self._lock:
            pickled: bytes | None = self._data.get(raw_key)
        return None if pickled is None else (pickled, len(pickled))

    def _decode(self, stored: bytes, size: int | None) -> Any:
        # Unpickled outside the lock: a value's own code must not run while it is held.
        return _common.unpickle(pickle.loads, stored)

    def _pop(self, raw_keys: list[str]) -> Removal:
        """Remove entries; the caller holds the cache's lock."""
        count = size = 0
        for key in raw_keys:
            pickled = self._data.pop(key, None)
            self._expiry.pop(key, None)
            if pickled is not None:
                count += 1
                size += len(pickled)
        return Removal(count, size)

    def _remove(self, raw_keys: list[str]) -> Removal:
        with self._lock:
            return self._pop(raw_keys)

    def delete(self, raw_keys: list[str]) -> int:
        return self._remove(raw_keys).count or 0

    def touch(self, raw_key: str, timeout: float | None) -> bool:
        cache = self.cache
        expires = cache.get_backend_timeout(timeout)
        now = time.time()
        with self._lock:
            if raw_key not in self._data:
                return False
            current = self._expiry.get(raw_key)
            if current is not None and current <= now:
                return False
            self._expiry[raw_key] = expires
            return True

    def clear_preview(self) -> Removal:
        rows = self._rows()
        return Removal(len(rows), sum(size for _k, size, _e in rows))

    def clear(self) -> Removal:
        with self._lock:
            removed = Removal(
                len(self._data),
                sum(len(p) for p in self._data.values()),
            )
            self._data.clear()
            self._expiry.clear()
        return removed

    def expire(self, progress: Callable[[int], None] | None = None) -> Removal:
        now = time.time()
        with self._lock:
            return self._pop([k for k, e in self._expiry.items() if e is not None and e <= now])
