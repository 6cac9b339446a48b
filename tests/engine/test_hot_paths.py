"""The shortcuts of the per-operation hot paths (docs/performance.rst) keep every guarantee."""

from __future__ import annotations

import dataclasses
import pickle
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from typing import Any

import pytest

from diskcache_admin.engine import Codec, Item, KeyParts, Store, statistics
from diskcache_admin.engine.codec import Mode, digest
from diskcache_admin.engine.store import MISSING

from .conftest import SIGNING_KEY, FakeClock


@contextmanager
def statements(store: Store) -> Iterator[list[str]]:
    """The SQL statements this thread's connection runs inside the block."""
    seen: list[str] = []
    conn = store.db.connection()
    conn.set_trace_callback(seen.append)
    try:
        yield seen
    finally:
        conn.set_trace_callback(None)


def verbs(seen: list[str]) -> list[str]:
    return [" ".join(sql.split()[:2]) for sql in seen]


def row_of(store: Store, key: str) -> tuple[Any, ...]:
    with closing(sqlite3.connect(store.db.path)) as conn, conn:
        row = conn.execute(
            "SELECT user_key, prefix, version, size, tag, expire_time, filename FROM entries"
            " WHERE key = ?",
            (key,),
        ).fetchone()
    assert row is not None
    return tuple(row)


def counters(store: Store) -> tuple[int, int]:
    with closing(sqlite3.connect(store.db.path)) as conn, conn:
        count, size = conn.execute("SELECT count, size FROM counters WHERE id = 0").fetchone()
        actual = conn.execute("SELECT count(*), coalesce(sum(size), 0) FROM entries").fetchone()
    assert (count, size) == tuple(actual)  # the counters row is exact
    return count, size


# -- set: the usual overwrite is one UPDATE --------------------------------------------------


def test_the_usual_overwrite_is_one_update_in_its_transaction(store: Store) -> None:
    store.set("k", KeyParts("k"), {"n": 1}, 2e9)

    with statements(store) as seen:
        assert store.set("k", KeyParts("k"), {"n": 2}, 3e9)

    assert verbs(seen) == ["BEGIN IMMEDIATE", "UPDATE entries", "COMMIT"]
    assert store.get("k") == {"n": 2}
    assert row_of(store, "k")[5] == 3e9


def test_an_overwrite_without_expiry_keeps_it_unassigned(store: Store) -> None:
    store.set("k", KeyParts("k"), "a", None)
    store.set("k", KeyParts("k"), "c", None)

    with statements(store) as seen:
        store.set("k", KeyParts("k"), "b", None)

    (update,) = [sql for sql in seen if sql.startswith("UPDATE")]
    assert "expire_time =" not in update  # its index entry is left alone
    assert store.get("k") == "b"


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ((KeyParts("k"), "short", None, None), (KeyParts("k"), "a longer value", None, None)),
        ((KeyParts("k"), "v", None, "t1"), (KeyParts("k"), "w", None, "t2")),
        ((KeyParts("k"), "v", None, None), (KeyParts("k", "p", 2), "w", None, None)),
        ((KeyParts("k"), "v", 2e9, None), (KeyParts("k"), "w", None, None)),
    ],
    ids=["size", "tag", "key parts", "expiry to none"],
)
def test_any_other_overwrite_takes_the_general_path_and_stays_exact(
    store: Store, first: tuple[Any, ...], second: tuple[Any, ...]
) -> None:
    store.set("other", KeyParts("other"), "x", None)
    store.set("k", *first)

    store.set("k", *second)

    parts, value, expire_time, tag = second
    assert store.get("k") == value
    user_key, prefix, version, _, stored_tag, stored_expiry, _ = row_of(store, "k")
    assert (user_key, prefix, version) == (parts.user_key, parts.prefix, parts.version)
    assert (stored_tag, stored_expiry) == (tag, expire_time)
    assert counters(store)[0] == 2


