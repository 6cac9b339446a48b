"""The same workload, side by side, on DiskCache and the cache backends people compare it with.

Run from the repository root::

    .venv/bin/python -m benchmarks.backends            # full run, a few minutes
    .venv/bin/python -m benchmarks.backends --quick    # smoke run, well under a minute

Backends: our ``DiskCache``, the ``diskcache`` package's ``DjangoCache`` (a benchmark-only
dependency), Django's ``FileBasedCache``, ``DatabaseCache`` on SQLite, ``LocMemCache`` and
``RedisCache`` (127.0.0.1:6379, database 8, emptied with FLUSHDB before and after; skipped when
no server answers). Django is configured standalone here; nothing reads the project's settings.

Every single-process figure is a median over many timed batches (after a warm-up) of the mean
time of one operation in the batch, so a stray pause of the machine moves few batches and not
the median. Values are small dicts (about 100 B or 10 KiB once pickled), which is what views
usually cache; every backend has to pickle them.
"""

from __future__ import annotations

import argparse
import datetime
import multiprocessing
import os
import platform
import random
import shutil
import sqlite3
import statistics
import string
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

REDIS_URL = "redis://127.0.0.1:6379/8"
DEFAULT_OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "backends.md")

OURS = "DiskCache"
OURS_NO_STATS = "DiskCache (statistics off)"
OURS_STATS = "DiskCache (statistics on)"  # a twin of OURS_NO_STATS, for a like-for-like pair
THEIRS = "diskcache"
FILEBASED = "FileBasedCache"
DATABASE = "DatabaseCache (SQLite)"
LOCMEM = "LocMemCache"
REDIS = "RedisCache"

# Column order of the tables; the two statistics twins only appear in their own comparison.
COLUMNS = (OURS, THEIRS, FILEBASED, DATABASE, LOCMEM, REDIS)
MULTIPROCESS_BACKENDS = (OURS, THEIRS, FILEBASED, DATABASE, REDIS)

# No backend culls during the per-operation benchmarks: culling is measured on its own.
NO_CULL = 10_000_000


def cache_settings(root: str, with_redis: bool) -> dict[str, dict[str, Any]]:
    """CACHES for a benchmark run whose files live under ``root``."""
    caches: dict[str, dict[str, Any]] = {
        OURS: {
            "BACKEND": "diskcache_admin.backend.DiskCache",
            "LOCATION": os.path.join(root, "diskcache_admin"),
            "OPTIONS": {"MAX_ENTRIES": NO_CULL},
        },
        OURS_STATS: {
            "BACKEND": "diskcache_admin.backend.DiskCache",
            "LOCATION": os.path.join(root, "diskcache_admin_stats_on"),
            "OPTIONS": {"MAX_ENTRIES": NO_CULL, "STATISTICS": True},
        },
        OURS_NO_STATS: {
            "BACKEND": "diskcache_admin.backend.DiskCache",
            "LOCATION": os.path.join(root, "diskcache_admin_stats_off"),
            "OPTIONS": {"MAX_ENTRIES": NO_CULL, "STATISTICS": False},
        },
        # diskcache's own defaults (8 shards, statistics off, 1 GiB size limit).
        THEIRS: {"BACKEND": "diskcache.DjangoCache", "LOCATION": os.path.join(root, "diskcache")},
        FILEBASED: {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": os.path.join(root, "filebased"),
            "OPTIONS": {"MAX_ENTRIES": NO_CULL},
        },
        DATABASE: {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "benchmark_cache_table",
            "OPTIONS": {"MAX_ENTRIES": NO_CULL},
        },
        LOCMEM: {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "benchmark",
            "OPTIONS": {"MAX_ENTRIES": NO_CULL},
        },
    }
    if with_redis:
        caches[REDIS] = {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
        }
    return caches


