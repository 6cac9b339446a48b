"""Key activity through the inspection layer: DiskCache's sampled reads, Redis's LFU counters,
and a reason everywhere else."""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from contextlib import closing
from typing import Any

import pytest
import redis
from django.core.cache import caches
from django.test import override_settings

from diskcache_admin.engine import statistics
from diskcache_admin.inspection import (
    Adapter,
    Capability,
    InsightUnavailable,
    Unsupported,
    get_adapter,
)

from ..conftest import skip_or_fail_unless
from .conftest import configure

BACKENDS = {
    "django": "django.core.cache.backends.redis.RedisCache",
    "django-redis": "django_redis.cache.RedisCache",
}


@pytest.fixture
def disk_insight(tmp_cache_dir: str) -> Iterator[Adapter]:
    """A DiskCache alias that records every read (exact counts)."""
    location = os.path.join(tmp_cache_dir, "insight")
    with configure(
        disk={
            "BACKEND": "diskcache_admin.backend.DiskCache",
            "LOCATION": location,
            "OPTIONS": {"MAX_ENTRIES": None, "INSIGHT": {"SAMPLE_RATE": 1}},
        }
    ):
        yield get_adapter("disk")
    statistics.forget(location)


def read(adapter: Adapter, *keys: str, times: int = 1) -> None:
    cache = caches[adapter.alias]
    for _ in range(times):
        for key in keys:
            cache.get(key)
    cache.store.flush()


def test_hot_and_missed_keys_with_their_entries(disk_insight: Adapter) -> None:
    cache = caches["disk"]
    cache.set("user:1", "x" * 100)
    cache.set("user:2", "y")
    cache.set("gone:1", 1, timeout=0)  # expired at once: a miss, shown without an entry
    read(disk_insight, "user:1", times=5)
    read(disk_insight, "user:2", "ghost:1", "gone:1", times=2)

    hot = disk_insight.hot_keys(limit=10)
    missed = disk_insight.missed_keys(limit=10)

    assert [(row.key, row.hits, row.misses, row.present) for row in hot.rows] == [
        ("user:1", 5, 0, True),
        ("user:2", 2, 0, True),
    ]
    assert hot.rows[0].size is not None
    assert hot.rows[0].size > 100
    assert hot.rows[0].raw_key == cache.make_key("user:1")
    assert hot.rows[0].hit_ratio == 1.0
    assert hot.sample_rate == 1
    assert "1 in 1" in hot.method
    assert hot.since is not None
    assert abs(hot.since - time.time()) < 60
    assert {(row.key, row.misses, row.present, row.size) for row in missed.rows} == {
        ("ghost:1", 2, False, None),
        ("gone:1", 2, False, None),
    }


def test_families_with_entries_and_size_now(disk_insight: Adapter) -> None:
    cache = caches["disk"]
    cache.set_many({f"user:{index}": "v" for index in range(4)})
    read(disk_insight, "user:0", "user:1", "user:9", times=3)
    read(disk_insight, "ghost:1")

    families = {row.family: row for row in disk_insight.families().rows}

    assert set(families) == {"user", "ghost"}
    user = families["user"]
    assert (user.hits, user.misses, user.entries) == (6, 3, 4)
    assert user.size is not None
    assert user.size > 0
    assert user.hit_ratio == pytest.approx(6 / 9)
    assert (families["ghost"].misses, families["ghost"].entries) == (1, 0)


def test_excluded_prefixes_are_left_out(disk_insight: Adapter) -> None:
    cache = caches["disk"]
    cache.set("otp:alice", 1)
    read(disk_insight, "otp:alice", "user:1")  # recorded while otp: was not hidden yet

    keys = {row.key for row in disk_insight.hot_keys(exclude_prefixes=("otp:",)).rows}
    keys |= {row.key for row in disk_insight.missed_keys(exclude_prefixes=("otp:",)).rows}
    otp = {row.family: row for row in disk_insight.families(exclude_prefixes=("otp:",)).rows}

    assert keys == {"user:1"}
    assert otp["otp"].entries == 0  # the hidden entry is not counted