def test_an_overwrite_of_a_value_file_removes_the_file(make_store: Callable[..., Store]) -> None:
    store = make_store(max_entries=None, size_limit=None, file_threshold=64)
    big = "x" * 200
    store.set("k", KeyParts("k"), big, None)
    filename = row_of(store, "k")[6]
    assert filename is not None
    assert store.files.size(filename) is not None

    store.set("k", KeyParts("k"), big.upper(), None)  # the same size

    new_filename = row_of(store, "k")[6]
    assert new_filename not in (None, filename)
    assert store.files.size(filename) is None
    assert store.get("k") == big.upper()
    counters(store)


def test_add_of_a_new_key_does_not_try_the_overwrite(store: Store) -> None:
    store.get("k")

    with statements(store) as seen:
        assert store.add("k", KeyParts("k"), 1, None)

    assert "UPDATE entries" not in verbs(seen)
    assert counters(store)[0] == 1


def test_set_many_of_usual_overwrites_looks_nothing_up(store: Store) -> None:
    store.set_many([Item(f"k{i}", KeyParts(f"k{i}"), f"v{i}", None) for i in range(3)])

    with statements(store) as seen:
        store.set_many([Item(f"k{i}", KeyParts(f"k{i}"), f"w{i}", None) for i in range(3)])

    assert verbs(seen) == ["BEGIN IMMEDIATE", *["UPDATE entries"] * 3, "COMMIT"]
    assert store.get_many(["k0", "k1", "k2"]) == {"k0": "w0", "k1": "w1", "k2": "w2"}


def test_set_many_mixing_overwrites_new_keys_and_files_stores_each(
    make_store: Callable[..., Store],
) -> None:
    store = make_store(max_entries=None, size_limit=None, file_threshold=64)
    store.set_many([Item(f"k{i}", KeyParts(f"k{i}"), f"v{i}", None) for i in range(3)])
    big = "x" * 200

    store.set_many(
        [
            Item("k0", KeyParts("k0"), "w0", 2e9),  # a usual overwrite
            Item("new", KeyParts("new"), "n", None),  # a new key
            Item("k1", KeyParts("k1"), "a longer value", None),  # a new size
            Item("k2", KeyParts("k2"), "w2", None),  # a usual overwrite
            Item("file", KeyParts("file"), big, None),  # a value file
        ]
    )

    assert store.get_many(["k0", "k1", "k2", "new", "file"]) == {
        "k0": "w0",
        "k1": "a longer value",
        "k2": "w2",
        "new": "n",
        "file": big,
    }
    assert row_of(store, "k0")[5] == 2e9
    assert counters(store)[0] == 5
    store.set_many([Item("file", KeyParts("file"), big.upper(), None)] * 2)  # one key twice
    assert store.get("file") == big.upper()
    assert store.check() == []


def test_set_many_overwrites_and_inserts_keep_the_counters_exact(store: Store) -> None:
    store.set_many([Item(f"k{i}", KeyParts(f"k{i}"), i * 1000, None) for i in range(5)])

    failed = store.set_many(
        [Item(f"k{i}", KeyParts(f"k{i}"), "v" * i, 2e9) for i in range(3, 8)]  # 2 overwrites
    )

    assert failed == []
    assert counters(store)[0] == 8
    assert store.get_many([f"k{i}" for i in range(8)]) == {
        **{f"k{i}": i * 1000 for i in range(3)},
        **{f"k{i}": "v" * i for i in range(3, 8)},
    }


# -- get: the fast lane verifies what the full path verifies --------------------------------


def tamper(store: Store, key: str, **columns: Any) -> None:
    with closing(sqlite3.connect(store.db.path)) as conn, conn:
        for column, value in columns.items():
            conn.execute(f"UPDATE entries SET {column} = ? WHERE key = ?", (value, key))


def test_a_payload_swapped_for_one_of_the_same_size_is_never_unpickled(store: Store) -> None:
    store.set("k", KeyParts("k"), "aaaa", None)
    planted = pickle.dumps("bbbb", pickle.HIGHEST_PROTOCOL)

    tamper(store, "k", value=planted)

    assert store.get("k") is MISSING


