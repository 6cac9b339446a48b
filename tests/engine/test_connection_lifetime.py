"""A connection of the engine's per-thread pool is closed when its owner goes away.

Python 3.13 warns (``ResourceWarning``, an error in this suite) about a connection freed while
still open; these tests pin the closing itself, so they fail on every supported Python.
"""

from __future__ import annotations

import gc
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from diskcache_admin.engine import connection
from diskcache_admin.engine.connection import Database


def is_closed(conn: sqlite3.Connection) -> bool:
    try:
        conn.execute("SELECT 1")
    except sqlite3.ProgrammingError:  # "Cannot operate on a closed database."
        return True
    return False


def test_a_thread_s_connection_is_closed_when_the_thread_ends(tmp_path: Path) -> None:
    database = Database(str(tmp_path))
    opened: list[sqlite3.Connection] = []
    thread = threading.Thread(target=lambda: opened.append(database.connection()))
    thread.start()
    thread.join()

    # The thread's locals are freed as its state is torn down, around the end of join().
    deadline = time.monotonic() + 5
    while not is_closed(opened[0]) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert is_closed(opened[0])
    mine = database.connection()
    assert mine is not opened[0]
    assert not is_closed(mine)
    database.close()


def test_dropping_a_database_closes_its_connections(tmp_path: Path) -> None:
    database = Database(str(tmp_path))
    conn = database.connection()

    del database
    gc.collect()

    assert is_closed(conn)


def test_closing_a_database_closes_this_thread_s_connection_only_once(tmp_path: Path) -> None:
    database = Database(str(tmp_path))
    conn = database.connection()

    database.close()
    database.close()

    assert is_closed(conn)
    assert not is_closed(database.connection())
    database.close()


def test_a_connection_that_cannot_be_set_up_is_closed(tmp_path: Path) -> None:
    (tmp_path / "cache.db").write_bytes(b"not a database " * 300)
    database = Database(str(tmp_path))
    before = set(connection._open)

    for _ in range(3):
        with pytest.raises(sqlite3.DatabaseError) as failure:
            database.connection()
        # The traceback still references the connection, so the weak set still holds it.
        assert failure.traceback
        opened = set(connection._open) - before
        assert opened
        assert all(is_closed(conn) for conn in opened)
