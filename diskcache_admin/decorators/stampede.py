"""The stampede machinery shared by ``memoize`` and ``cached_view``.

One algorithm decides, for one cache key, whether to serve the stored value, recompute it early
(XFetch), serve it stale while another caller recomputes, or wait at the barrier for the caller
that holds the lock. It is written once, as a generator that *yields* cache operations, and run
by a sync driver and an async driver, so both kinds of caller follow exactly the same rules.

The lock, its release and the re-reads while waiting are bookkeeping: they run inside
:func:`diskcache_admin.instrumentation.internal_calls`, so ``cache_calls`` and the panel count
only the one read and the one write the caller's code stands for.

This module knows no storage engine and no SQL: it classifies a cache with
:func:`~diskcache_admin.inspection.kinds.kind_of` and releases the lock through public methods
(``DiskCache.delete_if_equal``, the raw client from :mod:`diskcache_admin.inspection.redis`).
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass
from typing import Any, Literal, Protocol, cast

from asgiref.sync import sync_to_async
from django.core.cache import caches
from django.core.cache.backends.base import BaseCache

from ..inspection.base import InspectionError
from ..inspection.kinds import Kind, kind_of
from ..inspection.redis import redis_client
from ..instrumentation import internal_calls

__all__ = ["Barrier", "StampedeGuard", "StampedeTimeout", "barrier_aliases", "barrier_problem"]

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


def barrier_for(stampede: bool | Barrier) -> Barrier | None:
    """The ``stampede`` argument of the decorators as a :class:`Barrier` (or none)."""
    if isinstance(stampede, Barrier):
        return stampede
    return Barrier() if stampede else None


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


# -- the lock -----------------------------------------------------------------------------------


class _ComparesAndDeletes(Protocol):
    # DiskCache's public compare-and-delete (atomic in its store); named here, not imported,
    # so that the decorators never load the storage engine.
    def make_and_validate_key(self, key: Any, version: int | None = None) -> str: ...

    def delete_if_equal(self, key: Any, value: Any, version: int | None = None) -> bool: ...


def acquire_lock(cache: BaseCache, key: str, ttl: float) -> int | None:
    """The owner's token, or ``None`` when another caller holds the lock."""
    # An int, so DiskCache stores it natively and Redis as plain digits: both can then compare
    # it inside the store when releasing.
    token = secrets.randbits(62) | 1
    if kind_of(cache) is Kind.LOCMEM:
        with _LOCAL_MUTEX:
            taken = cache.add(key, token, backend_timeout(ttl))
    else:
        taken = cache.add(key, token, backend_timeout(ttl))
    return token if taken else None


def release_lock(cache: BaseCache, key: str, token: int) -> bool:
    """Delete the lock only if it still holds ``token``; ``True`` if it did."""
    # Atomic on Redis (a Lua script), DiskCache (a compare-and-delete inside its store) and LocMem
    # (a process mutex, which covers every user of a LocMem store). Elsewhere a get then a delete:
    # if the lock expires between the two and another caller takes it, that caller's lock is
    # deleted and one extra computation may run.
    kind = kind_of(cache)
    if kind.is_redis:
        try:
            client = redis_client(cache, write=True)
        except InspectionError:
            client = None  # a sharded django-redis client: no single server to script
        if client is not None:
            made = cache.make_and_validate_key(key)
            # Both Redis backends store an int as plain digits, so the script compares text.
            # types-redis leaves eval() unannotated.
            return bool(client.eval(_RELEASE_LUA, 1, made, str(token)))  # type: ignore[no-untyped-call]
    elif kind is Kind.DISKCACHE:
        return bool(cast(_ComparesAndDeletes, cache).delete_if_equal(key, token))
    elif kind is Kind.LOCMEM:
        with _LOCAL_MUTEX:
            return cache.get(key) == token and bool(cache.delete(key))
    return cache.get(key) == token and bool(cache.delete(key))


# -- backends where the barrier cannot work -----------------------------------------------------

_barrier_aliases: set[str] = set()
_warned_aliases: set[str] = set()


def barrier_problem(cache: BaseCache) -> tuple[str, str] | None:
    """``(check id, reason)`` when ``cache`` cannot hold a stampede barrier, else ``None``."""
    kind = kind_of(cache)
    if kind is Kind.DUMMY:
        return "diskcache_admin.W102", "DummyCache stores nothing and its add() always succeeds"
    if kind is Kind.FILEBASED:
        return (
            "diskcache_admin.W101",
            "FileBasedCache's add() checks then writes, so two callers can both take the lock",
        )
    return None


