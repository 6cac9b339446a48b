"""Per-thread SQLite connections that survive across requests and never cross a ``fork()``."""

from __future__ import annotations

import os
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from . import schema

T = TypeVar("T")

DB_NAME = "cache.db"

# Bumped in every forked child: a connection opened under an older generation belongs to the
# parent and must never be used (nor closed, which could checkpoint and unlink the parent's WAL).
_generation = 0
_inherited: list[sqlite3.Connection] = []


def _after_fork_in_child() -> None:
    global _generation
    _generation += 1


os.register_at_fork(after_in_child=_after_fork_in_child)


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
        return conn

    def _connect(self) -> sqlite3.Connection:
        self._ensure_directory()
        conn = sqlite3.connect(
            self.path,
            timeout=self.busy_timeout,
            isolation_level=None,
            check_same_thread=False,
            cached_statements=256,
        )
        conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
        conn.execute(f"PRAGMA synchronous = {self.sync}")
        conn.execute("PRAGMA temp_store = MEMORY")
        conn.execute("PRAGMA cache_size = -8192")
        if self._initialised_in != _generation:
            self._initialise(conn)
        return conn

    def _ensure_directory(self) -> None:
        os.makedirs(self.directory, mode=0o700, exist_ok=True)

    def _initialise(self, conn: sqlite3.Connection) -> None:
        with self._lock:
            if self._initialised_in == _generation:
                return
            self._retry(lambda: self._set_wal(conn))
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version != schema.SCHEMA_VERSION:
                self._retry(lambda: self._create_schema(conn))
            self._initialised_in = _generation

    @staticmethod
    def _set_wal(conn: sqlite3.Connection) -> None:
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
        if mode.lower() != "wal":
            conn.execute("PRAGMA journal_mode = WAL")

    @staticmethod
    def _create_schema(conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in schema.STATEMENTS:
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

    # -- transactions ------------------------------------------------------------------------

    def _retry(self, operation: Callable[[], T]) -> T:
        for attempt in range(self.retries + 1):
            try:
                return operation()
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

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A ``BEGIN IMMEDIATE`` transaction: committed on success, rolled back on any error."""
        conn = self.connection()
        self._retry(lambda: conn.execute("BEGIN IMMEDIATE"))
        try:
            yield conn
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        self._retry(lambda: conn.execute("COMMIT"))

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

        def attempt() -> T:
            with self.write() as conn:
                return operation(conn)

        return self._retry(attempt)
