"""One policy for every DiskCache operation: errors, reporting, async twins, compare-and-delete."""

from __future__ import annotations

import asyncio
import logging
import random
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import caches
from django.core.cache.backends.base import BaseCache

from diskcache_admin import instrumentation
from diskcache_admin.backend import DiskCache
from diskcache_admin.engine import statistics

# Every write of Django's API (and ours), called on a key that exists in a healthy store.
WRITES: dict[str, Callable[[DiskCache], Any]] = {
    "add": lambda c: c.add("new", 1),
    "set": lambda c: c.set("k", 2),
    "set_many": lambda c: c.set_many({"k": 2}),
    "touch": lambda c: c.touch("k", 10),
    "delete": lambda c: c.delete("k"),
    "delete_many": lambda c: c.delete_many(["k"]),
    "incr": lambda c: c.incr("n"),
    "decr": lambda c: c.decr("n"),
    "incr_version": lambda c: c.incr_version("k"),
    "decr_version": lambda c: c.decr_version("k"),
    "clear": lambda c: c.clear(),
    "delete_if_equal": lambda c: c.delete_if_equal("k", 1),
    "get_or_set": lambda c: c.get_or_set("new", 1),
}

READS: dict[str, tuple[Callable[[DiskCache], Any], Any]] = {
    "get": (lambda c: c.get("k", "default"), "default"),
    "get_many": (lambda c: c.get_many(["k", "n"]), {}),
    "has_key": (lambda c: c.has_key("k"), False),
}


@pytest.fixture
def broken(cache: DiskCache, location: str) -> Iterator[DiskCache]:
    """A DiskCache whose database file has a garbled header: every query fails."""
    cache.set("k", 1)
    cache.set("n", 1)
    statistics.forget(location)  # closes the connections, so the WAL is checkpointed
    with Path(location, "cache.db").open("r+b") as handle:
        handle.write(random.Random(8).randbytes(100))
    backend = caches.create_connection("default")
    assert isinstance(backend, DiskCache)
    yield backend
    statistics.forget(location)


def logged(caplog: pytest.LogCaptureFixture, text: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if text in r.getMessage()]


@pytest.mark.parametrize("operation", WRITES)
def test_every_write_on_a_broken_store_is_logged_and_raises(
    broken: DiskCache, location: str, operation: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, "diskcache_admin.backend")

    with pytest.raises(sqlite3.DatabaseError):
        WRITES[operation](broken)

    messages = logged(caplog, "could not store a write")
    assert len(messages) == 1
    assert location in messages[0]


def test_a_failure_is_logged_once_per_kind_not_per_call(
    broken: DiskCache, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, "diskcache_admin.backend")

    for _ in range(3):
        for read, _miss in READS.values():
            read(broken)
        for write in (WRITES["set"], WRITES["delete"], WRITES["clear"]):
            with pytest.raises(sqlite3.DatabaseError):
                write(broken)

    assert len(logged(caplog, "could not be read")) == 1
    assert len(logged(caplog, "could not store a write")) == 1


@pytest.mark.parametrize("operation", READS)
def test_every_read_on_a_broken_store_is_a_logged_miss(
    broken: DiskCache, operation: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, "diskcache_admin.backend")
    read, miss = READS[operation]

    assert read(broken) == miss
    assert len(logged(caplog, "could not be read")) == 1


def test_the_callers_errors_pass_through_unlogged(
    cache: DiskCache, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, "diskcache_admin.backend")
    cache.set("text", "a")

    with pytest.raises(ValueError, match="not found"):
        cache.incr("missing")
    with pytest.raises(TypeError):
        cache.incr("text")

    assert caplog.records == []


# -- reporting --------------------------------------------------------------------------------


@pytest.fixture
def calls() -> Iterator[list[instrumentation.CacheCall]]:
    seen: list[instrumentation.CacheCall] = []
    with instrumentation.observe(seen.append):
        yield seen


def test_every_operation_reports_itself_once(
    cache: DiskCache, calls: list[instrumentation.CacheCall]
) -> None:
    cache.set("k", 1)
    for operation, write in WRITES.items():
        cache.set("k", 1)
        cache.set("n", 1)
        calls.clear()
        write(cache)
        assert [call.operation for call in calls] == [operation]
    for operation, (read, _miss) in READS.items():
        calls.clear()
        read(cache)
        assert [call.operation for call in calls] == [operation]


