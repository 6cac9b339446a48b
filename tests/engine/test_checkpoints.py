"""WAL checkpoints run by the writers after they leave the writers' queue (issue 15)."""

from __future__ import annotations

import fcntl
import os
import sqlite3
from pathlib import Path

import pytest

from diskcache_admin.engine import connection
from diskcache_admin.engine.connection import WRITE_LOCK_NAME, Database


def write_lock_is_free(directory: str) -> bool:
    # A separate open file description: flock() conflicts with this process's own lock too.
    fd = os.open(os.path.join(directory, WRITE_LOCK_NAME), os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return True
    finally:
        os.close(fd)


def test_a_checkpoint_runs_once_the_writer_has_left_the_writers_queue(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(connection, "CHECKPOINT_EVERY_WRITES", 4)
    db = Database(str(tmp_path / "store"))
    free_during_checkpoints: list[bool] = []
    real_checkpoint = Database.checkpoint

    def observed(conn: sqlite3.Connection) -> int:
        free_during_checkpoints.append(write_lock_is_free(db.directory))
        return real_checkpoint(conn)

    monkeypatch.setattr(Database, "checkpoint", staticmethod(observed))
    try:
        for i in range(4):
            assert free_during_checkpoints == []  # not before the 4th write

            def insert(conn: sqlite3.Connection, i: int = i) -> None:
                conn.execute("INSERT INTO meta VALUES (?, ?)", (i, i))

            db.run_write(insert)
            assert write_lock_is_free(db.directory)

        assert free_during_checkpoints == [True]  # after the 4th write, out of the queue
        # The WAL was copied back: nothing is left for a checkpoint to do.
        busy, log, done = db.connection().execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        assert (busy, log - done) == (0, 0)
    finally:
        db.close()


def test_sqlite_checkpoints_automatically_only_past_the_safety_net(tmp_path: Path) -> None:
    db = Database(str(tmp_path / "store"))
    try:
        autocheckpoint = db.connection().execute("PRAGMA wal_autocheckpoint").fetchone()[0]
        assert autocheckpoint == connection.AUTOCHECKPOINT_PAGES
    finally:
        db.close()


def test_the_interval_adapts_so_a_checkpoint_copies_about_checkpoint_pages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(connection, "CHECKPOINT_EVERY_WRITES", 10)
    db = Database(str(tmp_path / "store"))
    wal_pages = iter([connection.CHECKPOINT_PAGES * 4, connection.CHECKPOINT_PAGES // 4, 0])
    monkeypatch.setattr(Database, "checkpoint", staticmethod(lambda conn: next(wal_pages)))
    intervals = []
    try:
        for _ in range(3):
            for _ in range(db._checkpoint_every):
                db.run_write(lambda conn: None)
            intervals.append(db._checkpoint_every)

        # Too many pages: halved (at most); too few: doubled (at most); unknown: kept.
        assert intervals == [5, 10, 10]
    finally:
        db.close()
