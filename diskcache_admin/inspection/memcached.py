"""Django's PyMemcacheCache: server statistics, exact-key lookup and delete, flush.

Memcached cannot list its keys, and it has no side-effect-free read: every lookup counts in
the server's get statistics, and a peek (a plain get) refreshes the item's LRU position. Key
metadata comes from the meta command ``mg <key> s t u`` (size and seconds left, no LRU bump)
without transferring the value. Its only "clear" is ``flush_all``, which empties the whole
server, so that is offered as FLUSH_DB.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.memcached import PyMemcacheCache

from . import _common
from .base import Adapter, Capability, InspectionError, KeyInfo, ReadEffect, Stats, ValuePreview

_SUMMED = ("curr_items", "bytes", "get_hits", "get_misses", "evictions", "limit_maxbytes")


class PyMemcacheAdapter(Adapter):
    capabilities = frozenset(
        {
            Capability.STATS,
            Capability.HIT_STATS,
            Capability.KEY_INFO,
            Capability.PEEK,
            Capability.SET,
            Capability.DELETE,
            Capability.TOUCH,
            Capability.FLUSH_DB,
        }
    )
    # memcached has no side-effect-free read: "mg" and "get" both count as a get, and a peek (a
    # plain get) refreshes the item's LRU position.
    read_effects = frozenset({ReadEffect.SERVER_STATS, ReadEffect.LRU, ReadEffect.LAZY_EXPIRY})
    _backend_label = "PyMemcacheCache"

    cache: PyMemcacheCache

    @classmethod
    def serves(cls, cache: BaseCache) -> bool:
        # The adapter speaks pymemcache's client API; pylibmc's PyLibMCCache is another client
        # of the same kind, which it cannot inspect.
        return isinstance(cache, PyMemcacheCache)

    def location(self) -> str:
        return _common.mask_location(self.config.get("LOCATION", ""))

    def _error_types(self) -> tuple[type[BaseException], ...]:
        from pymemcache.exceptions import MemcacheError

        return (MemcacheError, OSError)

    def _error_message(self, exc: BaseException) -> str:
        return _common.no_answer(self, exc)

    def _hash_client(self) -> Any:
        return self.cache._cache  # type: ignore[attr-defined]

    def stats(self) -> Stats:
        totals = dict.fromkeys(_SUMMED, 0)
        servers = []
        with self._errors():
            for name, client in self._hash_client().clients.items():
                raw = client.stats()
                servers.append(str(name))
                for field in _SUMMED:
                    value = raw.get(field.encode())
                    if isinstance(value, (int, float)):
                        totals[field] += int(value)
        return Stats(
            entries=totals["curr_items"],
            size=totals["bytes"],
            volume=totals["bytes"],
            size_limit=totals["limit_maxbytes"] or None,
            hits=totals["get_hits"],
            misses=totals["get_misses"],
            evictions=totals["evictions"],
            eviction_policy="LRU",
            extra={"servers": servers, "server_wide": True},
        )

    def key_info(self, raw_key: str) -> KeyInfo | None:
        with self._errors():
            client = self._hash_client()._get_client(raw_key)
            if client is None:
                raise InspectionError(f"Cache {self.alias!r}: no memcached server is available.")
            # "u": do not bump the item in the LRU (nor mark it fetched); it still counts as a
            # get in the server's statistics.
            reply = client.raw_command(f"mg {raw_key} s t u", b"\r\n")
        words = reply.decode("ascii", "replace").split()
        if not words or words[0] != "HD":
            return None
        flags = {word[0]: word[1:] for word in words[1:] if word}
        size = int(flags["s"]) if flags.get("s", "").isdigit() else None
        ttl = int(flags.get("t", "-1") or "-1")
        expires = None if ttl < 0 else time.time() + ttl
        return _common.key_info_for(self.cache, raw_key, size=size, expires=expires)

    def peek(self, raw_key: str) -> tuple[bool, Any]:
        missing = object()
        with self._errors():
            try:
                value = self._hash_client().get(raw_key, default=missing)
            except (InspectionError, OSError):
                raise
            # pymemcache's pickle serde runs the stored classes' own code: it can raise anything.
            except Exception as exc:
                raise InspectionError(_common.unpickle_error(exc)) from exc
        return (False, None) if value is missing else (True, value)

    def preview(self, raw_key: str, limit: int) -> ValuePreview:
        info = self.key_info(raw_key)
        size = None if info is None else info.size
        try:
            found, value = self.peek(raw_key)
        except InspectionError as exc:
            return _common.preview_error(str(exc), size)
        if not found:
            return ValuePreview(found=False)
        return _common.preview_of(value, limit, size)

    def delete(self, raw_keys: list[str]) -> int:
        deleted = 0
        with self._errors():
            client = self._hash_client()
            for key in raw_keys:
                deleted += bool(client.delete(key, noreply=False))
        return deleted

    def touch(self, raw_key: str, timeout: float | None) -> bool:
        with self._errors():
            expire = self.cache.get_backend_timeout(timeout)
            return bool(self._hash_client().touch(raw_key, expire=expire, noreply=False))

    def flush_db(self) -> None:
        with self._errors():
            self.cache.clear()
