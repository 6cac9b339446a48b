"""Per-thread SQLite connections that survive across requests and never cross a ``fork()``."""

from __future__ import annotations

import contextlib
import fcntl
import os
import random
import sqlite3
import stat
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar
from urllib.parse import quote

from . import schema
from .files import make_private_dirs

T = TypeVar("T")
P = ParamSpec("P")

DB_NAME = "cache.db"
# Writers queue on this file (flock) before asking SQLite for the write lock.
WRITE_LOCK_NAME = "write.lock"

# Checkpoints (copying the WAL back into the database: page writes and two fsyncs) are run by
# the writers themselves once they have left the writers' queue. SQLite's automatic checkpoint
# runs inside COMMIT, while the process still holds write.lock, so every other writer waited for
# its fsyncs (measured with 2 processes: COMMIT 30 us at the median, 0.4-4 ms at p99, and
# write.lock waits of 100-150 us a write). A passive checkpoint never waits for, nor blocks, a
# writer or a reader. A process runs one every so many of its write transactions, adjusted after
# each so that a checkpoint copies about CHECKPOINT_PAGES pages. Each checkpoint costs two fsyncs
# whatever its size, and on a busy disk they are most of a write's cost: 4,000 pages (a WAL of up
# to 16 MiB) did 1.2-1.6x the sets per second of SQLite's default 1,000 there (strace: a third of
# the fdatasync calls), a few percent more on a quiet disk (docs/benchmarks.rst).
CHECKPOINT_EVERY_WRITES = 64  # the first interval
CHECKPOINT_PAGES = 4000
# SQLite's automatic checkpoint stays as a safety net, at a larger WAL (pages of 4 KiB): one huge
# transaction, or passive checkpoints that keep finding readers in the way.
AUTOCHECKPOINT_PAGES = 8000

# Django 5.2 supports SQLite 3.31 and later; ``DELETE ... RETURNING`` came with 3.35. Read where
# it is used (not bound at import), so a test can force the fallback on a newer SQLite.
MIN_SQLITE = (3, 31, 0)
HAS_RETURNING = sqlite3.sqlite_version_info >= (3, 35, 0)

_NOFOLLOW = os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


class UnsafeStore(sqlite3.DatabaseError):
    """The database file is a symbolic link or not a regular file: it is never opened."""


def delete_returning(
    conn: sqlite3.Connection, where: str, params: Sequence[Any], columns: str
) -> list[Any]:
    """``DELETE FROM entries WHERE <where> RETURNING <columns>``, on every supported SQLite.

    Before 3.35 the rows are selected, then deleted by id, in the caller's write transaction
    (``BEGIN IMMEDIATE``: no other writer can change them in between), so the result is the same.
    """
    if HAS_RETURNING:
        return conn.execute(
            f"DELETE FROM entries WHERE {where} RETURNING {columns}", tuple(params)
        ).fetchall()
    select = f"SELECT id, {columns} FROM entries WHERE {where}"
    rows = conn.execute(select, tuple(params)).fetchall()
    ids = [row[0] for row in rows]
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        conn.execute(f"DELETE FROM entries WHERE id IN ({','.join('?' * len(chunk))})", chunk)
    return [tuple(row[1:]) for row in rows]


def read_fingerprint(directory: str) -> bytes | None:
    """The fingerprint recorded in the store at ``directory``, read-only; ``None`` if none.

    Creates nothing and never waits on a writer (the system checks call it at startup).
    """
    path = os.path.join(directory, DB_NAME)
    try:
        info = os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISREG(info.st_mode):
        return None
    try:
        conn = sqlite3.connect(f"file:{quote(path)}?mode=ro", uri=True, timeout=0.2)
    except sqlite3.Error:
        return None
    try:
        row = conn.execute(
            "SELECT value FROM meta WHERE name = ?", (schema.FINGERPRINT,)
        ).fetchone()
    except sqlite3.Error:
        return None  # an older schema (no meta table), a busy or damaged store
    finally:
        conn.close()
    return row[0] if row is not None and isinstance(row[0], bytes) else None


