"""Cache insight in the engine and the backend: sampled key activity (engine/insight.py)."""

from __future__ import annotations

import math
import multiprocessing
import os
import random
import signal
import sqlite3
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import caches
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from diskcache_admin import checks
from diskcache_admin.backend import DiskCache
from diskcache_admin.backend_options import OptionError, parse_insight, parse_options
from diskcache_admin.engine import family_of, insight, statistics
from diskcache_admin.engine.insight import DEFAULT_SAMPLE_RATE, DEFAULT_TOP, InsightOptions

ROOT = Path(__file__).resolve().parents[2]


def every_read(**extra: Any) -> dict[str, Any]:
    """OPTIONS that record every read, so counts are exact."""
    return {"INSIGHT": {"SAMPLE_RATE": 1, **extra}}


@pytest.fixture
def exact(aliases: Callable[..., Any]) -> Iterator[DiskCache]:
    with aliases(default={"OPTIONS": every_read()}):
        backend = caches["default"]
        assert isinstance(backend, DiskCache)
        yield backend


def table(cache: DiskCache, name: str = "insight_keys") -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(cache.store.db.path)) as conn, conn:
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (name,)).fetchone():
            return []
        return conn.execute(f"SELECT * FROM {name}").fetchall()


def counts(cache: DiskCache) -> dict[str, tuple[float, float]]:
    """user key -> (hits, misses), as written."""
    with closing(sqlite3.connect(cache.store.db.path)) as conn, conn:
        rows = conn.execute("SELECT user_key, hits, misses FROM insight_keys").fetchall()
    return {user_key: (hits, misses) for user_key, hits, misses in rows}


# -- options ------------------------------------------------------------------------------------


def test_insight_is_on_by_default_at_one_read_in_16() -> None:
    assert parse_options({}).insight == InsightOptions(DEFAULT_SAMPLE_RATE, DEFAULT_TOP)
    assert (DEFAULT_SAMPLE_RATE, DEFAULT_TOP) == (16, 1000)
    assert parse_options({"INSIGHT": True}).insight == InsightOptions()
    assert parse_options({"INSIGHT": False}).insight is None
    assert parse_insight({"SAMPLE_RATE": "64", "TOP": 5e3}) == InsightOptions(64, 5000)


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ({"SAMPLE_RATE": 0}, "SAMPLE_RATE"),
        ({"SAMPLE_RATE": 1.5}, "SAMPLE_RATE"),
        ({"SAMPLE_RATE": True}, "SAMPLE_RATE"),
        ({"TOP": 100_001}, "TOP"),
        ({"TOP": "many"}, "TOP"),
        ({"SAMPLE": 8}, "Did you mean 'SAMPLE_RATE'?"),
        ("yes", "True, False or a dict"),
        (None, "True, False or a dict"),
    ],
)
def test_bad_insight_values_are_refused_with_what_is_wrong(value: Any, words: str) -> None:
    with pytest.raises(OptionError, match=words) as raised:
        parse_options({"INSIGHT": value})
    assert raised.value.option == "INSIGHT"


def test_e030_reports_a_bad_insight_option_once(tmp_path: Path) -> None:
    config = {
        "BACKEND": "diskcache_admin.backend.DiskCache",
        "LOCATION": str(tmp_path / "c"),
        "OPTIONS": {"INSIGHT": {"TOP": 0}},
    }
    with override_settings(CACHES={"default": config}):
        insight_messages = checks.check_insight()
        option_messages = checks.check_caches()
        with pytest.raises(SystemCheckError, match=r"diskcache_admin\.E030"):
            call_command("check")

    assert [m.id for m in insight_messages] == ["diskcache_admin.E030"]
    assert "TOP" in insight_messages[0].msg
    assert "E005" not in str([m.id for m in option_messages])  # not reported twice


def test_a_good_insight_option_passes_its_check(tmp_path: Path) -> None:
    config = {
        "BACKEND": "diskcache_admin.backend.DiskCache",
        "LOCATION": str(tmp_path / "c"),
        "OPTIONS": {"INSIGHT": {"SAMPLE_RATE": 32, "TOP": 200}},
    }
    with override_settings(CACHES={"default": config}):
        assert checks.check_insight() == []


