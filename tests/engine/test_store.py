"""The storage engine on its own: no Django, a fake clock, one fresh directory per test."""

from __future__ import annotations

import os
import pickle
import sqlite3
import stat
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import pytest

from diskcache_admin.engine import (
    MISSING,
    Codec,
    Item,
    KeyParts,
    Mode,
    Store,
    StoreLocked,
    UnserializableValue,
    statistics,
)
from diskcache_admin.engine.files import VALUES_DIR

from .conftest import SIGNING_KEY, FakeClock


def put(store: Store, key: str, value: Any, expire_time: float | None = None, **kw: Any) -> bool:
    return store.set(key, KeyParts(key), value, expire_time, **kw)


@contextmanager
def raw(store: Store) -> Iterator[sqlite3.Connection]:
    """A connection of our own, to look at the database the way another process would.

    Committed on success and closed: ``with sqlite3.connect()`` alone commits but never closes.
    """
    with closing(sqlite3.connect(store.db.path)) as conn, conn:
        yield conn


def counters_row(store: Store) -> tuple[Any, ...]:
    with raw(store) as conn:
        return tuple(conn.execute("SELECT * FROM counters").fetchone())


def value_files(store: Store) -> list[str]:
    root = Path(store.directory) / VALUES_DIR
    return sorted(str(p.relative_to(root)) for p in root.rglob("*.val"))


# -- values ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "text",
        b"\x00bytes\xff",
        42,
        -(2**63),
        2**63,  # beyond SQLite's integers: pickled, not stored natively
        True,
        1.5,
        None,
        [1, "two", None],
        (1, 2),
        {"a": {"b": [1]}},
    ],
)
def test_values_come_back_equal_and_of_the_same_type(store: Store, value: Any) -> None:
    put(store, "k", value)

    got = store.get("k")

    assert got == value
    assert type(got) is type(value)


def test_a_missing_key_is_missing(store: Store) -> None:
    assert store.get("nope") is MISSING
    assert store.has("nope") is False


def test_an_entry_is_a_miss_from_its_expiry_time_on(store: Store, clock: FakeClock) -> None:
    put(store, "k", "v", expire_time=clock.now + 10)
    clock.advance(9.9)
    assert store.get("k") == "v"

    clock.advance(0.1)

    assert store.get("k") is MISSING
    assert store.has("k") is False


def test_add_stores_only_when_no_live_entry(store: Store, clock: FakeClock) -> None:
    assert store.add("k", KeyParts("k"), 1, clock.now + 5) is True
    assert store.add("k", KeyParts("k"), 2, None) is False
    assert store.get("k") == 1

    clock.advance(5)

    assert store.add("k", KeyParts("k"), 3, None) is True
    assert store.get("k") == 3


def test_touch_changes_the_expiry_of_live_entries_only(store: Store, clock: FakeClock) -> None:
    put(store, "k", "v", expire_time=clock.now + 1)
    assert store.touch("k", None) is True
    clock.advance(100)
    assert store.get("k") == "v"

    assert store.touch("k", clock.now - 1) is True
    assert store.get("k") is MISSING
    assert store.touch("k", None) is False
    assert store.touch("never-set", None) is False


def test_delete_says_whether_a_live_entry_went(store: Store, clock: FakeClock) -> None:
    put(store, "live", 1)
    put(store, "expired", 1, expire_time=clock.now - 1)

    assert store.delete("live") is True
    assert store.delete("live") is False
    assert store.delete("expired") is False
    assert store.entry("expired") is None


def test_delete_many_counts_the_live_entries_removed(store: Store, clock: FakeClock) -> None:
    for key in "abc":
        put(store, key, key)
    put(store, "old", 1, expire_time=clock.now - 1)

    assert store.delete_many(["a", "b", "old", "never"]) == 2
    assert store.get_many(["a", "b", "c"]) == {"c": "c"}


def test_get_many_returns_only_live_entries(store: Store, clock: FakeClock) -> None:
    put(store, "a", 1)
    put(store, "b", 2, expire_time=clock.now - 1)

    assert store.get_many(["a", "b", "c"]) == {"a": 1}
    assert store.get_many([]) == {}


