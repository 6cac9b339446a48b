"""``check()`` finds what a crash, a full disk or a hand edit leaves; ``fix=True`` repairs it."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest

from diskcache_admin.engine import MISSING, KeyParts, Store
from diskcache_admin.engine.files import VALUES_DIR
from diskcache_admin.engine.integrity import ORPHAN_GRACE_SECONDS


@pytest.fixture
def store(make_store: Callable[..., Store]) -> Store:
    return make_store(file_threshold=1000, max_entries=None, size_limit=None)


def put(store: Store, key: str, value: object) -> None:
    store.set(key, KeyParts(key), value, None)


def value_path(store: Store, key: str) -> Path:
    info = store.entry(key)
    assert info is not None
    assert info.filename is not None
    return Path(store.directory) / VALUES_DIR / info.filename


def kinds(store: Store, *, fix: bool = False) -> list[tuple[str, bool]]:
    return [(p.kind, p.fixed) for p in store.check(fix=fix)]


def test_a_healthy_store_has_no_problem(store: Store) -> None:
    put(store, "big", b"x" * 5000)
    put(store, "small", 1)

    assert store.check() == []
    assert store.check(fix=True) == []


def test_an_old_orphan_file_is_found_and_removed(store: Store) -> None:
    orphan = Path(store.directory) / VALUES_DIR / "ab" / ("ab" + "c" * 30 + ".val")
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"left by a crash")
    old = time.time() - ORPHAN_GRACE_SECONDS - 10
    os.utime(orphan, (old, old))

    assert kinds(store) == [("orphan-file", False)]
    assert orphan.exists()  # check() alone changes nothing
    assert kinds(store, fix=True) == [("orphan-file", True)]
    assert not orphan.exists()
    assert store.check() == []


def test_a_young_orphan_may_be_a_write_in_flight_and_is_left_alone(store: Store) -> None:
    orphan = Path(store.directory) / VALUES_DIR / "cd" / ("cd" + "e" * 30 + ".val")
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"being written")

    assert store.check(fix=True) == []
    assert orphan.exists()


def test_an_entry_whose_file_is_missing_is_found_and_removed(store: Store) -> None:
    put(store, "big", b"x" * 5000)
    put(store, "kept", b"y" * 5000)
    value_path(store, "big").unlink()

    assert kinds(store) == [("missing-file", False)]
    assert kinds(store, fix=True) == [("missing-file", True)]
    assert store.entry("big") is None
    assert store.get("kept") == b"y" * 5000
    assert store.stats().count == 1
    assert store.check() == []


def test_an_entry_whose_file_is_truncated_is_found_and_removed(store: Store) -> None:
    put(store, "big", b"x" * 5000)
    path = value_path(store, "big")
    path.write_bytes(path.read_bytes()[:100])

    assert kinds(store) == [("truncated-file", False)]
    assert kinds(store, fix=True) == [("truncated-file", True)]
    assert store.entry("big") is None
    assert not path.exists()


def test_counter_drift_is_found_and_corrected(store: Store) -> None:
    put(store, "a", b"x" * 10)
    put(store, "b", b"x" * 5000)
    expected = (store.stats().count, store.stats().size)
    with closing(sqlite3.connect(store.db.path)) as conn, conn:
        conn.execute("UPDATE counters SET count = count + 7, size = size - 3")

    assert store.stats().count == expected[0] + 7
    assert kinds(store) == [("counters", False)]
    assert kinds(store, fix=True) == [("counters", True)]
    assert (store.stats().count, store.stats().size) == expected


def test_reading_an_entry_whose_file_vanished_is_a_miss_that_removes_it(store: Store) -> None:
    put(store, "big", b"x" * 5000)
    value_path(store, "big").unlink()

    assert store.get("big") is MISSING
    assert store.entry("big") is None
    assert store.check() == []
