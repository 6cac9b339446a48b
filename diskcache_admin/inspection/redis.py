"""Redis, through Django's own ``RedisCache`` or django-redis: SCAN, never KEYS.

The alias's keys are those its key function makes for its KEY_PREFIX (any version): the MATCH
pattern is the key function applied to a glob, so "clear" removes this alias's keys and leaves
other aliases and apps sharing the database alone. A whole-database flush is a separate
capability. Hit, miss, memory and eviction figures come from INFO and are server-wide.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Iterator
from typing import Any, ClassVar, Final

from django.core.cache.backends.base import BaseCache, default_key_func

from . import _common
from .base import (
    Adapter,
    Capability,
    InspectionError,
    KeyInfo,
    KeyPage,
    KeyQuery,
    MatchMode,
    Removal,
    Stats,
)

# Keys visited per SCAN call, and SCAN calls per page at most: a page costs a bounded number of
# round trips whatever the database size, and may come back short (the cursor says "more").
SCAN_COUNT: Final = 200
SCANS_PER_PAGE: Final = 20
# stats() counts the alias's own keys only when the whole database is at most this big.
STATS_SCAN_LIMIT: Final = 10_000
_BATCH: Final = 500

_GLOB_SPECIAL = re.compile(r"([*?\[\]\\])")


def glob_escape(text: str) -> str:
    return _GLOB_SPECIAL.sub(r"\\\1", text)


class RedisAdapterBase(Adapter):
    capabilities = frozenset(
        {
            Capability.STATS,
            Capability.HIT_STATS,
            Capability.LIST_KEYS,
            Capability.SEARCH,
            Capability.KEY_INFO,
            Capability.PEEK,
            Capability.SET,
            Capability.DELETE,
            Capability.TOUCH,
            Capability.CLEAR,
            Capability.FLUSH_DB,
        }
    )
    # SCAN returns keys in the server's hash order; each page is sorted by key for display.
    orders = ("key",)
    match_modes: ClassVar[tuple[MatchMode, ...]] = ("prefix", "glob", "substring")
    key_filters = frozenset({"family", "expired"})

    # -- what the two backends do differently ------------------------------------------------

    def client(self) -> Any:
        """The redis-py client that writes for this alias."""
        raise NotImplementedError

    def decode(self, payload: bytes) -> Any:
        raise NotImplementedError

    def _error_types(self) -> tuple[type[BaseException], ...]:
        import redis

        return (redis.RedisError,)

    # -- plumbing ----------------------------------------------------------------------------

    def location(self) -> str:
        return _common.mask_location(self.config.get("LOCATION", ""))

    def _error_message(self, exc: BaseException) -> str:
        return _common.no_answer(self, exc)

    def _pattern(self, user_glob: str) -> str:
        """The MATCH pattern of this alias's keys whose user key matches ``user_glob``."""
        return str(self.cache.key_func(user_glob, glob_escape(str(self.cache.key_prefix)), "*"))

    def _owns(self, raw_key: str) -> bool:
        _key, prefix, _version = _common.split_key(self.cache, raw_key)
        return prefix is not None or self.cache.key_func is not default_key_func

    def _user_glob(self, query: KeyQuery) -> str:
        if query.search:
            if query.match == "prefix":
                return glob_escape(query.search) + "*"
            if query.match == "substring":
                return "*" + glob_escape(query.search) + "*"
            return query.search.replace("[!", "[^")
        if query.family:
            return glob_escape(query.family) + "*"
        return "*"

    @staticmethod
    def _text(key: bytes | str) -> str:
        return key.decode("utf-8", "replace") if isinstance(key, bytes) else key

    def _scan(self, client: Any, cursor: int, pattern: str) -> tuple[int, list[str]]:
        cursor, found = client.scan(cursor=cursor, match=pattern, count=SCAN_COUNT)
        return int(cursor), [self._text(key) for key in found]

    def _all_keys(self, pattern: str) -> Iterator[str]:
        client = self.client()
        cursor = 0
        seen: set[str] = set()  # SCAN may return a key twice
        while True:
            cursor, keys = self._scan(client, cursor, pattern)
            for key in keys:
                if key not in seen and self._owns(key):
                    seen.add(key)
                    yield key
            if cursor == 0:
                return

    def _describe(self, client: Any, raw_keys: list[str]) -> list[KeyInfo]:
        """TTL and memory of each key, in one pipeline; keys gone since SCAN are dropped."""
        if not raw_keys:
            return []
        pipe = client.pipeline(transaction=False)
        for key in raw_keys:
            pipe.pttl(key)
            pipe.memory_usage(key, samples=0)
        results = pipe.execute(raise_on_error=False)
        now = time.time()
        infos = []
        for index, key in enumerate(raw_keys):
            pttl, memory = results[2 * index], results[2 * index + 1]
            if isinstance(pttl, Exception) or pttl == -2:
                continue
            expires = None if pttl < 0 else now + pttl / 1000
            size = memory if isinstance(memory, int) else None
            infos.append(_common.key_info_for(self.cache, key, size=size, expires=expires))
        return infos

    # -- description -------------------------------------------------------------------------

    def stats(self) -> Stats:
        with self._errors():
            client = self.client()
            info = client.info()
            db_keys = int(client.dbsize())
            own = None
            if db_keys <= STATS_SCAN_LIMIT:
                own = sum(1 for _key in self._all_keys(self._pattern("*")))
        maxmemory = int(info.get("maxmemory") or 0)
        return Stats(
            entries=own,
            volume=_int(info.get("used_memory")),
            size_limit=maxmemory or None,
            hits=_int(info.get("keyspace_hits")),
            misses=_int(info.get("keyspace_misses")),
            evictions=_int(info.get("evicted_keys")),
            eviction_policy=info.get("maxmemory_policy"),
            extra={
                "db_keys": db_keys,
                "server_wide": ["hits", "misses", "evictions", "volume"],
                "redis_version": info.get("redis_version"),
                "used_memory_human": info.get("used_memory_human"),
            },
        )

    # -- keys --------------------------------------------------------------------------------

    def keys(self, query: KeyQuery) -> KeyPage:
        self.check_query(query)
        cursor = 0
        if query.cursor:
            kind, pattern_cursor = _common.decode_cursor(query.cursor, 2)
            if kind != self.kind or not isinstance(pattern_cursor, int):
                raise InspectionError("The page cursor belongs to another listing; start again.")
            cursor = pattern_cursor
        pattern = self._pattern(self._user_glob(query))
        now = time.time()
        found: list[KeyInfo] = []
        with self._errors():
            client = self.client()
            for _call in range(SCANS_PER_PAGE):
                cursor, keys = self._scan(client, cursor, pattern)
                owned = [key for key in keys if self._owns(key)]
                found.extend(
                    info
                    for info in self._describe(client, owned)
                    if _common.query_matches(query, info, now)
                )
                if cursor == 0 or len(found) >= query.limit:
                    break
        unique = {info.raw_key: info for info in found}
        ordered = sorted(unique.values(), key=lambda info: info.key, reverse=query.descending)
        return KeyPage(ordered, None if cursor == 0 else _common.encode_cursor(self.kind, cursor))

    def iter_keys(self, pattern: str | None = None) -> Iterator[KeyInfo]:
        query = KeyQuery(search=pattern or "", match="glob")
        with self._errors():
            client = self.client()
            keys = self._all_keys(self._pattern(self._user_glob(query)))
            for batch in _common.chunks(keys, _BATCH):
                yield from self._describe(client, batch)

    def _matching_keys(self, query: KeyQuery) -> list[str]:
        self.check_query(query)
        now = time.time()
        with self._errors():
            client = self.client()
            keys = list(self._all_keys(self._pattern(self._user_glob(query))))
            if query.expired is None and not query.exclude_prefixes and not query.family:
                plain = KeyQuery(search=query.search, match=query.match)
                return [
                    key
                    for key in keys
                    if _common.query_matches(plain, _common.key_info_for(self.cache, key), now)
                ]
            matched: list[str] = []
            for batch in _common.chunks(keys, _BATCH):
                infos = self._describe(client, batch)
                matched.extend(i.raw_key for i in infos if _common.query_matches(query, i, now))
            return matched

    def count_matching(self, query: KeyQuery) -> Removal:
        return Removal(len(self._matching_keys(query)))

    def delete_matching(self, query: KeyQuery) -> Removal:
        return Removal(self.delete(self._matching_keys(query)))

    def key_info(self, raw_key: str) -> KeyInfo | None:
        with self._errors():
            infos = self._describe(self.client(), [raw_key])
        return infos[0] if infos else None

    def _stored(self, raw_key: str) -> tuple[bytes, int] | None:
        # CLIENT NO-TOUCH (Redis 7.2+) keeps this read from refreshing the key's LRU/LFU data;
        # older servers answer it with an error, which is ignored: the read still works.
        with self._errors():
            pipe = self.client().pipeline(transaction=False)
            pipe.execute_command("CLIENT", "NO-TOUCH", "ON")
            pipe.get(raw_key)
            pipe.execute_command("CLIENT", "NO-TOUCH", "OFF")
            results = pipe.execute(raise_on_error=False)
        payload = results[1]
        if isinstance(payload, Exception):
            raise InspectionError(f"Cache {self.alias!r}: {payload}")
        return None if payload is None else (bytes(payload), len(payload))

    def _decode(self, stored: bytes, size: int | None) -> Any:
        _common.check_size(size)
        return _common.unpickle(self.decode, stored)

    # -- changes -----------------------------------------------------------------------------

    def _unlink(self, client: Any, raw_keys: Iterable[str]) -> int:
        return sum(int(client.unlink(*batch)) for batch in _common.chunks(raw_keys, _BATCH))

    def delete(self, raw_keys: list[str]) -> int:
        with self._errors():
            return self._unlink(self.client(), raw_keys)

    def touch(self, raw_key: str, timeout: float | None) -> bool:
        with self._errors():
            client = self.client()
            if timeout is None:
                client.persist(raw_key)
                return bool(client.exists(raw_key))
            return bool(client.pexpire(raw_key, max(int(timeout * 1000), 0)))

    def clear_preview(self) -> Removal:
        with self._errors():
            return Removal(sum(1 for _key in self._all_keys(self._pattern("*"))))

    def clear(self) -> Removal:
        with self._errors():
            return Removal(self._unlink(self.client(), self._all_keys(self._pattern("*"))))

    def flush_db(self) -> None:
        with self._errors():
            self.client().flushdb()


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


