"""Cache aliases of every kind for the admin tests, each on real storage."""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.cache import BaseCache, caches
from django.core.management import call_command
from django.test import Client, override_settings
from django.urls import reverse

from diskcache_admin.admin.helpers import encode_key

from .factories import SuperuserFactory

REDIS_DB = 2
KINDS = ("diskcache", "locmem", "filebased", "database", "redis")
# Every Redis test holds this lock shared; the whole-database flush test holds it exclusively,
# so a flush of database 2 never runs while another xdist worker uses that database.
REDIS_LOCK = os.path.join(tempfile.gettempdir(), "diskcache-admin-tests-redis-db2.lock")


@dataclass
class Target:
    kind: str
    alias: str
    caches: dict[str, dict[str, Any]]

    @property
    def cache(self) -> BaseCache:
        return caches[self.alias]

    def url(self, name: str, *args: str) -> str:
        return reverse(f"admin:diskcache_admin_cache_{name}", args=(self.alias, *args))

    def key_url(self, key: str, version: int | None = None) -> str:
        raw = self.cache.make_key(key, version=version)
        return self.url("key", encode_key(raw))

    def token(self, key: str) -> str:
        return encode_key(self.cache.make_key(key))


def diskcache_config(directory: str, **options: Any) -> dict[str, Any]:
    config: dict[str, Any] = {"BACKEND": "diskcache_admin.backend.DiskCache", "LOCATION": directory}
    if options:
        config["OPTIONS"] = options
    return config


def config_for(kind: str, tmp: str, suffix: str) -> dict[str, Any]:
    if kind == "diskcache":
        return diskcache_config(os.path.join(tmp, "disk"), MAX_ENTRIES=10_000)
    if kind == "locmem":
        return {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"admin-tests-{suffix}-{tmp}",
        }
    if kind == "filebased":
        return {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": os.path.join(tmp, "files"),
        }
    if kind == "database":
        return {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "admin_cache"}
    if kind == "redis":
        return {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:6379/{REDIS_DB}",
            "KEY_PREFIX": f"dca-admin-{suffix}",
        }
    raise ValueError(kind)


@pytest.fixture
def redis_lock(redis_server: str) -> Iterator[None]:
    with open(REDIS_LOCK, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_SH)
        yield


def _cleanup_redis(prefix: str) -> None:
    import redis

    client = redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB)
    try:
        keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture(
    params=[
        pytest.param(kind, marks=[pytest.mark.redis] if kind == "redis" else []) for kind in KINDS
    ]
)
def target(
    request: pytest.FixtureRequest, tmp_path: Any, worker_id_suffix: str, db: None
) -> Iterator[Target]:
    """One real alias ``target`` of each kind, beside a DiskCache ``default``."""
    kind: str = request.param
    if kind == "redis":
        request.getfixturevalue("redis_lock")
    tmp = str(tmp_path)
    config = config_for(kind, tmp, worker_id_suffix)
    settings_caches = {
        "default": diskcache_config(os.path.join(tmp, "default")),
        "target": config,
    }
    with override_settings(CACHES=settings_caches):
        if kind == "database":
            call_command("createcachetable", "admin_cache", verbosity=0)
        try:
            yield Target(kind, "target", settings_caches)
        finally:
            if kind == "redis":
                _cleanup_redis(config["KEY_PREFIX"])
            caches["target"].close()


@pytest.fixture
def disk(tmp_path: Any, db: None) -> Iterator[Target]:
    """Only a DiskCache alias ``default`` (the richest adapter)."""
    settings_caches = {"default": diskcache_config(os.path.join(str(tmp_path), "default"))}
    with override_settings(CACHES=settings_caches):
        yield Target("diskcache", "default", settings_caches)


@pytest.fixture
def superuser(db: None) -> Any:
    return SuperuserFactory()


@pytest.fixture
def admin_client(superuser: Any) -> Client:
    client = Client()
    client.force_login(superuser)
    return client
