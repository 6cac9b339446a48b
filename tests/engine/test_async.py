"""The async API: reads in the event loop's own thread, writes never blocking the loop."""

from __future__ import annotations

import asyncio
import fcntl
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import closing
from typing import Any

import pytest
from django.core.cache import caches

from diskcache_admin import instrumentation
from diskcache_admin.backend import DiskCache
from diskcache_admin.engine import statistics
from diskcache_admin.engine.connection import DB_NAME, WRITE_LOCK_NAME


@pytest.fixture
def patient_cache(aliases: Callable[..., Any]) -> Iterator[DiskCache]:
    """A DiskCache whose writers wait up to 10 s for the write lock (a blocked loop would make
    the waiting write fail, not the test hang)."""
    with aliases(default={"OPTIONS": {"BUSY_TIMEOUT": 10}}):
        backend = caches["default"]
        assert isinstance(backend, DiskCache)
        yield backend


class WriteLockHolder:
    """Another writer holding the store's write lock, as another process's transaction does:
    the writers' queue (``write.lock``) and SQLite's own write lock (``BEGIN IMMEDIATE``)."""

    def __init__(self, location: str) -> None:
        self.fd = os.open(os.path.join(location, WRITE_LOCK_NAME), os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        self.conn = sqlite3.connect(
            os.path.join(location, DB_NAME), isolation_level=None, check_same_thread=False
        )
        self.conn.execute("BEGIN IMMEDIATE")
        self.held = True

    def release(self) -> None:
        if self.held:
            self.held = False
            self.conn.execute("COMMIT")
            self.conn.close()
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)


def test_reads_run_in_the_event_loops_thread(cache: DiskCache) -> None:
    cache.set("a", 1)
    threads: list[tuple[str, int]] = []

    def note(call: instrumentation.CacheCall) -> None:
        threads.append((call.operation, threading.get_ident()))

    async def scenario() -> tuple[int, list[Any]]:
        await cache.aget("warm-up")  # the first open of the store in this process: a thread
        with instrumentation.observe(note):
            seen = [
                await cache.aget("a"),
                await cache.aget_many(["a", "b"]),
                await cache.ahas_key("a"),
                await cache.ahas_key("b"),
            ]
        return threading.get_ident(), seen

    loop_thread, seen = asyncio.run(scenario())

    assert seen == [1, {"a": 1}, True, False]
    assert threads == [
        ("get", loop_thread),
        ("get_many", loop_thread),
        ("has_key", loop_thread),
        ("has_key", loop_thread),
    ]


def test_a_writer_holding_the_write_lock_stalls_no_coroutine(
    patient_cache: DiskCache, location: str
) -> None:
    cache = patient_cache
    cache.set("k", "old")
    holder = WriteLockHolder(location)
    ticks_while_waiting = 20

    async def scenario() -> tuple[int, list[Any], bool, Any]:
        await cache.aget("warm-up")
        write = asyncio.ensure_future(cache.aset("k", "new"))
        ticks = 0
        reads = []
        # The ticker runs only if the waiting aset leaves the loop free; it lets the other
        # writer go only after it has ticked (and read) this many times while aset waited.
        while ticks < ticks_while_waiting:
            await asyncio.sleep(0.001)
            ticks += 1
            reads.append(await cache.aget("k"))
        done_while_locked = write.done()
        holder.release()
        await write
        return ticks, reads, done_while_locked, await cache.aget("k")

    try:
        ticks, reads, done_while_locked, after = asyncio.run(scenario())
    finally:
        holder.release()

    assert ticks == ticks_while_waiting
    assert done_while_locked is False  # the aset really waited for the lock
    assert reads == ["old"] * ticks_while_waiting  # reads were served while it waited
    assert after == "new"


