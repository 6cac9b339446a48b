"""benchmarks.stress (workers mode) and benchmarks.async_reads still run; no timing is checked."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from django.test import override_settings

from benchmarks import async_reads, stress


def test_zipf_keys_favour_the_first_ranks_and_stay_in_the_key_space() -> None:
    import random

    keys = stress.zipf_keys(random.Random(1), 100, 5000)

    assert set(keys) <= {f"w:{i}" for i in range(100)}
    counts = sorted((keys.count(key) for key in set(keys)), reverse=True)
    assert counts[0] > 10 * counts[-1]  # skewed: the hottest key far above the coldest


def test_one_short_round_of_workers_on_both_backends_reports_every_figure(tmp_path: Path) -> None:
    with override_settings(CACHES=stress.workers_caches(str(tmp_path))):
        runs = {}
        for alias in (stress.OURS, stress.THEIRS):
            stress.prefill(alias, 50, [100], seed=1)
            runs[alias] = stress.run_workers(
                str(tmp_path), alias, 0.2, 2, 50, [100], seconds=0.2, seed=1
            )

    for run in runs.values():
        assert run.ops_per_second > 0
        assert 0 < run.p50 <= run.p99
        assert (run.errors, run.misses) == (0, 0)  # every key was stored first
    args = argparse.Namespace(seconds=0.2, keys=50, value_sizes=[100], rounds=1)
    table = stress.workers_table(
        args,
        ["80/20 get/set"],
        [2],
        {("80/20 get/set", 2, a): [r] for a, r in runs.items()},
        (0.0, 0.0, 0.0),
        (0.0, 0.0, 0.0),
    )
    assert "| 80/20 get/set | 2 |" in table


def test_the_async_benchmark_times_a_pair_in_a_running_loop() -> None:
    calls = []

    async def coroutine() -> None:
        calls.append("async")

    sync_time, async_time = asyncio.run(
        async_reads.timed_pair(lambda: calls.append("sync"), coroutine, number=3, repeat=2)
    )

    assert sync_time > 0
    assert async_time > 0
    assert calls.count("sync") == calls.count("async") == 9  # warm-up round + 2, 3 calls each
