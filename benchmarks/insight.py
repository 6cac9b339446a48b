"""What cache insight costs: reads with it on and off, its share of a batch, its memory.

Run from the repository root::

    .venv/bin/python -m benchmarks.insight [--quick] [--out PATH]

Three measurements, on ``diskcache_admin.backend.DiskCache`` (statistics on, as by default):

* **get-hit and get-miss** with ``INSIGHT`` at its default rate (one read in 16) and with
  ``INSIGHT: False``, side by side: two aliases on two directories, timed in interleaved
  batches of the same reads (seeded), median and minimum per read. Batches of statistics (every
  10,000 reads) are included in both, so the insight side pays for its share of them.
* **The batch** a flush writes after 10,000 reads: statistics alone vs statistics and insight
  samples, for reads spread over 10,000 distinct keys (each sample a new row) and for a Zipf
  pattern (few distinct keys).
* **Memory** of the in-process counters while 1,000,000 distinct keys are read once each
  (misses): the largest the pending samples grew between two batches, and the worst case where
  no batch can be written (a read-only store), when new keys stop at ``MAX_PENDING``.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from typing import Any

DEFAULT_OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "insight.md")
KEYS = 10_000


def setup_django(root: str) -> None:
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(
            SECRET_KEY="insight-benchmark",
            CACHES={
                "on": {
                    "BACKEND": "diskcache_admin.backend.DiskCache",
                    "LOCATION": os.path.join(root, "on"),
                    "OPTIONS": {"MAX_ENTRIES": None},
                },
                "off": {
                    "BACKEND": "diskcache_admin.backend.DiskCache",
                    "LOCATION": os.path.join(root, "off"),
                    "OPTIONS": {"MAX_ENTRIES": None, "INSIGHT": False},
                },
                "memory": {
                    "BACKEND": "diskcache_admin.backend.DiskCache",
                    "LOCATION": os.path.join(root, "memory"),
                    "OPTIONS": {"MAX_ENTRIES": None},
                },
            },
            INSTALLED_APPS=[],
        )
        django.setup()


def _per_read(run: Callable[[], None], reads: int) -> float:
    start = time.perf_counter()
    run()
    return (time.perf_counter() - start) / reads


def compare_gets(repeat: int, batch: int) -> dict[str, tuple[float, float, float, float, float]]:
    """``{"hit"|"miss": (on median, off median, on min, off min, median of paired ratios)}``,
    seconds per get. Each round times the same reads on both aliases back to back (the order
    alternating), so the per-round ratio compares runs under the same machine load."""
    from django.core.cache import caches

    on, off = caches["on"], caches["off"]
    keys = [f"page:{index}" for index in range(KEYS)]
    for cache in (on, off):
        cache.set_many({key: {"id": key, "body": "x" * 200} for key in keys}, None)
    rng = random.Random(20261128)
    hits = [rng.choice(keys) for _ in range(batch)]
    misses = [f"absent:{rng.randrange(10**9)}" for _ in range(batch)]
    results = {}
    for name, reads in (("hit", hits), ("miss", misses)):
        timings: dict[str, list[float]] = {"on": [], "off": []}
        ratios = []
        for cache in (on, off):  # warm-up: connections, statement caches
            for key in reads[:1000]:
                cache.get(key)
        for round_ in range(repeat):
            order = (("on", on), ("off", off)) if round_ % 2 == 0 else (("off", off), ("on", on))
            this_round = {}
            for label, cache in order:

                def run(cache: Any = cache, reads: list[str] = reads) -> None:
                    get = cache.get
                    for key in reads:
                        get(key)

                this_round[label] = _per_read(run, len(reads))
                timings[label].append(this_round[label])
            ratios.append(this_round["on"] / this_round["off"])
        results[name] = (
            statistics.median(timings["on"]),
            statistics.median(timings["off"]),
            min(timings["on"]),
            min(timings["off"]),
            statistics.median(ratios),
        )
    return results


def batch_cost(repeat: int) -> dict[str, tuple[float, float]]:
    """Seconds to write the batch of 10,000 reads: ``{pattern: (statistics only, with
    insight)}`` (medians)."""
    from django.core.cache import caches

    from diskcache_admin.engine import statistics as engine_statistics

    engine_statistics.FLUSH_EVERY_OPS = 10**9  # the batch is written when this code says
    engine_statistics.FLUSH_EVERY_SECONDS = float("inf")
    on, off = caches["on"], caches["off"]
    rng = random.Random(7)
    keys = [f"page:{index}" for index in range(KEYS)]
    weights = [1 / (rank + 1) for rank in range(KEYS)]
    patterns = {
        "10,000 distinct keys": lambda: rng.sample(keys, 10_000),
        "Zipf over 10,000 keys": lambda: rng.choices(keys, weights=weights, k=10_000),
    }
    results = {}
    for name, make in patterns.items():
        timings: dict[str, list[float]] = {"on": [], "off": []}
        for _ in range(repeat):
            reads = make()
            for label, cache in (("on", on), ("off", off)):
                for key in reads:
                    cache.get(key)
                start = time.perf_counter()
                cache.store.flush()
                timings[label].append(time.perf_counter() - start)
        results[name] = (statistics.median(timings["off"]), statistics.median(timings["on"]))
    engine_statistics.FLUSH_EVERY_OPS = 10_000
    engine_statistics.FLUSH_EVERY_SECONDS = 5.0
    return results


def pending_bytes(pending: Any) -> int:
    """Bytes held by the pending samples: the dict, its rows, their keys and strings (the
    strings count in full, though a key's parts may be shared with the caller's objects)."""
    size = sys.getsizeof(pending.keys)
    for key, row in pending.keys.items():
        size += sys.getsizeof(key) + sys.getsizeof(row)
        size += sum(sys.getsizeof(item) for item in row)
    return size


def memory(distinct: int) -> dict[str, int]:
    """The pending samples' largest size while ``distinct`` keys are read once each, with
    batches written as usual and with no batch written at all; the tables' rows after."""
    from django.core.cache import caches

    from diskcache_admin.engine import insight
    from diskcache_admin.engine import statistics as engine_statistics

    cache = caches["memory"]
    cache.set("k", 1)
    shared = engine_statistics.shared_for(cache.location, 5.0)
    largest = 0
    for index in range(distinct):
        if index % 500 == 0:
            largest = max(largest, pending_bytes(shared.insight))
        cache.get(f"user:{index}:profile")
    cache.store.flush()
    keys, families = insight.row_counts(cache.store.db.connection())

    # No batch can be written: the samples wait in memory, new keys stop at MAX_PENDING.
    engine_statistics.FLUSH_EVERY_OPS = 10**12
    engine_statistics.FLUSH_EVERY_SECONDS = float("inf")
    for index in range(distinct):
        cache.get(f"other:{index}")
    stuck = pending_bytes(shared.insight)
    stuck_keys = len(shared.insight.keys)
    shared.insight.clear()
    engine_statistics.FLUSH_EVERY_OPS = 10_000
    engine_statistics.FLUSH_EVERY_SECONDS = 5.0
    return {
        "largest": largest,
        "rows": keys,
        "family_rows": families,
        "stuck": stuck,
        "stuck_keys": stuck_keys,
    }


