"""Process-wide state of a store directory: batched hit/miss counts and LRU access times.

Every :class:`~diskcache_admin.engine.store.Store` on one directory in this process shares one
:class:`Shared`: the connection pool, the value files and the counts not yet written. Counts are
kept in memory and written in batches (inside the next write transaction, or on their own when a
batch is due), so a read never needs a write transaction of its own. This module also keeps the
counts right across ``fork()`` and at interpreter exit.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Final

from . import insight
from .connection import Database
from .files import ValueFiles

# Hit/miss counts and LRU access times are kept in memory and written in batches, so that a
# read never needs a write transaction of its own. A batch costs one write transaction (0.2 to
# 0.5 ms measured): every 1,000 reads that was still ~5 % of a get (benchmarks/backends.py,
# statistics on vs off); every 10,000 it is noise, and a busy process still flushes every 5 s.
FLUSH_EVERY_OPS: Final = 10_000
FLUSH_EVERY_SECONDS: Final = 5.0
# A read asks whether a batch is due (``Shared.due``: four counters and the clock) at most every
# this many reads, and exactly when the count alone would make one due; in between it only
# counts down (``Shared.reads_to_check``). So a time-due batch can wait this many more reads;
# Django's per-request close() and every write still ask every time.
CHECK_EVERY_READS: Final = 64

# Rejected entries a read in an event loop leaves for a worker thread to remove, at most (the
# others are met, and left, again by a later read).
MAX_DEFERRED_REPAIRS: Final = 100

# A week of snapshots at the default five-minute interval.
SNAPSHOTS_KEPT: Final = 2016

SnapshotRow = tuple[float, int, int, int, int]  # taken, count, size, hits, misses

# Unflushed hits, misses, access times and insight samples taken for one transaction.
Taken = tuple[int, int, dict[int, float], insight.Batch | None]


# Set while a read runs in an event loop's own thread (``DiskCache.aget`` and its siblings): a
# batch of statistics is one write transaction, which may wait for the write lock, and the loop
# must not wait for a lock. ``Shared.due()`` then says no; the async read sends the due batch to a
# worker thread after the read (``DiskCache._flush_off_loop``). Per thread: a synchronous read in
# another thread at the same moment still writes its batches.
class _InEventLoop(threading.local):
    active = False  # the class attribute is every thread's starting value


in_event_loop = _InEventLoop()


def writes_deferred() -> bool:
    """Whether this thread is running a read in an event loop (no write may wait here)."""
    return in_event_loop.active


_ADD_COUNTS: Final = (
    "UPDATE counters SET hits = hits + ?, misses = misses + ?,"
    " stats_since = coalesce(stats_since, ?) WHERE id = 0"
)


class Shared:
    """State shared by every Store on one directory in this process.

    The store's hot read path updates ``hits``, ``misses`` and ``accessed`` directly (under
    ``lock`` for the counts): a method call there would cost more than the update itself.
    """

    def __init__(self, directory: str, busy_timeout: float) -> None:
        self.db = Database(directory, busy_timeout=busy_timeout)
        self.files = ValueFiles(directory)
        self.lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self.accessed: dict[int, float] = {}
        # Sampled key activity (engine/insight.py), written with the same batches.
        self.insight = insight.Pending()
        self.last_flush = time.monotonic()
        # Reads left before the next read asks ``due()`` (see CHECK_EVERY_READS). Updated without
        # the lock: a lost decrement between two threads only moves a check by a read.
        self.reads_to_check = 1
        # (key, reason) of rows already logged as a miss: one warning each, not one per read.
        self.logged: set[tuple[str, str]] = set()
        # Whether this process has opened (and, if needed, created) the database in a worker
        # thread: only then may an event loop's thread open its own connection and read (the
        # first open may create the schema, a write). False again in a forked child.
        self.ready_for_loop_reads = False
        # Rejected entries (key, row as read, reason) that a read in an event loop could not
        # remove there (a write); a worker thread removes them (Store.repair_deferred).
        self.deferred_repairs: list[tuple[str, tuple[object, ...], str]] = []

    def pending(self) -> bool:
        return bool(self.hits or self.misses or self.accessed or self.insight.samples)

    def due(self) -> bool:
        """A batch is due: enough pending counts, or something pending and enough time since the
        last write. Never while this thread runs a read in an event loop (see
        :data:`in_event_loop`)."""
        pending = self.hits + self.misses + len(self.accessed) + self.insight.samples
        if not pending or in_event_loop.active:
            # Nothing to write: a store with statistics off is never "due" (each async read
            # would otherwise send an empty batch to a thread once 5 s had passed).
            return False
        return (
            pending >= FLUSH_EVERY_OPS or time.monotonic() - self.last_flush >= FLUSH_EVERY_SECONDS
        )

    def next_check(self) -> None:
        """Set how many reads go by before the next ``due()`` check: never past the read that
        would make a batch due by its count, at most CHECK_EVERY_READS."""
        pending = self.hits + self.misses + len(self.accessed) + self.insight.samples
        self.reads_to_check = max(1, min(CHECK_EVERY_READS, FLUSH_EVERY_OPS - pending))

    def defer_repair(self, key: str, row: tuple[object, ...], reason: str) -> None:
        with self.lock:
            if len(self.deferred_repairs) < MAX_DEFERRED_REPAIRS:  # a flood of bad rows
                self.deferred_repairs.append((key, row, reason))

    def take_deferred_repairs(self) -> list[tuple[str, tuple[object, ...], str]]:
        with self.lock:
            taken, self.deferred_repairs = self.deferred_repairs, []
        return taken

    def postpone(self) -> None:
        """A due batch could not be written (busy, read-only): try again a batch later."""
        self.last_flush = time.monotonic()

    def unflushed(self) -> tuple[int, int]:
        with self.lock:
            return self.hits, self.misses

    def add_counts(self, hits: int, misses: int) -> None:
        with self.lock:
            self.hits += hits
            self.misses += misses

    def reset_counts(self) -> None:
        with self.lock:
            self.hits = self.misses = 0

    def take_into(
        self, conn: sqlite3.Connection, clock: Callable[[], float], *, everything: bool = False
    ) -> Taken | None:
        """Move the pending counts into ``conn``'s transaction when a batch is due (or
        ``everything``, an explicit flush); return what was taken.

        Not on every write: the counters row (and the insight tables) would then be one more
        page in every write transaction's WAL, and a contended row for every process. Pending
        LRU access times always go, so that an eviction in the transaction sees the latest
        reads. ``clock`` gives the time that starts the statistics if none were counted yet.
        """
        if not (self.hits or self.misses or self.accessed or self.insight.samples):
            return None
        if not (everything or self.accessed or self.due()):
            return None
        with self.lock:
            hits, misses, accessed = self.hits, self.misses, self.accessed
            self.hits = self.misses = 0
            self.accessed = {}
            batch = self.insight.take()
            self.last_flush = time.monotonic()
        try:
            if hits or misses:
                conn.execute(_ADD_COUNTS, (hits, misses, clock()))
            if accessed:
                conn.executemany(
                    "UPDATE entries SET rank = ? WHERE id = ?",
                    [(when, entry_id) for entry_id, when in accessed.items()],
                )
            if batch is not None:
                insight.write(conn, batch, time.time())
        except BaseException:
            self.restore((hits, misses, accessed, batch))
            raise
        return hits, misses, accessed, batch

    def restore(self, taken: Taken | None) -> None:
        """The transaction rolled back: the counts it carried must not be lost."""
        if taken is None:
            return
        hits, misses, accessed, batch = taken
        with self.lock:
            self.hits += hits
            self.misses += misses
            for entry_id, when in accessed.items():
                self.accessed.setdefault(entry_id, when)
            if batch is not None:
                self.insight.put_back(batch)

    def reset_insight(self) -> None:
        """Drop this process's unwritten samples (the tables are emptied by the caller)."""
        with self.lock:
            self.insight.clear()


