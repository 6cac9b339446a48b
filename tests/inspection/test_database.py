"""The DatabaseCache adapter, on the test database (SQLite) with a real cache table."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.cache import caches
from django.core.management import call_command

from diskcache_admin.inspection import Adapter, DatabaseAdapter, KeyQuery, get_adapter

from .conftest import configure

pytestmark = pytest.mark.django_db


@pytest.fixture
def database(worker_id_suffix: str) -> Iterator[Adapter]:
    table = "inspection_cache_" + worker_id_suffix.replace("-", "_")
    with configure(
        dbc={
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": table,
            "KEY_PREFIX": "site",
        }
    ):
        call_command("createcachetable", verbosity=0)
        yield get_adapter("dbc")


def fill(adapter: Adapter) -> None:
    cache = caches[adapter.alias]
    for i in range(25):
        cache.set(f"Item:{i:02d}", {"n": i}, None if i % 2 else 600 + i)
    cache.set("item:lower", "case matters", None)
    cache.set("old", "x", -1)


def test_chosen_by_class_with_honest_capabilities(database: Adapter) -> None:
    assert isinstance(database, DatabaseAdapter)
    assert database.orders == ("key", "expires")
    assert "inspection_cache_" in database.location()


def test_keyset_pages_cover_every_key_once(database: Adapter) -> None:
    fill(database)
    for order in ("key", "expires"):
        for descending in (False, True):
            seen: list[str] = []
            query = KeyQuery(order=order, descending=descending, limit=4)  # type: ignore[arg-type]
            while True:
                page = database.keys(query)
                seen.extend(info.raw_key for info in page.keys)
                if page.next_cursor is None:
                    break
                query = KeyQuery(
                    order=order,  # type: ignore[arg-type]
                    descending=descending,
                    limit=4,
                    cursor=page.next_cursor,
                )
            assert len(seen) == len(set(seen)) == 27, (order, descending)


def test_keys_are_parsed_and_searched_case_sensitively(database: Adapter) -> None:
    fill(database)
    found = database.keys(KeyQuery(search="Item:1", limit=50)).keys
    assert [k.key for k in found] == [f"Item:{i}" for i in range(10, 20)]
    assert (found[0].prefix, found[0].version, found[0].raw_key) == ("site", 1, "site:1:Item:10")
    assert [k.key for k in database.keys(KeyQuery(search="item", match="substring")).keys] == [
        "item:lower"
    ]
    assert len(database.keys(KeyQuery(search="Item:?5", match="glob")).keys) == 2
    assert database.count_matching(KeyQuery(family="Item")).count == 25


def test_expiry_and_stats(database: Adapter) -> None:
    fill(database)
    never = database.key_info(database.make_raw_key("Item:01"))
    timed = database.key_info(database.make_raw_key("Item:02"))
    assert never is not None
    assert timed is not None
    assert never.expires is None
    assert timed.expires is not None
    assert not timed.expired
    (old,) = database.keys(KeyQuery(expired=True)).keys
    assert old.key == "old"
    assert old.expired
    stats = database.stats()
    assert (stats.entries, stats.expired) == (27, 1)
    assert stats.size is not None
    assert database.expire().count == 1


def test_peek_delete_touch_clear(database: Adapter) -> None:
    fill(database)
    raw = database.make_raw_key("Item:03")
    assert database.peek(raw) == (True, {"n": 3})
    assert database.preview(raw, 100).text == '{\n  "n": 3\n}'
    assert database.touch(raw, 5)
    info = database.key_info(raw)
    assert info is not None
    assert info.expires is not None
    assert database.delete([raw, "site:1:nothing"]) == 1
    assert database.peek(raw) == (False, None)
    assert database.delete_matching(KeyQuery(search="Item:1")).count == 10
    preview = database.clear_preview()
    assert preview.count == 16
    assert database.clear().count == 16
    assert database.stats().entries == 0


def test_like_wildcards_in_a_search_are_literal(database: Adapter) -> None:
    cache = caches[database.alias]
    cache.set("odd_%key", 1)
    cache.set("oddXXkey", 2)
    cache.set("odd!key", 3)
    found = database.keys(KeyQuery(search="_%", match="substring")).keys
    assert [k.key for k in found] == ["odd_%key"]
    assert [k.key for k in database.keys(KeyQuery(search="odd!")).keys] == ["odd!key"]
