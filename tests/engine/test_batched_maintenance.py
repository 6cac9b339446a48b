"""``clear()`` and ``check()`` in batches: progress, stopping between batches, what others see."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from diskcache_admin.engine import MISSING, KeyParts, Store, integrity
from diskcache_admin.engine.store import MAX_BATCH, MIN_BATCH, _BatchSizer

from .test_store import put, raw, value_files

Calls = list[tuple[int, int]]


@pytest.fixture
def filled(make_store: Callable[..., Store]) -> Store:
    """250 entries, every tenth in a value file (ids follow the keys' numbers)."""
    store = make_store(max_entries=None, size_limit=None, file_threshold=1000)
    for number in range(250):
        put(store, f"k{number}", b"x" * 2000 if number % 10 == 0 else number)
    return store


def expected(number: int) -> Any:
    return b"x" * 2000 if number % 10 == 0 else number


def recorder(calls: Calls, *, stop_at: int | None = None) -> Callable[[int, int], None]:
    """A progress callback that records its calls and raises KeyboardInterrupt on call
    number ``stop_at`` (1-based), as the ``cache`` command does after a Ctrl-C."""

    def progress(done: int, total: int) -> None:
        calls.append((done, total))
        if stop_at is not None and len(calls) == stop_at:
            raise KeyboardInterrupt

    return progress


def readable(store: Store) -> dict[int, Any]:
    found = store.get_many([f"k{number}" for number in range(250)])
    return {int(key[1:]): value for key, value in found.items()}


# -- clear ----------------------------------------------------------------------------------


def test_clear_reports_each_batch_with_the_total(filled: Store) -> None:
    calls: Calls = []

    removed = filled.clear(batch=100, progress=recorder(calls))

    assert calls == [(100, 250), (200, 250), (250, 250)]
    assert (removed.count, filled.stats().count, filled.stats().size) == (250, 0, 0)
    assert value_files(filled) == []
    assert filled.check(grace=0) == []


def test_clear_stopped_after_its_first_batch_leaves_a_consistent_store(filled: Store) -> None:
    calls: Calls = []

    with pytest.raises(KeyboardInterrupt):
        filled.clear(batch=100, progress=recorder(calls, stop_at=1))

    assert calls == [(100, 250)]
    # The first hundred ids went, whole; the rest is intact and readable.
    assert readable(filled) == {number: expected(number) for number in range(100, 250)}
    assert filled.stats().count == 150
    assert len(value_files(filled)) == 15  # each removed entry's file went with it
    assert filled.check(grace=0) == []  # counters exact, no orphan, no missing file
    assert filled.clear().count == 150  # a second clear finishes the job
    assert filled.check(grace=0) == []


def test_an_entry_created_during_a_clear_survives_it(filled: Store) -> None:
    def progress(done: int, total: int) -> None:
        if done == 100:
            put(filled, "new", "written after the clear started")
            put(filled, "k5", "rewritten after the clear removed it")
            put(filled, "k200", "rewritten before the clear reached it")

    filled.clear(batch=100, progress=progress)

    # New rows get new ids, beyond the last one the clear set out to remove; an entry
    # overwritten in place keeps its id, so it goes if the clear had not reached it yet.
    assert filled.get("new") == "written after the clear started"
    assert filled.get("k5") == "rewritten after the clear removed it"
    assert filled.get("k200") is MISSING
    assert filled.stats().count == 2
    assert filled.check(grace=0) == []


def test_clear_recreates_a_deleted_counters_row(filled: Store) -> None:
    with raw(filled) as conn:
        conn.execute("DELETE FROM counters")

    assert filled.clear(batch=64).count == 250
    assert filled.stats().count == 0
    assert filled.check() == []


def test_clear_of_an_empty_store_reports_nothing_removed(store: Store) -> None:
    calls: Calls = []

    assert store.clear(progress=recorder(calls)).count == 0
    assert calls == [(0, 0)]


def test_the_batch_size_adapts_within_bounds() -> None:
    sizer = _BatchSizer(None)
    sizer.adapt(sizer.size, 10.0)  # far too slow: halved, not cut to the bone at once
    assert sizer.size == 500
    for _ in range(20):
        sizer.adapt(sizer.size, 10.0)
    assert sizer.size == MIN_BATCH
    for _ in range(20):
        sizer.adapt(sizer.size, 0.0001)
    assert sizer.size == MAX_BATCH
    fixed = _BatchSizer(7)
    fixed.adapt(7, 10.0)
    assert fixed.size == 7
    with pytest.raises(ValueError, match="at least 1"):
        _BatchSizer(0)


# -- check ----------------------------------------------------------------------------------


def test_check_reports_the_entries_verified_with_the_total(filled: Store) -> None:
    calls: Calls = []

    assert filled.check(batch=100, progress=recorder(calls)) == []

    done = [call[0] for call in calls]
    assert done == sorted(done)
    assert {total for _, total in calls} == {250}
    assert calls[0] == (0, 250)
    assert calls[-1] == (250, 250)
    assert {100, 200, 250} <= set(done)


def test_a_check_stopped_between_batches_changes_nothing(filled: Store) -> None:
    calls: Calls = []

    with pytest.raises(KeyboardInterrupt):
        filled.check(fix=True, batch=100, progress=recorder(calls, stop_at=2))

    assert calls[-1] == (0, 250) or calls[-1][0] == 100
    assert readable(filled) == {number: expected(number) for number in range(250)}
    assert filled.check(grace=0) == []


def test_a_check_stops_while_sqlites_integrity_check_runs(filled: Store) -> None:
    # The second report comes while PRAGMA integrity_check runs (in a thread of its own, as it
    # calls no progress handler while it walks the pages).
    calls: Calls = []

    with pytest.raises(KeyboardInterrupt):
        filled.check(progress=recorder(calls, stop_at=2))

    assert calls == [(0, 250), (0, 250)]
    assert filled.check() == []


def test_a_check_stops_inside_a_long_count(filled: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    # SQLite calls the handler after every instruction: the report after the last batch comes
    # from inside the counters' count, which it aborts (a read: nothing to undo).
    monkeypatch.setattr(integrity, "_HANDLER_INSTRUCTIONS", 1)
    calls: Calls = []

    def progress(done: int, total: int) -> None:
        calls.append((done, total))
        if calls.count((250, 250)) == 2:  # the scan's own report, then the handler's first
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        filled.check(batch=100, progress=progress)

    assert filled.check() == []  # the connection is usable, no handler left behind
    assert filled.db.connection().execute("SELECT count(*) FROM entries").fetchone() == (250,)


def test_a_damaged_database_is_still_reported_with_progress(filled: Store) -> None:
    with raw(filled) as conn:
        conn.execute("PRAGMA writable_schema = ON")
    path = filled.db.path
    filled.db.close()
    with open(path, "r+b") as handle:  # garble a page in the middle of the file
        handle.seek(8192)
        handle.write(b"\xff" * 4096)

    problems = filled.check(progress=recorder([]))

    assert problems
    assert {problem.kind for problem in problems} <= {"database", "counters", "bad-signature"}
    assert "database" in {problem.kind for problem in problems}


def test_repairs_stopped_after_a_batch_keep_the_counters_exact(filled: Store) -> None:
    with raw(filled) as conn:
        conn.execute("UPDATE entries SET signature = zeroblob(32) WHERE id % 2 = 0")
    planted = filled.stats().count

    def progress(done: int, total: int) -> None:
        if filled.stats().count < planted:  # the first repair batch has committed
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        filled.check(fix=True, batch=50, progress=progress)

    left = filled.check(grace=0)
    assert {problem.kind for problem in left} == {"bad-signature"}  # no counters drift
    assert len(left) == filled.stats().count - 125 > 0
    assert all(problem.fixed for problem in filled.check(fix=True, grace=0))
    assert filled.check(grace=0) == []
    assert readable(filled) == {number: expected(number) for number in range(0, 250, 2)}


def test_a_value_file_written_during_a_long_check_is_not_an_orphan(
    filled: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The orphan cutoff is taken before the rows are read: a check that outlasts its grace
    must not take a file written meanwhile (for a row it had already read) for an orphan."""
    now = [integrity._wall_clock()]
    monkeypatch.setattr(integrity, "_wall_clock", lambda: now[0])

    def progress(done: int, total: int) -> None:
        if done == 100:  # k0..k99 have been read: rewrite one of them into a new value file
            filled.set("k10", KeyParts("k10"), b"y" * 3000, None)
            now[0] += 3600  # and the check runs on, for longer than its grace

    problems = filled.check(fix=True, batch=100, progress=progress)

    assert problems == []
    assert filled.get("k10") == b"y" * 3000
    assert filled.check() == []
