"""Django's LocMemCache: read through its own dicts, under its own lock, never through ``get()``.

``get()`` would move the key to the front of the LRU order (and delete it if expired), so the
adapter copies what it needs under the cache's lock and unpickles outside it. The data lives in
*this* process: what the admin shows is the web worker's copy, not another process's.
"""

from __future__ import annotations

import pickle
import time
from collections.abc import Iterator
from typing import Any, ClassVar

from django.core.cache.backends.locmem import LocMemCache

from . import _common
from .base import (
    Adapter,
    CacheStats,
    Capability,
    InspectionError,
    KeyInfo,
    KeyPage,
    KeyQuery,
    MatchMode,
    Order,
    Removal,
    ValuePreview,
)


class LocMemAdapter(Adapter):
    kind = "locmem"
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

    cache: LocMemCache

    def _rows(self) -> list[tuple[str, int, float | None]]:
        """``(made key, pickled size, expiry)`` of every entry, copied under the cache's lock."""
        cache = self.cache
        with cache._lock:  # type: ignore[attr-defined]
            return [
                (key, len(pickled), cache._expire_info.get(key))  # type: ignore[attr-defined]
                for key, pickled in cache._cache.items()  # type: ignore[attr-defined]
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

    def stats(self) -> CacheStats:
        now = time.time()
        rows = self._rows()
        return CacheStats(
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
        query = KeyQuery(search=pattern or "", match="glob")
        now = time.time()
        return iter([info for info in self._infos() if _common.query_matches(query, info, now)])

    def _matching(self, query: KeyQuery) -> list[KeyInfo]:
        self.check_query(KeyQuery(**{**query.__dict__, "order": self.orders[0]}))
        now = time.time()
        return [info for info in self._infos() if _common.query_matches(query, info, now)]

    def count_matching(self, query: KeyQuery) -> Removal:
        found = self._matching(query)
        return Removal(len(found), sum(info.size or 0 for info in found))

    def delete_matching(self, query: KeyQuery) -> Removal:
        found = self._matching(query)
        return self._remove([info.raw_key for info in found])

    def key_info(self, raw_key: str) -> KeyInfo | None:
        cache = self.cache
        with cache._lock:  # type: ignore[attr-defined]
            pickled = cache._cache.get(raw_key)  # type: ignore[attr-defined]
            expires = cache._expire_info.get(raw_key)  # type: ignore[attr-defined]
        if pickled is None:
            return None
        return self._info(raw_key, len(pickled), expires, time.time())

    def _pickled(self, raw_key: str) -> bytes | None:
        cache = self.cache
        with cache._lock:  # type: ignore[attr-defined]
            pickled: bytes | None = cache._cache.get(raw_key)  # type: ignore[attr-defined]
            return pickled

    def peek(self, raw_key: str) -> tuple[bool, Any]:
        pickled = self._pickled(raw_key)
        if pickled is None:
            return False, None
        try:
            return True, pickle.loads(pickled)
        # Unpickling runs the stored classes' own code and can raise anything at all.
        except Exception as exc:
            raise InspectionError(_common.unpickle_error(exc)) from exc

    def preview(self, raw_key: str, limit: int) -> ValuePreview:
        pickled = self._pickled(raw_key)
        if pickled is None:
            return ValuePreview(found=False)
        try:
            value = pickle.loads(pickled)
        # Unpickling runs the stored classes' own code and can raise anything at all.
        except Exception as exc:
            return _common.preview_error(_common.unpickle_error(exc), len(pickled))
        return _common.preview_of(value, limit, len(pickled))

    def set(
        self,
        key: str,
        value: Any,
        timeout: float | None,
        tag: str | None = None,
        version: int | None = None,
    ) -> None:
        if tag is not None:
            raise InspectionError(f"Cache {self.alias!r} (LocMemCache) has no tags.")
        self.cache.set(key, value, timeout, version=version)

    def _remove(self, raw_keys: list[str]) -> Removal:
        cache = self.cache
        count = size = 0
        with cache._lock:  # type: ignore[attr-defined]
            for key in raw_keys:
                pickled = cache._cache.pop(key, None)  # type: ignore[attr-defined]
                cache._expire_info.pop(key, None)  # type: ignore[attr-defined]
                if pickled is not None:
                    count += 1
                    size += len(pickled)
        return Removal(count, size)

    def delete(self, raw_keys: list[str]) -> int:
        return self._remove(raw_keys).count or 0

    def touch(self, raw_key: str, timeout: float | None) -> bool:
        cache = self.cache
        expires = cache.get_backend_timeout(timeout)
        now = time.time()
        with cache._lock:  # type: ignore[attr-defined]
            if raw_key not in cache._cache:  # type: ignore[attr-defined]
                return False
            current = cache._expire_info.get(raw_key)  # type: ignore[attr-defined]
            if current is not None and current <= now:
                return False
            cache._expire_info[raw_key] = expires  # type: ignore[attr-defined]
            return True

    def clear_preview(self) -> Removal:
        rows = self._rows()
        return Removal(len(rows), sum(size for _k, size, _e in rows))

    def clear(self) -> Removal:
        cache = self.cache
        with cache._lock:  # type: ignore[attr-defined]
            removed = Removal(
                len(cache._cache),  # type: ignore[attr-defined]
                sum(len(p) for p in cache._cache.values()),  # type: ignore[attr-defined]
            )
            cache._cache.clear()  # type: ignore[attr-defined]
            cache._expire_info.clear()  # type: ignore[attr-defined]
        return removed

    def expire(self) -> Removal:
        cache = self.cache
        now = time.time()
        count = size = 0
        with cache._lock:  # type: ignore[attr-defined]
            expire_info = cache._expire_info  # type: ignore[attr-defined]
            for key in [k for k, e in expire_info.items() if e is not None and e <= now]:
                pickled = cache._cache.pop(key, None)  # type: ignore[attr-defined]
                del expire_info[key]
                if pickled is not None:
                    count += 1
                    size += len(pickled)
        return Removal(count, size)