def configure_django(root: str, with_redis: bool) -> None:
    """Configure a minimal Django whose only database is a SQLite file under ``root``."""
    import django
    from django.conf import settings

    if settings.configured:
        return
    settings.configure(
        SECRET_KEY="diskcache-admin-benchmark-not-secret",
        USE_TZ=True,
        INSTALLED_APPS=[],
        DATABASES={
            "default": {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": os.path.join(root, "django.sqlite3"),
            }
        },
        CACHES=cache_settings(root, with_redis),
    )
    django.setup()


def redis_available() -> bool:
    try:
        import redis
    except ImportError:
        return False
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_timeout=1).ping())
    except redis.RedisError:
        return False


def flush_redis() -> None:
    import redis

    # Only database 8 belongs to this benchmark; everything else on the server is left alone.
    redis.Redis.from_url(REDIS_URL).flushdb()


# -- values and workloads -------------------------------------------------------------------


def value_of(size: int, seed: int) -> dict[str, Any]:
    """A dict whose pickle is about ``size`` bytes."""
    rng = random.Random(seed)
    text = "".join(rng.choices(string.ascii_letters, k=max(size - 40, 1)))
    return {"id": seed, "title": "entry", "payload": text}


SMALL, LARGE = 100, 10 * 1024
POOL = 200  # distinct keys each read or overwrite workload cycles through


@dataclass
class Workload:
    """One operation; ``prepare`` (untimed) returns what ``run`` (timed) iterates over."""

    name: str
    prepare: Callable[[Any, int, int], Sequence[Any]]
    run: Callable[[Any, Sequence[Any]], None]
    ops_per_item: int = 1
    prefill: Callable[[Any], None] | None = None
    # Caps the calibrated batch where ``prepare`` is slow (FileBasedCache writes a file per key).
    max_number: int = 100_000


def _cycle(keys: Sequence[Any], number: int) -> list[Any]:
    return [keys[i % len(keys)] for i in range(number)]


def _prefill(prefix: str, size: int) -> Callable[[Any], None]:
    def fill(cache: Any) -> None:
        for i in range(POOL):
            cache.set(f"{prefix}:{i}", value_of(size, i))

    return fill


def _read_keys(prefix: str) -> Callable[[Any, int, int], Sequence[Any]]:
    keys = [f"{prefix}:{i}" for i in range(POOL)]
    return lambda cache, batch, number: _cycle(keys, number)


def _run_get(cache: Any, keys: Sequence[Any]) -> None:
    get = cache.get
    for key in keys:
        get(key)


def _set_items(size: int) -> Callable[[Any, int, int], Sequence[Any]]:
    items = [(f"set{size}:{i}", value_of(size, i)) for i in range(POOL)]
    return lambda cache, batch, number: _cycle(items, number)


def _run_set(cache: Any, items: Sequence[Any]) -> None:
    set_ = cache.set
    for key, value in items:
        set_(key, value)


def _fresh_items(prefix: str) -> Callable[[Any, int, int], Sequence[Any]]:
    value = value_of(SMALL, 0)
    return lambda cache, batch, number: [(f"{prefix}:{batch}:{i}", value) for i in range(number)]


def _run_add(cache: Any, items: Sequence[Any]) -> None:
    add = cache.add
    for key, value in items:
        add(key, value)


def _prepare_incr(cache: Any, batch: int, number: int) -> Sequence[Any]:
    if batch == 0:
        cache.set("counter", 0)
    return ["counter"] * number


def _run_incr(cache: Any, keys: Sequence[Any]) -> None:
    incr = cache.incr
    for key in keys:
        incr(key)


def _prepare_delete(cache: Any, batch: int, number: int) -> Sequence[Any]:
    value = value_of(SMALL, 0)
    keys = [f"del:{batch}:{i}" for i in range(number)]
    for start in range(0, number, 100):
        cache.set_many(dict.fromkeys(keys[start : start + 100], value))
    return keys


