"""Fixtures for the ``cache`` command: one real backend per parametrised run, and runners."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from diskcache_admin import audit

# This package's own Redis database (each test package has its own); keys carry a per-worker prefix.
REDIS_DB = 3
BACKENDS = ("diskcache", "locmem", "redis")
# The backends another process can change: LocMem lives in one process, so the command
# refuses to change it (tests/cli/test_process_local.py).
SHARED_BACKENDS = ("diskcache", "redis")


@dataclass
class Result:
    out: str
    err: str


def run(*args: str, **options: Any) -> Result:
    """``manage.py cache ARGS`` in process; fails the test on a CommandError."""
    out, err = io.StringIO(), io.StringIO()
    call_command("cache", *args, stdout=out, stderr=err, **options)
    return Result(out.getvalue(), err.getvalue())


def fail(*args: str, code: int, **options: Any) -> str:
    """``manage.py cache ARGS`` that must fail with exit status ``code``; returns the message."""
    with pytest.raises(CommandError) as info:
        run(*args, **options)
    assert info.value.returncode == code, str(info.value)
    return str(info.value)


def redis_client() -> Any:
    import redis

    return redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB)


def drop_redis_prefix(prefix: str) -> None:
    client = redis_client()
    keys = list(client.scan_iter(match=f"{prefix}*", count=500))
    if keys:
        client.delete(*keys)
    client.close()


def backend_config(kind: str, directory: str, prefix: str) -> dict[str, Any]:
    if kind == "diskcache":
        return {
            "BACKEND": "diskcache_admin.backend.DiskCache",
            "LOCATION": directory,
            "OPTIONS": {"MAX_ENTRIES": 10_000},
        }
    if kind == "locmem":
        return {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"cli-{uuid.uuid4().hex}",
            "OPTIONS": {"MAX_ENTRIES": 10_000},
        }
    if kind == "redis":
        return {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:6379/{REDIS_DB}",
            "KEY_PREFIX": prefix,
        }
    if kind == "django-redis":
        return {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:6379/{REDIS_DB}",
            "KEY_PREFIX": prefix,
        }
    raise ValueError(kind)


@pytest.fixture
def redis_prefix(worker_id_suffix: str) -> Iterator[str]:
    """A key prefix no other test process uses; its keys are dropped afterwards."""
    prefix = f"cli-{worker_id_suffix}-{uuid.uuid4().hex[:8]}"
    yield prefix
    drop_redis_prefix(prefix)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_cache_dir: str) -> Iterator[str]:
    """Runs the test on each backend, configured as CACHES 'default' (plus a LocMem 'spare')."""
    yield from configured(request, tmp_cache_dir)


@pytest.fixture(params=SHARED_BACKENDS)
def shared_backend(request: pytest.FixtureRequest, tmp_cache_dir: str) -> Iterator[str]:
    """Like ``backend``, on the backends the command may change."""
    yield from configured(request, tmp_cache_dir)


def configured(request: pytest.FixtureRequest, tmp_cache_dir: str) -> Iterator[str]:
    kind: str = request.param
    prefix = ""
    if kind in ("redis", "django-redis"):
        request.getfixturevalue("redis_server")
        prefix = request.getfixturevalue("redis_prefix")
    caches = {
        "default": backend_config(kind, tmp_cache_dir, prefix),
        "spare": backend_config("locmem", "", ""),
    }
    with override_settings(CACHES=caches):
        yield kind


@dataclass
class AuditSpy:
    records: list[dict[str, Any]]

    def actions(self) -> list[str]:
        return [record["action"] for record in self.records]


@pytest.fixture
def audit_spy(monkeypatch: pytest.MonkeyPatch) -> AuditSpy:
    """Sees every audit record the command writes, and still writes it."""
    spy = AuditSpy([])
    real = audit.record

    def record(**kwargs: Any) -> Any:
        spy.records.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(audit, "record", record)
    return spy


@pytest.fixture
def disk_store(tmp_cache_dir: str) -> Iterator[str]:
    """A fresh DiskCache 'default' with a short busy timeout, so a locked store fails fast."""
    config = backend_config("diskcache", tmp_cache_dir, "")
    config["OPTIONS"] = {"MAX_ENTRIES": None, "BUSY_TIMEOUT": 0.2}
    with override_settings(CACHES={"default": config}):
        yield tmp_cache_dir
