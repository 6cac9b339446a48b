"""Redis adapters (Django's RedisCache and django-redis) against the real server, database 1."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from django.core.cache import caches

from diskcache_admin.inspection import (
    Adapter,
    Capability,
    DjangoRedisAdapter,
    InspectionError,
    KeyQuery,
    RedisAdapter,
    get_adapter,
)
from diskcache_admin.inspection.redis import delete_alias_keys, glob_escape, redis_client

from .conftest import configure

pytestmark = pytest.mark.redis

DB = 1
BACKENDS = {
    "django": "django.core.cache.backends.redis.RedisCache",
    "django-redis": "django_redis.cache.RedisCache",
}


@pytest.fixture(params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest) -> str:
    return BACKENDS[request.param]


@pytest.fixture
def server(redis_server: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(f"redis://{redis_server}/{DB}")
    yield client
    client.close()


@pytest.fixture
def prefix(worker_id_suffix: str, server: redis.Redis) -> Iterator[str]:
    value = f"insp-{worker_id_suffix}-{os.urandom(3).hex()}"
    yield value
    for key in server.scan_iter(match=f"{value}*", count=500):
        server.unlink(key)


@pytest.fixture
def adapter(backend: str, redis_server: str, prefix: str) -> Iterator[Adapter]:
    with configure(
        rc={"BACKEND": backend, "LOCATION": f"redis://{redis_server}/{DB}", "KEY_PREFIX": prefix}
    ):
        yield get_adapter("rc")


def fill(adapter: Adapter, count: int = 30) -> None:
    cache = caches[adapter.alias]
    cache.set_many({f"user:{i:02d}": {"i": i} for i in range(count)}, None)
    cache.set("session:abc", "s", 300)
    cache.set("n", 7, None)


def test_chosen_by_class(adapter: Adapter, backend: str) -> None:
    expected = DjangoRedisAdapter if backend.startswith("django_redis") else RedisAdapter
    assert type(adapter) is expected
    assert adapter.can(Capability.FLUSH_DB)
    assert adapter.can(Capability.CLEAR)
    assert not adapter.can(Capability.HISTOGRAMS)


def test_scan_pages_cover_every_key(adapter: Adapter) -> None:
    fill(adapter)
    seen: set[str] = set()
    query = KeyQuery(limit=5)
    for _page in range(100):
        page = adapter.keys(query)
        seen.update(info.key for info in page.keys)
        if page.next_cursor is None:
            break
        query = KeyQuery(limit=5, cursor=page.next_cursor)
    assert seen == {f"user:{i:02d}" for i in range(30)} | {"session:abc", "n"}


def test_keys_carry_ttl_size_and_parts(adapter: Adapter, prefix: str) -> None:
    fill(adapter)
    (session,) = adapter.keys(KeyQuery(search="session:")).keys
    assert (session.key, session.prefix, session.version) == ("session:abc", prefix, 1)
    assert session.raw_key == f"{prefix}:1:session:abc"
    assert session.expires is not None
    assert session.size is not None
    assert session.size > 0
    (user,) = adapter.keys(KeyQuery(search="user:1?", match="glob", family="user", limit=50)).keys[
        :1
    ]
    assert user.expires is None
    assert len(adapter.keys(KeyQuery(search="er:2", match="substring", limit=50)).keys) == 10


def test_peek_and_preview(adapter: Adapter) -> None:
    fill(adapter)
    assert adapter.peek(adapter.make_raw_key("user:03")) == (True, {"i": 3})
    assert adapter.peek(adapter.make_raw_key("n")) == (True, 7)
    assert adapter.preview(adapter.make_raw_key("user:03"), 100).text == '{\n  "i": 3\n}'
    assert not adapter.preview(adapter.make_raw_key("absent"), 100).found


def test_clear_is_scoped_to_the_alias_prefix(
    adapter: Adapter, server: redis.Redis, prefix: str
) -> None:
    fill(adapter)
    foreign = f"{prefix}-foreign:1:kept"  # same database, another app's key
    server.set(foreign, b"mine")
    try:
        preview = adapter.clear_preview()
        assert preview.count == 32
        assert adapter.clear().count == 32
        assert server.get(foreign) == b"mine"
        assert adapter.clear_preview().count == 0
    finally:
        server.delete(foreign)


def test_stats_come_from_info(adapter: Adapter) -> None:
    fill(adapter)
    stats = adapter.stats()
    assert stats.hits is not None
    assert stats.misses is not None
    assert stats.volume is not None
    assert stats.evictions is not None
    assert stats.extra["db_keys"] >= 32
    if stats.extra["db_keys"] <= 10_000:
        assert stats.entries == 32


def test_delete_touch_and_matching(adapter: Adapter) -> None:
    fill(adapter)
    raw = adapter.make_raw_key("user:00")
    assert adapter.touch(raw, 100)
    info = adapter.key_info(raw)
    assert info is not None
    assert info.expires is not None
    assert adapter.touch(raw, None)
    info = adapter.key_info(raw)
    assert info is not None
    assert info.expires is None
    assert adapter.delete([raw, adapter.make_raw_key("nope")]) == 1
    assert adapter.key_info(raw) is None
    query = KeyQuery(search="user:1")
    assert adapter.count_matching(query).count == 10
    assert adapter.delete_matching(query).count == 10
    assert adapter.count_matching(KeyQuery(search="user:")).count == 19


def test_location_masks_the_password(backend: str) -> None:
    url = "redis://app:s3cret@127.0.0.1:1/1"
    with configure(down={"BACKEND": backend, "LOCATION": url}):
        adapter = get_adapter("down")
        assert adapter.location() == "redis://app:***@127.0.0.1:1/1"


def test_a_server_that_is_down_degrades(backend: str) -> None:
    options: dict[str, Any] = {}
    with configure(down={"BACKEND": backend, "LOCATION": "redis://127.0.0.1:1/1", **options}):
        adapter = get_adapter("down")
        for call in (adapter.stats, lambda: adapter.keys(KeyQuery()), adapter.clear_preview):
            with pytest.raises(InspectionError, match=r"'down'.*did not answer"):
                call()


def test_hidden_prefixes_are_never_listed_counted_or_deleted(adapter: Adapter) -> None:
    fill(adapter)
    query = KeyQuery(exclude_prefixes=("user:",), limit=100)
    assert {info.key for info in adapter.keys(query).keys} == {"session:abc", "n"}
    assert adapter.count_matching(query).count == 2
    assert (
        adapter.delete_matching(KeyQuery(search="user:0", exclude_prefixes=("user:",))).count == 0
    )
    assert adapter.count_matching(KeyQuery(search="user:")).count == 30


# -- exactly the keys the alias's make_key can produce (issue 12, item 15) --------------------


@pytest.fixture
def nested(backend: str, redis_server: str, prefix: str) -> Iterator[tuple[Adapter, Adapter]]:
    """Two aliases on one database: ``prefix`` and ``prefix:1``, whose keys look alike."""
    location = f"redis://{redis_server}/{DB}"
    with configure(
        outer={"BACKEND": backend, "LOCATION": location, "KEY_PREFIX": prefix},
        inner={"BACKEND": backend, "LOCATION": location, "KEY_PREFIX": f"{prefix}:1"},
    ):
        yield get_adapter("outer"), get_adapter("inner")


def test_clear_leaves_the_keys_of_an_alias_on_prefix_colon_digits(
    nested: tuple[Adapter, Adapter], server: redis.Redis, prefix: str
) -> None:
    outer, inner = nested
    caches["outer"].set_many({"a": 1, "b": 2}, None)
    caches["inner"].set_many({"x": 1}, None)
    caches["inner"].set("y", 2, None, version=7)
    inner_keys = {f"{prefix}:1:1:x".encode(), f"{prefix}:1:7:y".encode()}

    assert {info.key for info in outer.keys(KeyQuery(limit=100)).keys} == {"a", "b"}
    assert outer.clear_preview().count == 2
    assert outer.count_matching(KeyQuery(search="")).count == 2
    assert sorted(info.key for info in outer.iter_keys()) == ["a", "b"]
    assert outer.clear().count == 2

    assert set(server.scan_iter(match=f"{prefix}:*")) == inner_keys
    assert {info.key for info in inner.keys(KeyQuery(limit=100)).keys} == {"x", "y"}
    assert inner.clear().count == 2
    assert list(server.scan_iter(match=f"{prefix}:*")) == []


def test_delete_alias_keys_is_the_same_exact_match(
    nested: tuple[Adapter, Adapter], server: redis.Redis, prefix: str
) -> None:
    caches["outer"].set("a", 1, None)
    caches["inner"].set("x", 1, None)
    assert delete_alias_keys(caches["outer"]) == 1
    assert server.exists(f"{prefix}:1:1:x") == 1
    assert delete_alias_keys(caches["inner"]) == 1


@pytest.mark.parametrize(
    "stranger",
    [
        b":1:\xff\xfe not utf-8",  # make_key returns str: never these bytes
        b":01:zero-padded version",
        b":+1:signed version",
        b": 1:spaced version",
        b":\xd9\xa1:arabic digit version",
        b":1",  # no user-key separator
        b"-other:1:another prefix",
    ],
)
def test_keys_make_key_cannot_produce_are_never_touched(
    adapter: Adapter, server: redis.Redis, prefix: str, stranger: bytes
) -> None:
    fill(adapter, count=3)
    raw = prefix.encode() + stranger
    server.set(raw, b"not ours")
    listed = {info.raw_key for info in adapter.keys(KeyQuery(limit=100)).keys}
    assert len(listed) == 5
    assert adapter.stats().entries in (5, None)
    assert adapter.clear_preview().count == 5
    assert adapter.count_matching(KeyQuery(search="")).count == 5
    assert adapter.delete_matching(KeyQuery(search="user:")).count == 3
    assert adapter.clear().count == 2
    assert server.get(raw) == b"not ours"


def test_negative_and_large_versions_are_the_alias_keys(adapter: Adapter, prefix: str) -> None:
    cache = caches[adapter.alias]
    cache.set("k", 1, None, version=-3)
    cache.set("k", 2, None, version=0)
    cache.set("k", 3, None, version=10**12)
    versions = sorted(info.version or 0 for info in adapter.keys(KeyQuery(limit=10)).keys)
    assert versions == [-3, 0, 10**12]
    assert adapter.clear().count == 3


def test_a_search_never_matches_across_the_version(adapter: Adapter) -> None:
    cache = caches[adapter.alias]
    cache.set("x:user1", 1, None)  # stored as <prefix>:1:x:user1, which MATCH "<p>:*:user*" finds
    cache.set("user2", 2, None)
    assert [info.key for info in adapter.iter_keys("user*")] == ["user2"]
    assert [i.key for i in adapter.keys(KeyQuery(search="user", limit=10)).keys] == ["user2"]
    assert adapter.count_matching(KeyQuery(search="user")).count == 1


def test_a_prefix_with_glob_characters_matches_only_itself(
    backend: str, redis_server: str, server: redis.Redis, prefix: str
) -> None:
    special = f"{prefix}[*?]\\"
    lookalike = f"{prefix}a*?]\\:1:k".encode()  # what the unescaped glob would also match
    server.set(lookalike, b"not ours")
    with configure(
        sp={"BACKEND": backend, "LOCATION": f"redis://{redis_server}/{DB}", "KEY_PREFIX": special}
    ):
        caches["sp"].set("k", 1, None)
        adapter = get_adapter("sp")
        assert [info.raw_key for info in adapter.keys(KeyQuery()).keys] == [f"{special}:1:k"]
        assert adapter.clear().count == 1
    assert server.get(lookalike) == b"not ours"


def test_redis_client_is_the_raw_client_of_either_backend(adapter: Adapter) -> None:
    cache = caches[adapter.alias]
    cache.set("raw", 5, None)
    client = redis_client(cache, write=True)
    assert isinstance(client, redis.Redis)
    assert client.exists(adapter.make_raw_key("raw")) == 1
    assert redis_client(cache, write=False).exists(adapter.make_raw_key("raw")) == 1


def test_redis_client_refuses_other_backends() -> None:
    with pytest.raises(TypeError, match="is not a Redis cache backend"):
        redis_client(caches["default"], write=False)


def test_glob_escape_makes_every_special_character_literal(server: redis.Redis) -> None:
    text = "a*b?c[d]e\\f"
    key = f"glob-escape-{os.urandom(3).hex()}-{text}"
    server.set(key, b"1")
    server.set(key.replace("*", "X"), b"1")
    try:
        assert server.keys(glob_escape(key)) == [key.encode()]
    finally:
        server.delete(key, key.replace("*", "X"))


def test_a_client_class_without_one_connection_is_an_inspection_error() -> None:
    with configure(
        shard={
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"CLIENT_CLASS": "tests.inspection.backends.NoConnectionClient"},
        }
    ):
        adapter = get_adapter("shard")
        with pytest.raises(InspectionError, match="no single server connection"):
            redis_client(caches["shard"], write=True)
        with pytest.raises(
            InspectionError,
            match=r"^Cache 'shard': its CLIENT_CLASS NoConnectionClient gives no single server",
        ):
            adapter.stats()


def test_a_custom_key_function_is_matched_by_its_own_pattern(
    backend: str, redis_server: str, server: redis.Redis, prefix: str
) -> None:
    server.set(f"{prefix}-x/1/user9", b"not ours")  # another prefix, same shape
    with configure(
        custom={
            "BACKEND": backend,
            "LOCATION": f"redis://{redis_server}/{DB}",
            "KEY_PREFIX": prefix,
            "KEY_FUNCTION": "tests.inspection.backends.slash_key",
        }
    ):
        caches["custom"].set("user1", 1, None)
        caches["custom"].set("other", 2, None)
        adapter = get_adapter("custom")
        assert [info.key for info in adapter.iter_keys("user*")] == [f"{prefix}/1/user1"]
        assert adapter.clear().count == 2
    assert server.get(f"{prefix}-x/1/user9") == b"not ours"
    server.delete(f"{prefix}-x/1/user9")
