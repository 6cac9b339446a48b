"""``cache top``: hot keys, most-missed keys and key families, estimated from sampled reads."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.cache import caches
from django.core.cache.backends.base import CacheKeyWarning
from django.test import override_settings

from diskcache_admin.engine import statistics
from tests.cli.conftest import REDIS_DB, backend_config, fail, run


@pytest.fixture
def recorded(tmp_path: Path) -> Iterator[None]:
    """A DiskCache alias 'pages' that samples one read in 2, with reads recorded."""
    disk = backend_config("diskcache", str(tmp_path / "pages"), "")
    disk["OPTIONS"]["INSIGHT"] = {"SAMPLE_RATE": 2}
    exact = backend_config("diskcache", str(tmp_path / "exact"), "")
    exact["OPTIONS"]["INSIGHT"] = {"SAMPLE_RATE": 1}
    setting = {
        "default": backend_config("locmem", "", ""),
        "pages": disk,
        "exact": exact,
        "off": {
            **backend_config("diskcache", str(tmp_path / "off"), ""),
            "OPTIONS": {"INSIGHT": False},
        },
        "redis": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:6379/{REDIS_DB}",
        },
    }
    with override_settings(CACHES=setting):
        cache = caches["exact"]
        cache.set("article:1", "x" * 50)
        cache.set("article:2", "y")
        for _ in range(6):
            cache.get("article:1")
        for _ in range(2):
            cache.get("article:2")
            with warnings.catch_warnings():  # a key memcached would refuse: fine here
                warnings.simplefilter("ignore", CacheKeyWarning)
                cache.get("missing:\x1b[31m")
        cache.store.flush()
        caches["pages"].get("p")
        caches["pages"].store.flush()
        yield
    for name in ("pages", "exact", "off"):
        statistics.forget(str(tmp_path / name))


def test_hot_keys_say_they_are_estimates_with_the_rate(recorded: None) -> None:
    out = run("top", "exact").out
    lines = out.splitlines()

    assert lines[0] == "Hot keys of cache 'exact' (DiskCache)"
    assert "estimates" in lines[1]
    assert "1 in 1" in lines[1]
    assert lines[2].split() == ["hits", "misses", "ratio", "entry", "key"]
    assert lines[3].split()[0] == "6"
    assert lines[3].endswith("article:1")
    assert lines[4].split()[0] == "2"
    assert lines[4].endswith("article:2")


def test_alias_is_also_an_option(recorded: None) -> None:
    assert run("top", "--alias", "exact").out == run("top", "exact").out
    assert "1 in 2" in run("top", "pages").out


def test_misses_name_keys_without_an_entry_escaped(recorded: None) -> None:
    out = run("top", "exact", "--misses", "--limit", "1").out
    row = out.splitlines()[3]

    assert "no entry" in row
    assert row.endswith("missing:\\x1b[31m")
    assert "\x1b" not in out
    assert len(out.splitlines()) == 4


def test_families(recorded: None) -> None:
    out = run("top", "exact", "--families").out
    rows = {line.split()[-1]: line.split() for line in out.splitlines()[3:]}

    assert out.splitlines()[0] == "Key families of cache 'exact' (DiskCache)"
    assert rows["article"][:4] == ["8", "0", "100.0%", "2"]
    assert rows["missing"][:4] == ["0", "2", "0.0%", "0"]


def test_json(recorded: None) -> None:
    document = json.loads(run("top", "exact", "--misses", "--json").out)

    assert document["estimated"] is True
    assert document["sample_rate"] == 1
    assert document["table"] == "misses"
    assert document["rows"][0]["key"] == "missing:\x1b[31m"
    assert document["rows"][0]["present"] is False
    assert document["rows"][0]["misses"] == 2
    families = json.loads(run("top", "exact", "--families", "--json").out)
    assert {row["family"] for row in families["rows"]} == {"article", "missing"}


def test_misses_and_families_are_exclusive(recorded: None) -> None:
    fail("top", "exact", "--misses", "--families", code=2)


def test_backends_without_insight_exit_2_with_the_reason(recorded: None) -> None:
    message = fail("top", "default", code=2)
    assert "LocMemCache" in message
    assert "per key" in message

    assert "off" in fail("top", "off", code=2)


@pytest.mark.redis
def test_redis_without_lfu_exits_2_naming_the_policy(recorded: None, redis_server: str) -> None:
    message = fail("top", "redis", code=2)

    assert "LFU" in message
    assert "per key" in fail("top", "redis", "--misses", code=2)


def test_nothing_recorded_yet(tmp_path: Path) -> None:
    with override_settings(
        CACHES={"empty": backend_config("diskcache", str(tmp_path / "empty"), "")}
    ):
        out = run("top", "empty").out
    assert "nothing recorded yet" in out


def test_lfu_rows_show_the_counter_instead_of_hits() -> None:
    from diskcache_admin.inspection import Activity, KeyActivity
    from diskcache_admin.management.cli import render

    activity = Activity(
        [KeyActivity("user:7", ":1:user:7", score=45.0), KeyActivity("a\x1b", ":1:a\x1b", score=6)],
        "Redis LFU counters (OBJECT FREQ)",
    )

    rows = render.activity_rows(activity)

    assert rows == [["LFU counter", "key"], ["45", "user:7"], ["6", "a\\x1b"]]
