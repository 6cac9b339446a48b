"""Fixtures for the engine and backend tests: stores and DiskCache aliases in fresh directories."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.cache import caches
from django.test import override_settings

from diskcache_admin.backend import DiskCache
from diskcache_admin.engine import Codec, Store, statistics

SIGNING_KEY = b"engine-tests-signing-key"


class FakeClock:
    """A clock the tests move by hand, so expiry is tested without sleeping."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def forget_store(directory: str) -> None:
    """Drop the process-wide state of ``directory`` so every test starts from nothing."""
    statistics.forget(directory)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_store(tmp_path: Any, clock: FakeClock) -> Iterator[Callable[..., Store]]:
    """``make_store(**options)``: a Store in this test's directory, on the fake clock."""
    directory = str(tmp_path / "store")

    def make(**options: Any) -> Store:
        codec = options.pop("codec", None) or Codec([SIGNING_KEY])
        options.setdefault("clock", clock)
        return Store(directory, codec, **options)

    yield make
    forget_store(directory)


@pytest.fixture
def store(make_store: Callable[..., Store]) -> Store:
    return make_store(max_entries=None, size_limit=None)


@pytest.fixture
def location(tmp_path: Any) -> Iterator[str]:
    directory = str(tmp_path / "cache")
    yield directory
    forget_store(directory)


@pytest.fixture
def aliases(location: str) -> Callable[..., Any]:
    """``aliases(default={...}, other={...})``: override CACHES with DiskCache aliases on one
    LOCATION (each dict adds to or replaces the alias's settings); use as a context manager."""

    def make(**configs: dict[str, Any]) -> Any:
        caches_setting = {
            alias: {"BACKEND": "diskcache_admin.backend.DiskCache", "LOCATION": location, **config}
            for alias, config in (configs or {"default": {}}).items()
        }
        return override_settings(CACHES=caches_setting)

    return make


@pytest.fixture
def cache(aliases: Callable[..., Any]) -> Iterator[DiskCache]:
    """The ``default`` alias as a DiskCache on this test's own LOCATION."""
    with aliases(default={}):
        backend = caches["default"]
        assert isinstance(backend, DiskCache)
        yield backend


@pytest.fixture
def no_timed_flush(monkeypatch: pytest.MonkeyPatch) -> None:
    """Statistics are written only by a full batch or a write, never because time passed."""
    monkeypatch.setattr(statistics, "FLUSH_EVERY_SECONDS", float("inf"))