def test_a_read_in_the_loop_leaves_a_due_batch_of_statistics_to_a_worker_thread(
    cache: DiskCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    flushed_in: list[int] = []
    cache.set("a", 1)
    store = cache.store
    real_flush = store.flush

    def recording_flush() -> None:
        flushed_in.append(threading.get_ident())
        real_flush()

    monkeypatch.setattr(store, "flush", recording_flush)
    monkeypatch.setattr(statistics, "FLUSH_EVERY_OPS", 3)
    before = cache.stats().hits

    async def scenario() -> int:
        for _ in range(7):
            await cache.aget("a")
        return threading.get_ident()

    loop_thread = asyncio.run(scenario())

    assert flushed_in  # batches were due and written...
    assert loop_thread not in flushed_in  # ...never by the loop's thread
    assert cache.stats().hits == before + 7  # and no hit was lost or counted twice


def test_statistics_are_never_due_while_a_thread_reads_in_an_event_loop(
    cache: DiskCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(statistics, "FLUSH_EVERY_OPS", 1)
    cache.store  # noqa: B018 - creates the shared state
    shared = statistics.shared_for(cache.location, 5.0)
    shared.add_counts(5, 0)

    assert shared.due()
    statistics.in_event_loop.active = True
    try:
        assert not shared.due()
        assert statistics.writes_deferred()
        # Another thread is not reading in a loop: its batches stay due.
        seen: list[bool] = []
        other = threading.Thread(target=lambda: seen.append(shared.due()))
        other.start()
        other.join()
        assert seen == [True]
    finally:
        statistics.in_event_loop.active = False


def test_nothing_pending_is_never_due(cache: DiskCache, monkeypatch: pytest.MonkeyPatch) -> None:
    # With statistics off nothing is ever pending: an async read must not find a "due" batch
    # (and hop to a thread) once FLUSH_EVERY_SECONDS have passed.
    monkeypatch.setattr(statistics, "FLUSH_EVERY_SECONDS", 0.0)
    cache.store  # noqa: B018
    shared = statistics.shared_for(cache.location, 5.0)
    shared.reset_counts()
    shared.accessed.clear()

    assert not shared.due()
    shared.add_counts(0, 1)
    assert shared.due()


def test_a_store_that_cannot_be_opened_reads_as_a_miss_in_async_too(
    aliases: Callable[..., Any], location: str
) -> None:
    os.makedirs(location)
    with open(os.path.join(location, DB_NAME), "wb") as handle:
        handle.write(b"this is not a database" * 100)
    with aliases(default={}):
        cache = caches["default"]
        assert isinstance(cache, DiskCache)

        async def scenario() -> list[Any]:
            return [
                await cache.aget("a", "default"),
                await cache.aget_many(["a"]),
                await cache.ahas_key("a"),
            ]

        assert asyncio.run(scenario()) == ["default", {}, False]


def test_a_forked_child_opens_the_store_off_the_loop_again(cache: DiskCache) -> None:
    cache.set("a", 1)
    asyncio.run(cache.aget("a"))
    shared = statistics.shared_for(cache.location, 5.0)
    assert shared.ready_for_loop_reads

    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        status = 1
        try:
            fresh = not shared.ready_for_loop_reads
            value = asyncio.run(cache.aget("a"))
            os.write(
                write, b"ok" if fresh and value == 1 and shared.ready_for_loop_reads else b"no"
            )
            status = 0
        finally:
            os._exit(status)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    answer = os.read(read, 16)
    os.close(read)
    assert (status, answer) == (0, b"ok")


def test_a_tampered_entry_read_in_the_loop_is_removed_by_a_worker_thread(
    cache: DiskCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache.set("victim", "honest value")
    with closing(sqlite3.connect(os.path.join(cache.location, DB_NAME))) as conn, conn:
        conn.execute("UPDATE entries SET value = ? WHERE key = ':1:victim'", (b"forged",))
    store = cache.store
    removals_in: list[int] = []
    real_repair = store.repair_deferred

    def recording_repair() -> None:
        removals_in.append(threading.get_ident())
        real_repair()

    monkeypatch.setattr(store, "repair_deferred", recording_repair)

    async def scenario() -> tuple[int, Any]:
        await cache.aget("warm-up")
        return threading.get_ident(), await cache.aget("victim", "miss")

    loop_thread, value = asyncio.run(scenario())

    assert value == "miss"
    assert removals_in
    assert loop_thread not in removals_in
    assert cache.entry("victim") is None
    with closing(sqlite3.connect(os.path.join(cache.location, DB_NAME))) as conn:
        assert conn.execute("SELECT count(*) FROM entries WHERE key = ':1:victim'").fetchone() == (
            0,
        )


class Shouting(DiskCache):
    def get(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        value = super().get(key, default, version)
        return value.upper() if isinstance(value, str) else value


def test_a_subclass_that_overrides_a_read_keeps_it_in_async(location: str) -> None:
    cache = Shouting(location, {})
    cache.set("a", "quiet")

    assert asyncio.run(cache.aget("a")) == "QUIET"


def test_aclose_writes_a_due_batch_in_a_worker_thread_and_nothing_otherwise(
    cache: DiskCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache.set("a", 1)
    cache.get("a")  # one pending hit
    flushed_in: list[int] = []
    store = cache.store
    real_flush = store.flush

    def recording_flush() -> None:
        flushed_in.append(threading.get_ident())
        real_flush()

    monkeypatch.setattr(store, "flush", recording_flush)
    monkeypatch.setattr(statistics, "FLUSH_EVERY_SECONDS", float("inf"))

    async def close() -> int:
        await cache.aclose()
        return threading.get_ident()

    asyncio.run(close())
    assert flushed_in == []  # not due: nothing written

    monkeypatch.setattr(statistics, "FLUSH_EVERY_SECONDS", 0.0)
    loop_thread = asyncio.run(close())
    assert len(flushed_in) == 1
    assert flushed_in[0] != loop_thread