class RedisAdapter(RedisAdapterBase):
    """Django's ``django.core.cache.backends.redis.RedisCache``."""

    kind = "redis"

    def client(self) -> Any:
        return self.cache._cache.get_client(None, write=True)  # type: ignore[attr-defined]

    def decode(self, payload: bytes) -> Any:
        return self.cache._cache._serializer.loads(payload)  # type: ignore[attr-defined]


class DjangoRedisAdapter(RedisAdapterBase):
    """django-redis's ``django_redis.cache.RedisCache`` (clients with ``get_client``)."""

    kind = "django-redis"

    def _error_types(self) -> tuple[type[BaseException], ...]:
        import redis
        from django_redis.exceptions import ConnectionInterrupted

        return (redis.RedisError, ConnectionInterrupted)

    def client(self) -> Any:
        backend_client = self.cache.client  # type: ignore[attr-defined]
        get_client = getattr(backend_client, "get_client", None)
        if get_client is None:
            raise InspectionError(
                f"Cache {self.alias!r}: its CLIENT_CLASS {type(backend_client).__name__} gives no"
                " single server connection to inspect."
            )
        return get_client(write=True)

    def decode(self, payload: bytes) -> Any:
        return self.cache.client.decode(payload)  # type: ignore[attr-defined]


def redis_backend_classes() -> list[tuple[type[BaseCache], type[RedisAdapterBase]]]:
    """The Redis backend classes that can be imported here, most specific first."""
    classes: list[tuple[type[BaseCache], type[RedisAdapterBase]]] = []
    try:
        from django_redis.cache import RedisCache as DjangoRedisCache
    except ImportError:
        pass
    else:
        classes.append((DjangoRedisCache, DjangoRedisAdapter))
    try:
        from django.core.cache.backends.redis import RedisCache
    except ImportError:  # pragma: no cover - part of Django since 4.0
        pass
    else:
        classes.append((RedisCache, RedisAdapter))
    return classes
