"""Whole-store figures of a large DiskCache: estimated from a sample, and labelled as such.

A store is "large" above ``browse.EXACT_LIMIT`` entries; the tests lower the limit so that a
small store takes the sampled path. Every assertion on an estimate is one that holds exactly
(a question every entry answers the same way), so no test depends on the random draw.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from django.core.cache import caches

from diskcache_admin.engine import browse, statistics
from diskcache_admin.inspection import Adapter, get_adapter
from diskcache_admin.inspection import diskcache as disk_adapter

from .conftest import configure


@pytest.fixture(autouse=True)
def fresh_samples() -> Iterator[None]:
    disk_adapter._samples.clear()
    yield
    disk_adapter._samples.clear()


@pytest.fixture
def recorded(tmp_cache_dir: str) -> Iterator[Adapter]:
    """A DiskCache alias that records every read, holding 40 'user' entries read once."""
    location = os.path.join(tmp_cache_dir, "estimates")
    with configure(
        disk={
            "BACKEND": "diskcache_admin.backend.DiskCache",
            "LOCATION": location,
            "OPTIONS": {"MAX_ENTRIES": None, "INSIGHT": {"SAMPLE_RATE": 1}},
        }
    ):
        cache = caches["disk"]
        cache.set_many({f"user:{n}": "v" * n for n in range(40)}, 30)
        for n in range(40):
            cache.get(f"user:{n}")
        cache.store.flush()
        yield get_adapter("disk")
    statistics.forget(location)


def fill(adapter: Adapter) -> None:
    caches[adapter.alias].set_many({f"user:{n}": "v" for n in range(40)}, None)


def test_below_the_limit_figures_are_counted_and_not_labelled(disk: Adapter) -> None:
    fill(disk)

    stats = disk.stats()
    charts = disk.histograms()

    assert (stats.estimated, stats.sampled) == ((), None)
    assert all(chart.sampled is None for chart in charts)
    assert dict(charts[2].buckets) == {"user": 40}


def test_above_the_limit_figures_are_estimates_from_a_sample(
    disk: Adapter, monkeypatch: pytest.MonkeyPatch
) -> None:
    caches[disk.alias].set_many({f"user:{n}": "v" for n in range(40)}, 0)  # expired at once
    monkeypatch.setattr(browse, "EXACT_LIMIT", 10)
    monkeypatch.setattr(browse, "EXPIRED_COUNT_LIMIT", 5)

    stats = disk.stats()
    sizes, expiry, families = disk.histograms()

    assert stats.entries == 40  # the counters row: exact at any size
    assert stats.estimated == ("expired",)
    assert stats.sampled == browse.SAMPLE_SIZE
    assert stats.expired == 40  # every entry has expired: the estimate is the total
    assert {sizes.sampled, expiry.sampled, families.sampled} == {browse.SAMPLE_SIZE}
    assert families.buckets == [("user", 40)]  # one family: the estimate is the total
    assert dict(expiry.buckets) == {
        "expired": 40,
        "within 1 min": 0,
        "within 1 h": 0,
        "within 1 day": 0,
        "later": 0,
        "never": 0,
    }
    assert dict(sizes.buckets)["< 100 B"] == 40


def test_one_sample_serves_the_stats_and_the_charts(
    disk: Adapter, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill(disk)
    caches[disk.alias].set_many({f"gone:{n}": "v" for n in range(20)}, 0)  # expired at once
    monkeypatch.setattr(browse, "EXACT_LIMIT", 10)  # 60 entries, 20 of them expired
    monkeypatch.setattr(browse, "EXPIRED_COUNT_LIMIT", 5)
    draws: list[int] = []
    real_draw = browse.draw

    def counted_draw(*args: object, **kwargs: object) -> browse.Sample:
        draws.append(1)
        return real_draw(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(browse, "draw", counted_draw)

    disk.stats()
    disk.histograms()
    get_adapter(disk.alias).stats()  # another adapter of the same store, as a new request
    assert len(draws) == 1
    caches[disk.alias].delete_many([f"user:{n}" for n in range(20)])  # a third of the store
    disk.stats()
    assert len(draws) == 2


def test_few_expired_entries_are_counted_in_a_large_store(
    disk: Adapter, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill(disk)
    caches[disk.alias].set_many({f"gone:{n}": "v" for n in range(3)}, 0)
    monkeypatch.setattr(browse, "EXACT_LIMIT", 10)
    monkeypatch.setattr(browse, "EXPIRED_COUNT_LIMIT", 5)

    stats = disk.stats()

    assert (stats.expired, stats.estimated, stats.sampled) == (3, (), None)


def test_family_entries_and_sizes_are_estimated_above_the_limit(
    recorded: Adapter, monkeypatch: pytest.MonkeyPatch
) -> None:
    counted = recorded.families().rows[0]
    monkeypatch.setattr(browse, "EXACT_LIMIT", 10)
    monkeypatch.setattr(browse, "EXPIRED_COUNT_LIMIT", 5)

    activity = recorded.families()
    (estimated,) = activity.rows

    assert counted.entries == 40
    assert activity.entries_sampled == browse.SAMPLE_SIZE
    assert (estimated.family, estimated.entries, estimated.size) == (
        "user",
        counted.entries,
        counted.size,
    )
    hidden = recorded.families(exclude_prefixes=("user:",)).rows[0]
    assert hidden.entries == 0
    assert hidden.size == 0


def test_family_entries_are_counted_below_the_limit(recorded: Adapter) -> None:
    assert recorded.families().entries_sampled is None
