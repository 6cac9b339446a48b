"""The statistics table in words: no Python spelling of a value on any backend."""

from __future__ import annotations

import re
import uuid

import pytest
from django.core.cache import caches
from django.test import Client, override_settings

from diskcache_admin.admin.statistics import humanize, stats_rows
from diskcache_admin.inspection import Stats, get_adapter
from tests.conftest import skip_or_fail_unless
from tests.decorators.test_memcached import MEMCACHED, memcached_available

from .conftest import Target

# What a raw Python value looks like on a page: reprs of lists, dicts, booleans, None, and
# field names with underscores.
RAW = re.compile(r"\[|\]|\{|\}|\bTrue\b|\bFalse\b|\bNone\b|'")


def assert_readable(rows: list[tuple[str, str]]) -> None:
    for label, value in rows:
        assert "_" not in label, label
        assert label[:1].isupper(), label
        assert not RAW.search(value), (label, value)


def test_every_backend_reads_in_words(target: Target) -> None:
    target.cache.set("user:1", {"a": 1}, 60)
    target.cache.get("user:1")
    rows = stats_rows(get_adapter(target.alias).stats())
    assert_readable(rows)


def test_memcached_reads_in_words() -> None:
    skip_or_fail_unless(memcached_available(), "memcached is not reachable on 127.0.0.1:11211")
    config = {
        "default": {
            "BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache",
            "LOCATION": f"{MEMCACHED[0]}:{MEMCACHED[1]}",
            "KEY_PREFIX": f"dca-admin-{uuid.uuid4().hex[:8]}",
        }
    }
    with override_settings(CACHES=config):
        rows = dict(stats_rows(get_adapter("default").stats()))
        caches["default"].close()
    assert rows["Numbers for the whole server"] == "yes"
    assert re.fullmatch(r"[\w.:-]+(, [\w.:-]+)*", rows["Servers"])
    assert_readable(list(rows.items()))


@pytest.mark.redis
@pytest.mark.parametrize("target", ["redis"], indirect=True)
def test_redis_fields_have_readable_names(target: Target) -> None:
    rows = dict(stats_rows(get_adapter(target.alias).stats()))
    assert rows["Numbers for the whole server"] == "Hits, Misses, Evictions, Volume"
    assert re.fullmatch(r"\d+\.\d+\.\d+", rows["Redis version"])
    assert "used_memory_human" not in str(rows)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "—"),
        (True, "yes"),
        (False, "no"),
        (12345, "12,345"),
        (["hits", "misses"], "hits, misses"),
        ({"b", "a"}, "a, b"),
        ({"x": 1}, "x: 1"),
        ([], "—"),
        ("a\u202eb", "a\\u202eb"),
    ],
)
def test_humanize(value: object, text: str) -> None:
    assert humanize(value) == text


def test_an_unknown_field_still_reads_well() -> None:
    stats = Stats(entries=1, extra={"peak_bytes": 2048, "loaded_at": None, "ok": True})
    rows = dict(stats_rows(stats))
    assert rows["Peak bytes"] == "2.0\xa0KB"
    assert rows["Loaded at"] == "—"
    assert rows["Ok"] == "yes"


def test_the_detail_page_shows_the_rows(admin_client: Client, disk: Target) -> None:
    body = admin_client.get(disk.url("detail")).content.decode()
    assert "Hit statistics recorded" in body
    assert "Culling removes" in body
    assert ">True<" not in body
