"""The benchmark module still imports and runs: one tiny workload on DiskCache only."""

from __future__ import annotations

import pytest

from benchmarks import backends
from diskcache_admin.backend import DiskCache


@pytest.mark.parametrize("workload", ["get hit, 100 B", "set_many(10)"])
def test_a_tiny_workload_on_diskcache_gives_positive_timings(
    tmp_cache_dir: str, workload: str
) -> None:
    cache = DiskCache(tmp_cache_dir, {"OPTIONS": {"MAX_ENTRIES": None}})

    timing = backends.time_workload(cache, backends.WORKLOADS_BY_NAME[workload], number=5, repeat=3)

    assert len(timing.samples) == 3
    assert all(sample > 0 for sample in timing.samples)
    assert timing.median > 0


def test_the_report_helpers_format_times_and_ratios() -> None:
    assert backends.micro(12.34e-6) == "12.3"
    assert backends.ratio(1.0, 4.0) == "0.25x"
    assert backends.ratio(None, 4.0) == "n/a"
