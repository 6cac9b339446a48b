"""The DiskCache adapter, against a real store."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import time
from typing import Any

import pytest
from django.core.cache import caches

from diskcache_admin.engine import browse
from diskcache_admin.inspection import (
    Adapter,
    Capability,
    DiskCacheAdapter,
    InspectionError,
    KeyQuery,
    Snapshot,
    Unsupported,
    UnsupportedQuery,
    _common,
    get_adapter,
    hit_ratio_series,
    maybe_take_snapshot,
)
from diskcache_admin.inspection._common import iter_pages

from .conftest import configure


class Opaque:
    """A class that pickles fine here; a copy of its pickle under another name cannot load."""

    def __init__(self, n: int) -> None:
        self.n = n


def fill(adapter: Adapter, count: int = 60) -> None:
    cache = caches[adapter.alias]
    for i in range(count):
        timeout = None if i % 3 == 0 else 3600 + i
        cache.set(f"user:{i:03d}", "x" * (i % 7), timeout)
    cache.set("template.cache.sidebar.abc", "<div>", 60)
    cache.set("views.decorators.cache.cache_page.x.GET.1", b"page", None)
    cache.set("tagged:1", 1, None, tag="menu")
    cache.set("tagged:2", 2, None, tag="menu")


def db_state(adapter: Adapter) -> tuple[str, tuple[Any, ...]]:
    path = os.path.join(caches[adapter.alias].location, "cache.db")
    digest = hashlib.sha256()
    for name in (path, path + "-wal"):
        if os.path.exists(name):
            with open(name, "rb") as handle:
                digest.update(handle.read())
    conn = sqlite3.connect(path)
    try:
        counters = conn.execute("SELECT count, size, hits, misses FROM counters").fetchone()
    finally:
        conn.close()
    return digest.hexdigest(), counters


def test_the_adapter_is_chosen_by_class(disk: Adapter) -> None:
    assert isinstance(disk, DiskCacheAdapter)
    assert disk.capabilities == frozenset(Capability) - {Capability.FLUSH_DB}
    with pytest.raises(Unsupported, match=r"'disk' \(DiskCache\) cannot flush its whole database"):
        disk.flush_db()


def test_reading_changes_nothing(disk: Adapter) -> None:
    fill(disk)
    cache = caches[disk.alias]
    cache.get("user:000")
    cache.get("missing")
    cache.store.flush()
    os.sync()
    before_stats = disk.stats()
    before = db_state(disk)

    raw = disk.make_raw_key("user:003")
    disk.stats()
    disk.peek(raw)
    disk.preview(raw, 100)
    disk.key_info(raw)
    disk.keys(KeyQuery(limit=5))
    disk.keys(KeyQuery(search="user:0", match="prefix", order="size"))
    disk.count_matching(KeyQuery(search="user"))
    disk.histograms()
    disk.snapshots()
    list(disk.iter_keys("user:*"))

    assert db_state(disk) == before
    after_stats = disk.stats()
    assert (after_stats.hits, after_stats.misses) == (before_stats.hits, before_stats.misses)
    assert (before_stats.hits, before_stats.misses) == (1, 1)


@pytest.mark.parametrize("order", ["key", "size", "stored", "expires"])
@pytest.mark.parametrize("descending", [False, True])
def test_keyset_pages_cover_every_key_exactly_once(
    disk: Adapter, order: Any, descending: bool
) -> None:
    fill(disk)
    pages = 0
    seen: list[str] = []
    query = KeyQuery(order=order, descending=descending, limit=7)
    while True:
        page = disk.keys(query)
        pages += 1
        seen.extend(info.raw_key for info in page.keys)
        if page.next_cursor is None:
            break
        query = KeyQuery(order=order, descending=descending, limit=7, cursor=page.next_cursor)
    assert len(seen) == len(set(seen)) == disk.stats().entries == 64
    assert pages == 10


def test_pages_come_in_the_requested_order(disk: Adapter) -> None:
    fill(disk)
    keys = disk.keys(KeyQuery(limit=100)).keys
    assert [k.key for k in keys] == sorted(k.key for k in keys)
    by_size = disk.keys(KeyQuery(order="size", descending=True, limit=100)).keys
    assert [k.size for k in by_size] == sorted((k.size for k in by_size), reverse=True)
    by_expiry = disk.keys(KeyQuery(order="expires", limit=100)).keys
    expiring = [k.expires for k in by_expiry if k.expires is not None]
    assert expiring == sorted(expiring)
    assert by_expiry[-1].expires is None  # never-expiring entries come last


def test_a_cursor_from_another_listing_is_refused(disk: Adapter) -> None:
    fill(disk)
    cursor = disk.keys(KeyQuery(order="size", limit=3)).next_cursor
    with pytest.raises(InspectionError, match="another listing"):
        disk.keys(KeyQuery(order="key", limit=3, cursor=cursor))
    with pytest.raises(InspectionError, match="not valid"):
        disk.keys(KeyQuery(cursor="%%%garbage"))


def test_key_info_shows_the_key_as_written(disk: Adapter) -> None:
    fill(disk)
    page = disk.keys(KeyQuery(search="tagged:1"))
    (info,) = page.keys
    assert (info.key, info.raw_key, info.prefix, info.version) == ("tagged:1", ":1:tagged:1", "", 1)
    assert (info.tag, info.family, info.expires, info.expired) == ("menu", "tagged", None, False)
    assert info.stored is not None


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (KeyQuery(search="user:01", match="prefix"), 10),
        (KeyQuery(search="user:0?5", match="glob"), 6),
        (KeyQuery(search="*cache*", match="glob"), 2),
        (KeyQuery(search="sidebar", match="substring"), 1),
        (KeyQuery(family="template.cache"), 1),
        (KeyQuery(family="views.decorators.cache.cache_page"), 1),
        (KeyQuery(tag="menu"), 2),
        (KeyQuery(search="user:", exclude_prefixes=("user:0",)), 0),
        (KeyQuery(exclude_prefixes=("user:",)), 4),
    ],
)
def test_search_and_filters(disk: Adapter, query: KeyQuery, expected: int) -> None:
    fill(disk)
    assert len(disk.keys(KeyQuery(**{**query.__dict__, "limit": 500})).keys) == expected
    assert disk.count_matching(query).count == expected


def test_expired_filter_and_purge(disk: Adapter) -> None:
    fill(disk)
    cache = caches[disk.alias]
    cache.set("gone:1", "a", 1)
    cache.set("gone:2", "bb", 1)
    cache.store.clock = lambda: time.time() + 5
    try:
        expired = disk.keys(KeyQuery(expired=True)).keys
        assert {k.key for k in expired} == {"gone:1", "gone:2"}
        assert all(k.expired for k in expired)
        assert disk.stats().expired == 2
        assert disk.expire().count == 2
        assert disk.stats().expired == 0
    finally:
        del cache.store.clock


def test_delete_matching_removes_exactly_what_count_matching_said(disk: Adapter) -> None:
    fill(disk)
    query = KeyQuery(search="user:02", match="prefix")
    preview = disk.count_matching(query)
    removed = disk.delete_matching(query)
    assert removed == preview
    assert removed.count == 10
    assert disk.count_matching(query).count == 0
    assert disk.stats().entries == 54


def test_preview_pretty_prints_json(disk: Adapter) -> None:
    caches[disk.alias].set("doc", {"b": [1, 2], "a": "é"})
    preview = disk.preview(disk.make_raw_key("doc"), 1000)
    assert preview.found
    assert preview.type_name == "dict"
    assert preview.text == '{\n  "b": [\n    1,\n    2\n  ],\n  "a": "é"\n}'
    assert not preview.truncated
    assert preview.size is not None


def test_preview_falls_back_to_repr_and_truncates(disk: Adapter) -> None:
    caches[disk.alias].set("tuple", tuple(range(1000)))
    preview = disk.preview(disk.make_raw_key("tuple"), 20)
    assert preview.type_name == "tuple"
    assert preview.text == "(0, 1, 2, 3, 4, 5, 6"
    assert preview.truncated
    assert preview.size is not None
    assert preview.size > 1000


def test_preview_of_a_missing_key(disk: Adapter) -> None:
    assert not disk.preview(disk.make_raw_key("nope"), 10).found
    assert disk.peek(disk.make_raw_key("nope")) == (False, None)


def test_preview_of_a_native_integer(disk: Adapter) -> None:
    caches[disk.alias].set("n", 41)
    caches[disk.alias].incr("n")
    assert disk.peek(disk.make_raw_key("n")) == (True, 42)
    assert disk.preview(disk.make_raw_key("n"), 10).text == "42"


def test_a_tampered_value_is_shown_as_an_error_never_unpickled(disk: Adapter) -> None:
    cache = caches[disk.alias]
    cache.set("victim", "fine")
    path = os.path.join(cache.location, "cache.db")
    conn = sqlite3.connect(path)
    conn.execute("UPDATE entries SET signature = zeroblob(32) WHERE user_key = 'victim'")
    conn.commit()
    conn.close()
    preview = disk.preview(disk.make_raw_key("victim"), 100)
    assert preview.found
    assert preview.error is not None
    assert "signature" in preview.error
    with pytest.raises(InspectionError, match="signature"):
        disk.peek(disk.make_raw_key("victim"))
    # Reading did not repair the entry away (key_info may call it absent, as get() would).
    conn = sqlite3.connect(path)
    (rows,) = conn.execute("SELECT count(*) FROM entries WHERE user_key = 'victim'").fetchone()
    conn.close()
    assert rows == 1


def test_a_value_of_a_class_that_no_longer_exists_is_shown_safely(
    disk: Adapter, monkeypatch: pytest.MonkeyPatch
) -> None:
    caches[disk.alias].set("obj", Opaque(3))
    monkeypatch.delattr(__import__(__name__, fromlist=["Opaque"]), "Opaque")
    preview = disk.preview(disk.make_raw_key("obj"), 100)
    assert preview.found
    assert preview.error is not None
    assert "Opaque" in preview.error


def test_delete_touch_and_clear(disk: Adapter) -> None:
    fill(disk)
    raw = disk.make_raw_key("user:001")
    assert disk.touch(raw, None)
    info = disk.key_info(raw)
    assert info is not None
    assert info.expires is None
    assert disk.touch(raw, 100)
    info = disk.key_info(raw)
    assert info is not None
    assert info.expires is not None
    assert disk.delete([raw, disk.make_raw_key("nope")]) == 1
    assert disk.key_info(raw) is None
    stats = disk.stats()
    preview = disk.clear_preview()
    assert (preview.count, preview.size) == (stats.entries, stats.size)
    assert disk.clear() == preview
    assert disk.stats().entries == 0


def test_evict_cull_reset_and_check(disk: Adapter) -> None:
    fill(disk)
    assert disk.evict("menu").count == 2
    assert disk.cull().count == 0  # no limits configured
    caches[disk.alias].get("user:000")
    disk.reset_stats()
    stats = disk.stats()
    assert (stats.hits, stats.misses) == (0, 0)
    assert disk.check() == []


def test_set_stores_with_a_tag(disk: Adapter) -> None:
    disk.set("fresh", [1], 60, tag="t1")
    info = disk.key_info(disk.make_raw_key("fresh"))
    assert info is not None
    assert info.tag == "t1"
    assert disk.peek(disk.make_raw_key("fresh")) == (True, [1])


def test_histograms(disk: Adapter) -> None:
    fill(disk)
    sizes, expiry, families, tags = disk.histograms()
    assert sum(count for _label, count in sizes.buckets) == 64
    assert dict(expiry.buckets)["never"] == 23
    assert dict(expiry.buckets)["within 1 min"] == 1
    assert dict(expiry.buckets)["within 1 day"] == 40
    assert families.buckets[0] == ("user", 60)
    assert ("template.cache", 1) in families.buckets
    assert tags.buckets == [("menu", 2)]


def test_snapshots_respect_the_interval(disk: Adapter) -> None:
    fill(disk)
    first = maybe_take_snapshot(disk, min_interval=300, now=1000.0)
    assert first is not None
    assert maybe_take_snapshot(disk, min_interval=300) is None  # the last one is fresh
    caches[disk.alias].get("user:000")
    caches[disk.alias].get("nope")
    second = disk.take_snapshot()
    assert second.entries == 64
    assert disk.latest_snapshot() == second
    assert [s.taken for s in disk.snapshots()] == [first.taken, second.taken]
    ((_when, ratio),) = hit_ratio_series(disk.snapshots())
    assert ratio == 0.5


def test_hit_ratio_series_restarts_after_a_reset() -> None:
    series = hit_ratio_series(
        [Snapshot(1, 0, 0, 10, 10), Snapshot(2, 0, 0, 12, 10), Snapshot(3, 0, 0, 1, 3)]
    )
    assert series == [(2, 1.0), (3, 0.25)]


def test_iter_pages_streams_every_key(disk: Adapter) -> None:
    fill(disk)
    assert len(list(iter_pages(disk.keys, KeyQuery(limit=9)))) == 64
    assert {k.key for k in disk.iter_keys("tagged:*")} == {"tagged:1", "tagged:2"}


def test_unsupported_query_options_are_refused_by_other_adapters(locmem: Adapter) -> None:
    with pytest.raises(UnsupportedQuery, match=r"'lm' \(LocMemCache\) cannot sort by stored"):
        locmem.keys(KeyQuery(order="stored"))


def test_an_unreadable_store_degrades_to_an_inspection_error(tmp_cache_dir: str) -> None:
    location = os.path.join(tmp_cache_dir, "garbage")
    os.makedirs(location)
    with open(os.path.join(location, "cache.db"), "wb") as handle:
        handle.write(b"this is not a database" * 100)
    with configure(bad={"BACKEND": "diskcache_admin.backend.DiskCache", "LOCATION": location}):
        adapter = get_adapter("bad")
        with pytest.raises(InspectionError, match="'bad'"):
            adapter.stats()
        with pytest.raises(InspectionError, match="'bad'"):
            adapter.keys(KeyQuery())


def test_browse_prefix_bounds() -> None:
    assert browse.prefix_upper_bound("ab") == "ac"
    assert browse.prefix_upper_bound("a\U0010ffff") == "b"
    assert browse.prefix_upper_bound("\ud7ff") == "\ue000"
    assert browse.prefix_upper_bound("") is None
    assert browse.glob_literal_prefix("user:[0-9]*") == "user:"


def test_a_value_too_large_to_decode_is_described_not_loaded(
    disk: Adapter, monkeypatch: pytest.MonkeyPatch
) -> None:
    caches[disk.alias].set("big", "x" * 5000)
    monkeypatch.setattr(_common, "DECODE_LIMIT", 1000)
    preview = disk.preview(disk.make_raw_key("big"), 100)
    assert preview.found
    assert preview.error is not None
    assert "preview limit" in preview.error
    assert preview.size is not None
    assert preview.size > 5000


def test_reading_a_store_that_does_not_exist_yet_creates_nothing(tmp_cache_dir: str) -> None:
    location = os.path.join(tmp_cache_dir, "never-used")
    with configure(fresh={"BACKEND": "diskcache_admin.backend.DiskCache", "LOCATION": location}):
        adapter = get_adapter("fresh")
        stats = adapter.stats()
        assert (stats.entries, stats.size, stats.volume, stats.hits) == (0, 0, 0, 0)
        assert adapter.keys(KeyQuery()).keys == []
        assert list(adapter.iter_keys()) == []
        assert adapter.count_matching(KeyQuery(search="x")).count == 0
        assert adapter.key_info(adapter.make_raw_key("x")) is None
        assert adapter.peek(adapter.make_raw_key("x")) == (False, None)
        assert adapter.preview(adapter.make_raw_key("x"), 100).found is False
        assert adapter.clear_preview().count == 0
        assert adapter.histograms() == []
        assert adapter.check() == []
        assert adapter.latest_snapshot() is None
        assert maybe_take_snapshot(adapter) is not None
        assert adapter.snapshots() == []
    assert not os.path.exists(location)
