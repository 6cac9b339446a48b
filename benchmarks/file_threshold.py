"""Inline BLOB or value file? Read and write times per payload size, to choose FILE_THRESHOLD.

Run from the repository root::

    .venv/bin/python -m benchmarks.file_threshold [--quick] [--out PATH]

For each size the same engine store is measured twice: once with every payload inline in
SQLite (``file_threshold`` above the size) and once with every payload in a value file
(``file_threshold`` of 1 byte). Writes overwrite a pool of keys, so they include removing the
replaced value file and the WAL checkpoints that inline payloads cause. Django is not involved.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence

from diskcache_admin.engine import DEFAULT_FILE_THRESHOLD, Codec, KeyParts, Store

KIB = 1024
SIZES = (4 * KIB, 16 * KIB, 32 * KIB, 64 * KIB, 96 * KIB, 128 * KIB, 256 * KIB, 1024 * KIB)
DEFAULT_OUT = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "results", "file_threshold.md"
)
POOL = 16


def make_store(directory: str, inline: bool) -> Store:
    return Store(
        directory,
        Codec([b"file-threshold-benchmark-key-000"]),
        max_entries=None,
        size_limit=None,
        statistics=False,
        file_threshold=2**40 if inline else 1,
    )


def _median_per_op(run: Callable[[int], None], number: int, repeat: int) -> float:
    run(number)  # warm-up
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        run(number)
        samples.append((time.perf_counter() - start) / number)
    return statistics.median(samples)


def measure(directory: str, size: int, inline: bool, repeat: int) -> tuple[float, float]:
    """Median seconds of one write and of one read of a ``size``-byte payload."""
    store = make_store(directory, inline)
    payload = os.urandom(size)
    keys = [f":1:v{i}" for i in range(POOL)]
    parts = [KeyParts(f"v{i}") for i in range(POOL)]
    # Batches of about 2 MiB keep the run short for large sizes and steady for small ones.
    number = max(8, min(400, (2 * KIB * KIB) // size))

    def write(n: int) -> None:
        for i in range(n):
            store.set(keys[i % POOL], parts[i % POOL], payload, None)

    def read(n: int) -> None:
        for i in range(n):
            store.get(keys[i % POOL])

    write_time = _median_per_op(write, number, repeat)
    read_time = _median_per_op(read, number, repeat)
    store.db.close()
    return write_time, read_time


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Inline BLOB vs value file, per payload size.")
    parser.add_argument("--quick", action="store_true", help="a smoke run")
    parser.add_argument("--out", default=DEFAULT_OUT, help=f"Markdown output ({DEFAULT_OUT})")
    args = parser.parse_args(argv)
    repeat = 3 if args.quick else 15
    root = tempfile.mkdtemp(prefix="diskcache-admin-threshold-")
    rows = []
    try:
        for size in SIZES:
            timings = {}
            for inline in (True, False):
                where = os.path.join(root, f"{size}-{'inline' if inline else 'file'}")
                timings[inline] = measure(where, size, inline, repeat)
            rows.append((size, timings[True], timings[False]))
            print(f"[{time.strftime('%H:%M:%S')}] {size // KIB} KiB: done", file=sys.stderr)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    report = render(rows, repeat, args.quick)
    print(report)
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w", encoding="utf-8") as handle:
            handle.write(report)
    return 0


def render(
    rows: Sequence[tuple[int, tuple[float, float], tuple[float, float]]], repeat: int, quick: bool
) -> str:
    def us(seconds: float) -> str:
        return f"{seconds * 1e6:,.0f}"

    lines = [
        "# Value placement: inline BLOB vs value file",
        "",
        f"- Date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
        f"- Machine: {os.cpu_count()} CPUs (nproc), {platform.machine()},"
        f" Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}",
        f"- Current DEFAULT_FILE_THRESHOLD: {DEFAULT_FILE_THRESHOLD // KIB} KiB",
    ]
    if quick:
        lines.append("- Mode: --quick (a smoke run, not figures to quote)")
    lines += [
        "",
        f"Median of {repeat} batches, µs per operation (engine Store, statistics off, signed"
        " payloads, WAL, synchronous=NORMAL). `file / inline` below 1 means the file is faster.",
        "",
        "| size | write inline | write file | file / inline | read inline | read file |"
        " file / inline |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for size, (w_inline, r_inline), (w_file, r_file) in rows:
        label = f"{size // KIB} KiB" if size < KIB * KIB else f"{size // (KIB * KIB)} MiB"
        lines.append(
            f"| {label} | {us(w_inline)} | {us(w_file)} | {w_file / w_inline:.2f} |"
            f" {us(r_inline)} | {us(r_file)} | {r_file / r_inline:.2f} |"
        )
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