def test_reading_activity_changes_nothing(tmp_cache_dir: str) -> None:
    location = os.path.join(tmp_cache_dir, "absent")
    with configure(disk={"BACKEND": "diskcache_admin.backend.DiskCache", "LOCATION": location}):
        adapter = get_adapter("disk")
        assert adapter.hot_keys().rows == []
        assert adapter.families().rows == []
        assert not os.path.exists(location)  # an absent store is not created
        caches["disk"].set("k", 1)
        caches["disk"].store.flush()
        path = caches["disk"].store.db.path
        with closing(sqlite3.connect(path)) as conn, conn:
            before = conn.execute("SELECT hits, misses FROM counters").fetchone()
        adapter.hot_keys()
        adapter.missed_keys()
        adapter.families()
        with closing(sqlite3.connect(path)) as conn, conn:
            after = conn.execute("SELECT hits, misses FROM counters").fetchone()
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    statistics.forget(location)
    assert after == before
    assert "insight_keys" not in tables  # read-only: no table made by a read


def test_reset_insight(disk_insight: Adapter) -> None:
    read(disk_insight, "a", "b")
    assert disk_insight.can(Capability.RESET_INSIGHT)

    disk_insight.reset_insight()

    assert disk_insight.missed_keys().rows == []
    assert disk_insight.families().rows == []


def test_insight_off_says_why(tmp_cache_dir: str) -> None:
    with configure(
        disk={
            "BACKEND": "diskcache_admin.backend.DiskCache",
            "LOCATION": os.path.join(tmp_cache_dir, "off"),
            "OPTIONS": {"INSIGHT": False},
        }
    ):
        adapter = get_adapter("disk")
        reason = adapter.insight_unavailable()
        with pytest.raises(InsightUnavailable, match="INSIGHT"):
            adapter.hot_keys()
    assert reason is not None
    assert "off" in reason


