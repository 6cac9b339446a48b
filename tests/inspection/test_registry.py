"""Choosing adapters: by class, for every alias, and degrading when a backend cannot be built."""

from __future__ import annotations

import pytest
from django.core.cache import caches

from diskcache_admin.inspection import (
    Adapter,
    BrokenAdapter,
    Capability,
    DummyAdapter,
    InspectionError,
    KeyQuery,
    LocMemAdapter,
    UnknownAdapter,
    Unsupported,
    all_adapters,
    get_adapter,
)

from .conftest import configure

LOCMEM = "django.core.cache.backends.locmem.LocMemCache"


def test_all_adapters_follow_caches_in_order(tmp_cache_dir: str) -> None:
    with configure(
        disk={"BACKEND": "diskcache_admin.backend.DiskCache", "LOCATION": tmp_cache_dir},
        dummy={"BACKEND": "django.core.cache.backends.dummy.DummyCache"},
        home={"BACKEND": "tests.inspection.backends.HomeMadeCache"},
    ):
        adapters = all_adapters()
    assert [a.alias for a in adapters] == ["default", "disk", "dummy", "home"]
    assert [a.kind for a in adapters] == ["locmem", "diskcache", "dummy", "other"]


def test_a_subclass_of_a_known_backend_is_inspected_like_it() -> None:
    with configure(tuned={"BACKEND": "tests.inspection.backends.TunedLocMemCache"}):
        assert isinstance(get_adapter("tuned"), LocMemAdapter)


@pytest.mark.parametrize(
    ("backend", "adapter_class"),
    [
        ("django.core.cache.backends.dummy.DummyCache", DummyAdapter),
        ("tests.inspection.backends.HomeMadeCache", UnknownAdapter),
    ],
)
def test_uninspectable_backends_have_no_capabilities(
    backend: str, adapter_class: type[Adapter]
) -> None:
    with configure(other={"BACKEND": backend}):
        adapter = get_adapter("other")
    assert type(adapter) is adapter_class
    assert adapter.capabilities == frozenset()
    assert adapter.error is None
    with pytest.raises(Unsupported) as caught:
        adapter.stats()
    assert str(caught.value) == (
        f"Cache 'other' ({backend.rpartition('.')[2]}) cannot report statistics."
    )


@pytest.mark.parametrize(
    ("config", "reason"),
    [
        ({"BACKEND": "tests.inspection.backends.ExplodingCache"}, "the config server is down"),
        ({"BACKEND": "no.such.Backend"}, "could not be set up"),
        ({"BACKEND": "tests.inspection.failing_module.Cache"}, "cannot be imported"),
    ],
)
def test_a_backend_that_fails_to_build_degrades(config: dict[str, str], reason: str) -> None:
    with configure(broken=config):
        adapter = get_adapter("broken")
    assert isinstance(adapter, BrokenAdapter)
    assert adapter.capabilities == frozenset()
    assert adapter.error is not None
    assert reason in adapter.error
    assert "'broken'" in adapter.error
    for call in (adapter.stats, lambda: adapter.keys(KeyQuery()), adapter.clear):
        with pytest.raises(InspectionError, match=reason):
            call()
    assert adapter.location() == ""
    assert not adapter.can(Capability.STATS)


def test_an_unknown_alias_degrades() -> None:
    adapter = get_adapter("nope")
    assert adapter.error == "There is no cache alias 'nope' in CACHES."
    with pytest.raises(InspectionError, match="no cache alias"):
        adapter.stats()


def test_a_custom_key_function_shows_raw_keys() -> None:
    with configure(
        custom={
            "BACKEND": LOCMEM,
            "LOCATION": "inspection-custom-keys",
            "KEY_FUNCTION": "tests.inspection.backends.slash_key",
        }
    ):
        caches["custom"].set("thing", 1)
        (info,) = get_adapter("custom").keys(KeyQuery()).keys
    assert (info.key, info.raw_key, info.prefix, info.version) == (
        "/1/thing",
        "/1/thing",
        None,
        None,
    )


def test_default_key_function_splits_prefix_and_version() -> None:
    with configure(
        pre={
            "BACKEND": LOCMEM,
            "LOCATION": "inspection-prefixed",
            "KEY_PREFIX": "a:b",
            "VERSION": 3,
        }
    ):
        caches["pre"].set("x:y", 1)
        (info,) = get_adapter("pre").keys(KeyQuery()).keys
    assert (info.key, info.raw_key, info.prefix, info.version) == ("x:y", "a:b:3:x:y", "a:b", 3)


def test_a_misconfigured_diskcache_degrades_on_use() -> None:
    with configure(broken={"BACKEND": "diskcache_admin.backend.DiskCache"}):
        adapter = get_adapter("broken")
        with pytest.raises(InspectionError, match=r"'broken' .*needs LOCATION"):
            adapter.stats()
        with pytest.raises(InspectionError, match="needs LOCATION"):
            adapter.keys(KeyQuery())
