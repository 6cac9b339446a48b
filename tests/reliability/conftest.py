"""Fixtures for the reliability tests: DiskCache aliases on fresh directories, forgotten after."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import caches
from django.test import override_settings

from diskcache_admin.backend import DiskCache
from diskcache_admin.engine import statistics


def forget_store(directory: str) -> None:
    """Drop the process-wide state of ``directory``, as a new process would start."""
    statistics.forget(directory)


@pytest.fixture
def location(tmp_path: Path) -> Iterator[str]:
    directory = str(tmp_path / "cache")
    yield directory
    forget_store(directory)


@pytest.fixture
def settings_for(location: str) -> Callable[..., AbstractContextManager[Any]]:
    """``settings_for(**OPTIONS)``: the ``default`` alias as a DiskCache on ``location``."""

    def make(**options: Any) -> AbstractContextManager[Any]:
        return override_settings(
            CACHES={
                "default": {
                    "BACKEND": "diskcache_admin.backend.DiskCache",
                    "LOCATION": location,
                    "OPTIONS": {"MAX_ENTRIES": None, **options},
                },
                "locmem": {
                    "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                    "LOCATION": "reliability",
                },
            }
        )

    return make


@pytest.fixture
def cache(settings_for: Callable[..., AbstractContextManager[Any]]) -> Iterator[DiskCache]:
    """A DiskCache whose values of 1 KiB and more go to value files."""
    with settings_for(FILE_THRESHOLD=1024):
        backend = caches["default"]
        assert isinstance(backend, DiskCache)
        yield backend


def reopen(location: str) -> DiskCache:
    """A new DiskCache on ``location`` with nothing cached in this process, as after a restart."""
    forget_store(location)
    backend = caches.create_connection("default")
    assert isinstance(backend, DiskCache)
    return backend
