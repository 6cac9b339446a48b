"""The one backend classifier: every stock backend, subclasses, and what cannot be classified."""

from __future__ import annotations

import pytest
from django.core.cache import caches

from diskcache_admin.inspection.kinds import (
    Kind,
    aliases_of,
    kind_of,
    kind_of_alias,
    kind_of_config,
)

from .conftest import configure


@pytest.mark.parametrize(
    ("backend", "kind"),
    [
        ("diskcache_admin.backend.DiskCache", Kind.DISKCACHE),
        ("django.core.cache.backends.locmem.LocMemCache", Kind.LOCMEM),
        ("django.core.cache.backends.filebased.FileBasedCache", Kind.FILEBASED),
        ("django.core.cache.backends.db.DatabaseCache", Kind.DATABASE),
        ("django.core.cache.backends.redis.RedisCache", Kind.REDIS),
        ("django_redis.cache.RedisCache", Kind.DJANGO_REDIS),
        ("django.core.cache.backends.memcached.PyMemcacheCache", Kind.MEMCACHED),
        ("django.core.cache.backends.memcached.PyLibMCCache", Kind.MEMCACHED),
        ("django.core.cache.backends.dummy.DummyCache", Kind.DUMMY),
        ("tests.inspection.backends.TunedLocMemCache", Kind.LOCMEM),
        ("tests.inspection.backends.ExplodingRedisCache", Kind.REDIS),
        ("tests.inspection.backends.HomeMadeCache", Kind.OTHER),
        ("tests.inspection.backends.slash_key", Kind.OTHER),  # not a class
        ("no.such.Backend", Kind.OTHER),
        ("tests.inspection.failing_module.Cache", Kind.OTHER),
        ("", Kind.OTHER),
    ],
)
def test_kind_of_config(backend: str, kind: Kind) -> None:
    assert kind_of_config({"BACKEND": backend}) is kind


def test_kind_of_an_instance_and_of_an_alias() -> None:
    with configure(tuned={"BACKEND": "tests.inspection.backends.TunedLocMemCache"}):
        assert kind_of(caches["tuned"]) is Kind.LOCMEM
        assert kind_of_alias("tuned") is Kind.LOCMEM
        assert kind_of_alias("no-such-alias") is Kind.OTHER


def test_aliases_of_keeps_the_caches_order() -> None:
    with configure(
        r1={"BACKEND": "django.core.cache.backends.redis.RedisCache"},
        d={"BACKEND": "django.core.cache.backends.dummy.DummyCache"},
        r2={"BACKEND": "django_redis.cache.RedisCache"},
    ):
        found = [alias for alias, _ in aliases_of(Kind.REDIS, Kind.DJANGO_REDIS)]
        assert found == ["r1", "r2"]
        assert [alias for alias, _ in aliases_of(Kind.LOCMEM)] == ["default"]


def test_kind_families() -> None:
    assert {kind for kind in Kind if kind.is_redis} == {Kind.REDIS, Kind.DJANGO_REDIS}
    assert {kind for kind in Kind if kind.is_on_disk} == {Kind.DISKCACHE, Kind.FILEBASED}
    assert {kind for kind in Kind if kind.is_process_local} == {Kind.LOCMEM}
