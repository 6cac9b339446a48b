"""The generic lock release (get, then delete) on memcached, which has no compare-and-delete."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from django.core.cache import cache
from django.test import override_settings

from diskcache_admin.decorators import memoize
from diskcache_admin.decorators.stampede import acquire_lock, release_lock
from tests.conftest import skip_or_fail_unless

MEMCACHED = ("127.0.0.1", 11211)


def memcached_available() -> bool:
    from pymemcache.client.base import Client

    client = Client(MEMCACHED, connect_timeout=1, timeout=1)
    try:
        return bool(client.version())
    except OSError:
        return False
    finally:
        client.close()


@pytest.fixture
def memcached(worker_id_suffix: str) -> Iterator[None]:
    skip_or_fail_unless(memcached_available(), "memcached is not reachable on 127.0.0.1:11211")
    config = {
        "default": {
            "BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache",
            "LOCATION": f"{MEMCACHED[0]}:{MEMCACHED[1]}",
            # A prefix per test, and no clear(): the server is shared with other workers.
            "KEY_PREFIX": f"dca-decorators-{worker_id_suffix}-{uuid.uuid4().hex[:8]}",
        }
    }
    with override_settings(CACHES=config):
        yield
        cache.close()


@pytest.mark.usefixtures("memcached")
def test_only_the_owner_releases_the_lock_on_memcached() -> None:
    mine = acquire_lock(cache, "owned:lock", 30)
    assert mine is not None
    assert acquire_lock(cache, "owned:lock", 30) is None
    assert release_lock(cache, "owned:lock", mine + 2) is False
    assert release_lock(cache, "owned:lock", mine) is True
    assert cache.get("owned:lock") is None


@pytest.mark.usefixtures("memcached")
def test_memoize_on_memcached() -> None:
    calls: list[int] = []

    @memoize(timeout=30)
    def double(x: int) -> int:
        calls.append(x)
        return 2 * x

    assert double(4) == double(x=4) == 8
    assert double.invalidate(4) is True
    assert double(4) == 8
    assert calls == [4, 4]
