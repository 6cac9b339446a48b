"""``check()``: find (and optionally repair) what a crash, a full disk or a hand edit can leave."""

from __future__ import annotations

import sqlite3
import time
from typing import TYPE_CHECKING

from .codec import Mode
from .store import Problem

if TYPE_CHECKING:
    from .store import Store

# A value file younger than this may belong to a write whose row has not committed yet.
ORPHAN_GRACE_SECONDS = 60.0


def check(store: Store, *, fix: bool = False, grace: float = ORPHAN_GRACE_SECONDS) -> list[Problem]:
    try:
        return _check(store, fix=fix, grace=grace)
    except sqlite3.OperationalError:
        raise  # locked, read-only or out of space: the store is not damaged, the check failed
    except sqlite3.DatabaseError as exc:
        # Truncated or garbled: nothing here can rebuild it, and a cache can start afresh.
        return [
            Problem(
                "database",
                f"{store.db.path} cannot be read ({exc}); delete the cache directory to start"
                " afresh",
            )
        ]


def _check(store: Store, *, fix: bool, grace: float) -> list[Problem]:
    problems: list[Problem] = []
    started = store.clock()
    conn = store.db.connection()
    for (message,) in conn.execute("PRAGMA integrity_check"):
        if message != "ok":
            problems.append(Problem("database", message))

    referenced: dict[str, tuple[int, int]] = {
        filename: (entry_id, size)
        for entry_id, filename, size in conn.execute(
            "SELECT id, filename, size FROM entries WHERE filename IS NOT NULL"
        )
    }
    bad_rows: list[int] = []
    for filename, (entry_id, size) in referenced.items():
        actual = store.files.size(filename)
        if actual is None:
            if not _still_referenced(conn, entry_id, filename):
                continue  # deleted or overwritten (and its file removed) since the SELECT
            problems.append(Problem("missing-file", f"entry {entry_id}: {filename} is missing"))
            bad_rows.append(entry_id)
        elif actual != size:
            problems.append(
                Problem("truncated-file", f"entry {entry_id}: {filename} has {actual} of {size} B")
            )
            bad_rows.append(entry_id)

    problems.extend(_unverified_rows(store, conn, set(bad_rows), bad_rows))

    cutoff = time.time() - grace
    orphans = [
        name for name, mtime, _ in store.files.walk() if name not in referenced and mtime < cutoff
    ]
    problems.extend(Problem("orphan-file", f"{name} belongs to no entry") for name in orphans)

    # One snapshot for both: a write committing between them would look like drift.
    with store.db.read() as snapshot:
        counted = snapshot.execute("SELECT count, size FROM counters WHERE id = 0").fetchone()
        actual_counts = snapshot.execute(
            "SELECT count(*), coalesce(sum(size), 0) FROM entries"
        ).fetchone()
    counters_wrong = tuple(counted) != tuple(actual_counts)
    if counters_wrong:
        problems.append(
            Problem(
                "counters",
                f"counters say {counted[0]} entries / {counted[1]} B,"
                f" the table holds {actual_counts[0]} / {actual_counts[1]} B",
            )
        )
    if not fix or not problems:
        return problems
    return _repair(store, problems, bad_rows, orphans, started)


def _still_referenced(conn: sqlite3.Connection, entry_id: int, filename: str) -> bool:
    row = conn.execute(
        "SELECT 1 FROM entries WHERE id = ? AND filename = ?", (entry_id, filename)
    ).fetchone()
    return row is not None


def _unverified_rows(
    store: Store, conn: sqlite3.Connection, skip: set[int], bad_rows: list[int]
) -> list[Problem]:
    """Rows whose payload fails its signature: planted, copied from another key or damaged.

    Only the signature is computed, so nothing is ever unpickled; every value file is read.
    """
    problems: list[Problem] = []
    for entry_id, key, mode, value, signature, filename in conn.execute(
        "SELECT id, key, mode, value, signature, filename FROM entries"
    ):
        if entry_id in skip:
            continue  # its file is missing or truncated: reported already
        if mode == Mode.INT:
            # Native integers are unsigned; a row claiming to be one must hold an integer.
            if type(value) is not int:
                problems.append(
                    Problem("bad-signature", f"entry {entry_id} ({key!r}): not an integer")
                )
                bad_rows.append(entry_id)
            continue
        payload = value
        if filename is not None:
            try:
                payload = store.files.read(filename)
            except FileNotFoundError:
                continue  # deleted or overwritten since this SELECT began
        if not isinstance(payload, bytes) or not store.codec.verify(key, mode, payload, signature):
            problems.append(
                Problem(
                    "bad-signature",
                    f"entry {entry_id} ({key!r}): its signature does not verify (never unpickled)",
                )
            )
            bad_rows.append(entry_id)
    return problems


def _repair(
    store: Store, problems: list[Problem], bad_rows: list[int], orphans: list[str], started: float
) -> list[Problem]:
    def write(conn: sqlite3.Connection) -> list[str | None]:
        filenames: list[str | None] = []
        for start in range(0, len(bad_rows), 500):
            chunk = bad_rows[start : start + 500]
            marks = ",".join("?" * len(chunk))
            filenames.extend(
                row[0]
                # An entry rewritten since the check began keeps its id but is healthy again.
                for row in conn.execute(
                    f"DELETE FROM entries WHERE id IN ({marks}) AND store_time <= ?"
                    " RETURNING filename",
                    (*chunk, started),
                )
            )
        conn.execute(
            "UPDATE counters SET (count, size) ="
            " (SELECT count(*), coalesce(sum(size), 0) FROM entries) WHERE id = 0"
        )
        return filenames

    store.files.remove(store.db.run_write(write))
    store.files.remove(orphans)
    fixable = {"missing-file", "truncated-file", "orphan-file", "counters", "bad-signature"}
    return [Problem(p.kind, p.detail, fixed=p.kind in fixable) for p in problems]