def _run_delete(cache: Any, keys: Sequence[Any]) -> None:
    delete = cache.delete
    for key in keys:
        delete(key)


def _groups_of_keys(prefix: str) -> Callable[[Any, int, int], Sequence[Any]]:
    groups = [[f"{prefix}:{i + j}" for j in range(10)] for i in range(0, POOL, 10)]
    return lambda cache, batch, number: _cycle(groups, number)


def _run_get_many(cache: Any, groups: Sequence[Any]) -> None:
    get_many = cache.get_many
    for group in groups:
        get_many(group)


def _groups_of_items(cache: Any, batch: int, number: int) -> Sequence[Any]:
    groups = [
        {f"setmany:{i + j}": value_of(SMALL, i + j) for j in range(10)} for i in range(0, POOL, 10)
    ]
    return _cycle(groups, number)


def _run_set_many(cache: Any, groups: Sequence[Any]) -> None:
    set_many = cache.set_many
    for group in groups:
        set_many(group)


WORKLOADS: tuple[Workload, ...] = (
    Workload("get hit, 100 B", _read_keys("small"), _run_get, prefill=_prefill("small", SMALL)),
    Workload("get hit, 10 KiB", _read_keys("large"), _run_get, prefill=_prefill("large", LARGE)),
    Workload("get miss", _read_keys("absent"), _run_get),
    Workload("set, 100 B", _set_items(SMALL), _run_set),
    Workload("set, 10 KiB", _set_items(LARGE), _run_set),
    Workload("add (new key)", _fresh_items("add"), _run_add),
    Workload("incr", _prepare_incr, _run_incr),
    Workload("delete", _prepare_delete, _run_delete, max_number=400),
    Workload(
        "get_many(10)", _groups_of_keys("small"), _run_get_many, prefill=_prefill("small", SMALL)
    ),
    Workload("set_many(10)", _groups_of_items, _run_set_many),
)
WORKLOADS_BY_NAME = {w.name: w for w in WORKLOADS}
# Run again on DiskCache with STATISTICS on and off, for the statistics comparison.
STATISTICS_WORKLOADS = ("get hit, 100 B", "get hit, 10 KiB")


@dataclass
class Timing:
    """Per-operation seconds of every timed batch."""

    samples: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)


class _Batches:
    """Runs batches of one workload on one cache; each batch gets fresh prepared items."""

    def __init__(self, cache: Any, workload: Workload) -> None:
        self.cache = cache
        self.workload = workload
        self.batch = 0

    def run(self, number: int) -> float:
        items = self.workload.prepare(self.cache, self.batch, number)
        self.batch += 1
        start = time.perf_counter()
        self.workload.run(self.cache, items)
        return time.perf_counter() - start

    def calibrate(self, target: float) -> int:
        """Operations per batch for a batch of about ``target`` seconds (like ``timeit``)."""
        cap = self.workload.max_number
        number = 8
        while True:
            elapsed = self.run(number)
            if elapsed >= target / 4 or number >= cap:
                break
            number *= 4
        return max(1, min(int(number * target / max(elapsed, 1e-9)), cap))


def time_workloads(
    caches: dict[str, Any],
    workload: Workload,
    *,
    number: int | None = None,
    repeat: int = 15,
    target: float = 0.02,
) -> dict[str, Timing]:
    """Per-operation timings of ``workload`` on every cache, batches taken in turn.

    ``number`` operations per batch; when ``None`` it is calibrated per cache so that a batch
    takes about ``target`` seconds. After a warm-up batch each, the caches take turns batch by
    batch, so a busy spell of the machine lands on all of them rather than on one.
    """
    runners = {}
    numbers = {}
    for alias, cache in caches.items():
        if workload.prefill is not None:
            workload.prefill(cache)
        runner = runners[alias] = _Batches(cache, workload)
        numbers[alias] = number if number is not None else runner.calibrate(target)
        runner.run(numbers[alias])  # warm-up
    timings = {alias: Timing() for alias in caches}
    for _ in range(repeat):
        for alias, runner in runners.items():
            per_batch = numbers[alias] * workload.ops_per_item
            timings[alias].samples.append(runner.run(numbers[alias]) / per_batch)
    return timings


