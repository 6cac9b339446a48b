"""``check()``: find (and optionally repair) what a crash, a full disk or a hand edit can leave."""

from __future__ import annotations

import sqlite3
import time
from typing import TYPE_CHECKING

from .store import Problem

if TYPE_CHECKING:
    from .store import Store

# A value file younger than this may belong to a write whose row has not committed yet.
ORPHAN_GRACE_SECONDS = 60.0


def check(store: Store, *, fix: bool = False, grace: float = ORPHAN_GRACE_SECONDS) -> list[Problem]:
    problems: list[Problem] = []
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
            problems.append(Problem("missing-file", f"entry {entry_id}: {filename} is missing"))
            bad_rows.append(entry_id)
        elif actual != size:
            problems.append(
                Problem("truncated-file", f"entry {entry_id}: {filename} has {actual} of {size} B")
            )
            bad_rows.append(entry_id)

    cutoff = time.time() - grace
    orphans = [
        name for name, mtime, _ in store.files.walk() if name not in referenced and mtime < cutoff
    ]
    problems.extend(Problem("orphan-file", f"{name} belongs to no entry") for name in orphans)

    counted = conn.execute("SELECT count, size FROM counters WHERE id = 0").fetchone()
    actual_counts = conn.execute("SELECT count(*), coalesce(sum(size), 0) FROM entries").fetchone()
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
    return _repair(store, problems, bad_rows, orphans)


def _repair(
    store: Store, problems: list[Problem], bad_rows: list[int], orphans: list[str]
) -> list[Problem]:
    def write(conn: sqlite3.Connection) -> list[str | None]:
        filenames: list[str | None] = []
        for start in range(0, len(bad_rows), 500):
            chunk = bad_rows[start : start + 500]
            marks = ",".join("?" * len(chunk))
            filenames.extend(
                row[0]
                for row in conn.execute(
                    f"DELETE FROM entries WHERE id IN ({marks}) RETURNING filename", chunk
                )
            )
        conn.execute(
            "UPDATE counters SET (count, size) ="
            " (SELECT count(*), coalesce(sum(size), 0) FROM entries) WHERE id = 0"
        )
        return filenames

    store.files.remove(store.db.run_write(write))
    store.files.remove(orphans)
    fixable = {"missing-file", "truncated-file", "orphan-file", "counters"}
    return [Problem(p.kind, p.detail, fixed=p.kind in fixable) for p in problems]
