"""Would SHARDS pay? Mixed get/set throughput of 1-4 processes on 1 vs N SQLite files.

Run from the repository root::

    .venv/bin/python -m benchmarks.shards [--seconds S] [--rounds R]

An experiment, not a feature: each process picks the store of a key by ``crc32(key) % shards``
(what a sharded engine would do) and runs the same 80 % get / 20 % set mix as
``benchmarks.backends``. Engine stores are used directly; Django is not involved.
"""

from __future__ import annotations

import argparse
import datetime
import multiprocessing
import os
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import zlib
from collections.abc import Sequence
from typing import Any

from diskcache_admin.engine import Codec, KeyParts, Store

KEYS = 1000
DEFAULT_OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "shards.md")


def _stores(root: str, shards: int) -> list[Store]:
    codec = Codec([b"shards-benchmark-signing-key-000"])
    return [
        Store(os.path.join(root, f"{shards}-{n}"), codec, max_entries=None, size_limit=None)
        for n in range(shards)
    ]


def _worker(root: str, shards: int, seconds: float, seed: int, barrier: Any, results: Any) -> None:
    stores = _stores(root, shards)
    rng = random.Random(seed)
    keys = [f":1:mixed:{i}" for i in range(KEYS)]
    plan = []
    for _ in range(4096):
        key = rng.choice(keys)
        plan.append((stores[zlib.crc32(key.encode()) % shards], key, rng.random() < 0.2))
    value = {"id": seed, "payload": "x" * 60}
    parts = KeyParts("mixed")
    for store in stores:
        store.get(keys[0])  # connect before the clock starts
    barrier.wait()
    ops = 0
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        for store, key, write in plan[ops % 4096 : ops % 4096 + 64]:
            if write:
                store.set(key, parts, value, None)
            else:
                store.get(key)
            ops += 1
    results.put(ops / (time.perf_counter() - start))


def throughput(root: str, shards: int, processes: int, seconds: float) -> float:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(processes)
    results = context.Queue()
    workers = [
        context.Process(target=_worker, args=(root, shards, seconds, seed, barrier, results))
        for seed in range(processes)
    ]
    for worker in workers:
        worker.start()
    total = sum(results.get(timeout=120) for _ in workers)
    for worker in workers:
        worker.join()
    return float(total)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="1 vs N SQLite files under concurrent writers.")
    parser.add_argument("--seconds", type=float, default=1.5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", default=DEFAULT_OUT, help=f"Markdown output ({DEFAULT_OUT})")
    args = parser.parse_args(argv)
    root = tempfile.mkdtemp(prefix="diskcache-admin-shards-")
    layouts, counts = (1, 2, 4), (1, 2, 4)
    runs: dict[tuple[int, int], list[float]] = {}
    try:
        for shards in layouts:
            for store in _stores(root, shards):
                for i in range(KEYS):
                    store.set(f":1:mixed:{i}", KeyParts("mixed"), {"payload": "x" * 60}, None)
        for _ in range(args.rounds):  # interleaved, so a busy spell hits every layout
            for processes in counts:
                for shards in layouts:
                    runs.setdefault((shards, processes), []).append(
                        throughput(root, shards, processes, args.seconds)
                    )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    lines = [
        "# SHARDS experiment: one SQLite file or several",
        "",
        f"- Date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC,"
        f" {os.cpu_count()} CPUs (nproc), SQLite {sqlite3.sqlite_version}",
        "",
        "Mixed 80 % get / 20 % set throughput (operations/s, all processes together), median of"
        f" {args.rounds} interleaved rounds of {args.seconds:g} s.",
        "",
        "| processes | " + " | ".join(f"{s} file(s)" for s in layouts) + " |",
        "|---:|" + "---:|" * len(layouts),
    ]
    for processes in counts:
        cells = [f"{statistics.median(runs[s, processes]):,.0f}" for s in layouts]
        lines.append(f"| {processes} | " + " | ".join(cells) + " |")
    report = "\n".join(lines) + "\n"
    print(report)
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w", encoding="utf-8") as handle:
            handle.write(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
