"""clear mode: only provably test-only aliases are emptied; any other stops the run untouched."""

from __future__ import annotations

import os
from typing import Any

import pytest
from django.core.cache import caches
from django.test import override_settings

from diskcache_admin.testing.isolation import (
    LOCMEM,
    Isolation,
    UnsafeCacheError,
    clear_plan,
)

REDIS = "django.core.cache.backends.redis.RedisCache"
MEMCACHED = "django.core.cache.backends.memcached.PyMemcacheCache"
DISK = "diskcache_admin.backend.DiskCache"
FILEBASED = "django.core.cache.backends.filebased.FileBasedCache"


def plan(config: dict[str, Any], marked: dict[str, str] | None = None) -> str:
    return clear_plan("default", config, marked or {})


def redis(location: str, **extra: str) -> dict[str, Any]:
    return {"BACKEND": REDIS, "LOCATION": location, **extra}


def memcached(location: str | list[str], **extra: str) -> dict[str, Any]:
    return {"BACKEND": MEMCACHED, "LOCATION": location, **extra}


DB = {"default": "database"}
PREFIX = {"default": "prefix"}


@pytest.mark.parametrize(
    ("config", "marked", "expected"),
    [
        ({"BACKEND": LOCMEM}, {}, "clear"),
        ({"BACKEND": "django.core.cache.backends.dummy.DummyCache"}, {}, "nothing"),
        # Directories that do not exist yet: the run creates (and marks) them.
        ({"BACKEND": DISK, "LOCATION": "/nonexistent/tests-abc/cache"}, {}, "clear"),
        ({"BACKEND": FILEBASED, "LOCATION": "/nonexistent/tests-abc"}, {}, "clear"),
        ({"BACKEND": "django.core.cache.backends.db.DatabaseCache"}, {}, "database"),
        (redis("redis://127.0.0.1:6379/5"), DB, "clear"),
        (redis("redis://localhost/5", KEY_PREFIX="t"), PREFIX, "prefix"),
        (redis("unix:///run/redis.sock?db=5"), DB, "clear"),
        (memcached("127.0.0.1:11211"), DB, "clear"),
        (memcached(["[::1]:11211"]), DB, "clear"),
    ],
)
def test_test_only_aliases_are_accepted(
    config: dict[str, Any], marked: dict[str, str], expected: str
) -> None:
    assert plan(config, marked) == expected


@pytest.mark.parametrize(
    ("config", "marked", "reason"),
    [
        (redis("redis://10.0.0.5:6379/5"), DB, "server 10.0.0.5 is not a loopback"),
        (redis("redis://127.0.0.1/5,redis://cache.prod/5"), DB, "cache.prod is not a loopback"),
        (redis("redis://127.0.0.1:6379/0"), {}, "does not declare this alias test-only"),
        (memcached("127.0.0.1:11211"), {}, "does not declare this alias"),
        (memcached("127.0.0.1:11211", KEY_PREFIX="t"), PREFIX, "memcached cannot list keys"),
        (redis("redis://127.0.0.1/4"), PREFIX, "needs a non-empty KEY_PREFIX"),
        ({"BACKEND": DISK, "LOCATION": "srv/cache"}, {}, "LOCATION is relative"),
        ({"BACKEND": "tests.testing.test_clear_mode.Custom"}, DB, "not one whose locations"),
    ],
)
def test_anything_else_is_refused_naming_alias_location_and_fix(
    config: dict[str, Any], marked: dict[str, str], reason: str
) -> None:
    with pytest.raises(UnsafeCacheError) as caught:
        plan(config, marked)

    message = str(caught.value)
    assert reason in message
    assert "CACHES['default']" in message
    assert str(config.get("LOCATION", "(no LOCATION)")).split(",")[0] in message.replace(", ", ",")
    assert "To fix it:" in message
    assert "'swap'" in message


class Custom:
    pass


def test_a_bad_declaration_is_refused() -> None:
    with override_settings(
        CACHES={"default": {"BACKEND": LOCMEM}},
        DISKCACHE_ADMIN_TEST_CACHES={"default": "everything"},
    ):
        current = Isolation("clear")
        with pytest.raises(Exception, match=r"must be one of .*, not 'everything'"):
            current.check()


@pytest.mark.redis
def test_prefix_scope_deletes_only_the_aliass_own_keys(
    redis_server: str, worker_id_suffix: str
) -> None:
    url = f"redis://{redis_server}/4"
    ours, theirs = f"clear-test-{worker_id_suffix}", f"clear-dev-{worker_id_suffix}"
    config = {
        "test": {"BACKEND": REDIS, "LOCATION": url, "KEY_PREFIX": ours},
        "dev": {"BACKEND": REDIS, "LOCATION": url, "KEY_PREFIX": theirs},
    }
    with override_settings(CACHES=config, DISKCACHE_ADMIN_TEST_CACHES={"test": "prefix"}):
        test_cache, dev_cache = caches["test"], caches["dev"]
        try:
            test_cache.set_many({"a": 1, "b": 2})
            dev_cache.set_many({"a": 1, "b": 2})
            current = Isolation("clear", original_caches={"test": config["test"]}).start()

            current.reset()

            assert test_cache.get_many(["a", "b"]) == {}
            assert dev_cache.get_many(["a", "b"]) == {"a": 1, "b": 2}
        finally:
            dev_cache.delete_many(["a", "b"])
            test_cache.delete_many(["a", "b"])


def test_clear_mode_empties_test_only_stores_in_place(tmp_cache_dir: str) -> None:
    config = {
        "default": {"BACKEND": DISK, "LOCATION": tmp_cache_dir},
        "pages": {"BACKEND": LOCMEM, "LOCATION": "clear-mode-pages"},
    }
    with override_settings(CACHES=config):
        current = Isolation("clear").start()
        caches["default"].set("k", 1)
        caches["pages"].set("k", 1)

        current.reset()

        assert caches["default"].get("k") is None
        assert caches["pages"].get("k") is None
        assert caches["default"].location == tmp_cache_dir
        current.stop()
        assert os.path.isdir(tmp_cache_dir)
