"""Redis, through Django's own ``RedisCache`` or django-redis: SCAN, never KEYS.

This is the one module that knows the two backends' private client API. The rest of the app
uses its public helpers: :func:`redis_client` (the raw redis-py client of either backend),
:func:`glob_escape` (a literal inside a ``MATCH`` pattern), :func:`key_space` (exactly which
stored keys belong to an alias) and :func:`delete_alias_keys`.

Which keys belong to an alias
-----------------------------
With Django's default key function an alias's stored keys are ``<KEY_PREFIX>:<version>:<key>``,
encoded as UTF-8. :class:`KeySpace` matches exactly those, on the raw bytes: the prefix, then a
version as ``str(int)`` writes it (``0``, ``7``, ``-3``; never ``07``, ``+7`` or a non-ASCII
digit), then any valid UTF-8. A key that is not valid UTF-8 cannot come from ``make_key``
(Django keys are ``str``) and is never listed, counted or deleted.

What stays ambiguous, because the format itself is: with one alias on prefix ``p`` and another
on ``p:1``, the stored key ``p:1:2:x`` is both ``p``'s key ``2:x`` (version 1) and ``p:1``'s key
``x`` (version 2). Nothing in the bytes tells them apart, so the key goes to the alias with the
*longer* prefix: every Redis alias in ``CACHES`` with Django's key function whose prefix extends
this one's like that is left out of this one's listing, counts and clear (whatever server it
points at: leaving a key is safe, deleting another alias's is not). Keys written by code this
project does not configure (another project, ``redis-cli``), and aliases with a custom
``KEY_FUNCTION``, cannot be known: a key of theirs that has this shape is taken as this alias's.
Aliases that share one ``KEY_PREFIX`` share one key space (every version belongs to both).

With a custom ``KEY_FUNCTION`` the keys cannot be reversed: the alias's keys are those matching
the ``MATCH`` pattern its key function makes (the prefix escaped, any version), UTF-8 only.

Hit, miss, memory and eviction figures come from INFO and are server-wide.
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Final

from django.core.cache.backends.base import BaseCache, default_key_func, get_key_func

from . import _common
from .base import (
    Activity,
    Adapter,
    Capability,
    FamilyActivity,
    InsightUnavailable,
    InspectionError,
    KeyActivity,
    KeyInfo,
    KeyPage,
    KeyQuery,
    MatchMode,
    ReadEffect,
    Removal,
    Stats,
)
from .kinds import Kind, aliases_of, kind_of

if TYPE_CHECKING:
    import redis

__all__ = [
    "DjangoRedisAdapter",
    "KeySpace",
    "RedisAdapter",
    "RedisAdapterBase",
    "delete_alias_keys",
    "glob_escape",
    "key_space",
    "redis_client",
    "scan_alias_keys",
]

# Keys visited per SCAN call, and SCAN calls per page at most: a page costs a bounded number of
# round trips whatever the database size, and may come back short (the cursor says "more").
SCAN_COUNT: Final = 200
SCANS_PER_PAGE: Final = 20
# stats() counts the alias's own keys only when the whole database is at most this big.
STATS_SCAN_LIMIT: Final = 10_000
# Hot keys read the LFU counter (OBJECT FREQ) of at most this many keys of a SCAN sample.
INSIGHT_SAMPLE: Final = SCAN_COUNT * SCANS_PER_PAGE
_BATCH: Final = 500

_GLOB_SPECIAL = re.compile(r"([*?\[\]\\])")


def glob_escape(text: str) -> str:
    """``text`` as a literal inside a Redis ``MATCH``/``KEYS`` glob pattern."""
    return _GLOB_SPECIAL.sub(r"\\\1", text)


# -- the clients' private API: nowhere else in the app --------------------------------------


def redis_client(cache: BaseCache, *, write: bool) -> redis.Redis[bytes]:
    """The raw redis-py client of a Redis alias (Django's ``RedisCache`` or django-redis).

    ``write=True`` gives the primary; ``write=False`` may give a replica. Raises
    :class:`InspectionError` for a django-redis ``CLIENT_CLASS`` with no single connection
    (a sharded client), and ``TypeError`` for a backend that is not Redis.
    """
    kind = kind_of(cache)
    if kind is Kind.DJANGO_REDIS:
        backend_client = cache.client  # type: ignore[attr-defined]
        get_client = getattr(backend_client, "get_client", None)
        if get_client is None:
            raise InspectionError(
                f"its CLIENT_CLASS {type(backend_client).__name__} gives no single server"
                " connection to inspect."
            )
        client: redis.Redis[bytes] = get_client(write=write)
        return client
    if kind is Kind.REDIS:
        # Django's RedisCache keeps its RedisCacheClient in ``_cache``; get_client() is public
        # on that object, reaching the object is not.
        client = cache._cache.get_client(None, write=write)  # type: ignore[attr-defined]
        return client
    raise TypeError(f"{type(cache).__name__} is not a Redis cache backend.")


def _loads(cache: BaseCache, payload: bytes) -> Any:
    """A stored value decoded by the backend's own serializer (and decompressor)."""
    if kind_of(cache) is Kind.DJANGO_REDIS:
        return cache.client.decode(payload)  # type: ignore[attr-defined]
    return cache._cache._serializer.loads(payload)  # type: ignore[attr-defined]


# -- which keys belong to an alias -----------------------------------------------------------


def _reversible(config: dict[str, Any]) -> bool:
    return get_key_func(config.get("KEY_FUNCTION")) is default_key_func


def _made_keys(prefix: str) -> re.Pattern[bytes]:
    """Every key Django's default key function makes for ``prefix``, any version, as bytes."""
    version = _common.VERSION_TEXT.encode()
    return re.compile(re.escape(prefix.encode()) + b":(?:" + version + b"):", re.DOTALL)


@dataclass(frozen=True)
class KeySpace:
    """Exactly the stored keys one alias's ``make_key`` can produce (see the module docstring).

    ``made`` matches the start of this alias's keys (None with a custom key function, whose
    keys are only known by their ``MATCH`` pattern); ``shadowed`` those of the aliases whose
    longer prefix makes their keys look like this alias's.
    """

    match: str  # the MATCH glob of every key of the alias (prefix escaped, any version)
    made: re.Pattern[bytes] | None
    shadowed: tuple[re.Pattern[bytes], ...] = ()

    def owns(self, raw_key: bytes) -> bool:
        try:
            raw_key.decode("utf-8")
        except UnicodeDecodeError:
            return False  # make_key returns str, which redis-py always encodes as UTF-8
        if self.made is not None and not self.made.match(raw_key):
            return False
        return not any(pattern.match(raw_key) for pattern in self.shadowed)


def key_space(cache: BaseCache) -> KeySpace:
    """The key space of a Redis alias's backend, against the Redis aliases of ``CACHES``."""
    prefix = str(cache.key_prefix)
    match = str(cache.key_func("*", glob_escape(prefix), "*"))
    if cache.key_func is not default_key_func:
        return KeySpace(match, None)
    # A longer prefix "<prefix>:<version>" or "<prefix>:<version>:..." makes keys that also
    # read as ours: they go to that alias (module docstring).
    inside = _made_keys(prefix)
    shadowed = []
    for _alias, config in aliases_of(Kind.REDIS, Kind.DJANGO_REDIS):
        other = str(config.get("KEY_PREFIX", ""))
        if other != prefix and _reversible(config) and inside.match((other + ":").encode()):
            shadowed.append(_made_keys(other))
    return KeySpace(match, inside, tuple(shadowed))


def _raw(key: bytes | str) -> bytes:
    # redis-py answers bytes, unless the pool was built with decode_responses=True.
    return key.encode() if isinstance(key, str) else bytes(key)


def scan_alias_keys(
    client: Any, space: KeySpace, match: str | None = None, *, calls: int | None = None
) -> Iterator[str]:
    """Every key of ``space`` (under the narrower ``match`` glob if given), each once; with
    ``calls``, only those found by that many SCAN calls (a sample, bounded whatever the size
    of the database and however few of its keys are wanted)."""
    cursor = 0
    seen: set[bytes] = set()  # SCAN may return a key twice
    for _call in itertools.count() if calls is None else range(calls):
        cursor, found = client.scan(cursor=cursor, match=match or space.match, count=SCAN_COUNT)
        for key in found:
            raw = _raw(key)
            if raw not in seen and space.owns(raw):
                seen.add(raw)
                yield raw.decode("utf-8")
        if int(cursor) == 0:
            return


def _unlink(client: Any, raw_keys: Iterable[str]) -> int:
    return sum(int(client.unlink(*batch)) for batch in _common.chunks(raw_keys, _BATCH))


def delete_alias_keys(cache: BaseCache) -> int:
    """Delete every key of the alias (its :func:`key_space`, every version); how many went."""
    client = redis_client(cache, write=True)
    return _unlink(client, scan_alias_keys(client, key_space(cache)))


# -- the adapters ----------------------------------------------------------------------------


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
            # Hot keys only, and only under an LFU maxmemory-policy (insight_unavailable).
            Capability.INSIGHT,
        }
    )
    read_effects = frozenset({ReadEffect.SERVER_STATS, ReadEffect.LRU, ReadEffect.LAZY_EXPIRY})
    # SCAN returns keys in the server's hash order; each page is sorted by key for display.
    orders = ("key",)
    match_modes: ClassVar[tuple[MatchMode, ...]] = ("prefix", "glob", "substring")
    key_filters = frozenset({"family", "expired"})

    def client(self) -> Any:
        """The redis-py client that writes for this alias."""
        try:
            return redis_client(self.cache, write=True)
        except InspectionError as exc:
            raise InspectionError(f"Cache {self.alias!r}: {exc}") from exc

    def decode(self, payload: bytes) -> Any:
        return _loads(self.cache, payload)

    def _error_types(self) -> tuple[type[BaseException], ...]:
        import redis

        return (redis.RedisError,)

    # -- plumbing ----------------------------------------------------------------------------

    def location(self) -> str:
        return _common.mask_location(self.config.get("LOCATION", ""))

    def _error_message(self, exc: BaseException) -> str:
        return _common.no_answer(self, exc)

    def _space(self) -> KeySpace:
        return key_space(self.cache)

    def _pattern(self, user_glob: str) -> str:
        """The MATCH pattern of this alias's keys whose user key matches ``user_glob``.

        Wider than the keys it names (its ``*`` version also spans colons): every key it
        returns is still checked against the key space and the query.
        """
        return str(self.cache.key_func(user_glob, glob_escape(str(self.cache.key_prefix)), "*"))

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

    def _keys(self, client: Any, query: KeyQuery) -> Iterator[str]:
        """The alias's keys that may match ``query`` (its search still to be checked)."""
        return scan_alias_keys(client, self._space(), self._pattern(self._user_glob(query)))

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
                own = sum(1 for _key in scan_alias_keys(client, self._space()))
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
        space = self._space()
        pattern = self._pattern(self._user_glob(query))
        now = time.time()
        found: list[KeyInfo] = []
        with self._errors():
            client = self.client()
            for _call in range(SCANS_PER_PAGE):
                cursor, keys = client.scan(cursor=cursor, match=pattern, count=SCAN_COUNT)
                cursor = int(cursor)
                raws = [_raw(key) for key in keys]
                owned = [raw.decode("utf-8") for raw in raws if space.owns(raw)]
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
        # The MATCH pattern's "*" version also spans colons, so the user key is checked again;
        # a custom key function's keys cannot be split, and its MATCH pattern is all there is.
        check = self.cache.key_func is default_key_func
        now = time.time()
        with self._errors():
            client = self.client()
            for batch in _common.chunks(self._keys(client, query), _BATCH):
                infos = self._describe(client, batch)
                yield from (i for i in infos if not check or _common.query_matches(query, i, now))

    def _matching_keys(self, query: KeyQuery) -> list[str]:
        self.check_query(query)
        now = time.time()
        with self._errors():
            client = self.client()
            keys = list(self._keys(client, query))
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

    def delete(self, raw_keys: list[str]) -> int:
        with self._errors():
            return _unlink(self.client(), raw_keys)

    def touch(self, raw_key: str, timeout: float | None) -> bool:
        with self._errors():
            client = self.client()
            if timeout is None:
                client.persist(raw_key)
                return bool(client.exists(raw_key))
            return bool(client.pexpire(raw_key, max(int(timeout * 1000), 0)))

    def clear_preview(self) -> Removal:
        with self._errors():
            return Removal(sum(1 for _key in scan_alias_keys(self.client(), self._space())))

    def clear(self) -> Removal:
        with self._errors():
            client = self.client()
            return Removal(_unlink(client, scan_alias_keys(client, self._space())))

    def flush_db(self) -> None:
        with self._errors():
            self.client().flushdb()

    # -- insight: hot keys from the server's LFU counters -----------------------------------

    def _policy(self) -> str:
        with self._errors():
            return str(self.client().info("memory").get("maxmemory_policy") or "")

    def insight_unavailable(self) -> str | None:
        reason = super().insight_unavailable()
        if reason is not None:
            return reason
        try:
            policy = self._policy()
        except InspectionError as exc:
            return str(exc)
        if "lfu" not in policy:
            return (
                f"Redis keeps per-key access counters only under an LFU maxmemory-policy"
                f" (allkeys-lfu or volatile-lfu); this server uses {policy or 'none'!r}."
            )
        return None

    def hot_keys(
        self, limit: int = 20, exclude_prefixes: tuple[str, ...] = ()
    ) -> Activity[KeyActivity]:
        """The alias's keys with the highest LFU counter (``OBJECT FREQ``) among a ``SCAN``
        sample of at most :data:`INSIGHT_SAMPLE` keys. ``OBJECT`` does not touch the keys."""
        reason = self.insight_unavailable()
        if reason is not None:
            raise InsightUnavailable(reason)
        with self._errors():
            client = self.client()
            sample: list[str] = []
            # Bounded by SCAN calls too: with most keys excluded, or the alias owning few of
            # a big database's keys, the sample must not grow into a walk of the database.
            for key in scan_alias_keys(client, self._space(), calls=SCANS_PER_PAGE):
                info = _common.key_info_for(self.cache, key)
                if not any(info.key.startswith(p) for p in exclude_prefixes if p):
                    sample.append(key)
                if len(sample) >= INSIGHT_SAMPLE:
                    break
            pipe = client.pipeline(transaction=False)
            for key in sample:
                pipe.object("freq", key)
            frequencies = pipe.execute(raise_on_error=False)
        scored = [
            (int(freq), key)
            for key, freq in zip(sample, frequencies, strict=True)
            if isinstance(freq, int)
        ]
        scored.sort(key=lambda pair: (-pair[0], pair[1]))
        rows = []
        for freq, key in scored[:limit]:
            info = _common.key_info_for(self.cache, key)
            rows.append(
                KeyActivity(
                    key=info.key,
                    raw_key=key,
                    prefix=info.prefix,
                    version=info.version,
                    family=info.family,
                    present=True,
                    score=float(freq),
                )
            )
        method = (
            f"Redis LFU counters (OBJECT FREQ, logarithmic, 0-255) of a SCAN sample of"
            f" {len(sample):,} keys; no hit or miss counts"
        )
        return Activity(rows, method)

    def missed_keys(
        self, limit: int = 20, exclude_prefixes: tuple[str, ...] = ()
    ) -> Activity[KeyActivity]:
        raise InsightUnavailable(
            "Redis counts misses only server-wide (INFO keyspace_misses), never per key."
        )

    def families(
        self, limit: int = 20, exclude_prefixes: tuple[str, ...] = ()
    ) -> Activity[FamilyActivity]:
        raise InsightUnavailable("Redis keeps no hit or miss counts per key family.")


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


class RedisAdapter(RedisAdapterBase):
    """Django's ``django.core.cache.backends.redis.RedisCache``."""


class DjangoRedisAdapter(RedisAdapterBase):
    """django-redis's ``django_redis.cache.RedisCache`` (clients with ``get_client``)."""

    def _error_types(self) -> tuple[type[BaseException], ...]:
        import redis
        from django_redis.exceptions import ConnectionInterrupted

        return (redis.RedisError, ConnectionInterrupted)