def test_a_bad_insight_option_is_raised_on_first_use(aliases: Callable[..., Any]) -> None:
    from django.core.exceptions import ImproperlyConfigured

    with (
        aliases(default={"OPTIONS": {"INSIGHT": {"SAMPLE_RATE": -1}}}),
        pytest.raises(ImproperlyConfigured, match="SAMPLE_RATE"),
    ):
        caches["default"].set("k", 1)


# -- what is recorded ---------------------------------------------------------------------------


def test_hits_and_misses_are_counted_per_key_and_family(exact: DiskCache) -> None:
    exact.set("user:1", "a")
    for _ in range(3):
        exact.get("user:1")
    exact.get("user:2")
    exact.get("ghost:9")
    exact.get("ghost:9")
    exact.store.flush()

    assert counts(exact) == {"user:1": (3, 0), "user:2": (0, 1), "ghost:9": (0, 2)}
    families = {row[0]: row[1:3] for row in table(exact, "insight_families")}
    assert families == {"user": (3, 1), "ghost": (0, 2)}


def test_get_many_counts_each_key_as_a_read(exact: DiskCache) -> None:
    exact.set_many({"a": 1, "b": 2, "c": 3})
    exact.get_many(["a", "b", "c", "x", "y"])
    exact.store.flush()

    assert counts(exact) == {"a": (1, 0), "b": (1, 0), "c": (1, 0), "x": (0, 1), "y": (0, 1)}


def test_get_or_set_and_async_reads_are_sampled_too(exact: DiskCache) -> None:
    import asyncio

    exact.get_or_set("computed", lambda: 5)  # a miss, then the read after the add

    async def read() -> None:
        await exact.aget("computed")
        await exact.aget_many(["computed"])

    asyncio.run(read())
    exact.store.flush()

    assert counts(exact)["computed"] == (3, 1)


def test_keys_keep_their_prefix_and_version(aliases: Callable[..., Any]) -> None:
    with aliases(default={"OPTIONS": every_read(), "KEY_PREFIX": "site", "VERSION": 3}):
        cache = caches["default"]
        cache.get("k")
        cache.get("k", version=7)
        cache.store.flush()
        rows = {(row[0], row[1], row[2], row[3]) for row in table(cache)}

    assert rows == {("site:3:k", "k", "site", 3), ("site:7:k", "k", "site", 7)}


def test_values_are_never_recorded(exact: DiskCache) -> None:
    secret = "value-that-must-not-be-recorded-3f9a"
    exact.set("k", secret)
    exact.get("k")
    exact.get_many(["k"])
    exact.store.flush()

    rows = table(exact) + table(exact, "insight_families")
    assert rows
    assert secret not in repr(rows)


def test_hidden_prefixes_are_never_recorded(exact: DiskCache) -> None:
    exact.set("otp:alice", "123456")
    with override_settings(DISKCACHE_ADMIN_HIDDEN_PREFIXES=["otp:", ""]):
        for _ in range(5):
            exact.get("otp:alice")
            exact.get("otp:bob")
            exact.get_many(["otp:carol", "seen"])
        exact.store.flush()

    assert set(counts(exact)) == {"seen"}
    assert {row[0] for row in table(exact, "insight_families")} == {"seen"}


def test_nothing_is_recorded_when_insight_is_off(aliases: Callable[..., Any]) -> None:
    with aliases(default={"OPTIONS": {"INSIGHT": False}}):
        cache = caches["default"]
        for index in range(200):
            cache.get(f"k{index}")
        cache.store.flush()

        assert table(cache) == []


