"""The PyMemcacheCache adapter against the real memcached on 127.0.0.1:11211."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import pytest
from django.core.cache import caches

from diskcache_admin.inspection import (
    Adapter,
    Capability,
    InspectionError,
    KeyQuery,
    PyMemcacheAdapter,
    Unsupported,
    get_adapter,
)

from ..conftest import skip_or_fail_unless
from .conftest import configure


def memcached_available() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 11211), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def memcached(worker_id_suffix: str) -> Iterator[Adapter]:
    skip_or_fail_unless(memcached_available(), "memcached is not reachable on 127.0.0.1:11211")
    with configure(
        mc={
            "BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache",
            "LOCATION": "127.0.0.1:11211",
            "KEY_PREFIX": f"insp-{worker_id_suffix}-{os.urandom(3).hex()}",
        }
    ):
        yield get_adapter("mc")


def test_capabilities_are_honest(memcached: Adapter) -> None:
    assert isinstance(memcached, PyMemcacheAdapter)
    assert memcached.can(Capability.FLUSH_DB)
    assert not memcached.can(Capability.CLEAR)  # flush_all empties the whole server
    with pytest.raises(Unsupported, match=r"'mc' \(PyMemcacheCache\) cannot list keys"):
        memcached.keys(KeyQuery())


def test_server_stats(memcached: Adapter) -> None:
    caches[memcached.alias].set("counted", 1, 30)
    stats = memcached.stats()
    assert stats.entries is not None
    assert stats.entries >= 1
    assert stats.hits is not None
    assert stats.misses is not None
    assert stats.evictions is not None
    assert stats.size_limit is not None


def test_exact_lookup_and_delete(memcached: Adapter) -> None:
    caches[memcached.alias].set("exact", {"v": [1, 2]}, 100)
    raw = memcached.make_raw_key("exact")
    info = memcached.key_info(raw)
    assert info is not None
    assert info.key == "exact"
    assert info.expires is not None
    assert info.size is not None
    assert memcached.peek(raw) == (True, {"v": [1, 2]})
    assert memcached.preview(raw, 100).type_name == "dict"
    assert memcached.delete([raw]) == 1
    assert memcached.key_info(raw) is None
    assert memcached.peek(raw) == (False, None)


def test_a_server_that_is_down_degrades() -> None:
    with (
        configure(
            down={
                "BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache",
                "LOCATION": "127.0.0.1:1",
            }
        ),
        pytest.raises(InspectionError, match="'down'"),
    ):
        get_adapter("down").stats()


def fetched(adapter: Adapter, raw: str) -> bool:
    """Whether memcached marks the item as fetched since it was stored (an LRU bump)."""
    client = adapter.cache._cache._get_client(raw)  # type: ignore[attr-defined]
    reply = client.raw_command(f"mg {raw} h u", b"\r\n").decode()
    return " h1" in f" {reply}"


def test_key_info_leaves_the_lru_position_and_a_peek_does_not(memcached: Adapter) -> None:
    caches[memcached.alias].set("lru", 1, 100)
    raw = memcached.make_raw_key("lru")
    assert memcached.key_info(raw) is not None
    assert not fetched(memcached, raw)
    assert memcached.peek(raw) == (True, 1)
    assert fetched(memcached, raw)  # why PEEK carries ReadEffect.LRU here
