"""The stampede machinery shared by ``memoize`` and ``cached_view``.

One algorithm decides, for one cache key, whether to serve the stored value, recompute it early
(XFetch), serve it stale while another caller recomputes, or wait at the barrier for the caller
that holds the lock. It is written once, as a generator that *yields* cache operations, and run
by a sync driver and an async driver, so both kinds of caller follow exactly the same rules.
"""

from __future__ import annotations

import asyncio
import datetime
import decimal
import enum
import logging
import math
import random
import secrets
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

from asgiref.sync import sync_to_async
from django.core import checks
from django.core.cache import InvalidCacheBackendError, caches
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.dummy import DummyCache
from django.core.cache.backends.filebased import FileBasedCache
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Model

from .backend import DiskCache
from .engine import Mode

logger = logging.getLogger("diskcache_admin.decorators")

Outcome = Literal["hit", "wait", "miss", "refresh", "stale"]

# Tests replace these to make XFetch's draw and the clock deterministic, and to see waiters.
_now: Callable[[], float] = time.time
_random: Callable[[], float] = random.random
_sleep: Callable[[float], None] = time.sleep
_asleep: Callable[[float], Awaitable[None]] = asyncio.sleep

_LOCAL_MUTEX = threading.Lock()
_RELEASE_LUA = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
)
_MAX_POLL = 0.05


class StampedeTimeout(TimeoutError):
    """A caller waited ``Barrier.wait`` seconds for another caller's computation, in vain."""


@dataclass(frozen=True)
class Barrier:
    """How callers behave on a cold miss while another caller computes the value.

    ``wait``: the longest a caller waits for the lock holder, in seconds. ``lock_timeout``: the
    lock's expiry, which must exceed the computation, so that a crashed holder frees it.
    ``on_timeout``: ``"compute"`` (compute anyway) or ``"raise"`` (:class:`StampedeTimeout`).
    """

    wait: float = 10.0
    lock_timeout: float = 30.0
    on_timeout: Literal["compute", "raise"] = "compute"

    def __post_init__(self) -> None:
        if self.wait < 0:
            raise ValueError("Barrier.wait must be 0 or more seconds.")
        if self.lock_timeout <= 0:
            raise ValueError("Barrier.lock_timeout must be more than 0 seconds.")
        if self.on_timeout not in ("compute", "raise"):
            raise ValueError('Barrier.on_timeout must be "compute" or "raise".')


@dataclass(frozen=True)
class Computed:
    # What one computation produced: the caller's result and, if storable, what to store.

    result: Any
    payload: Any
    storable: bool
    delta: float = 0.0


@dataclass(frozen=True)
class Entry:
    value: Any
    delta: float
    expiry: float | None
    passthrough: bool = False


def pack(value: Any, delta: float, expiry: float | None) -> dict[str, Any]:
    # A dict of plain types, so the JSON serializer of DiskCache can store it too. The value is
    # wrapped, so a stored ``None`` is told apart from a miss.
    return {"dca": 1, "v": value, "d": delta, "e": expiry}


# Stored by a lock holder whose result may not be cached (a 404, a page that set a cookie...):
# callers that find it compute on their own instead of queueing one by one at the lock.
PASS_MARKER: dict[str, Any] = {"dca": 1, "pass": True}


def unpack(raw: Any) -> Entry | None:
    if not isinstance(raw, dict) or raw.get("dca") != 1:
        return None
    if raw.get("pass"):
        return Entry(None, 0.0, None, passthrough=True)
    expiry = raw.get("e")
    return Entry(raw.get("v"), float(raw.get("d") or 0.0), None if expiry is None else expiry)


def backend_timeout(seconds: float | None) -> int | None:
    # Redis and memcached take whole seconds, and Django's Redis backend turns 0 into a delete.
    return None if seconds is None else max(1, math.ceil(seconds))


# -- memoize keys ------------------------------------------------------------------------------

_REPR_STABLE = (
    datetime.date,
    datetime.time,
    datetime.timedelta,
    decimal.Decimal,
    uuid.UUID,
    enum.Enum,
)


