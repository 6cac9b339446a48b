"""Real concurrency: threads and processes on one cold key; XFetch on a hot key under load.

LocMem lives inside one process, so its run uses threads only; DiskCache and Redis are shared
between processes, and their runs add two forked processes with four threads each.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.core.cache import cache

from diskcache_admin.decorators import Barrier, memoize

from .helpers import outcomes

COUNTER = "stampede-test-computations"
THREADS = 8
PROCESSES = 2
THREADS_PER_PROCESS = 4


def compute_slowly() -> int:
    time.sleep(0.2)
    return int(cache.incr(COUNTER))


cold = memoize(timeout=60, key_prefix="stampede.cold", stampede=Barrier(wait=20))(compute_slowly)


def call_from_threads(start: Any, count: int) -> list[int]:
    def one(_: int) -> int:
        start.wait()
        return int(cold())

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(one, range(count)))


def child(start: Any, results: Any) -> None:
    results.put(call_from_threads(start, THREADS_PER_PROCESS))


def test_a_cold_key_is_computed_exactly_once(backend: str) -> None:
    cache.set(COUNTER, 0, 300)
    processes = PROCESSES if backend != "locmem" else 0
    # fork: the children inherit the test's cache settings and the decorated function.
    context = multiprocessing.get_context("fork")
    start = context.Barrier(THREADS + processes * THREADS_PER_PROCESS, timeout=30)
    results = context.Queue()
    children = [context.Process(target=child, args=(start, results)) for _ in range(processes)]
    with warnings.catch_warnings():
        # Python 3.12+ warns about fork() in a process with threads. The children start before
        # this test's threads do and open their own cache connections.
        warnings.simplefilter("ignore", DeprecationWarning)
        for process in children:
            process.start()
    values = call_from_threads(start, THREADS)
    for _ in children:
        values.extend(results.get(timeout=30))
    for process in children:
        process.join(30)
        assert process.exitcode == 0
    assert len(values) == THREADS + processes * THREADS_PER_PROCESS
    assert cache.get(COUNTER) == 1
    assert set(values) == {1}


@pytest.mark.slow
def test_xfetch_recomputes_a_hot_key_before_it_expires(backend: str) -> None:
    cache.set(COUNTER, 0, 300)

    @memoize(timeout=0.6, key_prefix="stampede.hot")
    def hot() -> int:
        time.sleep(0.1)
        return int(cache.incr(COUNTER))

    hot()  # warm
    stop = threading.Event()

    def load() -> None:
        while not stop.is_set():
            hot()
            time.sleep(0.005)

    with outcomes() as seen, ThreadPoolExecutor(4) as pool:
        workers = [pool.submit(load) for _ in range(4)]
        stop.wait(1.5)  # more than two lifetimes of the value
        stop.set()
        for worker in workers:
            worker.result()
    assert set(seen) <= {"hit", "refresh"}, "a caller saw a miss or waited"
    assert seen.count("refresh") >= 2
    assert cache.get(COUNTER) == 1 + seen.count("refresh")