# -- incr -----------------------------------------------------------------------------------


def test_incr_keeps_the_expiry_and_the_tag(store: Store, clock: FakeClock) -> None:
    store.set("n", KeyParts("n"), 1, clock.now + 1000, tag="counters")
    before = store.entry("n")

    assert store.incr("n", 5) == 6
    assert store.incr("n", -10) == -4

    after = store.entry("n")
    assert before is not None
    assert after is not None
    assert (after.expire_time, after.tag) == (before.expire_time, "counters")
    assert store.get("n") == -4


def test_incr_of_a_missing_or_expired_key_raises_key_error(store: Store, clock: FakeClock) -> None:
    put(store, "old", 1, expire_time=clock.now - 1)

    with pytest.raises(KeyError):
        store.incr("never", 1)
    with pytest.raises(KeyError):
        store.incr("old", 1)


def test_incr_past_the_64_bit_range_keeps_counting(store: Store) -> None:
    put(store, "n", 2**63 - 1)

    assert store.incr("n", 1) == 2**63
    assert store.incr("n", 1) == 2**63 + 1
    assert store.incr("n", -2) == 2**63 - 1
    assert store.entry("n").mode == Mode.INT  # type: ignore[union-attr]


def test_incr_of_a_non_number_raises_type_error_and_changes_nothing(store: Store) -> None:
    put(store, "none", None)

    with pytest.raises(TypeError):
        store.incr("none", 1)

    assert store.get("none") is None


def test_incr_works_on_pickled_numbers(store: Store) -> None:
    put(store, "f", 1.5)

    assert store.incr("f", 1) == 2.5
    assert store.get("f") == 2.5


def test_concurrent_incr_from_threads_loses_no_update(store: Store) -> None:
    put(store, "n", 0)

    def work() -> None:
        for _ in range(100):
            store.incr("n", 1)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert store.get("n") == 400


# -- MAX_ENTRIES and CULL_FREQUENCY -----------------------------------------------------------


def fill(store: Store, clock: FakeClock, count: int) -> None:
    for i in range(1, count + 1):
        clock.advance(1)  # distinct store times make the eviction order exact
        put(store, f"k{i}", i)


def live_keys(store: Store, count: int) -> list[int]:
    return [i for i in range(1, count + 1) if store.has(f"k{i}")]


def test_max_entries_culls_one_cull_frequency_th_of_the_oldest_when_full(
    make_store: Callable[..., Store], clock: FakeClock
) -> None:
    store = make_store(max_entries=30, cull_frequency=3, size_limit=None)

    fill(store, clock, 49)

    # k31 found 30 entries and culled k1..k10, k41 culled k11..k20: Django's arithmetic.
    assert live_keys(store, 49) == list(range(21, 50))
    assert store.stats().count == 29


def test_cull_frequency_zero_empties_the_store_when_full(
    make_store: Callable[..., Store], clock: FakeClock
) -> None:
    store = make_store(max_entries=30, cull_frequency=0, size_limit=None)

    fill(store, clock, 49)

    assert live_keys(store, 49) == list(range(31, 50))


def test_cull_frequency_one_empties_the_store_when_full(
    make_store: Callable[..., Store], clock: FakeClock
) -> None:
    store = make_store(max_entries=5, cull_frequency=1, size_limit=None)

    fill(store, clock, 6)

    assert live_keys(store, 6) == [6]


def test_replacing_a_key_in_a_full_store_culls_nothing(
    make_store: Callable[..., Store], clock: FakeClock
) -> None:
    store = make_store(max_entries=5, size_limit=None)
    fill(store, clock, 5)

    put(store, "k3", "new")

    assert live_keys(store, 5) == [1, 2, 3, 4, 5]