def canonical(value: Any) -> str:
    # Text equal across processes for equal arguments (hash() is salted per process).
    if value is None or isinstance(value, (bool, int, float, complex, str, bytes)):
        return f"{type(value).__name__}:{value!r}"
    if isinstance(value, (list, tuple)):
        inner = ",".join(canonical(item) for item in value)
        return f"{type(value).__name__}[{inner}]"
    if isinstance(value, dict):
        items = sorted(f"{canonical(k)}={canonical(v)}" for k, v in value.items())
        return "dict{" + ",".join(items) + "}"
    if isinstance(value, (set, frozenset)):
        return f"{type(value).__name__}{{" + ",".join(sorted(map(canonical, value))) + "}"
    if isinstance(value, Model):
        return f"model:{value._meta.label_lower}:{value.pk!r}"
    method = getattr(value, "__cache_key__", None)
    if callable(method):
        return f"{type(value).__qualname__}:{method()}"
    if isinstance(value, _REPR_STABLE):
        return repr(value)
    text = repr(value)
    if " at 0x" in text:
        raise TypeError(
            f"A {type(value).__qualname__} cannot be part of a memoize key: its repr changes"
            " from process to process. Give it a __cache_key__() method, or name the argument"
            " in memoize(ignore=...)."
        )
    return f"{type(value).__qualname__}:{text}"


# -- the lock -----------------------------------------------------------------------------------


def acquire_lock(cache: BaseCache, key: str, ttl: float) -> int | None:
    # The owner's token, or None when another caller holds the lock.
    # An int, so DiskCache stores it natively and Redis as plain digits: both can then compare
    # it inside the store when releasing.
    token = secrets.randbits(62) | 1
    if isinstance(cache, LocMemCache):
        with _LOCAL_MUTEX:
            taken = cache.add(key, token, backend_timeout(ttl))
    else:
        taken = cache.add(key, token, backend_timeout(ttl))
    return token if taken else None


def release_lock(cache: BaseCache, key: str, token: int) -> bool:
    # Deletes the lock only if it still holds ``token``. Atomic on Redis (a Lua script),
    # DiskCache (one SQL statement) and LocMem (a process mutex, which covers every user of a
    # LocMem store). Elsewhere a get then a delete: if the lock expires between the two and
    # another caller takes it, that caller's lock is deleted and one extra computation may run.
    if isinstance(cache, RedisCache):
        made = cache.make_and_validate_key(key)
        # Django's RedisCache exposes no script API; its client's connection pool does.
        client = cast(Any, cache)._cache.get_client(made, write=True)
        return bool(client.eval(_RELEASE_LUA, 1, made, str(token)))
    if isinstance(cache, DiskCache):
        made = cache.make_and_validate_key(key)
        deleted = cache.store.db.run_write(
            lambda conn: (
                conn.execute(
                    "DELETE FROM entries WHERE key = ? AND mode = ? AND value = ?",
                    (made, int(Mode.INT), token),
                ).rowcount
            )
        )
        return bool(deleted)
    if isinstance(cache, LocMemCache):
        with _LOCAL_MUTEX:
            return cache.get(key) == token and cache.delete(key)
    return cache.get(key) == token and bool(cache.delete(key))


# -- backends where the barrier cannot work -----------------------------------------------------

_barrier_aliases: set[str] = set()
_warned_aliases: set[str] = set()


def barrier_problem(cache: BaseCache) -> tuple[str, str] | None:
    if isinstance(cache, DummyCache):
        return "diskcache_admin.W102", "DummyCache stores nothing and its add() always succeeds"
    if isinstance(cache, FileBasedCache):
        return (
            "diskcache_admin.W101",
            "FileBasedCache's add() checks then writes, so two callers can both take the lock",
        )
    return None


def note_barrier_alias(alias: str) -> None:
    _barrier_aliases.add(alias)


