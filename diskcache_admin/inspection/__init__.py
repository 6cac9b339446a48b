"""One adapter per configured cache alias: what the admin, the CLI and the panel build on.

The adapter is chosen by the backend's :class:`~.kinds.Kind` (:func:`~.kinds.kind_of`, which
judges the class by its MRO, never the ``BACKEND`` string), so subclasses of a known backend are
inspected like it. An alias whose backend cannot even be built still gets an adapter: it has no
capabilities, says why in :attr:`Adapter.error`, and every operation raises
:class:`InspectionError` with that reason.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.dummy import DummyCache

from .base import (
    CAPABILITY_VERBS,
    Activity,
    Adapter,
    Capability,
    FamilyActivity,
    Histogram,
    InsightUnavailable,
    InspectionError,
    KeyActivity,
    KeyInfo,
    KeyPage,
    KeyQuery,
    MatchMode,
    Order,
    Problem,
    ReadEffect,
    Removal,
    Snapshot,
    Stats,
    Unsupported,
    UnsupportedQuery,
    ValuePreview,
)
from .database import DatabaseAdapter
from .diskcache import DiskCacheAdapter
from .filebased import FileBasedAdapter
from .kinds import Kind, kind_of, kind_of_config
from .locmem import LocMemAdapter
from .memcached import PyMemcacheAdapter
from .redis import DjangoRedisAdapter, RedisAdapter

__all__ = [
    "ADAPTERS",
    "CAPABILITY_VERBS",
    "Activity",
    "Adapter",
    "BrokenAdapter",
    "Capability",
    "DatabaseAdapter",
    "DiskCacheAdapter",
    "DjangoRedisAdapter",
    "DummyAdapter",
    "FamilyActivity",
    "FileBasedAdapter",
    "Histogram",
    "InsightUnavailable",
    "InspectionError",
    "KeyActivity",
    "KeyInfo",
    "KeyPage",
    "KeyQuery",
    "Kind",
    "LocMemAdapter",
    "MatchMode",
    "Order",
    "Problem",
    "PyMemcacheAdapter",
    "ReadEffect",
    "RedisAdapter",
    "Removal",
    "Snapshot",
    "Stats",
    "UnknownAdapter",
    "Unsupported",
    "UnsupportedQuery",
    "ValuePreview",
    "adapter_class_for",
    "all_adapters",
    "get_adapter",
    "hit_ratio_series",
    "maybe_take_snapshot",
]


class DummyAdapter(Adapter):
    """DummyCache stores nothing, so there is nothing to inspect."""


class UnknownAdapter(Adapter):
    """A backend this app does not know (or cannot speak to): shown, never inspected."""


class BrokenAdapter(Adapter):
    """An alias whose backend could not be built: every operation says why."""

    def __init__(self, alias: str, config: dict[str, Any], error: str) -> None:
        # No backend instance exists; DummyCache stands in so the base attributes stay typed.
        super().__init__(alias, DummyCache("", {}), config)
        # The kind the alias is configured as (OTHER for a missing alias or an unimportable
        # BACKEND), not DummyCache's.
        self.kind = kind_of_config(config).value
        self.error = error
        self._backend = str(config.get("BACKEND", "?")).rpartition(".")[2] or "?"

    @property
    def backend_name(self) -> str:
        return self._backend


def _unavailable(name: str) -> Any:
    def operation(self: BrokenAdapter, *args: Any, **kwargs: Any) -> Any:
        raise InspectionError(self.error or f"Cache {self.alias!r} is unavailable.")

    operation.__name__ = name
    return operation


# Every operation of the contract (not the descriptive helpers) raises with the reason.
for _name, _value in list(vars(Adapter).items()):
    if (
        callable(_value)
        and not _name.startswith("_")
        and _name
        not in {
            "can",
            "serves",
            "require_capability",
            "unsupported",
            "location",
            "check_query",
            "insight_unavailable",
        }
    ):
        setattr(BrokenAdapter, _name, _unavailable(_name))


# The adapter class of each backend kind. Every Kind has one, so a kind added to kinds.py
# without an adapter fails the registry tests rather than falling through silently.
ADAPTERS: dict[Kind, type[Adapter]] = {
    Kind.DISKCACHE: DiskCacheAdapter,
    Kind.LOCMEM: LocMemAdapter,
    Kind.FILEBASED: FileBasedAdapter,
    Kind.DATABASE: DatabaseAdapter,
    Kind.REDIS: RedisAdapter,
    Kind.DJANGO_REDIS: DjangoRedisAdapter,
    Kind.MEMCACHED: PyMemcacheAdapter,
    Kind.DUMMY: DummyAdapter,
    Kind.OTHER: UnknownAdapter,
}


def adapter_class_for(cache: BaseCache) -> type[Adapter]:
    """The adapter class for a backend instance: by its kind, if the adapter can serve it."""
    adapter_class = ADAPTERS[kind_of(cache)]
    return adapter_class if adapter_class.serves(cache) else UnknownAdapter


def get_adapter(alias: str) -> Adapter:
    """The adapter for ``alias``; never raises for a backend that fails to build."""
    config: dict[str, Any] = dict(settings.CACHES.get(alias, {}))
    if alias not in settings.CACHES:
        return BrokenAdapter(alias, config, f"There is no cache alias {alias!r} in CACHES.")
    try:
        cache = caches[alias]
    # A backend's constructor (third-party ones included) may raise anything at all; the faces
    # must still list the alias and say what went wrong rather than fail as a whole.
    except Exception as exc:
        backend = str(config.get("BACKEND", "?"))
        return BrokenAdapter(
            alias,
            config,
            f"Cache {alias!r} ({backend}) could not be set up: {type(exc).__name__}: {exc}",
        )
    return adapter_class_for(cache)(alias, cache, config)


def all_adapters() -> list[Adapter]:
    """An adapter for every alias in ``settings.CACHES``, in order."""
    return [get_adapter(alias) for alias in settings.CACHES]


def maybe_take_snapshot(
    adapter: Adapter, min_interval: float = 300, now: float | None = None
) -> Snapshot | None:
    """Take a snapshot only if the newest one is older than ``min_interval`` seconds.

    Cheap enough to call from a request: one indexed read, and a write only when due. Returns
    the new snapshot, or None when none was due, the adapter keeps none, or the store is busy.
    """
    if not adapter.can(Capability.SNAPSHOTS):
        return None
    now = time.time() if now is None else now
    try:
        latest = adapter.latest_snapshot()
        if latest is not None and now - latest.taken < min_interval:
            return None
        return adapter.take_snapshot()
    except InspectionError:
        return None  # a locked or unreadable store: the next request tries again


def hit_ratio_series(snapshots: list[Snapshot]) -> list[tuple[float, float | None]]:
    """``(time, hit ratio)`` between consecutive snapshots; None where nothing was read.

    A counter that went down (statistics were reset) starts a new series at that point.
    """
    series: list[tuple[float, float | None]] = []
    for before, after in itertools.pairwise(snapshots):
        hits, misses = after.hits - before.hits, after.misses - before.misses
        if hits < 0 or misses < 0:
            hits, misses = after.hits, after.misses
        total = hits + misses
        series.append((after.taken, hits / total if total else None))
    return series