def test_samples_are_written_even_with_statistics_off(
    aliases: Callable[..., Any], no_timed_flush: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(statistics, "FLUSH_EVERY_OPS", 50)
    with aliases(default={"OPTIONS": {**every_read(), "STATISTICS": False}}):
        cache = caches["default"]
        for _ in range(60):
            cache.get("k")  # no write and no explicit flush: the batch of samples is due
        assert counts(cache) == {"k": (0, 50)}


def test_a_read_writes_nothing_until_a_batch_is_due(exact: DiskCache, no_timed_flush: None) -> None:
    exact.set("k", 1)  # creates the store; the insight tables come with the first batch
    for _ in range(100):
        exact.get("k")

    assert table(exact) == []
    exact.store.flush()
    assert counts(exact) == {"k": (100, 0)}


def test_sampling_counts_one_read_in_n_as_n(aliases: Callable[..., Any]) -> None:
    with aliases(default={"OPTIONS": {"INSIGHT": {"SAMPLE_RATE": 8}}}):
        cache = caches["default"]
        for _ in range(8000):
            cache.get("k")
        cache.get_many([f"m:{index}" for index in range(8000)])
        cache.store.flush()
        estimated = counts(cache)["k"][1]
        families = {row[0]: row[1:3] for row in table(cache, "insight_families")}

    # 1,000 samples expected of each; the gaps are uniform in 1..15, so the estimate is close.
    assert 7000 <= estimated <= 9000
    assert 7000 <= families["m"][1] <= 9000
    assert all(hits % 8 == 0 and misses % 8 == 0 for hits, misses in counts(cache).values())


def test_a_zipf_read_pattern_puts_the_true_top_10_in_the_reported_top_20(
    aliases: Callable[..., Any],
) -> None:
    keys = [f"item:{rank}" for rank in range(10_000)]
    weights = [1 / (rank + 1) ** 1.1 for rank in range(10_000)]
    reads = random.Random(20261128).choices(keys, weights=weights, k=100_000)
    with aliases(default={"OPTIONS": {"MAX_ENTRIES": None}}):  # the default rate, 1 in 16
        cache = caches["default"]
        cache.set_many(dict.fromkeys(keys[::2], 1))  # half of them exist: hits and misses
        for key in reads:
            cache.get(key)
        cache.store.flush()
        conn = cache.store.db.connection()
        by_hits = [row.user_key for row in insight.top_keys(conn, limit=20)]
        by_misses = [row.user_key for row in insight.top_keys(conn, misses=True, limit=20)]

    true_counts = Counter(reads)
    true_hits = [key for key, _ in true_counts.most_common() if int(key.split(":")[1]) % 2 == 0]
    true_misses = [key for key, _ in true_counts.most_common() if int(key.split(":")[1]) % 2]
    assert set(true_hits[:10]) <= set(by_hits)
    assert set(true_misses[:10]) <= set(by_misses)


# -- bounded ------------------------------------------------------------------------------------


def test_the_tables_keep_the_top_n_whatever_the_key_space(aliases: Callable[..., Any]) -> None:
    with aliases(default={"OPTIONS": every_read(TOP=50)}):
        cache = caches["default"]
        for index in range(3000):
            cache.get(f"cold{index}:x")  # 3,000 keys and 3,000 families, read once each
            if index % 10 == 0:
                cache.get("hot:key")
                cache.store.flush()
        cache.store.flush()
        conn = cache.store.db.connection()
        keys, families = insight.row_counts(conn)
        assert keys <= 100  # pruned to TOP each time it reaches twice TOP
        assert families <= 100
        assert insight.top_keys(conn, misses=True, limit=1)[0].user_key == "hot:key"
        assert insight.top_families(conn, limit=1)[0].family == "hot"


def test_a_key_read_a_little_in_every_batch_climbs_into_a_full_table(
    aliases: Callable[..., Any],
) -> None:
    # Space-Saving: a newcomer inherits the weight of the row it pushes out, so a steady key
    # is not pushed out again in every batch by keys read once.
    with aliases(default={"OPTIONS": every_read(TOP=20)}):
        cache = caches["default"]
        # 2,200 reads, 200 of them steady's: above the 2,200 / 20 that Space-Saving guarantees.
        for batch in range(200):
            for index in range(10):
                cache.get(f"once{batch}-{index}")
            cache.get("steady")
            cache.store.flush()
        conn = cache.store.db.connection()
        kept = [row.user_key for row in insight.top_keys(conn, misses=True, limit=20)]

    assert "steady" in kept


def test_pending_samples_are_bounded_when_batches_cannot_be_written(
    exact: DiskCache, no_timed_flush: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(insight, "MAX_PENDING", 100)
    monkeypatch.setattr(statistics, "FLUSH_EVERY_OPS", 10**9)
    exact.get("first")
    for index in range(1000):
        exact.get(f"key{index}:x")
    pending = statistics.shared_for(exact.location, 5.0).insight

    assert len(pending.keys) == 100
    assert ":1:first" in pending.keys


# -- decay --------------------------------------------------------------------------------------


def batch(**keys: tuple[float, float]) -> insight.Batch:
    rows = {f":1:{key}": [key, "", 1, family_of(key), h, m] for key, (h, m) in keys.items()}
    return insight.Batch(rows, len(keys), 100)


def test_recent_reads_weigh_more_than_old_ones(exact: DiskCache) -> None:
    exact.set("k", 1)  # the store exists
    db = exact.store.db
    day = insight.HALF_LIFE
    start = 1_800_000_000.0
    db.run_write(lambda conn: insight.write(conn, batch(old=(100, 0)), start))
    db.run_write(lambda conn: insight.write(conn, batch(new=(30, 0)), start + 2 * day))
    conn = db.connection()
    order = [row.user_key for row in insight.top_keys(conn)]

    # 30 reads two half-lives later weigh 120 of the first day's reads: ahead of 100.
    assert order == ["new", "old"]
    # The displayed counts are what was read, undecayed.
    assert [(row.hits, row.misses) for row in insight.top_keys(conn)] == [(30, 0), (100, 0)]


def test_the_landmark_moves_without_changing_the_order(exact: DiskCache) -> None:
    exact.set("k", 1)
    db = exact.store.db
    day = insight.HALF_LIFE
    start = 1_800_000_000.0
    db.run_write(lambda conn: insight.write(conn, batch(a=(10, 0), b=(5, 0)), start))
    later = start + 100 * day  # beyond 64 half-lives: every score is rescaled once
    db.run_write(lambda conn: insight.write(conn, batch(c=(1, 0)), later))
    conn = db.connection()
    landmark = conn.execute("SELECT value FROM meta WHERE name = 'insight_landmark'").fetchone()
    weights = dict(conn.execute("SELECT user_key, hit_score FROM insight_keys").fetchall())

    assert landmark == (later,)
    assert [row.user_key for row in insight.top_keys(conn)] == ["c", "a", "b"]
    assert all(0 < weight < 2**64 for weight in weights.values())


def test_an_infinite_landmark_planted_in_the_store_is_ignored(exact: DiskCache) -> None:
    exact.set("k", 1)
    db = exact.store.db
    start = 1_800_000_000.0
    db.run_write(lambda conn: insight.write(conn, batch(a=(10, 0)), start))
    with closing(sqlite3.connect(db.path)) as planted, planted:
        planted.execute("UPDATE meta SET value = 1e999 WHERE name = 'insight_landmark'")
    db.run_write(lambda conn: insight.write(conn, batch(b=(5, 0)), start + 1))
    conn = db.connection()
    weights = dict(conn.execute("SELECT user_key, hit_score FROM insight_keys").fetchall())

    assert all(0 < weight < 2**64 for weight in weights.values()), weights


def test_a_far_future_landmark_planted_in_the_store_starts_the_tables_over(
    exact: DiskCache,
) -> None:
    exact.set("k", 1)
    db = exact.store.db
    start = 1_800_000_000.0
    db.run_write(lambda conn: insight.write(conn, batch(a=(10, 0)), start))
    with closing(sqlite3.connect(db.path)) as planted, planted:
        planted.execute("UPDATE meta SET value = 9e18 WHERE name = 'insight_landmark'")

    db.run_write(lambda conn: insight.write(conn, batch(b=(5, 0)), start + 1))  # no OverflowError

    assert [row.user_key for row in insight.top_keys(db.connection())] == ["b"]


@pytest.mark.parametrize("planted", ["zzz", b"\x00", float("inf"), float("-inf"), 1e308])
@pytest.mark.parametrize("column", ["weight", "hits", "hit_score", "last_seen"])
def test_a_planted_insight_row_neither_fails_reads_and_writes_nor_shows(
    aliases: Callable[..., Any], planted: object, column: str
) -> None:
    with aliases(default={"OPTIONS": every_read(TOP=5)}):
        cache = caches["default"]
        cache.get("fam:planted")
        cache.store.flush()
        with closing(sqlite3.connect(cache.store.db.path)) as conn, conn:
            for table in ("insight_keys", "insight_families"):
                conn.execute(f"UPDATE {table} SET {column} = ?", (planted,))
        for index in range(30):  # past twice TOP: every batch prunes
            cache.set(f"fam:{index}", index)
            assert cache.get(f"fam:{index}") == index
            cache.store.flush()
        conn = cache.store.db.connection()
        keys = insight.top_keys(conn, limit=100) + insight.top_keys(conn, misses=True, limit=100)

        assert "fam:planted" not in {row.user_key for row in keys}
        assert all(math.isfinite(row.hits) and math.isfinite(row.misses) for row in keys)
        families = insight.top_families(conn, limit=100)
        assert all(math.isfinite(row.hits) for row in families)


# -- processes and crashes -----------------------------------------------------------------------


def test_several_processes_counts_add_up(exact: DiskCache) -> None:
    exact.set("shared", 1)
    for _ in range(7):
        exact.get("shared")  # pending in the parent: a forked child must not write them too
    context = multiprocessing.get_context("fork")

    def child(worker: int) -> None:
        for _ in range(500):
            exact.get("shared")
        exact.get(f"only{worker}")
        exact.store.flush()

    processes = [context.Process(target=child, args=(worker,)) for worker in range(3)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    exact.store.flush()

    assert [process.exitcode for process in processes] == [0, 0, 0]
    recorded = counts(exact)
    assert recorded["shared"] == (3 * 500 + 7, 0)
    assert {key: recorded[key] for key in ("only0", "only1", "only2")} == dict.fromkeys(
        ("only0", "only1", "only2"), (0, 1)
    )


CRASH_CHILD = """
import os, sys
import django
from django.conf import settings
settings.configure(
    SECRET_KEY="insight-crash",
    CACHES={"default": {"BACKEND": "diskcache_admin.backend.DiskCache",
                        "LOCATION": sys.argv[1],
                        "OPTIONS": {"INSIGHT": {"SAMPLE_RATE": 1, "TOP": 100}}}},
)
django.setup()
from django.core.cache import cache
cache.set("present", 1)
done = 0
while True:
    for index in range(500):
        cache.get("present")
        cache.get(f"absent:{index % 150}")
    cache.store.flush()
    done += 500
    os.write(1, f"{done}\\n".encode())
"""


def test_a_crash_loses_at_most_one_flush_interval_and_never_the_table(tmp_path: Path) -> None:
    location = str(tmp_path / "crash")
    import subprocess

    child = subprocess.Popen(
        [sys.executable, "-c", CRASH_CHILD, location],
        stdout=subprocess.PIPE,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert child.stdout is not None
    reported = 0
    try:
        deadline = time.monotonic() + 120
        while reported < 5000 and time.monotonic() < deadline:
            line = child.stdout.readline()
            if not line:
                break
            reported = int(line)
        # Somewhere inside the next interval, perhaps inside its write transaction.
        time.sleep(random.Random().uniform(0, 0.05))
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=60)
        # Intervals it finished after the one read above are still in the pipe.
        for line in child.stdout.read().split():
            reported = max(reported, int(line))
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdout.close()
    assert reported >= 5000

    with closing(sqlite3.connect(os.path.join(location, "cache.db"))) as conn, conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        hits = conn.execute("SELECT hits FROM insight_keys WHERE user_key = 'present'").fetchone()
        families = dict(conn.execute("SELECT family, hits + misses FROM insight_families"))
        rows = conn.execute("SELECT count(*) FROM insight_keys").fetchone()[0]
    # Every reported interval is there; at most the one in flight is lost (500 reads).
    assert reported <= hits[0] <= reported + 500
    assert reported * 2 <= families["present"] + families["absent"] <= (reported + 500) * 2
    assert rows == 151  # within twice TOP (100): pruned only beyond 200

    # And the table takes the next process's batches.
    with override_settings(
        CACHES={
            "default": {
                "BACKEND": "diskcache_admin.backend.DiskCache",
                "LOCATION": location,
                "OPTIONS": every_read(),
            }
        }
    ):
        cache = caches["default"]
        cache.get("present")  # a miss here: this process's SECRET_KEY did not sign it
        cache.store.flush()
        after = counts(cache)["present"]
    statistics.forget(location)
    assert after == (hits[0], 1)


# -- reset --------------------------------------------------------------------------------------


def test_reset_forgets_the_tables_and_this_process_samples(
    exact: DiskCache, no_timed_flush: None
) -> None:
    exact.get("before")
    exact.store.flush()
    exact.get("pending")  # not written yet
    statistics.reset_insight(exact.location)
    exact.get("after")
    exact.store.flush()

    assert set(counts(exact)) == {"after"}