def time_workload(
    cache: Any,
    workload: Workload,
    *,
    number: int | None = None,
    repeat: int = 15,
    target: float = 0.02,
) -> Timing:
    """:func:`time_workloads` for one cache."""
    return time_workloads({"cache": cache}, workload, number=number, repeat=repeat, target=target)[
        "cache"
    ]


# -- multi-process --------------------------------------------------------------------------


def _mixed_worker(
    root: str,
    with_redis: bool,
    alias: str,
    seconds: float,
    seed: int,
    barrier: Any,
    results: Any,
) -> None:
    configure_django(root, with_redis)  # a no-op in a forked child
    from django.core.cache import caches

    # A cache object of its own, as a freshly started worker process would have.
    cache = caches.create_connection(alias)
    rng = random.Random(seed)
    keys = [f"mixed:{i}" for i in range(1000)]
    value = value_of(SMALL, seed)
    # 80 % reads, 20 % writes over 1,000 keys: a typical read-mostly cache.
    plan = [(rng.choice(keys), rng.random() < 0.2) for _ in range(4096)]
    cache.get(keys[0])  # open connections before the clock starts
    barrier.wait()
    ops = errors = 0
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        for key, write in plan[(ops % 4096) : (ops % 4096) + 64]:
            try:
                if write:
                    cache.set(key, value)
                else:
                    cache.get(key)
            except Exception:  # any backend error is counted, not fatal
                errors += 1
            ops += 1
    results.put((ops / (time.perf_counter() - start), errors))


def multiprocess_throughput(
    root: str, with_redis: bool, alias: str, processes: int, seconds: float
) -> tuple[float, int]:
    """Total ops/s of ``processes`` processes doing mixed gets and sets on one LOCATION."""
    from django.db import connections

    # Forked workers start in milliseconds where spawned ones re-import Django; the parent's
    # database connection must not be shared with them.
    connections.close_all()
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(processes)
    results = context.Queue()
    workers = [
        context.Process(
            target=_mixed_worker,
            args=(root, with_redis, alias, seconds, seed, barrier, results),
        )
        for seed in range(processes)
    ]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join()
    return sum(o[0] for o in outcomes), sum(o[1] for o in outcomes)


# -- culling --------------------------------------------------------------------------------


@dataclass
class CullTiming:
    entries: int
    sets: int
    amortised: float
    median: float
    worst: float


def time_culling(cache: Any, entries: int, cycles: int = 2) -> CullTiming:
    """Sets of new keys into a cache filled here to ``entries`` entries (its limit)."""
    value = value_of(SMALL, 0)
    for start in range(0, entries, 500):
        cache.set_many({f"fill:{i}": value for i in range(start, min(start + 500, entries))})
    return time_culling_prefilled(cache, entries, cycles)


def diskcache_at_limit(location: str, entries: int) -> Any:
    """diskcache (one shard) filled to ``entries`` with its size limit set to that volume.

    diskcache has no entry limit: it culls by ``size_limit`` (bytes on disk), 10 entries at a
    time on each set once over it. The limit is set to the volume of ``entries`` entries.
    """
    from diskcache import DjangoCache

    cache = DjangoCache(location, {"SHARDS": 1, "OPTIONS": {"size_limit": 2**40}})
    value = value_of(SMALL, 0)
    for i in range(entries):
        cache.set(f"fill:{i}", value)
    cache._cache.reset("size_limit", cache._cache.volume())
    return cache


# -- report ---------------------------------------------------------------------------------