# Bumped in every forked child: a connection opened under an older generation belongs to the
# parent and must never be used (nor closed, which could checkpoint and unlink the parent's WAL).
_generation = 0
_inherited: list[sqlite3.Connection] = []
_inherited_fds: list[int] = []


class _Connection(sqlite3.Connection):
    """A plain connection that can be weakly referenced, so that a fork can find them all."""


# Every connection open in this process. A connection of another thread lives in that thread's
# threading.local, which a forked child frees (the thread does not exist there), and freeing it
# closes it: so they are all pinned across the fork and kept, unused, in the child.
_open: weakref.WeakSet[_Connection] = weakref.WeakSet()
_open_lock = threading.Lock()
_pinned: list[sqlite3.Connection] = []
_databases: weakref.WeakSet[Database] = weakref.WeakSet()


def _before_fork() -> None:
    with _open_lock:
        _pinned[:] = list(_open)


def _after_fork_in_parent() -> None:
    _pinned.clear()


def _after_fork_in_child() -> None:
    global _generation, _open_lock
    _generation += 1
    _open_lock = threading.Lock()
    _inherited.extend(_pinned)
    _pinned.clear()
    # A parent thread may have held one at the moment of the fork; it would never be released.
    for database in list(_databases):
        database._lock = threading.Lock()


os.register_at_fork(
    before=_before_fork, after_in_parent=_after_fork_in_parent, after_in_child=_after_fork_in_child
)


class _Closer:
    """Closes a thread's connection when that thread's ``threading.local`` is freed.

    That happens when the thread ends or its Database is dropped. Freeing an open connection
    closes it too, but Python 3.13 warns (ResourceWarning), and the test suite turns the warning
    into a failure so that a connection lost anywhere else is found. Only the process that opened
    the connection closes it: a forked child frees the locals of the parent's other threads, and
    closing their connections there could checkpoint and unlink the parent's WAL.
    """

    __slots__ = ("conn", "pid")

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.pid = os.getpid()

    def __del__(self, getpid: Callable[[], int] = os.getpid) -> None:
        # Bound at definition: at interpreter exit the module's globals may already be gone.
        if self.pid == getpid():
            self.conn.close()


class StoreLocked(sqlite3.OperationalError):
    """The database stayed locked through every retry."""


def is_locked_error(exc: sqlite3.OperationalError) -> bool:
    message = str(exc)
    return "locked" in message or "busy" in message