_registry: dict[str, Shared] = {}
_registry_lock = threading.Lock()


def shared_for(directory: str, busy_timeout: float) -> Shared:
    """The one :class:`Shared` of ``directory`` in this process (created on first use)."""
    real = os.path.realpath(directory)
    with _registry_lock:
        shared = _registry.get(real)
        if shared is None:
            shared = _registry[real] = Shared(real, busy_timeout)
        return shared


def forget(directory: str) -> None:
    """Drop ``directory``'s state (unflushed counts too) and close its connections.

    For tests and tools that want the next Store on ``directory`` to start as in a new process.
    """
    with _registry_lock:
        shared = _registry.pop(os.path.realpath(directory), None)
    if shared is not None:
        shared.db.close()


def reset_insight(directory: str) -> None:
    """Forget the key activity recorded for ``directory`` (engine/insight.py): the tables, and
    this process's samples not yet written. Other processes' unwritten samples (at most one
    batch each) still arrive afterwards."""
    shared = shared_for(directory, 5.0)  # the store's own Shared: it exists once a Store does
    shared.reset_insight()
    shared.db.run_write(lambda conn: insight.reset(conn, time.time()))


def _after_fork_in_child() -> None:
    # The parent still holds its unflushed counts and access times and will write them itself:
    # a child that flushed its copy too would count every one of them twice. Locks are renewed
    # because another parent thread may have held one at the moment of the fork.
    global _registry_lock
    _registry_lock = threading.Lock()
    for shared in _registry.values():
        shared.ready_for_loop_reads = False  # the child opens its own connections
        shared.deferred_repairs = []
        shared.lock = threading.Lock()
        shared.hits = shared.misses = 0
        shared.accessed = {}
        shared.reads_to_check = 1
        top = shared.insight.top
        shared.insight = insight.Pending()
        shared.insight.top = top
        shared.last_flush = time.monotonic()


os.register_at_fork(after_in_child=_after_fork_in_child)


def _flush_at_exit() -> None:
    # A short-lived process (a management command, a cron job) rarely reaches a batch: without
    # this its hits, misses and insight samples would never be counted. Access times are not
    # worth a write here.
    for shared in list(_registry.values()):
        with shared.lock:
            hits, misses = shared.hits, shared.misses
            shared.hits = shared.misses = 0
            batch = shared.insight.take()
        # A store whose directory is gone (a test's temporary one) is not brought back for this.
        if not (hits or misses or batch) or not os.path.exists(shared.db.path):
            continue

        def add(
            conn: sqlite3.Connection,
            hits: int = hits,
            misses: int = misses,
            batch: insight.Batch | None = batch,
        ) -> None:
            if hits or misses:
                conn.execute(_ADD_COUNTS, (hits, misses, time.time()))
            if batch is not None:
                insight.write(conn, batch, time.time())

        with contextlib.suppress(sqlite3.Error):  # exiting: a busy or vanished store loses them
            shared.db.run_write(add)


atexit.register(_flush_at_exit)
