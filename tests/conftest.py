"""Fixtures shared by every test package.

A test that needs a real server or browser skips with a clear reason when it is missing on a
developer's machine, and fails when ``CI`` is set: under CI a missing server is a broken build.
"""

from __future__ import annotations

import os

import pytest

IN_CI = bool(os.environ.get("CI"))
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379


def skip_or_fail_unless(available: bool, reason: str) -> None:
    """Skip when ``available`` is false, or fail under CI."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"{reason} (required because CI is set)", pytrace=False)
    pytest.skip(reason)


def redis_available() -> bool:
    try:
        import redis
    except ImportError:
        return False
    try:
        return bool(redis.Redis(host=REDIS_HOST, port=REDIS_PORT, socket_timeout=1).ping())
    except redis.RedisError:
        return False


@pytest.fixture(scope="session")
def redis_server() -> str:
    """``host:port`` of the real Redis server; each test package uses its own database number."""
    skip_or_fail_unless(redis_available(), f"Redis is not reachable on {REDIS_HOST}:{REDIS_PORT}")
    return f"{REDIS_HOST}:{REDIS_PORT}"


@pytest.fixture
def worker_id_suffix(request: pytest.FixtureRequest) -> str:
    """A suffix unique to this xdist worker, for keys and prefixes on shared servers."""
    worker = getattr(request.config, "workerinput", {}).get("workerid", "main")
    return f"{worker}-{os.getpid()}"


@pytest.fixture
def tmp_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("cache"))
