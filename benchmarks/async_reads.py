"""DiskCache's async methods against their synchronous twins, measured inside an event loop.

Run from the repository root::

    .venv/bin/python -m benchmarks.async_reads            # about 20 s
    .venv/bin/python -m benchmarks.async_reads --quick

Each pair (``get``/``aget``, ``get_many``/``aget_many``, ``has_key``/``ahas_key``,
``set``/``aset``) runs in one coroutine, the synchronous call and the awaited one taking turns
batch by batch; the table gives the median time per call and the ratio. The reads run in the
loop's own thread (docs/engine.rst, "Async"); ``aset`` runs in a worker thread and is shown for
comparison. The ``diskcache`` package's ``aget`` (Django's ``BaseCache``: ``sync_to_async``) is
measured beside ours. Writes ``benchmarks/results/async.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

DEFAULT_OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "async.md")
KEYS = [f"k{i}" for i in range(10)]


def configure(root: str) -> None:
    import django
    from django.conf import settings

    if settings.configured:
        return
    settings.configure(
        SECRET_KEY="diskcache-admin-benchmark-not-secret",
        INSTALLED_APPS=[],
        USE_TZ=True,
        CACHES={
            "ours": {
                "BACKEND": "diskcache_admin.backend.DiskCache",
                "LOCATION": os.path.join(root, "ours"),
                "OPTIONS": {"MAX_ENTRIES": None},
            },
            "theirs": {
                "BACKEND": "diskcache.DjangoCache",
                "LOCATION": os.path.join(root, "theirs"),
            },
        },
    )
    django.setup()


async def timed_pair(
    sync: Callable[[], Any],
    coroutine: Callable[[], Awaitable[Any]],
    number: int,
    repeat: int,
) -> tuple[float, float]:
    """Median seconds per call of ``sync()`` and of ``await coroutine()``, batches in turn."""
    sync_times: list[float] = []
    async_times: list[float] = []
    for index in range(repeat + 1):
        start = time.perf_counter()
        for _ in range(number):
            sync()
        middle = time.perf_counter()
        for _ in range(number):
            await coroutine()
        end = time.perf_counter()
        if index:  # the first round warms up
            sync_times.append((middle - start) / number)
            async_times.append((end - middle) / number)
    return statistics.median(sync_times), statistics.median(async_times)


async def measure(quick: bool) -> list[tuple[str, str, float, float]]:
    from django.core.cache import caches

    ours, theirs = caches["ours"], caches["theirs"]
    value = {"id": 1, "body": "x" * 60}  # about 100 B pickled
    for cache in (ours, theirs):
        for key in KEYS:
            cache.set(key, value, None)
    number, repeat = (100, 5) if quick else (500, 21)
    rows = []
    pairs: Sequence[tuple[str, str, Callable[[], Any], Callable[[], Awaitable[Any]]]] = (
        ("DiskCache", "get", lambda: ours.get("k1"), lambda: ours.aget("k1")),
        ("DiskCache", "get_many(10)", lambda: ours.get_many(KEYS), lambda: ours.aget_many(KEYS)),
        ("DiskCache", "has_key", lambda: ours.has_key("k1"), lambda: ours.ahas_key("k1")),
        ("DiskCache", "set", lambda: ours.set("k2", value), lambda: ours.aset("k2", value)),
        ("diskcache", "get", lambda: theirs.get("k1"), lambda: theirs.aget("k1")),
    )
    for backend, name, sync, coroutine in pairs:
        await coroutine()  # the first call opens the store (in a worker thread)
        sync_time, async_time = await timed_pair(sync, coroutine, number, repeat)
        rows.append((backend, name, sync_time, async_time))
    return rows


def table(rows: list[tuple[str, str, float, float]], load: Sequence[float], quick: bool) -> str:
    import platform

    lines = [
        "# Async methods in an event loop: DiskCache (and diskcache's aget)",
        "",
        f"{platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()};"
        f" {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; load average {load[0]:.1f} at"
        f" the start, {load[1]:.1f} at the end{' (--quick: a smoke run)' if quick else ''}.",
        "",
        "Median time per call (µs) over interleaved batches, in one running event loop.",
        "",
        "| backend | operation | sync µs | async µs | async / sync |",
        "|---|---|---:|---:|---:|",
    ]
    for backend, name, sync_time, async_time in rows:
        lines.append(
            f"| {backend} | {name} | {sync_time * 1e6:.1f} | {async_time * 1e6:.1f}"
            f" | {async_time / sync_time:.2f}x |"
        )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.async_reads")
    parser.add_argument("--quick", action="store_true", help="a smoke run")
    parser.add_argument("--out", default=DEFAULT_OUT, help="Markdown file (default: %(default)s)")
    args = parser.parse_args(argv)
    root = tempfile.mkdtemp(prefix="diskcache-async-")
    try:
        configure(root)
        before = os.getloadavg()[0]
        rows = asyncio.run(measure(args.quick))
        after = os.getloadavg()[0]
    finally:
        shutil.rmtree(root, ignore_errors=True)
    text = table(rows, (before, after), args.quick)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as handle:
            handle.write(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