def test_a_payload_with_a_matching_planted_digest_is_never_unpickled(store: Store) -> None:
    store.set("k", KeyParts("k"), "aaaa", None)
    planted = pickle.dumps("bbbb", pickle.HIGHEST_PROTOCOL)

    tamper(store, "k", value=planted, digest=digest(planted))  # the signature covers the digest

    assert store.get("k") is MISSING
    assert store.get_many(["k"]) == {}


def test_a_signed_payload_that_cannot_be_decoded_is_a_miss(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    # Written with our own key, so only decoding fails: the full path logs it and removes it.
    bad = b"\x80\x05not a pickle"
    store.set("k", KeyParts("k"), "x", None)
    signature = Codec([SIGNING_KEY]).sign(
        "k", "k", "", 1, None, None, Mode.PICKLE, len(bad), digest(bad)
    )
    tamper(store, "k", value=bad, size=len(bad), digest=digest(bad), signature=signature)

    assert store.get("k") is MISSING
    assert "cannot be decoded" in caplog.text
    assert store.peek("k") is MISSING
    assert store.entry("k") is None


def test_native_integers_and_json_values_read_back(make_store: Callable[..., Store]) -> None:
    store = make_store(max_entries=None, size_limit=None)
    store.set("n", KeyParts("n"), 2**40, None)
    assert store.get("n") == 2**40

    json_store = make_store(max_entries=None, size_limit=None, codec=Codec([b"j"], "json"))
    json_store.set("d", KeyParts("d"), {"a": [1, 2]}, None)
    assert json_store.get("d") == {"a": [1, 2]}


# -- statistics: counted in memory, checked every so many reads ------------------------------


def flushed_hits(store: Store) -> int:
    with closing(sqlite3.connect(store.db.path)) as conn, conn:
        return int(conn.execute("SELECT hits FROM counters WHERE id = 0").fetchone()[0])


def test_a_time_due_batch_is_written_within_check_every_reads(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.set("k", KeyParts("k"), 1, None)
    store.get("k")  # the first read checks and schedules the next check
    monkeypatch.setattr(statistics, "FLUSH_EVERY_SECONDS", 0.0)  # due from now on

    for _ in range(statistics.CHECK_EVERY_READS):
        store.get("k")

    assert flushed_hits(store) >= 1


def test_the_count_due_batch_is_written_by_the_read_that_makes_it_due(
    store: Store, monkeypatch: pytest.MonkeyPatch, no_timed_flush: None
) -> None:
    monkeypatch.setattr(statistics, "FLUSH_EVERY_OPS", 100)
    store.set("k", KeyParts("k"), 1, None)

    for _ in range(99):
        store.get("k")
    assert flushed_hits(store) == 0
    store.get_many(["k"])

    assert flushed_hits(store) == 100


def test_hits_counted_by_threads_at_once_are_all_counted(store: Store) -> None:
    import threading

    store.set("k", KeyParts("k"), 1, None)

    def reads() -> None:
        for _ in range(500):
            store.get("k")

    threads = [threading.Thread(target=reads) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert store.stats().hits == 2000


# -- the engine's value types stay frozen dataclasses ----------------------------------------


def test_key_parts_and_items_are_frozen_dataclasses_with_defaults() -> None:
    parts = KeyParts("k")
    item = Item("k", parts, 1, None)

    assert (parts.prefix, parts.version, item.tag) == ("", 1, None)
    assert parts == KeyParts("k", "", 1)
    assert hash(parts) == hash(KeyParts("k", "", 1))
    assert dataclasses.replace(parts, version=2) == KeyParts("k", version=2)
    assert repr(parts) == "KeyParts(user_key='k', prefix='', version=1)"
    with pytest.raises(dataclasses.FrozenInstanceError):
        parts.version = 3  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        item.value = 2  # type: ignore[misc]


def test_the_fake_clock_is_the_store_clock(store: Store, clock: FakeClock) -> None:
    store.set("k", KeyParts("k"), 1, clock.now + 10)
    clock.advance(11)

    assert store.get("k") is MISSING