def test_expired_entries_go_before_any_live_one(
    make_store: Callable[..., Store], clock: FakeClock
) -> None:
    store = make_store(max_entries=10, cull_frequency=2, size_limit=None)
    for i in range(10):
        clock.advance(1)
        # the even ones are the newest *and* already expired
        put(store, f"k{i}", i, expire_time=clock.now + (0.5 if i % 2 else 1000))
    clock.advance(1)

    put(store, "new", 1)

    assert store.stats().count == 6
    assert [i for i in range(10) if store.has(f"k{i}")] == [0, 2, 4, 6, 8]


def test_no_max_entries_means_no_limit(make_store: Callable[..., Store], clock: FakeClock) -> None:
    store = make_store(max_entries=None, size_limit=None)

    fill(store, clock, 400)

    assert store.stats().count == 400


def test_cull_brings_the_store_within_max_entries_now(
    make_store: Callable[..., Store], clock: FakeClock
) -> None:
    fill(make_store(max_entries=None, size_limit=None), clock, 20)
    limited = make_store(max_entries=15, size_limit=None)

    removed = limited.cull()

    assert removed.count == 5
    assert live_keys(limited, 20) == list(range(6, 21))


# -- SIZE_LIMIT -------------------------------------------------------------------------------


def test_size_limit_evicts_the_oldest_entries_until_the_new_one_fits(
    make_store: Callable[..., Store], clock: FakeClock
) -> None:
    store = make_store(max_entries=None, size_limit=3000)
    for i in range(1, 6):
        clock.advance(1)
        put(store, f"k{i}", b"x" * 900)

    assert live_keys(store, 5) == [3, 4, 5]
    stats = store.stats()
    assert stats.size <= 3000
    assert stats.count == 3


def test_a_value_larger_than_size_limit_is_refused_and_the_old_one_dropped(
    make_store: Callable[..., Store],
) -> None:
    store = make_store(max_entries=None, size_limit=1000)
    put(store, "k", "small")

    assert put(store, "k", b"x" * 2000) is False

    assert store.get("k") is MISSING
    assert store.stats().count == 0


def test_set_many_returns_the_keys_that_cannot_fit(make_store: Callable[..., Store]) -> None:
    store = make_store(max_entries=None, size_limit=1000)
    items = [
        Item("small", KeyParts("small"), "s", None),
        Item("big", KeyParts("big"), b"x" * 2000, None),
    ]

    assert store.set_many(items) == ["big"]
    assert store.get_many(["small", "big"]) == {"small": "s"}


# -- least-recently-used ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "survivors"),
    [("least-recently-stored", ["b", "c", "d"]), ("least-recently-used", ["a", "c", "d"])],
)
def test_eviction_policy_decides_which_entry_goes(
    make_store: Callable[..., Store], clock: FakeClock, policy: str, survivors: list[str]
) -> None:
    store = make_store(max_entries=3, cull_frequency=3, size_limit=None, eviction_policy=policy)
    for key in "abc":
        clock.advance(1)
        put(store, key, key)
    clock.advance(1)
    assert store.get("a") == "a"  # under LRU, this read makes "b" the oldest
    clock.advance(1)

    put(store, "d", "d")

    assert [key for key in "abcd" if store.has(key)] == survivors


def test_least_recently_used_reads_need_no_write_transaction(
    make_store: Callable[..., Store],
) -> None:
    store = make_store(eviction_policy="least-recently-used", statistics=False)
    put(store, "a", 1)
    statements: list[str] = []
    store.db.connection().set_trace_callback(statements.append)

    for _ in range(10):
        store.get("a")

    assert not [s for s in statements if s.startswith(("BEGIN", "UPDATE", "INSERT"))]


# -- maintenance ------------------------------------------------------------------------------


def test_expire_removes_only_expired_entries(store: Store, clock: FakeClock) -> None:
    for i in range(5):
        put(store, f"old{i}", b"x" * 10, expire_time=clock.now - 1)
    put(store, "fresh", 1, expire_time=clock.now + 10)
    put(store, "forever", 1)
    reported: list[int] = []

    removed = store.expire(batch=2, progress=reported.append)

    assert removed.count == 5
    assert removed.size > 0
    assert sum(reported) == 5
    assert store.stats().count == 2
    assert store.has("fresh")
    assert store.has("forever")