def check_cache_barriers(
    app_configs: Sequence[Any] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """System check: warn about aliases whose backend cannot hold a stampede barrier.

    Covers the aliases used by every ``memoize``/``cached_view`` imported so far with the
    barrier on; the first call on such an alias also logs a warning.
    """
    _import_url_conf()
    messages: list[checks.CheckMessage] = []
    for alias in sorted(_barrier_aliases):
        try:
            cache = caches[alias]
        except (InvalidCacheBackendError, ImproperlyConfigured):
            continue  # Django's own cache checks report a broken alias
        problem = barrier_problem(cache)
        if problem is not None:
            messages.append(
                checks.Warning(
                    f"CACHES[{alias!r}] is used with a stampede barrier, but {problem[1]}.",
                    hint="Use Redis, memcached, LocMem or DiskCache for this alias, or pass"
                    " stampede=False.",
                    id=problem[0],
                )
            )
    return messages


def register_checks(registry: checks.registry.CheckRegistry | None = None) -> None:
    """Register :func:`check_cache_barriers` (with the ``caches`` tag)."""
    (registry or checks.registry.registry).register(check_cache_barriers, checks.Tags.caches)


def _import_url_conf() -> None:
    # Decorated views register their alias when their module is imported; the URLconf imports
    # them. Checks run in no fixed order, so this one does not rely on Django's URL check.
    from django.urls import get_resolver

    try:
        get_resolver().url_patterns  # noqa: B018 - the import is the point
    except Exception:  # any error in the URLconf is reported by Django's own URL check
        return


def _warn_once(alias: str, cache: BaseCache) -> None:
    if alias in _warned_aliases:
        return
    _warned_aliases.add(alias)
    problem = barrier_problem(cache)
    if problem is not None:
        logger.warning("%s: stampede barrier on CACHES[%r]: %s.", problem[0], alias, problem[1])


# -- the algorithm ------------------------------------------------------------------------------

Op = tuple[Any, ...]
Plan = Generator[Op, Any, tuple[Outcome, Any, bool]]


class Engine:
    # Cache-or-compute for one alias and one set of options (see memoize's arguments).

    def __init__(
        self,
        alias: str,
        timeout: float | None,
        barrier: Barrier | None,
        beta: float,
        stale: float | None,
    ) -> None:
        if timeout is not None and timeout < 0:
            raise ValueError("timeout must be None (never expire), 0 (never cache) or more.")
        if beta < 0:
            raise ValueError("beta must be 0 (no early recomputation) or more.")
        if stale is not None and stale < 0:
            raise ValueError("stale_while_revalidate must be None or 0 or more seconds.")
        self.alias = alias
        self.timeout = timeout
        self.barrier = barrier
        self.beta = beta
        self.stale = stale or 0.0
        if barrier is not None:
            note_barrier_alias(alias)

    @property
    def cache(self) -> BaseCache:
        # Looked up on every call, so override_settings(CACHES=...) in tests takes effect.
        return caches[self.alias]

    def _fresh(self, entry: Entry, now: float) -> bool:
        return entry.expiry is None or now < entry.expiry

    def _usable(self, entry: Entry, now: float) -> bool:
        return entry.expiry is None or now < entry.expiry + self.stale

    def _early(self, entry: Entry, now: float) -> bool:
        # XFetch: recompute when now - delta * beta * ln(u) >= expiry, u uniform in (0, 1].
        if self.beta <= 0 or entry.expiry is None or entry.delta <= 0:
            return False
        return now - entry.delta * self.beta * math.log(1.0 - _random()) >= entry.expiry

    def _lock_ttl(self, delta: float) -> float:
        base = self.barrier.lock_timeout if self.barrier is not None else Barrier().lock_timeout
        return max(base, 2 * delta)

    def plan(self, key: str, *, force: bool = False) -> Plan:
        # Yields the cache operations of one call; returns (outcome, value, computed).
        if self.timeout == 0:
            computed = yield ("compute",)
            return "miss", computed.result, True
        lock_key = f"{key}:lock"
        deadline: float | None = None
        while True:
            entry = None if force else unpack((yield ("get", key)))
            now = _now()
            if entry is not None and not entry.passthrough and not self._usable(entry, now):
                entry = None  # past its expiry and past any stale window: a miss
            if entry is not None and entry.passthrough:
                return (yield from self._compute(key, "miss", keep_old=True))
            # Back here after waiting at the barrier, a value is the holder's: report a wait.
            found: Outcome = "hit" if deadline is None else "wait"
            if entry is not None and self._fresh(entry, now) and not self._early(entry, now):
                return found, entry.value, False
            if entry is not None:
                # Due for early recomputation, or expired but kept for stale-while-revalidate.
                token = yield ("lock", lock_key, self._lock_ttl(entry.delta))
                if token is None:
                    return ("hit" if self._fresh(entry, now) else "stale"), entry.value, False
                return (yield from self._locked(key, lock_key, token, "refresh", keep_old=True))
            if force or self.barrier is None:
                return (yield from self._compute(key, "miss", keep_old=True))
            token = yield ("lock", lock_key, self._lock_ttl(0.0))
            if token is not None:
                # Another caller may have stored the value between our get and our add.
                entry = unpack((yield ("get", key)))
                if entry is not None and not entry.passthrough and self._fresh(entry, _now()):
                    yield ("release", lock_key, token)
                    return found, entry.value, False
                return (yield from self._locked(key, lock_key, token, "miss", keep_old=False))
            if deadline is None:
                deadline = time.monotonic() + self.barrier.wait
            pause = 0.005
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    if self.barrier.on_timeout == "raise":
                        raise StampedeTimeout(
                            f"Waited {self.barrier.wait:g}s for another caller to compute"
                            f" {key!r}; raise Barrier.wait or Barrier.lock_timeout."
                        )
                    return (yield from self._compute(key, "miss", keep_old=True))
                yield ("sleep", min(pause, remaining))
                pause = min(pause * 1.5, _MAX_POLL)
                raw, locked = yield ("peek", key, lock_key)
                entry = unpack(raw)
                if entry is not None and entry.passthrough:
                    return (yield from self._compute(key, "miss", keep_old=True))
                if entry is not None and self._fresh(entry, _now()):
                    return "wait", entry.value, False
                if not locked:
                    break  # the holder finished without a value, or died: try the lock again

    def _locked(
        self, key: str, lock_key: str, token: int, outcome: Outcome, *, keep_old: bool
    ) -> Plan:
        try:
            return (yield from self._compute(key, outcome, keep_old=keep_old))
        finally:
            yield ("release", lock_key, token)

    def _compute(self, key: str, outcome: Outcome, *, keep_old: bool) -> Plan:
        computed: Computed = yield ("compute",)
        if computed.storable:
            expiry = None if self.timeout is None else _now() + self.timeout
            physical = None if self.timeout is None else self.timeout + self.stale
            yield ("set", key, pack(computed.payload, computed.delta, expiry), physical)
        elif not keep_old:
            ttl = min(max(1.0, 2 * computed.delta), self._lock_ttl(0.0))
            yield ("set", key, PASS_MARKER, ttl)
        return outcome, computed.result, True

    # -- drivers --------------------------------------------------------------------------------

    def run(
        self, key: str, compute: Callable[[], Computed], *, force: bool = False
    ) -> tuple[Outcome, Any, bool]:
        cache = self.cache
        if self.barrier is not None:
            _warn_once(self.alias, cache)

        def execute(op: Op) -> Any:
            name = op[0]
            if name == "get":
                return cache.get(op[1])
            if name == "peek":
                found = cache.get_many([op[1], op[2]])
                return found.get(op[1]), op[2] in found
            if name == "lock":
                return acquire_lock(cache, op[1], op[2])
            if name == "release":
                return release_lock(cache, op[1], op[2])
            if name == "set":
                return cache.set(op[1], op[2], backend_timeout(op[3]))
            if name == "sleep":
                return _sleep(op[1])
            if name == "compute":
                return _timed(compute)
            raise AssertionError(f"unknown operation {name!r}")

        return _drive(self.plan(key, force=force), execute)

    async def arun(
        self, key: str, compute: Callable[[], Awaitable[Computed]], *, force: bool = False
    ) -> tuple[Outcome, Any, bool]:
        cache = self.cache
        if self.barrier is not None:
            _warn_once(self.alias, cache)
        acquire = sync_to_async(acquire_lock, thread_sensitive=False)
        release = sync_to_async(release_lock, thread_sensitive=False)
        plan = self.plan(key, force=force)
        send: Callable[[Any], Op] = plan.send
        value: Any = None
        try:
            while True:
                op = send(value)
                name = op[0]
                try:
                    if name == "get":
                        value = await cache.aget(op[1])
                    elif name == "peek":
                        found = await cache.aget_many([op[1], op[2]])
                        value = found.get(op[1]), op[2] in found
                    elif name == "lock":
                        value = await acquire(cache, op[1], op[2])
                    elif name == "release":
                        value = await release(cache, op[1], op[2])
                    elif name == "set":
                        await cache.aset(op[1], op[2], backend_timeout(op[3]))
                        value = None
                    elif name == "sleep":
                        await _asleep(op[1])
                        value = None
                    elif name == "compute":
                        started = time.perf_counter()
                        computed = await compute()
                        value = _with_delta(computed, time.perf_counter() - started)
                    else:
                        raise AssertionError(f"unknown operation {name!r}")
                    send = plan.send
                except BaseException as exc:  # the plan releases its lock, re-raises
                    value, send = exc, plan.throw
        except StopIteration as stop:
            result: tuple[Outcome, Any, bool] = stop.value
            return result


def _timed(compute: Callable[[], Computed]) -> Computed:
    started = time.perf_counter()
    computed = compute()
    return _with_delta(computed, time.perf_counter() - started)


def _with_delta(computed: Computed, delta: float) -> Computed:
    return Computed(computed.result, computed.payload, computed.storable, delta)


def _drive(plan: Plan, execute: Callable[[Op], Any]) -> tuple[Outcome, Any, bool]:
    send: Callable[[Any], Op] = plan.send
    value: Any = None
    try:
        while True:
            op = send(value)
            try:
                value, send = execute(op), plan.send
            except BaseException as exc:  # the plan releases its lock, re-raises
                value, send = exc, plan.throw
    except StopIteration as stop:
        result: tuple[Outcome, Any, bool] = stop.value
        return result
