"""Fixtures of the inspection tests: one configured alias per backend kind."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import override_settings

from diskcache_admin.inspection import Adapter, get_adapter


def configure(**aliases: dict[str, Any]) -> Any:
    """override_settings with a fresh CACHES holding ``aliases`` (plus Django's 'default')."""
    caches = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    caches.update(aliases)
    return override_settings(CACHES=caches)


@pytest.fixture
def disk(tmp_cache_dir: str) -> Iterator[Adapter]:
    location = os.path.join(tmp_cache_dir, "disk")
    with configure(
        disk={
            "BACKEND": "diskcache_admin.backend.DiskCache",
            "LOCATION": location,
            "OPTIONS": {"MAX_ENTRIES": None},
        }
    ):
        yield get_adapter("disk")


@pytest.fixture
def locmem(worker_id_suffix: str) -> Iterator[Adapter]:
    with configure(
        lm={
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"inspection-{worker_id_suffix}-{os.urandom(4).hex()}",
        }
    ):
        yield get_adapter("lm")


@pytest.fixture
def filebased(tmp_cache_dir: str) -> Iterator[Adapter]:
    with configure(
        fb={
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": os.path.join(tmp_cache_dir, "files"),
        }
    ):
        yield get_adapter("fb")