def machine_header() -> list[str]:
    import django

    return [
        f"- Date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
        f"- Machine: {os.cpu_count()} CPUs (nproc), {platform.machine()}, {platform.system()}"
        f" {platform.release()}",
        "- Load average at the start (1, 5, 15 min): "
        + ", ".join(f"{load:.2f}" for load in os.getloadavg())
        + " (other work on the machine makes every figure noisier)",
        f"- Python {platform.python_version()}, Django {django.get_version()},"
        f" SQLite {sqlite3.sqlite_version}, diskcache {_version('diskcache')},"
        f" redis-py {_version('redis')}",
    ]


def _version(distribution: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:
        return "not installed"


def micro(seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    return f"{seconds * 1e6:,.1f}" if seconds < 1e-3 else f"{seconds * 1e6:,.0f}"


def ratio(ours: float | None, theirs: float | None) -> str:
    if not ours or not theirs:
        return "n/a"
    return f"{ours / theirs:.2f}x"


@dataclass(frozen=True)
class Target:
    label: str
    limit: float
    higher_is_better: bool = False


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a smoke run (< 60 s)")
    parser.add_argument(
        "--out", default=DEFAULT_OUT, help=f"Markdown output (default {DEFAULT_OUT})"
    )
    args = parser.parse_args(argv)
    quick: bool = args.quick

    root = tempfile.mkdtemp(prefix="diskcache-admin-bench-")
    with_redis = redis_available()
    try:
        report = run(root, with_redis, quick)
    finally:
        if with_redis:
            flush_redis()
        shutil.rmtree(root, ignore_errors=True)
    print(report)
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w", encoding="utf-8") as handle:
            handle.write(report)
        print(f"\nWritten to {args.out}", file=sys.stderr)
    return 0


def run(root: str, with_redis: bool, quick: bool) -> str:
    configure_django(root, with_redis)
    from django.core.cache import caches
    from django.core.management import call_command

    call_command("createcachetable", verbosity=0)
    if with_redis:
        flush_redis()
    started = time.monotonic()
    repeat, target = (5, 0.005) if quick else (21, 0.03)
    columns = [c for c in COLUMNS if c != REDIS or with_redis]
    lines = ["# DiskCache benchmarks", "", *machine_header()]
    if quick:
        lines.append("- Mode: --quick (few repetitions: a smoke run, not figures to quote)")
    if not with_redis:
        lines.append("- Redis: not reachable on 127.0.0.1:6379, left out")

    # -- one process ---------------------------------------------------------------------
    medians: dict[tuple[str, str], float] = {}
    for workload in WORKLOADS:
        timings = time_workloads(
            {alias: caches[alias] for alias in columns}, workload, repeat=repeat, target=target
        )
        for alias, timing in timings.items():
            medians[workload.name, alias] = timing.median
        _progress(f"{workload.name}: done")

    lines += [
        "",
        "## One process: median time per operation (µs, lower is better)",
        "",
        "Each figure is the median of "
        f"{repeat} timed batches (after a warm-up batch) of the mean time per operation; the"
        " backends take turns batch by batch. Values are dicts of about 100 B or 10 KiB once"
        " pickled, `TIMEOUT` 300 s. `ratio` is DiskCache's time divided by diskcache's.",
        "",
        "| operation | " + " | ".join(columns[:2]) + " | ratio | " + " | ".join(columns[2:]) + " |",
        "|---|" + "---:|" * (len(columns) + 1),
    ]
    for workload in WORKLOADS:
        cells = [micro(medians[workload.name, alias]) for alias in columns]
        ours, theirs = medians[workload.name, OURS], medians[workload.name, THEIRS]
        lines.append(
            f"| {workload.name} | {cells[0]} | {cells[1]} | {ratio(ours, theirs)} | "
            + " | ".join(cells[2:])
            + " |"
        )

    # Two fresh stores that differ only in STATISTICS (the main store's database and WAL have
    # grown through the workloads above, which alone slows its reads). A difference of a few
    # per cent also needs more batches than the table above: short ones, three times as many,
    # the two stores taking turns.
    stats_repeat = 3 * repeat
    statistics_medians: dict[tuple[str, bool], float] = {}
    for name in STATISTICS_WORKLOADS:
        timings = time_workloads(
            {"on": caches[OURS_STATS], "off": caches[OURS_NO_STATS]},
            WORKLOADS_BY_NAME[name],
            repeat=stats_repeat,
            target=target / 3,
        )
        statistics_medians[name, True] = timings["on"].median
        statistics_medians[name, False] = timings["off"].median
    lines += [
        "",
        "## Statistics on vs off (DiskCache get hit, µs)",
        "",
        f"Two fresh stores, one with `STATISTICS` on (the default), one with it off; median of"
        f" {stats_repeat} short batches each, the two taking turns.",
        "",
        "| operation | statistics on (default) | statistics off | on / off |",
        "|---|---:|---:|---:|",
    ]
    for name in STATISTICS_WORKLOADS:
        on, off = statistics_medians[name, True], statistics_medians[name, False]
        lines.append(f"| {name} | {micro(on)} | {micro(off)} | {ratio(on, off)} |")
    _progress("single process: done")

    # -- several processes ---------------------------------------------------------------
    seconds, rounds = (0.3, 1) if quick else (1.5, 3)
    counts = (1, 2) if quick else (1, 2, 4)
    runs: dict[tuple[str, int], list[float]] = {}
    errors: dict[str, int] = {}
    mp_backends = [b for b in MULTIPROCESS_BACKENDS if b != REDIS or with_redis]
    for alias in mp_backends:
        prefill = caches[alias]
        for i in range(1000):
            prefill.set(f"mixed:{i}", value_of(SMALL, i))
    # Rounds interleave the backends, so that a busy spell of the machine hits all of them.
    for round_number in range(rounds):
        for processes in counts:
            for alias in mp_backends:
                ops, failed = multiprocess_throughput(root, with_redis, alias, processes, seconds)
                runs.setdefault((alias, processes), []).append(ops)
                errors[alias] = errors.get(alias, 0) + failed
        _progress(f"multi-process round {round_number + 1}/{rounds}: done")
    throughput = {where: statistics.median(values) for where, values in runs.items()}
    lines += [
        "",
        "## Several processes on one LOCATION: throughput (operations/s, higher is better)",
        "",
        f"Each process runs 80 % get / 20 % set (100 B values, 1,000 keys) for {seconds:g} s;"
        " the figure is the sum over the processes, the median of"
        f" {rounds} interleaved round(s). `vs diskcache` is DiskCache's throughput divided by"
        " diskcache's.",
        "",
        "| processes | " + " | ".join(mp_backends) + " | vs diskcache |",
        "|---:|" + "---:|" * (len(mp_backends) + 1),
    ]
    for processes in counts:
        cells = [f"{throughput[alias, processes]:,.0f}" for alias in mp_backends]
        ours, theirs = throughput[OURS, processes], throughput[THEIRS, processes]
        lines.append(f"| {processes} | " + " | ".join(cells) + f" | {ours / theirs:.2f}x |")
    failures = {alias: n for alias, n in errors.items() if n}
    if failures:
        lines += [
            "",
            "Operations that raised: " + ", ".join(f"{a}: {n}" for a, n in failures.items()),
        ]

    # -- culling -------------------------------------------------------------------------
    from diskcache_admin.backend import DiskCache

    sizes = (1_000,) if quick else (1_000, 10_000, 100_000)
    cull_rows: list[tuple[str, CullTiming]] = []
    for entries in sizes:
        cache = DiskCache(
            os.path.join(root, f"cull-{entries}"),
            {"OPTIONS": {"MAX_ENTRIES": entries, "CULL_FREQUENCY": 3}},
        )
        cull_rows.append((OURS, time_culling(cache, entries)))
        _progress(f"cull {entries}: done")
    diskcache_sizes = (1_000,) if quick else (1_000, 10_000)
    for entries in diskcache_sizes:
        theirs_cache = diskcache_at_limit(os.path.join(root, f"dc-cull-{entries}"), entries)
        cull_rows.append((THEIRS, time_culling_prefilled(theirs_cache, entries)))
        _progress(f"diskcache cull {entries}: done")
    lines += [
        "",
        "## Culling: sets of new keys into a full cache (µs per set)",
        "",
        "DiskCache with `MAX_ENTRIES` = entries and `CULL_FREQUENCY` = 3, already full: every"
        " (entries / 3)-th set culls a third of the entries (oldest first), as Django documents."
        " `amortised` is the total time over two whole cull cycles divided by the number of"
        " sets, culls included; `worst` is the single set that culled. diskcache has no entry"
        " limit: it is given one shard and a `size_limit` equal to the volume of the filled"
        " cache, and culls 10 entries during each set that finds it over the limit.",
        "",
        "| backend | entries | sets timed | amortised | median | worst |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for alias, cull in cull_rows:
        lines.append(
            f"| {alias} | {cull.entries:,} | {cull.sets:,} | {micro(cull.amortised)} |"
            f" {micro(cull.median)} | {micro(cull.worst)} |"
        )

    # -- targets -------------------------------------------------------------------------
    checks: list[tuple[str, str, float, float, bool]] = []

    def vs_theirs(label: str, workload: str, limit: float) -> None:
        value = medians[workload, OURS] / medians[workload, THEIRS]
        checks.append((label, f"<= {limit:g}x", value, limit, value <= limit))

    vs_theirs("get hit (100 B) vs diskcache", "get hit, 100 B", 0.8)
    vs_theirs("get hit (10 KiB) vs diskcache", "get hit, 10 KiB", 0.8)
    vs_theirs("set (100 B) vs diskcache", "set, 100 B", 0.5)
    vs_theirs("set (10 KiB) vs diskcache", "set, 10 KiB", 0.5)
    vs_theirs("get_many(10) vs diskcache", "get_many(10)", 0.35)
    vs_theirs("set_many(10) vs diskcache", "set_many(10)", 0.15)
    for name in STATISTICS_WORKLOADS:
        value = statistics_medians[name, True] / statistics_medians[name, False]
        checks.append((f"statistics on / off ({name})", "<= 1.1x", value, 1.1, value <= 1.1))
    for processes in counts:
        value = throughput[OURS, processes] / throughput[THEIRS, processes]
        checks.append(
            (f"throughput vs diskcache, {processes} process(es)", ">= 1x", value, 1.0, value >= 1)
        )
    lines += [
        "",
        "## Targets (issue 2)",
        "",
        "| target | limit | measured | met |",
        "|---|---:|---:|:---:|",
    ]
    for label, limit_text, value, _limit, met in checks:
        lines.append(f"| {label} | {limit_text} | {value:.2f}x | {'yes' if met else '**no**'} |")
    loads = ", ".join(f"{load:.2f}" for load in os.getloadavg())
    lines += [
        "",
        f"Total run time: {time.monotonic() - started:.0f} s; load average at the end: {loads}.",
        "",
    ]
    return "\n".join(lines)


def time_culling_prefilled(cache: Any, entries: int, cycles: int = 2) -> CullTiming:
    """Like :func:`time_culling` for a cache that the caller already filled."""
    value = value_of(SMALL, 0)
    sets = cycles * max(entries // 3, 1)
    timer = time.perf_counter
    samples = []
    begin = timer()
    for i in range(sets):
        start = timer()
        cache.set(f"new:{i}", value)
        samples.append(timer() - start)
    total = timer() - begin
    return CullTiming(entries, sets, total / sets, statistics.median(samples), max(samples))


def _progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
