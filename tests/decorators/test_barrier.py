"""The cold-miss barrier: an atomic lock, owner-only release, waiting, crash recovery."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.core.cache import cache

from diskcache_admin.decorators import Barrier, StampedeTimeout, memoize, stampede
from diskcache_admin.decorators.stampede import acquire_lock, release_lock

from .helpers import outcomes, run

pytestmark = pytest.mark.usefixtures("backend")


def test_only_one_caller_takes_the_lock() -> None:
    start = threading.Barrier(16)

    def take(_: int) -> int | None:
        start.wait()
        return acquire_lock(cache, "contested:lock", 30)

    with ThreadPoolExecutor(16) as pool:
        tokens = list(pool.map(take, range(16)))
    winners = [token for token in tokens if token is not None]
    assert len(winners) == 1
    assert cache.get("contested:lock") == winners[0]


def test_only_the_owner_releases_the_lock() -> None:
    mine = acquire_lock(cache, "owned:lock", 30)
    assert mine is not None
    assert acquire_lock(cache, "owned:lock", 30) is None
    assert release_lock(cache, "owned:lock", mine + 2) is False
    assert cache.get("owned:lock") == mine
    assert release_lock(cache, "owned:lock", mine) is True
    assert cache.get("owned:lock") is None


def test_a_late_owner_cannot_release_its_successors_lock() -> None:
    first = acquire_lock(cache, "late:lock", 30)
    assert first is not None
    cache.delete("late:lock")  # as if the first holder's lock had expired
    second = acquire_lock(cache, "late:lock", 30)
    assert second is not None
    assert release_lock(cache, "late:lock", first) is False
    assert cache.get("late:lock") == second


def waiting_counter(monkeypatch: pytest.MonkeyPatch, expected: int) -> threading.Event:
    """An event set once ``expected`` callers have slept at the barrier at least once."""
    sleepers: set[int] = set()
    all_waiting = threading.Event()
    real_sleep, real_asleep = stampede._sleep, stampede._asleep

    def note() -> None:
        sleepers.add(threading.get_ident() if not _in_task() else id(asyncio.current_task()))
        if len(sleepers) >= expected:
            all_waiting.set()

    def sleep(seconds: float) -> None:
        note()
        real_sleep(seconds)

    async def asleep(seconds: float) -> None:
        note()
        await real_asleep(seconds)

    monkeypatch.setattr(stampede, "_sleep", sleep)
    monkeypatch.setattr(stampede, "_asleep", asleep)
    return all_waiting


def _in_task() -> bool:
    try:
        return asyncio.current_task() is not None
    except RuntimeError:
        return False


def test_waiters_get_the_holders_value(monkeypatch: pytest.MonkeyPatch) -> None:
    computing, go = threading.Event(), threading.Event()
    all_waiting = waiting_counter(monkeypatch, 3)
    calls: list[int] = []

    @memoize(stampede=Barrier(wait=10))
    def slow(x: int) -> int:
        calls.append(x)
        computing.set()
        go.wait(10)
        return x * 2

    with outcomes() as seen, ThreadPoolExecutor(4) as pool:
        holder = pool.submit(slow, 21)
        assert computing.wait(10)
        waiters = [pool.submit(slow, 21) for _ in range(3)]
        assert all_waiting.wait(10)
        go.set()
        results = [holder.result(), *(w.result() for w in waiters)]
    assert results == [42, 42, 42, 42]
    assert calls == [21]
    assert sorted(seen) == ["miss", "wait", "wait", "wait"]


def test_async_waiters_get_the_holders_value(monkeypatch: pytest.MonkeyPatch) -> None:
    all_waiting = waiting_counter(monkeypatch, 3)
    calls: list[int] = []

    async def scenario() -> list[int]:
        computing, go = asyncio.Event(), asyncio.Event()

        @memoize(stampede=Barrier(wait=10))
        async def slow(x: int) -> int:
            calls.append(x)
            computing.set()
            await go.wait()
            return x * 2

        holder = asyncio.ensure_future(slow(21))
        await computing.wait()
        waiters = [asyncio.ensure_future(slow(21)) for _ in range(3)]
        while not all_waiting.is_set():
            await asyncio.sleep(0.005)
        go.set()
        return list(await asyncio.gather(holder, *waiters))

    with outcomes() as seen:
        assert run(scenario()) == [42, 42, 42, 42]
    assert calls == [21]
    assert sorted(seen) == ["miss", "wait", "wait", "wait"]


@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_waiting_too_long_raises_when_asked(flavour: str) -> None:
    def body(x: int) -> int:
        return x

    async def abody(x: int) -> int:
        return x

    f: Any = memoize(stampede=Barrier(wait=0.05, on_timeout="raise"))(
        body if flavour == "sync" else abody
    )
    held = acquire_lock(cache, f.cache_key(1) + ":lock", 30)
    assert held is not None
    with pytest.raises(StampedeTimeout, match="Waited"):
        f(1) if flavour == "sync" else run(f(1))
    release_lock(cache, f.cache_key(1) + ":lock", held)


@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_waiting_too_long_computes_by_default(flavour: str) -> None:
    def body(x: int) -> int:
        return x + 1

    async def abody(x: int) -> int:
        return x + 1

    f: Any = memoize(stampede=Barrier(wait=0.05))(body if flavour == "sync" else abody)
    held = acquire_lock(cache, f.cache_key(1) + ":lock", 30)
    assert held is not None
    with outcomes() as seen:
        assert (f(1) if flavour == "sync" else run(f(1))) == 2
    assert seen == ["miss"]
    assert cache.get(f.cache_key(1) + ":lock") == held  # someone else's lock is left alone
    release_lock(cache, f.cache_key(1) + ":lock", held)


@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_a_crashed_holders_lock_expires(flavour: str) -> None:
    def body(x: int) -> int:
        return x + 1

    async def abody(x: int) -> int:
        return x + 1

    f: Any = memoize(stampede=Barrier(wait=5, on_timeout="raise"))(
        body if flavour == "sync" else abody
    )
    # A holder that died: its lock (1 s) is never released, so only the expiry frees it.
    assert acquire_lock(cache, f.cache_key(1) + ":lock", 1) is not None
    with outcomes() as seen:
        assert (f(1) if flavour == "sync" else run(f(1))) == 2
    assert seen == ["miss"]


def test_without_a_barrier_every_cold_caller_computes() -> None:
    computing = threading.Barrier(3, timeout=10)
    calls: list[int] = []

    @memoize(stampede=False)
    def slow(x: int) -> int:
        calls.append(x)
        computing.wait()  # all three are inside the computation at once
        return x

    with ThreadPoolExecutor(3) as pool:
        assert list(pool.map(slow, [5, 5, 5])) == [5, 5, 5]
    assert calls == [5, 5, 5]
