"""Estimates of the whole-store figures of a large store (engine/browse.py): a weighted sample.

Every sample here is drawn with a seeded generator, so each test gives the same figures on
every run; where an estimate can be off, the tolerance is one that the seeded draw meets and
that a sampler which ignored the id gaps would miss.
"""

from __future__ import annotations

import random
import sqlite3
from typing import Any

from diskcache_admin.engine import KeyParts, Store, browse

from .conftest import FakeClock


def put(
    store: Store, key: str, value: Any = "v", expire_time: float | None = None, **kw: Any
) -> None:
    store.set(key, KeyParts(key), value, expire_time, **kw)


def test_one_family_is_estimated_as_the_exact_total(store: Store) -> None:
    for n in range(300):
        put(store, f"user:{n}", "x" * (n % 50))

    sample = browse.draw(store, 200, random.Random(1))

    assert sample.drawn == 200
    assert browse.top_families(store, sample=sample) == [("user", 300)]
    assert sample.bytes(lambda entry: entry.family == "user") == store.stats().size


def test_buckets_every_entry_shares_are_exact(store: Store, clock: FakeClock) -> None:
    for n in range(120):
        put(store, f"page:{n}", "small", clock.now + 30)
    clock.advance(60)  # every entry has expired, none is purged

    sample = browse.draw(store, 100, random.Random(2))

    assert browse.expired_count(store, sample=sample) == 120
    expiry = dict(browse.expiry_histogram(store, sample=sample))
    assert expiry == {
        "expired": 120,
        "within 1 min": 0,
        "within 1 h": 0,
        "within 1 day": 0,
        "later": 0,
        "never": 0,
    }
    assert dict(browse.size_histogram(store, sample=sample))["< 100 B"] == 120
    assert browse.top_tags(store, sample=sample) == []


def test_the_gaps_that_deletions_leave_do_not_bias_the_estimate(store: Store) -> None:
    # Ids alternate a, b; the first 200 a's go, so each early b closes a gap of one id and a
    # point falls on it twice as often as on a later entry. Unweighted, a would read as 1/4 of
    # the store (150); weighing each entry by 1 / (gap + 1) gives its true third (200).
    for n in range(400):
        put(store, f"a:{n}")
        put(store, f"b:{n}")
    store.delete_many([f"a:{n}" for n in range(200)])

    sample = browse.draw(store, 1_000, random.Random(3))
    families = dict(browse.top_families(store, sample=sample))

    assert store.stats().count == 600
    assert abs(families["a"] - 200) <= 25
    assert abs(families["b"] - 400) <= 25
    assert families["a"] + families["b"] == 600  # shares of the exact total
    unweighted = sum(entry.family == "a" for entry in sample.rows) / sample.drawn * 600
    assert abs(unweighted - 150) <= 25  # what ignoring the gaps would have shown


def test_a_draw_reads_only_entries_that_exist(store: Store) -> None:
    for n in range(50):
        put(store, f"k:{n}", n, tag="even" if n % 2 == 0 else None)
    store.delete_many([f"k:{n}" for n in range(0, 50, 3)])
    stored = {f"k:{n}" for n in range(50) if n % 3}

    sample = browse.draw(store, 300, random.Random(4))

    assert {entry.user_key for entry in sample.rows} <= stored
    assert all(0 < entry.weight <= 1 for entry in sample.rows)
    assert browse.top_tags(store, sample=sample)[0][0] == "even"


def test_an_empty_store_draws_nothing_and_estimates_zero(store: Store) -> None:
    sample = browse.draw(store, 50, random.Random(5))

    assert sample.drawn == 0
    assert browse.top_families(store, sample=sample) == []
    assert browse.expired_count(store, sample=sample) == 0


def test_a_store_needs_a_sample_only_above_the_exact_limit(store: Store, monkeypatch: Any) -> None:
    for n in range(5):
        put(store, f"k:{n}")
    assert not browse.needs_sample(store)

    monkeypatch.setattr(browse, "EXACT_LIMIT", 4)

    assert browse.needs_sample(store)


def test_planted_column_types_do_not_break_a_draw(store: Store) -> None:
    for n in range(20):
        put(store, f"k:{n}", n)
    conn = sqlite3.connect(store.db.path)
    with conn:
        conn.execute("UPDATE entries SET size = 'huge', expire_time = 'soon', tag = 7, family = 5")
    conn.close()

    sample = browse.draw(store, 50, random.Random(6))

    assert sample.drawn == 50
    assert {(e.size, e.expire_time, e.tag, e.family) for e in sample.rows} == {(0, None, "7", "5")}
    assert browse.expired_count(store, sample=sample) == 0
    assert browse.top_families(store, sample=sample) == [("5", 20)]


def test_an_old_sqlite_draws_the_same_entries_one_by_one(store: Store, monkeypatch: Any) -> None:
    for n in range(400):
        put(store, f"{'ab'[n % 2]}:{n}")
    for n in range(0, 400, 3):
        store.delete(f"{'ab'[n % 2]}:{n}")  # gaps in the ids
    in_sql = browse.draw(store, 150, random.Random(7))

    # What SQLite 3.31-3.34 (no MATERIALIZED) or a build without JSON says to the one query.
    monkeypatch.setattr(browse, "_DRAW", "SELECT * FROM no_such_function_here(?, ?)")
    one_by_one = browse.draw(store, 150, random.Random(7))

    assert one_by_one.drawn == 150
    assert sorted(one_by_one.rows, key=repr) == sorted(in_sql.rows, key=repr)
