"""swap mode in this process: what replaces each alias, who sees it, and what is left after."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import BaseCache, caches
from django.test import override_settings

from diskcache_admin.testing import isolation
from diskcache_admin.testing.isolation import LOCMEM, Isolation, swap_config

DISK = "diskcache_admin.backend.DiskCache"


def dev_caches(tmp_cache_dir: str) -> dict[str, Any]:
    """A developer's configuration; the network servers are never contacted in swap mode."""
    return {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://10.9.8.7:6379/0",
            "KEY_PREFIX": "shop",
            "VERSION": 3,
            "TIMEOUT": 60,
            "KEY_FUNCTION": "tests.testing.test_swap.make_key",
            "OPTIONS": {"MAX_ENTRIES": 50, "CULL_FREQUENCY": 2, "db": 1},
        },
        "disk": {"BACKEND": DISK, "LOCATION": tmp_cache_dir, "OPTIONS": {"SIZE_LIMIT": 10**6}},
        "pages": {"BACKEND": LOCMEM, "LOCATION": "pages"},
        "memcached": {
            "BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache",
            "LOCATION": "192.0.2.1:11211",
        },
    }


def make_key(key: str, key_prefix: str, version: int) -> str:
    return f"{key_prefix}/{version}/{key}"


@pytest.fixture
def swapped(tmp_cache_dir: str) -> Iterator[Isolation]:
    with override_settings(CACHES=dev_caches(tmp_cache_dir)):
        current = Isolation("swap", run_id="run1", worker="gw3").start()
        try:
            yield current
        finally:
            current.stop()


def test_a_network_alias_becomes_locmem_keeping_what_shapes_its_keys(tmp_cache_dir: str) -> None:
    config = dev_caches(tmp_cache_dir)["default"]

    new = swap_config("default", config, "/root-dir", "run1", "gw3")

    assert new == {
        "BACKEND": LOCMEM,
        "LOCATION": "diskcache-admin-test:run1:gw3:default",
        "KEY_PREFIX": "shop",
        "VERSION": 3,
        "TIMEOUT": 60,
        "KEY_FUNCTION": "tests.testing.test_swap.make_key",
        "OPTIONS": {"MAX_ENTRIES": 50, "CULL_FREQUENCY": 2},
    }


def test_a_diskcache_alias_becomes_a_diskcache_in_the_runs_directory(tmp_cache_dir: str) -> None:
    new = swap_config("disk", dev_caches(tmp_cache_dir)["disk"], "/root-dir", "run1", "gw3")

    assert new == {
        "BACKEND": DISK,
        "LOCATION": os.path.join("/root-dir", "disk"),
        "OPTIONS": {"SIZE_LIMIT": 10**6},
    }


def test_every_alias_is_replaced_for_every_thread(swapped: Isolation) -> None:
    seen: dict[str, Any] = {}

    def look() -> None:
        seen.update({alias: caches[alias] for alias in ("default", "disk", "memcached")})

    thread = threading.Thread(target=look)
    thread.start()
    thread.join()

    assert type(seen["default"]).__name__ == "LocMemCache"
    assert type(seen["memcached"]).__name__ == "LocMemCache"
    assert seen["disk"].location == os.path.join(str(swapped.root), "disk")
    assert caches["default"].make_key("k") == "shop/3/k"


def test_data_written_in_one_thread_is_read_in_another(swapped: Isolation) -> None:
    caches["default"].set("greeting", "hello")
    caches["disk"].set("greeting", "hello")
    read: list[Any] = []
    thread = threading.Thread(
        target=lambda: read.extend(caches[a].get("greeting") for a in ("default", "disk"))
    )
    thread.start()
    thread.join()

    assert read == ["hello", "hello"]


def test_a_locmem_alias_does_not_see_what_was_stored_under_its_location_before(
    tmp_cache_dir: str,
) -> None:
    with override_settings(CACHES=dev_caches(tmp_cache_dir)):
        caches["pages"].set("club_page_classes", "stale")
        current = Isolation("swap").start()
        try:
            assert caches["pages"].get("club_page_classes") is None
        finally:
            current.stop()
        assert caches["pages"].get("club_page_classes") == "stale"


def test_reset_empties_every_store(swapped: Isolation) -> None:
    for alias in ("default", "disk", "pages"):
        caches[alias].set("k", 1)

    swapped.reset()

    assert [caches[alias].get("k") for alias in ("default", "disk", "pages")] == [None] * 3


