"""Stress test of the DiskCache backend: many processes and threads, every value verified.

Run from the repository root::

    .venv/bin/python -m benchmarks.stress                      # 20 s, 2 processes x 2 threads
    .venv/bin/python -m benchmarks.stress --duration 14400 --processes 4 --threads 4
    .venv/bin/python -m benchmarks.stress --ops 200000 --seed 1234 --json
    .venv/bin/python -m benchmarks.stress workers              # throughput table, see below

``workers`` mode (:func:`workers_main`) is a benchmark, not a consistency check: N worker
processes (as gunicorn runs them) each run a realistic mix on one ``LOCATION`` for a set time,
for DiskCache and the ``diskcache`` package side by side, and it reports throughput, p99
latency, errors and lost reads as a Markdown table (``benchmarks/results/workers.md``).

Django is configured standalone here (``settings.configure``); nothing reads the project's
settings. Two aliases are used: ``data`` (the limits under test: MAX_ENTRIES, SIZE_LIMIT, the
eviction policy, expiry, values in files) and ``counters`` (no limits, so that nothing can cull a
counter and every increment can be accounted for exactly).

Every value names its key, its expiry deadline and a BLAKE2 digest of the three with the payload,
so a read can tell a corrupt, truncated or swapped value. Each worker counts its own increments;
at the end the counters must equal the sums exactly. The first inconsistency stops every worker;
the exit status is then 1 and the seed to replay the run is printed (each worker's sequence of
operations is derived from the seed; the interleaving of workers is up to the machine).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import multiprocessing
import os
import queue
import random
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from diskcache_admin.engine import DEFAULT_FILE_THRESHOLD

if TYPE_CHECKING:
    from diskcache_admin.backend import DiskCache

MAGIC = "diskcache-admin-stress-1"
DATA, COUNTERS = "data", "counters"
OPERATIONS = ("get", "set", "delete", "incr", "get_many", "set_many")
DEFAULT_MIX = "get=60,set=20,delete=5,incr=10,get_many=3,set_many=2"
# The largest default size is above the engine's file threshold, so value files are exercised.
DEFAULT_SIZES = f"100,1000,10000,{DEFAULT_FILE_THRESHOLD * 3 // 2}"
# A value read back this long after its deadline means expiry was ignored. The deadline is taken
# just before set(), so it is never later than the expiry the backend stores; the slack only
# absorbs a stall of this process between the two clocks.
EXPIRY_SLACK = 5.0
MAX_REPORTED = 10


# -- values ---------------------------------------------------------------------------------------


def checksum(key: str, deadline: float | None, payload: bytes) -> bytes:
    digest = hashlib.blake2b(digest_size=16)
    digest.update(f"{key}\x00{deadline!r}\x00".encode("utf-8", "surrogatepass"))
    digest.update(payload)
    return digest.digest()


def make_payload(rng: random.Random, size: int) -> bytes:
    # Random bytes, repeated: cheap to make even at megabytes, and no two runs alike.
    block = rng.randbytes(64)
    return (block * (size // 64 + 1))[:size]


def make_value(key: str, payload: bytes, deadline: float | None) -> tuple[Any, ...]:
    """The value stored under ``key``: it names its key and carries its own checksum."""
    return (MAGIC, key, deadline, payload, checksum(key, deadline, payload))


def verify_value(key: str, value: object, now: float | None = None) -> str | None:
    """Why ``value`` read under ``key`` is wrong, or ``None`` when it is intact."""
    if not (isinstance(value, tuple) and len(value) == 5 and value[0] == MAGIC):
        return f"{key!r}: not a stress value: {_short(value)}"
    _, owner, deadline, payload, digest = value
    if owner != key:
        return f"{key!r}: holds the value of {owner!r}"
    if not isinstance(payload, bytes) or checksum(key, deadline, payload) != digest:
        return f"{key!r}: checksum mismatch ({len(payload)} B payload)"
    if now is not None and deadline is not None and now > deadline + EXPIRY_SLACK:
        return f"{key!r}: served {now - deadline:.1f} s after its expiry"
    return None


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


# -- configuration --------------------------------------------------------------------------------


def parse_mix(text: str) -> dict[str, int]:
    mix: dict[str, int] = {}
    for part in text.split(","):
        name, _, weight = part.partition("=")
        name = name.strip()
        if name not in OPERATIONS:
            raise argparse.ArgumentTypeError(f"unknown operation {name!r}; use {OPERATIONS}")
        try:
            mix[name] = int(weight)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{part!r}: the weight must be an integer") from None
        if mix[name] < 0:
            raise argparse.ArgumentTypeError(f"{part!r}: the weight must be 0 or more")
    if not any(mix.values()):
        raise argparse.ArgumentTypeError("at least one operation needs a positive weight")
    return mix


def parse_limit(text: str) -> int | None:
    if text.lower() == "none":
        return None
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("a limit is a positive integer or 'none'")
    return value


def parse_sizes(text: str) -> list[int]:
    sizes = [int(part) for part in text.split(",") if part.strip()]
    if not sizes or min(sizes) < 0:
        raise argparse.ArgumentTypeError("value sizes are non-negative integers, comma-separated")
    return sizes


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.stress",
        description="Stress the DiskCache backend with processes and threads; verify every value.",
    )
    run = parser.add_argument_group("length of the run")
    run.add_argument("--duration", type=float, default=None, help="seconds to run (default 20)")
    run.add_argument(
        "--ops", type=int, default=None, help="total operations, shared by all workers"
    )
    work = parser.add_argument_group("workload")
    work.add_argument("--processes", type=int, default=2)
    work.add_argument("--threads", type=int, default=2, help="threads per process")
    work.add_argument("--keys", type=int, default=2000, help="distinct data keys")
    work.add_argument("--counters", type=int, default=8, help="distinct counter keys for incr")
    work.add_argument(
        "--mix", type=parse_mix, default=parse_mix(DEFAULT_MIX), help=f"default {DEFAULT_MIX}"
    )
    work.add_argument(
        "--value-sizes",
        type=parse_sizes,
        default=parse_sizes(DEFAULT_SIZES),
        help=f"payload sizes in bytes, picked at random (default {DEFAULT_SIZES}: the last is"
        " above the default FILE_THRESHOLD, so value files are exercised)",
    )
    work.add_argument(
        "--expire-ratio", type=float, default=0.1, help="share of sets with a timeout"
    )
    work.add_argument("--expire-seconds", type=float, default=2.0, help="that timeout")
    work.add_argument("--seed", type=int, default=None, help="random seed (default: random)")
    store = parser.add_argument_group("the data alias")
    store.add_argument("--max-entries", type=parse_limit, default=1000, help="or 'none'")
    store.add_argument("--size-limit", type=parse_limit, default=50_000_000, help="or 'none'")
    store.add_argument("--cull-frequency", type=int, default=3)
    store.add_argument(
        "--policy",
        choices=("least-recently-stored", "least-recently-used"),
        default="least-recently-stored",
    )
    store.add_argument("--file-threshold", type=int, default=None, help="FILE_THRESHOLD option")
    store.add_argument("--busy-timeout", type=float, default=5.0, help="BUSY_TIMEOUT option")
    store.add_argument("--no-statistics", action="store_true", help="STATISTICS False")
    out = parser.add_argument_group("output")
    out.add_argument("--directory", help="cache root (default: a temporary directory, removed)")
    out.add_argument("--keep", action="store_true", help="keep the cache directory afterwards")
    out.add_argument("--json", action="store_true", help="print the report as JSON")
    out.add_argument(
        "--progress", type=float, default=10.0, help="seconds between progress lines (0: none)"
    )
    out.add_argument("--start-method", choices=("fork", "spawn", "forkserver"), default=None)
    out.add_argument(
        "--check-every",
        type=float,
        default=0.0,
        help="run check() on both stores every this many seconds while the workers run (0: only"
        " at the end); a problem found is an inconsistency",
    )
    out.add_argument(
        "--inject-corruption",
        action="store_true",
        help="store one value under the wrong key, to see the checker fail (exit status 1)",
    )
    return parser


def caches_setting(args: argparse.Namespace, root: str) -> dict[str, Any]:
    options: dict[str, Any] = {
        "MAX_ENTRIES": args.max_entries,
        "SIZE_LIMIT": args.size_limit,
        "CULL_FREQUENCY": args.cull_frequency,
        "EVICTION_POLICY": args.policy,
        "BUSY_TIMEOUT": args.busy_timeout,
        "STATISTICS": not args.no_statistics,
    }
    if args.file_threshold is not None:
        options["FILE_THRESHOLD"] = args.file_threshold
    backend = "diskcache_admin.backend.DiskCache"
    return {
        DATA: {"BACKEND": backend, "LOCATION": os.path.join(root, DATA), "OPTIONS": options},
        COUNTERS: {
            "BACKEND": backend,
            "LOCATION": os.path.join(root, COUNTERS),
            "TIMEOUT": None,
            "OPTIONS": {
                "MAX_ENTRIES": None,
                "SIZE_LIMIT": None,
                "BUSY_TIMEOUT": args.busy_timeout,
            },
        },
    }


def configure_django(args: argparse.Namespace, root: str) -> None:
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(
            SECRET_KEY="diskcache-admin-stress-not-secret",
            CACHES=caches_setting(args, root),
            INSTALLED_APPS=[],
            USE_TZ=True,
        )
        django.setup()


# -- workers --------------------------------------------------------------------------------------


@dataclass
class Tally:
    """What one worker process did and saw."""

    ops: Counter[str] = field(default_factory=Counter)
    hits: int = 0
    misses: int = 0
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    corrupt: list[str] = field(default_factory=list)
    increments: Counter[str] = field(default_factory=Counter)
    uncertain: set[str] = field(default_factory=set)
    max_latency: dict[str, float] = field(default_factory=dict)

    def merge(self, other: Tally) -> None:
        self.ops.update(other.ops)
        self.hits += other.hits
        self.misses += other.misses
        self.errors += other.errors
        self.error_samples.extend(other.error_samples[: MAX_REPORTED - len(self.error_samples)])
        self.corrupt.extend(other.corrupt)
        self.increments.update(other.increments)
        self.uncertain |= other.uncertain
        for name, latency in other.max_latency.items():
            self.max_latency[name] = max(latency, self.max_latency.get(name, 0.0))


class Worker:
    def __init__(
        self,
        args: argparse.Namespace,
        process: int,
        thread: int,
        quota: int | None,
        deadline: float | None,
        stop: Any,
        failed: Any,
        tally: Tally,
        lock: threading.Lock,
    ) -> None:
        self.args = args
        self.rng = random.Random(f"{args.seed}:{process}:{thread}")
        self.name = f"p{process}t{thread}"
        self.quota = quota
        self.deadline = deadline
        self.stop = stop
        self.failed = failed
        self.tally = tally
        self.lock = lock
        self.inject = args.inject_corruption and process == 0 and thread == 0
        names = [name for name in OPERATIONS if args.mix.get(name, 0) > 0]
        self.choices = names
        self.weights = [args.mix[name] for name in names]

    def data_key(self) -> str:
        return f"k{self.rng.randrange(self.args.keys)}"

    def new_value(self, key: str) -> tuple[tuple[Any, ...], float | None]:
        size = self.rng.choice(self.args.value_sizes)
        timeout = None
        deadline = None
        if self.rng.random() < self.args.expire_ratio:
            timeout = self.args.expire_seconds
            deadline = time.time() + timeout
        if self.inject:
            self.inject = False
            return make_value(f"{key}-not", make_payload(self.rng, size), deadline), timeout
        return make_value(key, make_payload(self.rng, size), deadline), timeout

    def run(self) -> None:
        from django.core.cache import caches

        data = caches[DATA]
        counters = caches[COUNTERS]
        local = Tally()
        done = 0
        try:
            while not self.stop.is_set():
                if self.quota is not None and done >= self.quota:
                    break
                if self.deadline is not None and time.monotonic() >= self.deadline:
                    break
                operation = self.rng.choices(self.choices, self.weights)[0]
                started = time.perf_counter()
                try:
                    self.one(operation, data, counters, local)
                except Exception as exc:  # every failure of the backend is what we count
                    local.errors += 1
                    if len(local.error_samples) < MAX_REPORTED:
                        local.error_samples.append(
                            f"{self.name} {operation}: {type(exc).__name__}: {exc}"
                        )
                elapsed = time.perf_counter() - started
                if elapsed > local.max_latency.get(operation, 0.0):
                    local.max_latency[operation] = elapsed
                local.ops[operation] += 1
                done += 1
                if local.corrupt:
                    self.failed.set()
                    self.stop.set()
                if done % 256 == 0:
                    self.publish(local)
                    local = Tally()
        finally:
            self.publish(local)

    def publish(self, local: Tally) -> None:
        with self.lock:
            self.tally.merge(local)

    def check(self, key: str, value: object, now: float, local: Tally) -> None:
        problem = verify_value(key, value, now)
        if problem is not None:
            local.corrupt.append(f"{self.name}: {problem}")

    def one(self, operation: str, data: Any, counters: Any, local: Tally) -> None:
        if operation == "get":
            key = self.data_key()
            now = time.time()
            value = data.get(key)
            if value is None:
                local.misses += 1
            else:
                local.hits += 1
                self.check(key, value, now, local)
        elif operation == "get_many":
            keys = [self.data_key() for _ in range(5)]
            now = time.time()
            found = data.get_many(keys)
            local.hits += len(found)
            local.misses += len(set(keys)) - len(found)
            for key, value in found.items():
                self.check(key, value, now, local)
        elif operation == "set":
            key = self.data_key()
            value, timeout = self.new_value(key)
            data.set(key, value, timeout)
        elif operation == "set_many":
            batch_keys = {self.data_key() for _ in range(3)}
            timeout = self.args.expire_seconds if self.rng.random() < 0.1 else None
            deadline = None if timeout is None else time.time() + timeout
            size = self.rng.choice(self.args.value_sizes)
            batch = {
                key: make_value(key, make_payload(self.rng, size), deadline) for key in batch_keys
            }
            failed = data.set_many(batch, timeout)
            if failed:
                local.errors += 1
                if len(local.error_samples) < MAX_REPORTED:
                    local.error_samples.append(f"{self.name} set_many: not stored: {failed}")
        elif operation == "delete":
            data.delete(self.data_key())
        elif operation == "incr":
            key = f"c{self.rng.randrange(self.args.counters)}"
            delta = self.rng.choice((1, 1, 2, 3, -1))
            try:
                counters.incr(key, delta)
            except BaseException:
                # Applied or not, nobody can tell: this counter is left out of the exact check.
                local.uncertain.add(key)
                raise
            local.increments[key] += delta


def run_process(
    args: argparse.Namespace,
    root: str,
    process: int,
    quota: int | None,
    deadline_in: float | None,
    stop: Any,
    failed: Any,
    results: Any,
) -> None:
    """One worker process: ``args.threads`` threads, then one result on ``results``."""
    configure_django(args, root)
    deadline = None if deadline_in is None else time.monotonic() + deadline_in
    tally = Tally()
    lock = threading.Lock()
    workers = [
        Worker(args, process, thread, quota, deadline, stop, failed, tally, lock)
        for thread in range(args.threads)
    ]
    threads = [threading.Thread(target=w.run, name=w.name) for w in workers]
    for thread in threads:
        thread.start()
    next_report = time.monotonic() + args.progress if args.progress else math.inf
    while any(thread.is_alive() for thread in threads):
        threads[0].join(timeout=0.2)
        if time.monotonic() >= next_report:
            with lock:
                results.put(("progress", process, sum(tally.ops.values()), tally.errors))
            next_report += args.progress
    for thread in threads:
        thread.join()
    results.put(("done", process, tally))


# -- the run --------------------------------------------------------------------------------------


@dataclass
class Report:
    seed: int
    processes: int
    threads: int
    seconds: float
    ops: int
    ops_per_second: float
    per_operation: dict[str, int]
    hits: int
    misses: int
    errors: int
    error_samples: list[str]
    corrupt_values: int
    corrupt_samples: list[str]
    lost_increments: int
    counter_mismatches: list[str]
    unchecked_counters: list[str]
    check_problems: list[str]
    checks_during_run: int
    final_scan: dict[str, int]
    max_latency_ms: dict[str, float]
    ok: bool


def final_verification(args: argparse.Namespace, tally: Tally) -> tuple[Any, ...]:
    from django.core.cache import caches

    data, counters = caches[DATA], caches[COUNTERS]
    mismatches: list[str] = []
    lost = 0
    unchecked = sorted(tally.uncertain)
    for index in range(args.counters):
        key = f"c{index}"
        if key in tally.uncertain:
            continue
        expected = tally.increments[key]
        actual = counters.get(key)
        if actual != expected:
            mismatches.append(f"{key}: expected {expected}, read {actual!r}")
            lost += abs(expected - (actual if isinstance(actual, int) else 0))
    scan = {"keys": args.keys, "present": 0, "corrupt": 0}
    corrupt: list[str] = []
    now = time.time()
    for index in range(args.keys):
        key = f"k{index}"
        value = data.get(key)
        if value is None:
            continue
        scan["present"] += 1
        problem = verify_value(key, value, now)
        if problem is not None:
            scan["corrupt"] += 1
            corrupt.append(f"final scan: {problem}")
    problems = [
        f"{alias}: {p.kind}: {p.detail}"
        for alias in (DATA, COUNTERS)
        for p in cast("DiskCache", caches[alias]).check()
    ]
    return mismatches, lost, unchecked, scan, corrupt, problems


def run(args: argparse.Namespace, root: str) -> Report:
    configure_django(args, root)
    from django.core.cache import caches

    # Every counter exists before any worker starts, with no expiry and no limit over it.
    for index in range(args.counters):
        caches[COUNTERS].set(f"c{index}", 0, None)

    context = multiprocessing.get_context(args.start_method)
    stop, failed, results = context.Event(), context.Event(), context.Queue()
    workers_total = args.processes * args.threads
    quota = None if args.ops is None else math.ceil(args.ops / workers_total)
    duration = args.duration if args.duration is not None else (None if args.ops else 20.0)
    started = time.perf_counter()
    procs = [
        context.Process(
            target=run_process,
            args=(args, root, p, quota, duration, stop, failed, results),
            name=f"stress-{p}",
        )
        for p in range(args.processes)
    ]
    for proc in procs:
        proc.start()
    tally = Tally()
    progress: dict[int, tuple[int, int]] = {}
    next_line = args.progress
    pending = set(range(args.processes))
    live_problems: list[str] = []
    live_checks = 0
    next_check = args.check_every or math.inf
    while pending:
        if time.perf_counter() - started >= next_check and not stop.is_set():
            next_check += args.check_every
            live_checks += 1
            live_problems += [
                f"{alias} (during the run): {p.kind}: {p.detail}"
                for alias in (DATA, COUNTERS)
                for p in cast("DiskCache", caches[alias]).check()
            ]
            if live_problems:
                failed.set()
                stop.set()
        try:
            message = results.get(timeout=min(1.0, args.check_every or 1.0))
        except queue.Empty:
            dead = [p for p in pending if not procs[p].is_alive() and procs[p].exitcode != 0]
            for p in dead:
                pending.discard(p)
                tally.errors += 1
                tally.error_samples.append(f"process {p} died with exit code {procs[p].exitcode}")
                stop.set()
            continue
        if message[0] == "progress":
            progress[message[1]] = (message[2], message[3])
            elapsed = time.perf_counter() - started
            if elapsed < next_line:
                continue  # one line per interval, once the first process has reported
            next_line += args.progress
            ops = sum(o for o, _ in progress.values())
            errors = sum(e for _, e in progress.values())
            print(
                f"[{elapsed:8.0f} s] {ops} ops, {ops / elapsed:,.0f} ops/s, {errors} errors",
                file=sys.stderr,
                flush=True,
            )
        else:
            pending.discard(message[1])
            tally.merge(message[2])
    for proc in procs:
        proc.join()
    seconds = time.perf_counter() - started
    mismatches, lost, unchecked, scan, corrupt, problems = final_verification(args, tally)
    problems = live_problems + problems
    all_corrupt = tally.corrupt + corrupt
    ops = sum(tally.ops.values())
    ok = not (tally.errors or all_corrupt or mismatches or problems or failed.is_set())
    return Report(
        seed=args.seed,
        processes=args.processes,
        threads=args.threads,
        seconds=round(seconds, 3),
        ops=ops,
        ops_per_second=round(ops / seconds, 1) if seconds else 0.0,
        per_operation=dict(sorted(tally.ops.items())),
        hits=tally.hits,
        misses=tally.misses,
        errors=tally.errors,
        error_samples=tally.error_samples[:MAX_REPORTED],
        corrupt_values=len(all_corrupt),
        corrupt_samples=all_corrupt[:MAX_REPORTED],
        lost_increments=lost,
        counter_mismatches=mismatches,
        unchecked_counters=unchecked,
        check_problems=problems,
        checks_during_run=live_checks,
        final_scan=scan,
        max_latency_ms={k: round(v * 1000, 2) for k, v in sorted(tally.max_latency.items())},
        ok=ok,
    )


def print_report(report: Report, out: Any) -> None:
    print(
        f"{report.ops} operations in {report.seconds:.1f} s by {report.processes} processes x"
        f" {report.threads} threads: {report.ops_per_second:,.0f} ops/s (seed {report.seed})",
        file=out,
    )
    print(
        "  per operation: " + ", ".join(f"{k} {v}" for k, v in report.per_operation.items()),
        file=out,
    )
    print(f"  hits {report.hits}, misses {report.misses}", file=out)
    print(
        "  max latency (ms): " + ", ".join(f"{k} {v}" for k, v in report.max_latency_ms.items()),
        file=out,
    )
    print(
        f"  errors {report.errors}, corrupt values {report.corrupt_values},"
        f" lost increments {report.lost_increments}, check problems {len(report.check_problems)}"
        f" ({report.checks_during_run} checks during the run and one after)",
        file=out,
    )
    for line in (
        report.error_samples
        + report.corrupt_samples
        + report.counter_mismatches
        + report.check_problems
    ):
        print(f"  ! {line}", file=out)
    if report.unchecked_counters:
        print(f"  counters not checked (an incr failed): {report.unchecked_counters}", file=out)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["workers"]:
        return workers_main(argv[1:])
    args = build_parser().parse_args(argv)
    if args.seed is None:
        args.seed = random.randrange(2**32)
    if min(args.processes, args.threads, args.keys, args.counters) < 1:
        build_parser().error("--processes, --threads, --keys and --counters must be positive")
    root = args.directory or tempfile.mkdtemp(prefix="diskcache-stress-")
    try:
        report = run(args, root)
    finally:
        if not args.keep and not args.directory:
            shutil.rmtree(root, ignore_errors=True)
    if args.json:
        print(json.dumps(report.__dict__, indent=2))
    else:
        print_report(report, sys.stdout)
    if not report.ok:
        print(f"FAILED: replay with --seed {report.seed} (and the same options)", file=sys.stderr)
        return 1
    return 0


# -- workers mode: throughput of N worker processes, DiskCache beside diskcache ----------------

WORKERS_OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "workers.md")
OURS, THEIRS = "DiskCache", "diskcache"
# Share of sets per workload (the rest are gets). Every key is stored before the clock starts,
# and nothing expires or is culled, so every get should hit: a miss is a lost read (diskcache's
# get answers a miss when its shard stays locked for DATABASE_TIMEOUT).
WORKLOADS: dict[str, float] = {"80/20 get/set": 0.2, "get hits": 0.0, "sets": 1.0}
ZIPF_S = 1.0  # the usual popularity skew of web cache keys
PLAN_LENGTH = 1 << 14


def workers_caches(root: str) -> dict[str, dict[str, Any]]:
    return {
        OURS: {
            "BACKEND": "diskcache_admin.backend.DiskCache",
            "LOCATION": os.path.join(root, "diskcache_admin"),
            "OPTIONS": {"MAX_ENTRIES": None},
        },
        # diskcache's own defaults (8 shards, 10 ms DATABASE_TIMEOUT, statistics off).
        THEIRS: {"BACKEND": "diskcache.DjangoCache", "LOCATION": os.path.join(root, "diskcache")},
    }


def zipf_keys(rng: random.Random, keys: int, count: int) -> list[str]:
    """``count`` keys out of ``keys``, key ``i`` drawn with probability ~ 1/(i+1)**ZIPF_S."""
    weights = [1.0 / (rank + 1) ** ZIPF_S for rank in range(keys)]
    # Ranks are shuffled over the key names so that the hot keys are spread over shards/pages.
    names = [f"w:{i}" for i in range(keys)]
    rng.shuffle(names)
    return rng.choices(names, weights=weights, k=count)


def worker_value(rng: random.Random, sizes: Sequence[int]) -> dict[str, Any]:
    """A small dict, as views usually cache, pickling to about ``size`` bytes."""
    size = rng.choice(sizes)
    return {"id": rng.randrange(10**6), "body": "x" * max(size - 40, 0)}


@dataclass
class WorkerResult:
    ops: int
    seconds: float
    errors: int
    misses: int
    error_samples: list[str]
    latencies: bytes  # array('d') of every operation's time, seconds


def workers_process(
    root: str,
    alias: str,
    share_of_sets: float,
    keys: int,
    sizes: Sequence[int],
    seconds: float,
    seed: int,
    barrier: Any,
    results: Any,
) -> None:
    """One worker process: its own cache object, a fixed random plan, until ``seconds`` pass."""
    from array import array

    from django.core.cache import caches

    cache = caches.create_connection(alias)  # what a freshly started worker would have
    rng = random.Random(seed)
    plan = [
        (key, rng.random() < share_of_sets)
        for key in zipf_keys(random.Random(seed), keys, PLAN_LENGTH)
    ]
    values = [worker_value(rng, sizes) for _ in range(64)]
    # diskcache's DjangoCache.set returns False for a write it gave up on; Django's says None.
    store: Callable[[str, Any], Any] = cache.set
    cache.get(plan[0][0])  # open the connections before the clock starts
    latencies = array("d")
    errors = misses = 0
    samples: list[str] = []
    clock = time.perf_counter
    barrier.wait()
    start = clock()
    deadline = start + seconds
    index = 0
    now = start
    while now < deadline:
        key, write = plan[index & (PLAN_LENGTH - 1)]
        try:
            if write:
                if store(key, values[index & 63]) is False:  # diskcache: a lost write
                    errors += 1
            elif cache.get(key) is None:
                misses += 1
        except Exception as exc:  # every failure of the backend is what we count
            errors += 1
            if len(samples) < MAX_REPORTED:
                samples.append(f"{type(exc).__name__}: {exc}")
        finished = clock()
        latencies.append(finished - now)
        now = finished
        index += 1
    close = getattr(cache, "close", None)
    if close is not None:
        close()
    results.put(WorkerResult(index, now - start, errors, misses, samples, latencies.tobytes()))


@dataclass
class WorkersRun:
    """One workload on one backend with N processes (one round)."""

    ops_per_second: float
    p50: float
    p99: float
    errors: int
    misses: int
    samples: list[str]


def run_workers(
    root: str,
    alias: str,
    share_of_sets: float,
    processes: int,
    keys: int,
    sizes: Sequence[int],
    seconds: float,
    seed: int,
) -> WorkersRun:
    from array import array

    context = multiprocessing.get_context("fork")  # as gunicorn/uWSGI start their workers
    barrier = context.Barrier(processes)
    results = context.Queue()
    procs = [
        context.Process(
            target=workers_process,
            args=(root, alias, share_of_sets, keys, sizes, seconds, seed + p, barrier, results),
        )
        for p in range(processes)
    ]
    for proc in procs:
        proc.start()
    outcomes: list[WorkerResult] = [results.get(timeout=seconds + 120) for _ in procs]
    for proc in procs:
        proc.join()
    latencies = array("d")
    for outcome in outcomes:
        latencies.frombytes(outcome.latencies)
    ordered = sorted(latencies)

    def quantile(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else math.nan

    return WorkersRun(
        ops_per_second=sum(o.ops / o.seconds for o in outcomes if o.seconds),
        p50=quantile(0.50),
        p99=quantile(0.99),
        errors=sum(o.errors for o in outcomes),
        misses=sum(o.misses for o in outcomes),
        samples=[s for o in outcomes for s in o.error_samples][:MAX_REPORTED],
    )


def prefill(alias: str, keys: int, sizes: Sequence[int], seed: int) -> None:
    from django.core.cache import caches

    cache = caches[alias]
    rng = random.Random(seed)
    for i in range(keys):
        cache.set(f"w:{i}", worker_value(rng, sizes), None)
    close = getattr(cache, "close", None)
    if close is not None:
        close()


def workers_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.stress workers",
        description="Throughput, p99 latency and errors of N worker processes on one LOCATION,"
        " DiskCache beside the diskcache package.",
    )
    parser.add_argument("--processes", default="1,2,4", help="process counts (default 1,2,4)")
    parser.add_argument(
        "--workloads",
        default=",".join(WORKLOADS),
        help=f"comma-separated, of: {', '.join(WORKLOADS)} (default: all)",
    )
    parser.add_argument("--seconds", type=float, default=2.0, help="per run (default 2)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (median)")
    parser.add_argument("--keys", type=int, default=10_000, help="distinct keys (Zipf-drawn)")
    parser.add_argument(
        "--value-sizes", type=parse_sizes, default=[100, 400, 1000], help="bytes, picked at random"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", default=WORKERS_OUT, help="Markdown file (default: %(default)s)")
    return parser


def workers_main(argv: Sequence[str]) -> int:
    args = workers_parser().parse_args(argv)
    counts = [int(part) for part in args.processes.split(",") if part.strip()]
    workloads = [part.strip() for part in args.workloads.split(",") if part.strip()]
    unknown = [w for w in workloads if w not in WORKLOADS]
    if unknown or not counts or min(counts) < 1:
        workers_parser().error(f"unknown workloads {unknown} or bad --processes")
    root = tempfile.mkdtemp(prefix="diskcache-workers-")
    try:
        import django
        from django.conf import settings

        settings.configure(
            SECRET_KEY="diskcache-admin-workers-not-secret",
            CACHES=workers_caches(root),
            INSTALLED_APPS=[],
            USE_TZ=True,
        )
        django.setup()
        load_before = os.getloadavg()
        for alias in (OURS, THEIRS):
            prefill(alias, args.keys, args.value_sizes, args.seed)
        runs: dict[tuple[str, int, str], list[WorkersRun]] = {}
        for round_number in range(args.rounds):
            for workload in workloads:
                for processes in counts:
                    # Interleaved: both backends see the same moment of the machine's load.
                    for alias in (OURS, THEIRS) if round_number % 2 == 0 else (THEIRS, OURS):
                        run = run_workers(
                            root,
                            alias,
                            WORKLOADS[workload],
                            processes,
                            args.keys,
                            args.value_sizes,
                            args.seconds,
                            args.seed + 1000 * round_number,
                        )
                        runs.setdefault((workload, processes, alias), []).append(run)
            print(f"round {round_number + 1}/{args.rounds} done", file=sys.stderr, flush=True)
        load_after = os.getloadavg()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    text = workers_table(args, workloads, counts, runs, load_before, load_after)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as handle:
            handle.write(text)
    print(text)
    return 0


def workers_table(
    args: argparse.Namespace,
    workloads: Sequence[str],
    counts: Sequence[int],
    runs: dict[tuple[str, int, str], list[WorkersRun]],
    load_before: tuple[float, float, float],
    load_after: tuple[float, float, float],
) -> str:
    import platform
    import statistics
    from importlib.metadata import version

    def median_run(cell: list[WorkersRun]) -> WorkersRun:
        # The round of median throughput; its latencies and counts go with it.
        return sorted(cell, key=lambda run: run.ops_per_second)[len(cell) // 2]

    lines = [
        "# Worker processes on one LOCATION: DiskCache vs diskcache",
        "",
        f"{platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()},"
        f" SQLite {__import__('sqlite3').sqlite_version}, diskcache {version('diskcache')};"
        f" {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; load average"
        f" {load_before[0]:.1f} at the start, {load_after[0]:.1f} at the end.",
        "",
        f"Each process (forked, its own cache object) runs its workload for {args.seconds:g} s on"
        f" {args.keys:,} prefilled keys drawn with a Zipf({ZIPF_S:g}) skew, values of"
        f" {'/'.join(str(s) for s in args.value_sizes)} B; ops/s is the sum over the processes,"
        f" the round of median throughput out of {args.rounds} (backends interleaved);"
        " ratio is the median over the rounds of DiskCache's throughput divided by diskcache's"
        " in the same round (both saw the same moment of the machine's load);"
        " p99 is over every operation of that round. errors: exceptions and writes a backend"
        " reported as not stored; lost reads: gets of a stored key that answered a miss.",
        "",
        "| workload | processes | DiskCache ops/s | diskcache ops/s | ratio | DiskCache p99 µs"
        " | diskcache p99 µs | errors (ours/theirs) | lost reads (ours/theirs) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for workload in workloads:
        for processes in counts:
            ours = median_run(runs[workload, processes, OURS])
            theirs = median_run(runs[workload, processes, THEIRS])
            ratio = statistics.median(
                mine.ops_per_second / peer.ops_per_second
                for mine, peer in zip(
                    runs[workload, processes, OURS], runs[workload, processes, THEIRS], strict=True
                )
            )
            lines.append(
                f"| {workload} | {processes} | {ours.ops_per_second:,.0f}"
                f" | {theirs.ops_per_second:,.0f}"
                f" | {ratio:.2f}x"
                f" | {ours.p99 * 1e6:,.0f} | {theirs.p99 * 1e6:,.0f}"
                f" | {ours.errors}/{theirs.errors} | {ours.misses}/{theirs.misses} |"
            )
    lines += ["", "Throughput of every round (ops/s):", ""]
    for workload in workloads:
        for processes in counts:
            cells = []
            for alias in (OURS, THEIRS):
                figures = [run.ops_per_second for run in runs[workload, processes, alias]]
                cells.append(
                    f"{alias} {', '.join(f'{f:,.0f}' for f in figures)}"
                    f" (median {statistics.median(figures):,.0f})"
                )
            lines.append(f"* {workload}, {processes} process(es): {'; '.join(cells)}")
    samples = {sample for cell in runs.values() for run in cell for sample in run.samples}
    if samples:
        lines += ["", "Error samples:", ""] + [f"* {s}" for s in sorted(samples)[:MAX_REPORTED]]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