def barrier_aliases() -> frozenset[str]:
    """The aliases used with a barrier by every ``memoize``/``cached_view`` built so far."""
    return frozenset(_barrier_aliases)


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

# The operations that are the caller's own read ("get") and write ("set"); every other one is
# the barrier's bookkeeping and runs inside internal_calls().
_CALLER_OPS = frozenset({"get", "set"})


class StampedeGuard:
    """Serves one key from the cache or computes it, keeping concurrent callers from stampeding.

    Holds the options of one decorator (alias, timeout, barrier, XFetch's ``beta``, the stale
    window); :meth:`run` and :meth:`arun` apply them to one key.
    """

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
            _barrier_aliases.add(alias)

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
        # "get" and "set" are the caller's read and write; "recheck", "peek", "lock",
        # "release" and "mark" are the barrier's own (see _CALLER_OPS).
        if self.timeout == 0:
            computed = yield ("compute",)
            return "miss", computed.result, True
        lock_key = f"{key}:lock"
        deadline: float | None = None
        first = True
        while True:
            raw = None
            if not force:
                raw = yield (("get" if first else "recheck"), key)
            first = False
            entry = unpack(raw)
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
                entry = unpack((yield ("recheck", key)))
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
            yield ("mark", key, PASS_MARKER, ttl)
        return outcome, computed.result, True

    # -- drivers --------------------------------------------------------------------------------

    def run(
        self, key: str, compute: Callable[[], Computed], *, force: bool = False
    ) -> tuple[Outcome, Any, bool]:
        """Serve ``key`` or call ``compute``; returns (outcome, value, whether it computed)."""
        cache = self.cache
        if self.barrier is not None:
            _warn_once(self.alias, cache)

        def execute(op: Op) -> Any:
            name = op[0]
            if name == "compute":
                return _timed(compute)
            if name == "sleep":
                return _sleep(op[1])
            if name in _CALLER_OPS:
                return _cache_op(cache, op)
            with internal_calls():
                return _cache_op(cache, op)

        return _drive(self.plan(key, force=force), execute)

    async def arun(
        self, key: str, compute: Callable[[], Awaitable[Computed]], *, force: bool = False
    ) -> tuple[Outcome, Any, bool]:
        """The async :meth:`run`: the same plan, with the cache's async methods."""
        cache = self.cache
        if self.barrier is not None:
            _warn_once(self.alias, cache)
        plan = self.plan(key, force=force)
        send: Callable[[Any], Op] = plan.send
        value: Any = None
        try:
            while True:
                op = send(value)
                name = op[0]
                try:
                    if name == "compute":
                        started = time.perf_counter()
                        computed = await compute()
                        value = _with_delta(computed, time.perf_counter() - started)
                    elif name == "sleep":
                        await _asleep(op[1])
                        value = None
                    elif name in _CALLER_OPS:
                        value = await _acache_op(cache, op)
                    else:
                        with internal_calls():
                            value = await _acache_op(cache, op)
                    send = plan.send
                except BaseException as exc:  # the plan releases its lock, re-raises
                    value, send = exc, plan.throw
        except StopIteration as stop:
            result: tuple[Outcome, Any, bool] = stop.value
            return result


def _cache_op(cache: BaseCache, op: Op) -> Any:
    name = op[0]
    if name in ("get", "recheck"):
        return cache.get(op[1])
    if name == "peek":
        found = cache.get_many([op[1], op[2]])
        return found.get(op[1]), op[2] in found
    if name == "lock":
        return acquire_lock(cache, op[1], op[2])
    if name == "release":
        return release_lock(cache, op[1], op[2])
    if name in ("set", "mark"):
        return cache.set(op[1], op[2], backend_timeout(op[3]))
    raise AssertionError(f"unknown operation {name!r}")


_acquire_lock = sync_to_async(acquire_lock, thread_sensitive=False)
_release_lock = sync_to_async(release_lock, thread_sensitive=False)


async def _acache_op(cache: BaseCache, op: Op) -> Any:
    name = op[0]
    if name in ("get", "recheck"):
        return await cache.aget(op[1])
    if name == "peek":
        found = await cache.aget_many([op[1], op[2]])
        return found.get(op[1]), op[2] in found
    if name == "lock":
        return await _acquire_lock(cache, op[1], op[2])
    if name == "release":
        return await _release_lock(cache, op[1], op[2])
    if name in ("set", "mark"):
        return await cache.aset(op[1], op[2], backend_timeout(op[3]))
    raise AssertionError(f"unknown operation {name!r}")


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
