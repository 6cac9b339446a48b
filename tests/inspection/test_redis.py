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