def us(seconds: float) -> str:
    return f"{seconds * 1e6:,.1f}"


def report(
    gets: dict[str, tuple[float, float, float, float, float]],
    batches: dict[str, tuple[float, float]],
    mem: dict[str, int],
    distinct: int,
    quick: bool,
) -> str:
    import django

    from diskcache_admin.engine.insight import DEFAULT_SAMPLE_RATE, DEFAULT_TOP, MAX_PENDING

    lines = [
        "# Cache insight: cost on reads, batches and memory",
        "",
        f"- Date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
        f"- Machine: {os.cpu_count()} CPUs (nproc), {platform.machine()}, Python"
        f" {platform.python_version()}, Django {django.get_version()}, SQLite"
        f" {sqlite3.sqlite_version}",
        f"- INSIGHT defaults: SAMPLE_RATE {DEFAULT_SAMPLE_RATE}, TOP {DEFAULT_TOP:,};"
        f" MAX_PENDING {MAX_PENDING:,}",
        "- Load average when the report was written (1, 5, 15 min): "
        + ", ".join(f"{load:.1f}" for load in os.getloadavg()),
    ]
    if quick:
        lines.append("- Mode: --quick (few repetitions: a smoke run, not figures to quote)")
    lines += [
        "",
        "## get, insight on (default rate) vs off",
        "",
        "µs per `cache.get` on DiskCache (statistics on, batches included), interleaved runs.",
        "",
        "| read | on (median) | off (median) | on (min) | off (min) | on / off (min)"
        " | on / off (median of paired rounds) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, (on_med, off_med, on_min, off_min, paired) in gets.items():
        lines.append(
            f"| get-{name} | {us(on_med)} | {us(off_med)} | {us(on_min)} | {us(off_min)}"
            f" | {on_min / off_min:.3f} | {paired:.3f} |"
        )
    lines += [
        "",
        "## The batch written after 10,000 reads",
        "",
        "ms to write one batch (`store.flush()`), median.",
        "",
        "| reads | statistics only | with insight | insight's share | per read |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, (plain, with_insight) in batches.items():
        extra = with_insight - plain
        lines.append(
            f"| {name} | {plain * 1e3:,.2f} | {with_insight * 1e3:,.2f} | {extra * 1e3:,.2f}"
            f" | {us(extra / 10_000)} µs |"
        )
    lines += [
        "",
        f"## Memory at {distinct:,} distinct keys read",
        "",
        "| | bytes | rows |",
        "|---|---:|---:|",
        f"| pending samples, largest between two batches | {mem['largest']:,} | |",
        f"| table rows kept afterwards (keys, families) | |"
        f" {mem['rows']:,}, {mem['family_rows']:,} |",
        f"| pending samples when no batch can be written | {mem['stuck']:,}"
        f" | {mem['stuck_keys']:,} keys |",
        "",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a smoke run (well under a minute)")
    parser.add_argument("--out", default=DEFAULT_OUT, help=f"Markdown output ({DEFAULT_OUT})")
    args = parser.parse_args(argv)
    root = tempfile.mkdtemp(prefix="insight-benchmark-")
    try:
        setup_django(root)
        repeat, batch = (3, 5_000) if args.quick else (31, 20_000)
        distinct = 50_000 if args.quick else 1_000_000
        gets = compare_gets(repeat, batch)
        batches = batch_cost(3 if args.quick else 11)
        mem = memory(distinct)
        text = report(gets, batches, mem, distinct, args.quick)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if args.out != "-":
        os.makedirs(os.path.dirname(args.out), exist_ok=True)
        with open(args.out, "w", encoding="utf-8") as handle:
            handle.write(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
