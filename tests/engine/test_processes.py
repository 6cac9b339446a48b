"""Several processes on one LOCATION, and fork(): no errors, no lost writes, no shared handle."""

from __future__ import annotations

import gc
import multiprocessing
import os
import sqlite3
import subprocess
import sys
import threading
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from diskcache_admin.backend import DiskCache
from diskcache_admin.engine import KeyParts
from diskcache_admin.engine import connection as connection_module

from .conftest import forget_store
from .workers import expected_value, hammer, open_store

# Python 3.12+ warns about fork() in a process with threads (pytest-xdist's execnet has some);
# the engine is what is under test here, and it is built to be forked.
pytestmark = pytest.mark.filterwarnings("ignore:.*fork.*:DeprecationWarning")

WORKERS = 3
ROOT = Path(__file__).resolve().parents[2]
ROUNDS = 400


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_processes_writing_and_reading_one_location(tmp_path: Path, start_method: str) -> None:
    directory = str(tmp_path / "shared")
    store = open_store(directory)
    store.set("counter", KeyParts("counter"), 0, None)
    context = multiprocessing.get_context(start_method)
    results = context.Queue()
    start = context.Barrier(WORKERS)
    processes = [
        context.Process(target=hammer, args=(directory, worker, WORKERS, ROUNDS, start, results))
        for worker in range(WORKERS)
    ]
    for process in processes:
        process.start()
    reports = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=60)

    assert [p.exitcode for p in processes] == [0] * WORKERS
    assert [errors for _, _, errors in sorted(reports)] == [[]] * WORKERS
    assert store.get("counter") == WORKERS * ROUNDS
    for worker in range(WORKERS):
        for round_ in range(ROUNDS):
            assert store.get(f"w{worker}:{round_}") == expected_value(worker, round_)
    assert store.check() == []
    stats = store.stats()
    assert stats.count == 1 + WORKERS * ROUNDS
    # every read of every process is counted once, across processes (plus ours above)
    assert stats.hits + stats.misses == sum(gets for _, gets, _ in reports) + 1 + WORKERS * ROUNDS
    forget_store(directory)


def test_a_forked_child_never_uses_the_parents_connection(cache: DiskCache) -> None:
    cache.set("counter", 1)
    parent_connection = cache.store.db.connection()
    used_by: list[int] = []
    parent_connection.set_trace_callback(lambda statement: used_by.append(os.getpid()))
    context = multiprocessing.get_context("fork")
    results = context.Queue()

    def child() -> None:
        report: dict[str, Any] = {}
        try:
            connection = cache.store.db.connection()
            report["fresh connection"] = connection is not parent_connection
            report["read"] = cache.get("counter")
            report["incr"] = cache.incr("counter")
            cache.set("from-child", "hello")
            report["parent's connection used here"] = os.getpid() in used_by
        except Exception as exc:  # reported to the parent, which shows it in the failed assert
            report["error"] = repr(exc)
        finally:
            results.put(report)

    process = context.Process(target=child)
    process.start()
    report = results.get(timeout=60)
    process.join(timeout=60)

    assert process.exitcode == 0
    assert report == {
        "fresh connection": True,
        "read": 1,
        "incr": 2,
        "parent's connection used here": False,
    }
    # the parent carries on with the very same connection
    assert cache.incr("counter") == 3
    assert cache.get("from-child") == "hello"
    assert cache.store.db.connection() is parent_connection
    assert set(used_by) == {os.getpid()}


def test_a_forked_child_does_not_count_the_parents_pending_hits_again(cache: DiskCache) -> None:
    cache.set("k", 1)
    for _ in range(3):
        cache.get("k")  # counted in memory, not written yet
    context = multiprocessing.get_context("fork")

    def child() -> None:
        cache.set("child", 1)  # a write: it would carry any pending counts with it
        cache.get("k")
        cache.store.flush()

    process = context.Process(target=child)
    process.start()
    process.join(timeout=60)
    cache.store.flush()

    assert process.exitcode == 0
    with closing(sqlite3.connect(cache.store.db.path)) as conn, conn:
        assert conn.execute("SELECT hits FROM counters").fetchone() == (4,)


def test_os_fork_child_and_parent_both_keep_working(cache: DiskCache) -> None:
    cache.set("n", 0)
    pid = os.fork()
    if pid == 0:  # the child: report through the exit status, never return into pytest
        status = 1
        try:
            for _ in range(50):
                cache.incr("n")
            status = 0
        finally:
            os._exit(status)
    for _ in range(50):
        cache.incr("n")
    _, status = os.waitpid(pid, 0)

    assert os.waitstatus_to_exitcode(status) == 0
    assert cache.get("n") == 100


def test_a_process_that_exits_before_a_batch_is_due_still_counts_its_reads(
    tmp_path: Path,
) -> None:
    directory = str(tmp_path / "short-lived")
    script = (
        "from tests.engine.workers import open_store\n"
        f"store = open_store({directory!r})\n"
        "for key in ('a', 'b', 'c'):\n"
        "    store.get(key)\n"
    )

    subprocess.run([sys.executable, "-c", script], check=True, timeout=60, cwd=ROOT)

    with closing(sqlite3.connect(os.path.join(directory, "cache.db"))) as conn, conn:
        assert conn.execute("SELECT hits, misses FROM counters").fetchone() == (0, 3)


def test_another_threads_connection_is_kept_open_in_a_forked_child(cache: DiskCache) -> None:
    # That thread does not exist in the child, which frees its threading.local: the connection
    # in it must not be closed there, since closing touches the parent's database files.
    opened, finish = threading.Event(), threading.Event()
    ids: list[int] = []

    def other_thread() -> None:
        cache.get("k")
        ids.append(id(cache.store.db.connection()))  # an id only: no reference that pins it
        opened.set()
        finish.wait(timeout=60)

    thread = threading.Thread(target=other_thread)
    thread.start()
    opened.wait(timeout=60)
    context = multiprocessing.get_context("fork")
    results = context.Queue()

    def child() -> None:
        gc.collect()
        results.put(any(id(conn) == ids[0] for conn in connection_module._inherited))

    try:
        process = context.Process(target=child)
        process.start()
        kept = results.get(timeout=60)
        process.join(timeout=60)
    finally:
        finish.set()
        thread.join()

    assert process.exitcode == 0
    assert kept is True


def test_the_exit_flush_does_not_bring_back_a_removed_directory(tmp_path: Path) -> None:
    directory = str(tmp_path / "removed")
    script = (
        "import shutil\n"
        "from tests.engine.workers import open_store\n"
        f"store = open_store({directory!r})\n"
        "store.get('a')\n"
        f"shutil.rmtree({directory!r})\n"
    )

    subprocess.run([sys.executable, "-c", script], check=True, timeout=60, cwd=ROOT)

    assert not os.path.exists(directory)