def test_backends_without_insight_say_why() -> None:
    with configure(
        lm={"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "ins"},
        broken={"BACKEND": "tests.inspection.backends.ExplodingCache"},
    ):
        locmem, broken = get_adapter("lm"), get_adapter("broken")
        assert not locmem.can(Capability.INSIGHT)
        assert locmem.insight_unavailable() == locmem.insight_reason
        with pytest.raises(Unsupported, match="cannot report which keys"):
            locmem.hot_keys()
        with pytest.raises(Unsupported):
            locmem.reset_insight()
        assert broken.insight_unavailable() == broken.error


# -- Redis -------------------------------------------------------------------------------------


@pytest.fixture(params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest) -> str:
    return BACKENDS[request.param]


@pytest.mark.redis
def test_redis_without_an_lfu_policy_says_why(
    backend: str, redis_server: str, worker_id_suffix: str
) -> None:
    policy = redis.Redis.from_url(f"redis://{redis_server}/1").config_get("maxmemory-policy")
    skip_or_fail_unless("lfu" not in str(policy), "the shared Redis server runs an LFU policy")
    with configure(
        rc={
            "BACKEND": backend,
            "LOCATION": f"redis://{redis_server}/1",
            "KEY_PREFIX": f"ins-{worker_id_suffix}",
        }
    ):
        adapter = get_adapter("rc")
        assert adapter.can(Capability.INSIGHT)
        reason = adapter.insight_unavailable()
        with pytest.raises(InsightUnavailable, match="LFU"):
            adapter.hot_keys()
    assert reason is not None
    assert "LFU" in reason


def _free_port() -> int:
    with closing(socket.socket()) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def lfu_server() -> Iterator[str]:
    """A redis-server of this test's own, with ``maxmemory-policy allkeys-lfu`` (the shared
    server's policy is left alone)."""
    binary = shutil.which("redis-server")
    skip_or_fail_unless(binary is not None, "redis-server is not installed")
    assert binary is not None
    port = _free_port()
    server = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--maxmemory", "256mb", "--maxmemory-policy", "allkeys-lfu", "--lfu-log-factor", "0"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=1)
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.RedisError:
                time.sleep(0.05)
        client.close()
        yield f"127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.redis
def test_redis_with_lfu_gives_hot_keys_by_its_counters(backend: str, lfu_server: str) -> None:
    with configure(
        rc={"BACKEND": backend, "LOCATION": f"redis://{lfu_server}/0", "KEY_PREFIX": "lfu"},
        other={"BACKEND": backend, "LOCATION": f"redis://{lfu_server}/0", "KEY_PREFIX": "zz"},
    ):
        cache, other = caches["rc"], caches["other"]
        cache.clear()
        other.set("busy", "b")
        for index in range(30):
            cache.set(f"user:{index}", f"value {index}")
        for _ in range(40):
            cache.get("user:7")
            other.get("busy")  # another alias's key: never listed here
        for _ in range(10):
            cache.get("user:3")
            cache.get("otp:x")
        cache.set("otp:x", "o")
        for _ in range(60):
            cache.get("otp:x")
        adapter = get_adapter("rc")
        assert adapter.insight_unavailable() is None
        hot = adapter.hot_keys(limit=3, exclude_prefixes=("otp:",))
        with pytest.raises(InsightUnavailable, match="per key"):
            adapter.missed_keys()
        with pytest.raises(InsightUnavailable):
            adapter.families()
        cache.clear()
        other.clear()

    assert [row.key for row in hot.rows][:2] == ["user:7", "user:3"]
    first: Any = hot.rows[0]
    assert first.hits is None
    assert first.misses is None
    assert first.score is not None
    assert first.score > hot.rows[1].score
    assert first.raw_key == ":1:user:7".join(["lfu", ""])
    assert "OBJECT FREQ" in hot.method
    assert hot.sample_rate is None


def test_hidden_settings_do_not_change_what_the_adapter_reports(disk_insight: Adapter) -> None:
    # The adapter reports what was recorded; the engine records no hidden key (engine tests),
    # and the admin passes its prefixes as exclude_prefixes.
    with override_settings(DISKCACHE_ADMIN_HIDDEN_PREFIXES=["sess:"]):
        read(disk_insight, "sess:1", "page:1")
    assert {row.key for row in disk_insight.missed_keys().rows} == {"page:1"}


def double(number: int) -> int:
    return number * 2


def test_memoized_functions_appear_under_their_readable_label(disk_insight: Adapter) -> None:
    from diskcache_admin.decorators import memoize

    cached = memoize(60, cache="disk", stampede=False)(double)
    for _ in range(3):
        assert cached(21) == 42
    caches["disk"].store.flush()

    hot = disk_insight.hot_keys().rows
    missed = disk_insight.missed_keys().rows
    families = [row.family for row in disk_insight.families().rows]

    assert len(hot) == 1
    assert "double" in hot[0].key
    assert "21" in hot[0].key
    assert (hot[0].hits, hot[0].present) == (2, True)
    assert [row.key for row in missed] == [hot[0].key]  # the first call missed
    assert any("double" in family for family in families)


class _EndlessScan:
    """A raw client over a database too big to walk: every SCAN call answers more keys of the
    alias, all under an excluded prefix, and a cursor that says "more"."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.scans = 0

    def scan(self, cursor: int, match: str, count: int) -> tuple[int, list[bytes]]:
        self.scans += 1
        if self.scans > 10_000:
            raise AssertionError("hot_keys walked the whole database")
        start = self.scans * count
        keys = [f"{self.prefix}:1:otp:{n}".encode() for n in range(start, start + count)]
        return self.scans, keys

    def pipeline(self, transaction: bool = False) -> Any:
        calls: list[Any] = []

        class Pipe:
            def object(self, *args: Any) -> None:
                calls.append(args)

            def execute(self, raise_on_error: bool = True) -> list[Any]:
                return [1] * len(calls)

        return Pipe()


def test_redis_hot_keys_sample_is_bounded_by_scan_calls(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from diskcache_admin.inspection import redis as redis_inspection

    backend = "django.core.cache.backends.redis.RedisCache"
    with configure(rc={"BACKEND": backend, "LOCATION": "redis://127.0.0.1:1/0", "KEY_PREFIX": "p"}):
        adapter = get_adapter("rc")
        fake = _EndlessScan("p")
        monkeypatch.setattr(adapter, "client", lambda: fake)
        monkeypatch.setattr(adapter, "insight_unavailable", lambda: None)
        hot = adapter.hot_keys(exclude_prefixes=("otp:",))
    assert hot.rows == []
    assert fake.scans <= redis_inspection.SCANS_PER_PAGE
