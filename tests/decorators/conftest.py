"""Every decorator test runs on LocMem, DiskCache and Redis (database 6, a prefix per test)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import caches
from django.test import override_settings

from diskcache_admin.decorators import stampede

REDIS_DB = 6
BACKENDS = ("locmem", "diskcache", "redis")


def cache_settings(backend: str, location: str, prefix: str) -> dict[str, Any]:
    if backend == "locmem":
        return {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"decorators-{prefix}",
        }
    if backend == "diskcache":
        return {"BACKEND": "diskcache_admin.backend.DiskCache", "LOCATION": location}
    return {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": f"redis://127.0.0.1:6379/{REDIS_DB}",
        "KEY_PREFIX": f"dca-decorators-{prefix}",
    }


def forget_redis_prefix(prefix: str) -> None:
    import redis

    client = redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB)
    # Only this test's keys: other workers share database 6, so no FLUSHDB.
    keys = list(client.scan_iter(match=f"dca-decorators-{prefix}:*", count=500))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture(params=BACKENDS)
def backend(
    request: pytest.FixtureRequest, tmp_cache_dir: str, worker_id_suffix: str
) -> Iterator[str]:
    """The name of the backend behind the ``default`` alias for this test."""
    name = str(request.param)
    if name == "redis":
        request.getfixturevalue("redis_server")
    prefix = f"{worker_id_suffix}-{uuid.uuid4().hex[:8]}"
    config = {"default": cache_settings(name, tmp_cache_dir, prefix)}
    request.node.cache_config = config  # the multi-process test hands it to its children
    with override_settings(CACHES=config):
        yield name
        caches["default"].close()
    if name == "redis":
        forget_redis_prefix(prefix)


@pytest.fixture(autouse=True)
def _fresh_warnings() -> Iterator[None]:
    # Each test may check the first-use warning on its own.
    stampede._warned_aliases.clear()
    yield
    stampede._warned_aliases.clear()