def test_a_large_purge_pauses_between_batches_for_other_writers(
    store: Store, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.set_many([Item(f"old{i}", KeyParts(f"old{i}"), i, clock.now - 1) for i in range(2500)])
    events: list[str] = []
    monkeypatch.setattr(time, "sleep", lambda seconds: events.append("pause"))

    removed = store.expire(progress=lambda count: events.append(f"batch {count}"))

    assert removed.count == 2500
    batches = [event for event in events if event.startswith("batch")]
    assert len(batches) >= 2  # the default first batch is FIRST_BATCH entries
    # A pause after every full batch (the write lock is free long enough for a queued
    # writer), none after the last.
    assert events[0::2] == batches
    assert events[1::2] == ["pause"] * (len(batches) - 1)


def test_evict_removes_one_tags_entries(store: Store) -> None:
    store.set("a", KeyParts("a"), 1, None, tag="red")
    store.set("b", KeyParts("b"), 2, None, tag="red")
    store.set("c", KeyParts("c"), 3, None, tag="blue")
    put(store, "d", 4)

    assert store.evict("red").count == 2

    assert store.get_many(["a", "b", "c", "d"]) == {"c": 3, "d": 4}


def test_clear_removes_every_entry_and_value_file(make_store: Callable[..., Store]) -> None:
    store = make_store(file_threshold=100, size_limit=None)
    put(store, "big", b"x" * 1000)
    put(store, "small", 1)

    removed = store.clear()

    assert removed.count == 2
    assert store.stats().count == 0
    assert store.stats().size == 0
    assert value_files(store) == []


def test_counters_follow_every_write_without_a_scan(store: Store) -> None:
    put(store, "a", b"x" * 100)
    put(store, "b", b"y" * 50)
    put(store, "a", b"z" * 10)
    store.delete("b")

    stats = store.stats()
    with raw(store) as conn:
        actual = conn.execute("SELECT count(*), sum(size) FROM entries").fetchone()
    assert (stats.count, stats.size) == tuple(actual)
    assert stats.count == 1


def test_rename_moves_the_entry_keeping_expiry_and_tag(store: Store, clock: FakeClock) -> None:
    store.set(":1:k", KeyParts("k", "", 1), "v", clock.now + 50, tag="t")
    put(store, ":2:k", "will be replaced")

    assert store.rename(":1:k", ":2:k", KeyParts("k", "", 2)) is True

    assert store.get(":1:k") is MISSING
    assert store.get(":2:k") == "v"
    moved = store.entry(":2:k")
    assert moved is not None
    assert (moved.version, moved.expire_time, moved.tag) == (2, clock.now + 50, "t")
    assert store.rename(":1:k", ":3:k", KeyParts("k", "", 3)) is False


# -- statistics -------------------------------------------------------------------------------


@pytest.mark.usefixtures("no_timed_flush")
def test_hits_and_misses_are_counted_in_memory_then_flushed(store: Store) -> None:
    put(store, "a", 1)
    store.get("a")
    store.get("a")
    store.get("b")
    store.get_many(["a", "c"])
    assert counters_row(store)[3:5] == (0, 0)  # nothing written yet

    store.flush()

    assert counters_row(store)[3:5] == (3, 2)
    assert (store.stats().hits, store.stats().misses) == (3, 2)


def test_pending_counts_ride_along_with_the_first_write_once_a_batch_is_due(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.get("a")

    put(store, "a", 1)
    # Not due yet: a write does not carry them (the counters row would be one more page in
    # every write's WAL).
    assert counters_row(store)[3:5] == (0, 0)

    monkeypatch.setattr(statistics, "FLUSH_EVERY_SECONDS", 0.0)  # due now
    put(store, "a", 2)
    assert counters_row(store)[3:5] == (0, 1)


def test_a_batch_of_reads_flushes_itself(store: Store) -> None:
    for _ in range(statistics.FLUSH_EVERY_OPS):
        store.get("missing")

    assert counters_row(store)[4] == statistics.FLUSH_EVERY_OPS


def test_statistics_off_counts_nothing(make_store: Callable[..., Store]) -> None:
    store = make_store(statistics=False)
    put(store, "a", 1)
    store.get("a")
    store.get("b")

    store.flush()

    assert (store.stats().hits, store.stats().misses) == (0, 0)


def test_stats_has_no_side_effect(store: Store) -> None:
    for i in range(20):
        put(store, f"k{i}", i)
    store.get("k1")
    store.flush()
    store.get("k2")  # one hit left unflushed, in memory
    files = [store.db.path + suffix for suffix in ("", "-wal")]
    before = [Path(f).read_bytes() for f in files]
    row_before = counters_row(store)

    stats = [store.stats() for _ in range(5)]

    assert [Path(f).read_bytes() for f in files] == before
    assert counters_row(store) == row_before
    assert {(s.count, s.hits, s.misses) for s in stats} == {(20, 2, 0)}


def test_reset_stats_zeroes_hits_and_misses(store: Store) -> None:
    put(store, "a", 1)
    store.get("a")
    store.get("b")

    store.reset_stats()

    stats = store.stats()
    assert (stats.hits, stats.misses, stats.count) == (0, 0, 1)


def test_two_stores_on_one_directory_share_their_state(
    make_store: Callable[..., Store],
) -> None:
    first = make_store()
    second = make_store(max_entries=10)
    put(first, "a", 1)
    first.get("a")

    assert second.get("a") == 1
    assert second.stats().hits == 2
    assert first.db is second.db


# -- value files ------------------------------------------------------------------------------


def test_large_values_live_in_files_and_come_back_intact(
    make_store: Callable[..., Store],
) -> None:
    store = make_store(file_threshold=4096, size_limit=None)
    payload = os.urandom(200_000)

    put(store, "big", payload)

    info = store.entry("big")
    assert info is not None
    assert info.filename is not None
    assert value_files(store) == [info.filename]
    with raw(store) as conn:
        assert conn.execute("SELECT value FROM entries").fetchone() == (None,)
    assert store.get("big") == payload


def test_replacing_or_deleting_a_file_value_removes_its_file(
    make_store: Callable[..., Store],
) -> None:
    store = make_store(file_threshold=4096, size_limit=None)
    put(store, "big", b"a" * 10_000)
    first = value_files(store)

    put(store, "big", b"b" * 10_000)
    second = value_files(store)
    assert len(second) == 1
    assert second != first

    store.delete("big")
    assert value_files(store) == []


def test_small_values_stay_in_the_database(make_store: Callable[..., Store]) -> None:
    store = make_store(file_threshold=4096)

    put(store, "small", b"a" * 100)

    assert store.entry("small").filename is None  # type: ignore[union-attr]
    assert value_files(store) == []


def test_directories_are_private_and_value_files_owner_only(tmp_path: Path) -> None:
    directory = tmp_path / "nested" / "deeper" / "store"
    old_umask = os.umask(0o022)
    try:
        store = Store(str(directory), Codec([SIGNING_KEY]), file_threshold=100)
        put(store, "big", b"x" * 1000)
    finally:
        os.umask(old_umask)
    filename = store.entry("big").filename  # type: ignore[union-attr]
    assert filename is not None

    created = [
        tmp_path / "nested",
        tmp_path / "nested" / "deeper",
        directory,
        directory / VALUES_DIR,
        (directory / VALUES_DIR / filename).parent,
    ]
    assert {oct(stat.S_IMODE(p.stat().st_mode)) for p in created} == {oct(0o700)}
    assert stat.S_IMODE((directory / VALUES_DIR / filename).stat().st_mode) == 0o600
    statistics.forget(str(directory))


# -- serialization ----------------------------------------------------------------------------


class Unpicklable:
    def __reduce__(self) -> Any:
        raise pickle.PicklingError("not today")


@pytest.mark.parametrize("value", [lambda: 1, threading.Lock(), Unpicklable()])
def test_an_unpicklable_value_raises_pickling_error_and_leaves_no_row(
    store: Store, value: Any
) -> None:
    with pytest.raises(pickle.PicklingError, match="'bad'"):
        put(store, "bad", value)
    with pytest.raises(pickle.PicklingError):
        store.add("bad", KeyParts("bad"), value, None)

    assert store.entry("bad") is None
    assert store.stats().count == 0


def test_set_many_with_one_unpicklable_value_stores_nothing(
    make_store: Callable[..., Store],
) -> None:
    store = make_store(file_threshold=100, size_limit=None)
    items = [
        Item("big", KeyParts("big"), b"x" * 1000, None),
        Item("fine", KeyParts("fine"), "fine", None),
        Item("bad", KeyParts("bad"), threading.Lock(), None),
    ]

    with pytest.raises(UnserializableValue, match="'bad'"):
        store.set_many(items)

    assert store.stats().count == 0
    assert value_files(store) == []


def test_set_many_is_one_transaction(store: Store) -> None:
    statements: list[str] = []
    store.db.connection().set_trace_callback(statements.append)

    failed = store.set_many([Item(f"k{i}", KeyParts(f"k{i}"), i, None) for i in range(50)])

    assert failed == []
    assert [s for s in statements if s.startswith(("BEGIN", "COMMIT"))] == [
        "BEGIN IMMEDIATE",
        "COMMIT",
    ]
    assert store.stats().count == 50


def test_json_serializer_stores_no_pickle(make_store: Callable[..., Store]) -> None:
    store = make_store(codec=Codec([SIGNING_KEY], serializer="json"))

    put(store, "doc", {"a": [1, 2.5, None, "x"], "b": True})
    put(store, "pair", (1, 2))

    assert store.get("doc") == {"a": [1, 2.5, None, "x"], "b": True}
    assert store.get("pair") == [1, 2]  # JSON has no tuples
    assert store.entry("doc").mode == Mode.JSON  # type: ignore[union-attr]
    with raw(store) as conn:
        assert conn.execute("SELECT value FROM entries WHERE key = 'doc'").fetchone()[0][:1] == (
            b"{"
        )
    with pytest.raises(pickle.PicklingError, match="json"):
        put(store, "set", {1, 2})


def test_a_value_signed_with_a_retired_key_reads_while_that_key_is_a_fallback(
    make_store: Callable[..., Store],
) -> None:
    put(make_store(codec=Codec([b"old"])), "k", "v")

    assert make_store(codec=Codec([b"new", b"old"])).peek("k") == "v"
    assert make_store(codec=Codec([b"new"])).peek("k") is MISSING


# -- locking ----------------------------------------------------------------------------------


def test_a_write_that_never_gets_the_lock_raises_and_reads_go_on(
    make_store: Callable[..., Store],
) -> None:
    store = make_store(busy_timeout=0.02)
    put(store, "k", "before")
    other = sqlite3.connect(store.db.path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process holding the write lock
    try:
        with pytest.raises(StoreLocked):
            put(store, "k", "during")
        assert store.get("k") == "before"  # WAL: readers are never blocked
    finally:
        other.execute("ROLLBACK")
        other.close()

    put(store, "k", "after")  # nothing was left half-open

    assert store.get("k") == "after"


def test_removing_a_rejected_entry_spares_a_value_written_since(store: Store) -> None:
    # A reader rejects what it read; if a writer replaced the entry in the meantime (in place,
    # same row id), the fresh value must survive the reader's clean-up.
    put(store, "k", "stale")
    with raw(store) as conn:
        conn.execute("UPDATE entries SET signature = zeroblob(32)")
        stale_row = conn.execute(
            "SELECT id, mode, signature, filename, size, digest FROM entries"
        ).fetchone()
    put(store, "k", "fresh")
    assert store.entry("k").id == stale_row[0]  # type: ignore[union-attr]

    store._reject("k", stale_row, "test", repair=True)

    assert store.get("k") == "fresh"
