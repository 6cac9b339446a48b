"""The store's one removal path: by key, by selection (browse.Filter), and compare-and-delete."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from diskcache_admin.engine import MISSING, KeyParts, Removal, Store, browse, statistics
from diskcache_admin.engine.files import VALUES_DIR

from .conftest import FakeClock


def put(store: Store, key: str, value: Any, expire_time: float | None = None, **kw: Any) -> bool:
    return store.set(key, KeyParts(key), value, expire_time, **kw)


def counters(store: Store) -> tuple[int, int, int, int]:
    """count, size, hits, misses as written in the database (not this process's pending ones)."""
    with closing(sqlite3.connect(store.db.path)) as conn, conn:
        row = conn.execute("SELECT count, size, hits, misses FROM counters").fetchone()
    return tuple(row)  # type: ignore[return-value]


def value_files(store: Store) -> list[Path]:
    return sorted((Path(store.directory) / VALUES_DIR).rglob("*.val"))


@pytest.fixture
def filed(make_store: Callable[..., Store]) -> Store:
    """A store whose values of 64 bytes and more go to value files."""
    return make_store(max_entries=None, size_limit=None, file_threshold=64)


# -- removal by selection and by key ---------------------------------------------------------


@pytest.mark.usefixtures("no_timed_flush")
def test_remove_matching_carries_a_due_batch_of_statistics_like_every_write(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    put(store, "user:1", 1)
    store.get("user:1")
    store.get("absent")
    assert counters(store)[2:] == (0, 0)  # counted in memory only
    monkeypatch.setattr(statistics, "FLUSH_EVERY_SECONDS", 0.0)  # a batch is due

    removed = store.remove_matching(browse.Filter(search="user:"))

    assert removed == Removal(1, 8)
    assert counters(store)[2:] == (1, 1)  # written in the removal's own transaction


def test_remove_matching_removes_value_files_and_keeps_the_counters_right(filed: Store) -> None:
    for i in range(5):
        put(filed, f"big:{i}", "x" * 200)
        put(filed, f"small:{i}", i)
    assert len(value_files(filed)) == 5

    removed = filed.remove_matching(browse.Filter(search="big:"), batch=2)

    assert removed.count == 5
    assert value_files(filed) == []
    count, size, _hits, _misses = counters(filed)
    assert (count, size) == (5, 5 * 8)
    assert filed.get("small:3") == 3


def test_remove_matching_reports_progress_per_batch(store: Store) -> None:
    for i in range(5):
        put(store, f"k{i}", i)
    batches: list[int] = []

    store.remove_matching(browse.Filter(), batch=2, progress=batches.append)

    assert batches == [2, 2, 1]


def test_remove_takes_live_and_expired_entries_and_their_files(
    filed: Store, clock: FakeClock
) -> None:
    put(filed, "live", "x" * 100)
    put(filed, "stale", "y" * 100, expire_time=clock.now + 1)
    put(filed, "other", 1)
    clock.advance(5)
    size_before = counters(filed)[1]

    removed = filed.remove(["live", "stale", "absent"])

    assert removed == Removal(2, size_before - 8)
    assert value_files(filed) == []
    assert counters(filed)[:2] == (1, 8)


def test_delete_many_counts_only_live_entries(store: Store, clock: FakeClock) -> None:
    put(store, "live", 1)
    put(store, "stale", 2, expire_time=clock.now + 1)
    clock.advance(5)

    assert store.delete_many(["live", "stale", "absent"]) == 1
    assert counters(store)[:2] == (0, 0)


def test_browse_only_reads() -> None:
    # Every removal goes through the store: browse has no write left to drift from it.
    assert not hasattr(browse, "delete_matching")
    assert not hasattr(browse, "delete_keys")
    assert not hasattr(browse, "take_snapshot")
    assert "run_write" not in Path(browse.__file__).read_text()


# -- compare-and-delete ----------------------------------------------------------------------


def test_delete_if_equal_deletes_only_the_expected_value(filed: Store) -> None:
    put(filed, "lock", "token-a")
    put(filed, "big", "z" * 500)

    assert filed.delete_if_equal("lock", "token-b") is False
    assert filed.get("lock") == "token-a"
    assert filed.delete_if_equal("lock", "token-a") is True
    assert filed.get("lock") is MISSING
    assert filed.delete_if_equal("lock", "token-a") is False  # already gone

    assert filed.delete_if_equal("big", "z" * 500) is True
    assert value_files(filed) == []
    assert counters(filed)[:2] == (0, 0)


def test_delete_if_equal_compares_values_not_types_of_storage(store: Store) -> None:
    put(store, "n", 7)  # a native integer row
    put(store, "t", (1, "two"))

    assert store.delete_if_equal("n", 8) is False
    assert store.delete_if_equal("n", 7) is True
    assert store.delete_if_equal("t", [1, "two"]) is False  # == says a tuple is not a list
    assert store.delete_if_equal("t", (1, "two")) is True


def test_delete_if_equal_ignores_an_expired_entry(store: Store, clock: FakeClock) -> None:
    put(store, "lock", "mine", expire_time=clock.now + 1)
    clock.advance(2)

    assert store.delete_if_equal("lock", "mine") is False


def test_delete_if_equal_never_deletes_an_entry_that_does_not_verify(store: Store) -> None:
    put(store, "lock", "mine")
    with closing(sqlite3.connect(store.db.path)) as conn, conn:
        conn.execute("UPDATE entries SET signature = zeroblob(32) WHERE key = 'lock'")

    assert store.delete_if_equal("lock", "mine") is False


def test_of_many_threads_releasing_one_value_exactly_one_deletes_it(store: Store) -> None:
    for round_ in range(20):
        put(store, "lock", f"token-{round_}")
        start = threading.Barrier(6)
        results: list[bool] = []

        def release(start: threading.Barrier, results: list[bool], token: str) -> None:
            start.wait()
            results.append(store.delete_if_equal("lock", token))

        threads = [
            threading.Thread(target=release, args=(start, results, f"token-{round_}"))
            for _ in range(6)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert sorted(results) == [False] * 5 + [True]


def test_a_lock_released_by_value_is_never_released_by_an_older_holder(store: Store) -> None:
    # Each worker takes the lock with add() and releases it with its own token. Were a release
    # able to delete another worker's lock, two workers would be inside at once.
    inside = 0
    overlaps = 0
    counter = threading.Lock()
    errors: list[BaseException] = []

    def worker(name: str) -> None:
        nonlocal inside, overlaps
        try:
            for i in range(40):
                token = f"{name}-{i}"
                while not store.add("lock", KeyParts("lock"), token, None):
                    # An older holder's release, retried late, must never free a newer lock.
                    store.delete_if_equal("lock", f"{name}-{i - 1}")
                with counter:
                    inside += 1
                    overlaps += inside > 1
                with counter:
                    inside -= 1
                assert store.delete_if_equal("lock", token)
        except BaseException as exc:  # reported in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(f"w{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert overlaps == 0
    assert store.get("lock") is MISSING