class Database:
    """One SQLite database file, with one connection per thread (and per process)."""

    def __init__(
        self, directory: str, *, busy_timeout: float = 5.0, retries: int = 3, sync: str = "NORMAL"
    ) -> None:
        self.directory = directory
        self.path = os.path.join(directory, DB_NAME)
        self.busy_timeout = busy_timeout
        self.retries = retries
        self.sync = sync
        self._local = threading.local()
        self._lock = threading.Lock()
        self._initialised_in: int | None = None
        _databases.add(self)
        # (generation, lock between this process's threads, lock file descriptor or -1)
        self._queue: tuple[int, threading.Lock, int] | None = None
        # Write transactions committed by this process since its last checkpoint, and how many
        # it lets pass between two (see CHECKPOINT_PAGES); a race between threads only moves a
        # checkpoint by a write.
        self._writes = 0
        self._checkpoint_every = CHECKPOINT_EVERY_WRITES

    # -- connections -------------------------------------------------------------------------

    def connection(self) -> sqlite3.Connection:
        local = self._local
        conn: sqlite3.Connection | None = getattr(local, "conn", None)
        if conn is not None and local.generation == _generation:
            return conn
        if conn is not None:
            _inherited.append(conn)  # keep it referenced so it is never closed in the child
        conn = self._connect()
        local.conn = conn
        local.generation = _generation
        local.closer = _Closer(conn)
        return conn

    def _connect(self) -> sqlite3.Connection:
        self._ensure_directory()
        conn = sqlite3.connect(
            self.path,
            timeout=self.busy_timeout,
            isolation_level=None,
            check_same_thread=False,
            cached_statements=256,
            factory=_Connection,
        )
        with _open_lock:
            _open.add(conn)
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
            conn.execute(f"PRAGMA synchronous = {self.sync}")
            conn.execute("PRAGMA temp_store = MEMORY")
            conn.execute("PRAGMA cache_size = -8192")
            conn.execute(f"PRAGMA wal_autocheckpoint = {AUTOCHECKPOINT_PAGES}")
            if self._initialised_in != _generation:
                self._initialise(conn)
        except BaseException:
            # A damaged or locked store: each later call would open (and drop) another one.
            conn.close()
            raise
        return conn

    def _ensure_directory(self) -> None:
        make_private_dirs(self.directory)
        # Create the database file owner-only before SQLite does (it would honour the umask);
        # the -wal and -shm files SQLite creates later copy these permissions. SQLite follows a
        # link in place of the database (it refuses them for -wal and -shm), so one planted here
        # would make it write to a file elsewhere: it must be a regular file. An existing file
        # is only lstat()ed, never opened here: closing a descriptor of a database drops every
        # POSIX lock this process's SQLite connections hold on it.
        try:
            info = os.lstat(self.path)
        except FileNotFoundError:
            flags = os.O_RDONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW
            with contextlib.suppress(FileExistsError):  # another process or thread made it first
                os.close(os.open(self.path, flags, 0o600))
            info = os.lstat(self.path)
        if stat.S_ISLNK(info.st_mode):
            raise UnsafeStore(
                f"{self.path} is a symbolic link; a cache database never is (delete it)"
            )
        if not stat.S_ISREG(info.st_mode):
            raise UnsafeStore(f"{self.path} is not a regular file (delete it)")

    def _initialise(self, conn: sqlite3.Connection) -> None:
        with self._lock:
            if self._initialised_in == _generation:
                return
            self._retry(lambda: self._set_wal(conn))
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version != schema.SCHEMA_VERSION or not self._has_columns(conn):
                self._retry(lambda: self._create_schema(conn))
            self._initialised_in = _generation

    @staticmethod
    def _set_wal(conn: sqlite3.Connection) -> None:
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
        if mode.lower() != "wal":
            conn.execute("PRAGMA journal_mode = WAL")

    @staticmethod
    def _has_columns(conn: sqlite3.Connection) -> bool:
        # An older version of the engine may have reset user_version after a newer one set it.
        return not schema.added_columns(_columns(conn))

    @staticmethod
    def _create_schema(conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in schema.STATEMENTS:
                conn.execute(statement)
            for statement in schema.added_columns(_columns(conn)):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {schema.SCHEMA_VERSION}")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def close(self) -> None:
        """Close this thread's connection (Django's per-request ``close()`` does not call this)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None and self._local.generation == _generation:
            conn.close()
        self._local.conn = None
        self._local.closer = None

    # -- transactions ------------------------------------------------------------------------

    def _retry(self, operation: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        # Arguments rather than a closure: the write path calls this three times per write.
        for attempt in range(self.retries + 1):
            try:
                return operation(*args, **kwargs)
            except StoreLocked:
                raise  # an inner retry loop already waited its full budget
            except sqlite3.OperationalError as exc:
                if not is_locked_error(exc) or attempt == self.retries:
                    if is_locked_error(exc):
                        raise StoreLocked(
                            f"{self.path} stayed locked after {self.retries + 1} attempts"
                        ) from exc
                    raise
                time.sleep(min(0.001 * 2**attempt, 0.1) * (0.5 + random.random()))
        raise AssertionError("unreachable")  # pragma: no cover - the loop always returns or raises

    def _after_commit(self, conn: sqlite3.Connection) -> None:
        # Out of the writers' queue: the next writer is already writing while this one copies.
        self._writes += 1
        if self._writes >= self._checkpoint_every:
            self._writes = 0
            pages = self.checkpoint(conn)
            if pages > 0:
                # Aim at CHECKPOINT_PAGES a checkpoint, whatever the number of processes
                # writing; at most halved or doubled at a time.
                ratio = min(max(CHECKPOINT_PAGES / pages, 0.5), 2.0)
                self._checkpoint_every = min(max(int(self._checkpoint_every * ratio), 4), 4096)

    @staticmethod
    def checkpoint(conn: sqlite3.Connection) -> int:
        """A passive checkpoint: as much of the WAL as no reader still needs, waiting for nobody.

        Returns the WAL's length in pages (0 if unknown). Best effort: a checkpoint running
        elsewhere, or a read-only store, leaves the WAL to the next one (or to SQLite's
        automatic one, at AUTOCHECKPOINT_PAGES).
        """
        try:
            row = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        except sqlite3.OperationalError:
            return 0
        return int(row[1]) if row is not None and isinstance(row[1], int) else 0

    def _flock(self, fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            pass
        except OSError:
            return False
        deadline = time.monotonic() + self.busy_timeout
        delay = 0.00002
        while True:
            time.sleep(delay)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if time.monotonic() > deadline:
                    return False
            except OSError:
                return False
            delay = min(delay * 2, 0.001)

    def _open_queue(self) -> tuple[int, threading.Lock, int]:
        with self._lock:
            queue = self._queue
            if queue is not None and queue[0] == _generation:
                return queue
            if queue is not None:
                # The parent's descriptor: unlocking or closing it here could free the parent's
                # lock, so the child keeps it open and opens its own.
                _inherited_fds.append(queue[2])
            try:
                self._ensure_directory()
                fd = os.open(
                    os.path.join(self.directory, WRITE_LOCK_NAME),
                    os.O_RDWR | os.O_CREAT | _NOFOLLOW,  # never a link planted to a file elsewhere
                    0o600,
                )
            except OSError:
                fd = -1  # a read-only directory: SQLite's locking alone
            self._queue = queue = (_generation, threading.Lock(), fd)
            return queue

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A deferred transaction, so several SELECTs see one snapshot."""
        conn = self.connection()
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            if conn.in_transaction:
                conn.execute("COMMIT")

    def run_write(self, operation: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``operation`` in a write transaction, retrying the whole of it while locked."""
        return self._retry(self._transaction, operation)

    def _transaction(self, operation: Callable[[sqlite3.Connection], T]) -> T:
        """One ``BEGIN IMMEDIATE`` transaction around ``operation``: committed on success, rolled
        back on any error.

        Writers of every process and thread take turns on a lock file before BEGIN IMMEDIATE.
        SQLite's own busy handler sleeps at least a millisecond between attempts, while a write
        transaction here holds the lock for tens of microseconds: under contention writers would
        mostly sleep. A writer waiting for the lock file tries again after 20 µs, then after
        twice as long each time up to 1 ms (measured: 4 processes on 2 cores did about 1.7x the
        mixed throughput). This is only a queue in front of SQLite's locking, which still guards
        every write: when the lock file cannot be used, or the wait outlasts ``busy_timeout``,
        the writer goes on to BEGIN IMMEDIATE without it.

        Spelled out rather than built from context managers: every cache write runs this, and
        generator context managers and closures cost about 4 µs of a write's 60
        (docs/performance.rst).
        """
        conn = self.connection()
        queue = self._queue
        if queue is None or queue[0] != _generation:
            queue = self._open_queue()
        _, thread_lock, fd = queue
        queued = fd >= 0 and thread_lock.acquire(timeout=self.busy_timeout)
        try:
            locked = queued and self._flock(fd)
            try:
                self._retry(conn.execute, "BEGIN IMMEDIATE")
                try:
                    result = operation(conn)
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
                try:
                    self._retry(conn.execute, "COMMIT")
                except BaseException:
                    # Left open, the transaction would make this thread's next BEGIN fail.
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
            finally:
                if locked:
                    fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            if queued:
                thread_lock.release()
        self._after_commit(conn)
        return result


def _columns(conn: sqlite3.Connection) -> set[str]:
    return {row[1] for row in conn.execute("PRAGMA table_info(entries)")}