def test_stop_restores_the_configured_caches_and_removes_the_stores(tmp_cache_dir: str) -> None:
    with override_settings(CACHES=dev_caches(tmp_cache_dir)):
        caches["disk"].set("dev-key", "dev value")
        current = Isolation("swap").start()
        caches["disk"].set("dev-key", "test value")
        caches["pages"].set("k", 1)
        root = str(current.root)
        pages_location = current.aliases["pages"].location

        current.stop()

        assert not os.path.exists(root)
        assert caches["disk"].location == tmp_cache_dir
        assert caches["disk"].get("dev-key") == "dev value"
        from django.core.cache.backends import locmem

        assert pages_location not in locmem._caches  # type: ignore[attr-defined]


def test_off_changes_nothing(tmp_cache_dir: str) -> None:
    with override_settings(CACHES=dev_caches(tmp_cache_dir)):
        current = Isolation("off").start()
        assert not current.active
        assert caches["disk"].location == tmp_cache_dir
        assert current.describe() == "off (no alias isolated)"


def test_an_unknown_mode_is_refused() -> None:
    with pytest.raises(Exception, match="must be one of 'swap', 'clear', 'off', not 'flush'"):
        Isolation("flush")


def test_the_marker_decorator_marks_methods_and_classes() -> None:
    @isolation.cache_isolation("off")
    class Case:
        def test_a(self) -> None: ...

    class Plain:
        _testMethodName = "test_b"

        @isolation.cache_isolation("off")
        def test_b(self) -> None: ...

        def test_c(self) -> None: ...

    case = Case()
    case._testMethodName = "test_a"  # type: ignore[attr-defined]
    plain_c = Plain()
    plain_c._testMethodName = "test_c"

    assert not isolation.wants_reset(case)
    assert not isolation.wants_reset(Plain())
    assert isolation.wants_reset(plain_c)
    with pytest.raises(ValueError, match="'off' or 'on'"):
        isolation.cache_isolation("clear")


def test_reset_never_empties_caches_a_test_class_put_on_top(swapped: Isolation) -> None:
    caches["pages"].set("ours", 1)
    theirs = {"pages": {"BACKEND": LOCMEM, "LOCATION": "a-class-override"}}
    with override_settings(CACHES=theirs):
        caches["pages"].set("theirs", 1)

        swapped.reset()

        assert caches["pages"].get("theirs") == 1
    assert caches["pages"].get("ours") is None


class PerThreadCache(BaseCache):
    """A class the plugin does not know, holding one store per thread (as some libraries do)."""

    def __init__(self, location: str, params: dict[str, Any]) -> None:
        super().__init__(params)
        self.local = threading.local()

    def get(self, key: Any, default: Any = None, version: Any = None) -> Any:
        return getattr(self.local, "store", {}).get(key, default)

    def set(self, key: Any, value: Any, timeout: Any = None, version: Any = None) -> None:
        if not hasattr(self.local, "store"):
            self.local.store = {}
        self.local.store[key] = value


DUMMY = {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}
CUSTOM = {"BACKEND": "tests.testing.test_swap.PerThreadCache"}


@pytest.mark.parametrize("config", [DUMMY, CUSTOM], ids=["dummy", "unknown-class"])
def test_dummy_and_unknown_classes_are_left_as_configured(config: dict[str, Any]) -> None:
    assert swap_config("a", config, "/root-dir", "run1", "gw3") is None
    assert swap_config("a", config, "/root-dir", "run1", "gw3", "keep") is None


def test_an_unknown_class_is_swapped_when_declared_and_any_alias_kept_when_declared(
    tmp_cache_dir: str,
) -> None:
    swapped = swap_config("a", CUSTOM, "/root-dir", "run1", "gw3", "swap")
    kept = swap_config("a", dev_caches(tmp_cache_dir)["default"], "/r", "run1", "gw3", "keep")

    assert swapped is not None
    assert swapped["BACKEND"] == LOCMEM
    assert kept is None


def test_code_under_test_sees_dummy_and_per_thread_caches_unchanged() -> None:
    config = {"default": {"BACKEND": LOCMEM, "LOCATION": "swap-rule"}, "dummy": DUMMY,
              "local": CUSTOM}  # fmt: skip
    with override_settings(CACHES=config):
        current = Isolation("swap", run_id="run1", worker="gw3").start()
        try:
            caches["dummy"].set("k", 1)
            caches["local"].set("k", "main thread")
            seen: list[Any] = []
            thread = threading.Thread(target=lambda: seen.append(caches["local"].get("k")))
            thread.start()
            thread.join()

            assert caches["dummy"].get("k") is None  # DummyCache still holds nothing
            assert seen == [None]  # still one store per thread
            assert type(caches["local"]) is PerThreadCache
            assert current.describe() == (
                "swap (1 alias isolated: default); left as configured: dummy, local"
            )
            current.reset()  # never empties what it left alone
            assert caches["local"].get("k") == "main thread"
        finally:
            current.stop()