def test_reports_say_hits_and_values_per_key(
    cache: DiskCache, calls: list[instrumentation.CacheCall]
) -> None:
    cache.set("a", None)
    cache.set("c", 3)
    calls.clear()

    assert cache.get("a", "default") is None
    assert cache.get("b", "default") == "default"
    assert cache.get_many(iter(["c", "b", "a"])) == {"c": 3, "a": None}  # an iterator, read once
    assert cache.delete_if_equal("c", 4) is False

    get_a, get_b, many, release = calls
    assert (get_a.keys, get_a.hits, get_a.values) == (("a",), (True,), (None,))
    assert (get_b.keys, get_b.hits, get_b.values) == (("b",), (False,), ())
    assert (many.keys, many.hits, many.values) == (("c", "b", "a"), (True, False, True), (3, None))
    assert (release.operation, release.hits) == ("delete_if_equal", (False,))
    assert all(call.duration >= 0 for call in calls)


def test_a_miss_served_for_a_broken_store_is_reported_as_a_miss(
    broken: DiskCache, calls: list[instrumentation.CacheCall]
) -> None:
    assert broken.get("k") is None

    assert [(call.operation, call.hits) for call in calls] == [("get", (False,))]


# -- async twins ------------------------------------------------------------------------------

ASYNC_TWINS = [
    name
    for name in dir(BaseCache)
    if name.startswith("a")
    and name[1:] in WRITES.keys() | READS.keys()
    and name not in {"aget_or_set"}  # BaseCache's composes aget and aadd
]


def test_every_async_twin_runs_its_sync_method_and_writes_run_in_a_worker_thread(
    cache: DiskCache, calls: list[instrumentation.CacheCall]
) -> None:
    threads: list[int] = []

    def note_thread(call: instrumentation.CacheCall) -> None:
        threads.append(threading.get_ident())

    async def scenario() -> tuple[int, Any, bool]:
        with instrumentation.observe(note_thread):
            await cache.aset("lock", "mine")
            deleted = await cache.adelete_if_equal("lock", "mine")
        return threading.get_ident(), await cache.aget("lock", "gone"), deleted

    loop_thread, value, deleted = asyncio.run(scenario())

    assert (value, deleted) == ("gone", True)
    assert len(threads) == 2
    assert loop_thread not in threads
    assert [call.operation for call in calls] == ["set", "delete_if_equal", "get"]
    for name in ASYNC_TWINS:
        twin = getattr(DiskCache, name)
        assert twin is not getattr(BaseCache, name), name
        assert twin.__name__ == name


# -- compare-and-delete -----------------------------------------------------------------------


def test_delete_if_equal_respects_versions_and_prefixes(aliases: Callable[..., Any]) -> None:
    with aliases(default={}, other={"KEY_PREFIX": "other"}):
        cache, other = caches["default"], caches["other"]
        assert isinstance(cache, DiskCache)
        assert isinstance(other, DiskCache)
        cache.set("lock", "token", version=2)
        other.set("lock", "token")

        assert cache.delete_if_equal("lock", "token") is False  # version 1 has no entry
        assert cache.delete_if_equal("lock", "token", version=2) is True
        assert other.get("lock") == "token"


def test_delete_if_equal_releases_only_the_current_holders_lock(cache: DiskCache) -> None:
    # Holder A's lock expired and B took it: A's late release must leave B's lock alone.
    assert cache.add("lock", "A")
    cache.set("lock", "B")

    assert cache.delete_if_equal("lock", "A") is False
    assert cache.get("lock") == "B"


def test_threads_releasing_one_lock_delete_it_exactly_once(cache: DiskCache) -> None:
    for round_ in range(10):
        token = f"token-{round_}"
        assert cache.add("lock", token)
        start = threading.Barrier(5)
        results: list[bool] = []

        def release(start: threading.Barrier, results: list[bool], token: str) -> None:
            start.wait()
            results.append(cache.delete_if_equal("lock", token))

        threads = [threading.Thread(target=release, args=(start, results, token)) for _ in range(5)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert sorted(results) == [False] * 4 + [True]
        assert cache.get("lock") is None
