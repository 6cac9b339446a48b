"""LocMemCache and FileBasedCache adapters, against real instances."""

from __future__ import annotations

import os
import time

import pytest
from django.core.cache import caches

from diskcache_admin.inspection import (
    Adapter,
    Capability,
    FileBasedAdapter,
    InspectionError,
    KeyQuery,
    LocMemAdapter,
    Unsupported,
)


def lru_order(adapter: Adapter) -> list[str]:
    return list(caches[adapter.alias]._cache)  # type: ignore[attr-defined]


def test_locmem_is_chosen_by_class(locmem: Adapter) -> None:
    assert isinstance(locmem, LocMemAdapter)
    assert locmem.can(Capability.LIST_KEYS)
    assert not locmem.can(Capability.HIT_STATS)


def test_locmem_reading_leaves_the_lru_order_and_expired_entries_alone(locmem: Adapter) -> None:
    cache = caches[locmem.alias]
    for i in range(5):
        cache.set(f"k{i}", {"i": i})
    cache.set("stale", "old", -1)  # already expired: Django's get() would delete it
    before = lru_order(locmem)
    raw = locmem.make_raw_key("k0")  # the least recently used
    assert locmem.peek(raw) == (True, {"i": 0})
    assert locmem.preview(raw, 100).text == '{\n  "i": 0\n}'
    locmem.keys(KeyQuery())
    locmem.key_info(locmem.make_raw_key("stale"))
    locmem.stats()
    assert lru_order(locmem) == before
    assert locmem.peek(locmem.make_raw_key("stale")) == (True, "old")


def test_locmem_lists_searches_and_pages(locmem: Adapter) -> None:
    cache = caches[locmem.alias]
    for i in range(23):
        cache.set(f"user:{i:02d}", "v" * i, 100 + i)
    cache.set("other", 1, -1)
    seen: list[str] = []
    query = KeyQuery(order="size", limit=5)
    while True:
        page = locmem.keys(query)
        seen.extend(info.key for info in page.keys)
        if page.next_cursor is None:
            break
        query = KeyQuery(order="size", limit=5, cursor=page.next_cursor)
    assert sorted(seen) == sorted([f"user:{i:02d}" for i in range(23)] + ["other"])
    assert len(seen) == 24
    matching = locmem.keys(KeyQuery(search="user:1?", match="glob", limit=50)).keys
    assert [k.key for k in matching] == [f"user:{i}" for i in range(10, 20)]
    first = matching[0]
    assert (first.prefix, first.version, first.family) == ("", 1, "user")
    assert first.expires is not None
    (stale,) = locmem.keys(KeyQuery(expired=True)).keys
    assert stale.key == "other"
    stats = locmem.stats()
    assert (stats.entries, stats.expired) == (24, 1)


def test_locmem_changes(locmem: Adapter) -> None:
    cache = caches[locmem.alias]
    for i in range(4):
        cache.set(f"k{i}", i)
    cache.set("old", 0, -1)
    assert locmem.delete([locmem.make_raw_key("k0"), locmem.make_raw_key("zz")]) == 1
    assert locmem.touch(locmem.make_raw_key("k1"), 5)
    info = locmem.key_info(locmem.make_raw_key("k1"))
    assert info is not None
    assert info.expires is not None
    assert info.expires < time.time() + 6
    assert locmem.expire().count == 1
    assert locmem.count_matching(KeyQuery(search="k")).count == 3
    assert locmem.clear_preview().count == 3
    assert locmem.clear().count == 3
    assert cache.get("k1") is None


def test_filebased_has_no_key_names(filebased: Adapter) -> None:
    assert isinstance(filebased, FileBasedAdapter)
    with pytest.raises(Unsupported) as caught:
        filebased.keys(KeyQuery())
    message = str(caught.value)
    assert "'fb'" in message
    assert "FileBasedCache" in message
    assert "list keys" in message
    assert caught.value.capability is Capability.LIST_KEYS


def test_filebased_counts_bytes_and_expired_files(filebased: Adapter) -> None:
    cache = caches[filebased.alias]
    cache.set("a", "x" * 1000)
    cache.set("b", [1, 2, 3], 100)
    cache.set("c", "gone", 1)
    stats_before = filebased.stats()
    assert stats_before.entries == 3
    assert stats_before.expired == 0
    path = cache._key_to_file("c")  # type: ignore[attr-defined]
    # Age the file's expiry header instead of sleeping.
    with open(path, "r+b") as handle:
        import pickle

        body = handle.read()
        handle.seek(0)
        header = pickle.dumps(time.time() - 10, cache.pickle_protocol)  # type: ignore[attr-defined]
        handle.write(header + body[len(pickle.dumps(0.0, cache.pickle_protocol)) :])  # type: ignore[attr-defined]
    stats = filebased.stats()
    assert stats.expired == 1
    assert stats.size == sum(
        os.path.getsize(os.path.join(cache._dir, name))  # type: ignore[attr-defined]
        for name in os.listdir(cache._dir)  # type: ignore[attr-defined]
    )
    assert os.path.exists(path)  # counting never deletes
    assert filebased.expire().count == 1
    assert not os.path.exists(path)


def test_filebased_exact_lookup_and_delete(filebased: Adapter) -> None:
    cache = caches[filebased.alias]
    cache.set("exact", {"v": 1}, 50)
    raw = filebased.make_raw_key("exact")
    info = filebased.key_info(raw)
    assert info is not None
    assert (info.key, info.prefix, info.version) == ("exact", "", 1)
    assert info.expires is not None
    assert filebased.peek(raw) == (True, {"v": 1})
    assert filebased.preview(raw, 100).type_name == "dict"
    assert filebased.key_info(filebased.make_raw_key("absent")) is None
    assert filebased.delete([raw]) == 1
    assert cache.get("exact") is None


def test_filebased_clear_preview_is_exact(filebased: Adapter) -> None:
    cache = caches[filebased.alias]
    for i in range(5):
        cache.set(f"k{i}", i)
    preview = filebased.clear_preview()
    assert preview.count == 5
    assert filebased.clear() == preview
    assert filebased.stats().entries == 0


def test_filebased_unpicklable_value_is_an_error_not_a_crash(filebased: Adapter) -> None:
    cache = caches[filebased.alias]
    cache.set("broken", "fine")
    with open(cache._key_to_file("broken"), "r+b") as handle:  # type: ignore[attr-defined]
        handle.seek(-4, os.SEEK_END)
        handle.write(b"\x00\x00\x00\x00")
    raw = filebased.make_raw_key("broken")
    assert filebased.preview(raw, 10).error is not None
    with pytest.raises(InspectionError, match="unpickled"):
        filebased.peek(raw)
