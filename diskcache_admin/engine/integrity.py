"""``check()``: find (and optionally repair) what a crash, a full disk or a hand edit can leave.

It trusts nothing it reads (docs/security.rst): value-file names are used only if the engine
could have made them, ``values/`` is walked with ``lstat`` (a link is reported and, with ``fix``,
the link itself removed, never what it points to), and a value file is read only up to its
entry's signed size. Entries are only ever removed if one of our keys signs the store.
"""

from __future__ import annotations

import sqlite3
import time
from typing import TYPE_CHECKING, Any

from .codec import Mode
from .connection import delete_returning
from .files import BadValueFile, Found, is_valid_name
from .schema import FINGERPRINT
from .store import Problem

if TYPE_CHECKING:
    from .store import Store

# A value file younger than this may belong to a write whose row has not committed yet.
ORPHAN_GRACE_SECONDS = 60.0

_FOREIGN = (
    "the store is signed by another key (another SECRET_KEY on this LOCATION, not in"
    " SECRET_KEY_FALLBACKS): its entries read as misses and are never removed by a check;"
    " see diskcache_admin.E020"
)

# Problems ``check(fix=True)`` repairs (``foreign-key`` and ``database`` it cannot).
FIXABLE = frozenset(
    {
        "missing-file",
        "truncated-file",
        "bad-file",
        "orphan-file",
        "unexpected-file",
        "symlink",
        "counters",
        "bad-signature",
    }
)


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
    recorded = conn.execute("SELECT value FROM meta WHERE name = ?", (FINGERPRINT,)).fetchone()
    if recorded is not None and not store.codec.owns(recorded[0]):
        problems.append(Problem("foreign-key", _FOREIGN))

    referenced: dict[object, tuple[int, object]] = {
        filename: (entry_id, size)
        for entry_id, filename, size in conn.execute(
            "SELECT id, filename, size FROM entries WHERE filename IS NOT NULL"
        )
    }
    bad_rows: list[int] = []
    for filename, (entry_id, size) in referenced.items():
        if not is_valid_name(filename):
            problems.append(
                Problem("bad-file", f"entry {entry_id}: {filename!r} is not a value file name")
            )
            bad_rows.append(entry_id)
            continue
        try:
            actual = store.files.size(filename)  # type: ignore[arg-type]
        except BadValueFile as exc:
            problems.append(Problem("bad-file", f"entry {entry_id}: {exc}"))
            bad_rows.append(entry_id)
            continue
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
    strays: list[Found] = []
    orphans: list[str] = []
    for found in store.files.walk():
        if found.kind == "value":
            if found.name not in referenced and found.mtime < cutoff:
                orphans.append(found.name)
                problems.append(Problem("orphan-file", f"{found.name} belongs to no entry"))
        elif found.kind == "symlink":
            strays.append(found)
            problems.append(
                Problem("symlink", f"values/{found.name} is a symbolic link (never followed)")
            )
        elif found.mtime < cutoff or found.kind == "special":
            strays.append(found)
            what = "a FIFO, device or socket" if found.kind == "special" else "not a value file"
            problems.append(Problem("unexpected-file", f"values/{found.name} is {what}"))

    # One snapshot for both: a write committing between them would look like drift.
    with store.db.read() as snapshot:
        counted = snapshot.execute("SELECT count, size FROM counters WHERE id = 0").fetchone()
        actual_counts = snapshot.execute(
            "SELECT count(*), coalesce(sum(size), 0) FROM entries"
        ).fetchone()
    if counted is None or tuple(counted) != tuple(actual_counts):
        problems.append(
            Problem(
                "counters",
                f"counters say {tuple(counted) if counted else None} (entries, bytes),"
                f" the table holds {actual_counts[0]} / {actual_counts[1]} B",
            )
        )
    if not fix or not problems:
        return problems
    return _repair(store, problems, bad_rows, orphans, strays, started)


def _still_referenced(conn: sqlite3.Connection, entry_id: int, filename: object) -> bool:
    row = conn.execute(
        "SELECT 1 FROM entries WHERE id = ? AND filename IS ?", (entry_id, filename)
    ).fetchone()
    return row is not None


def _unverified_rows(
    store: Store, conn: sqlite3.Connection, skip: set[int], bad_rows: list[int]
) -> list[Problem]:
    """Rows whose signature or payload digest fails: planted, copied from another key, edited.

    Only hashes are computed, so nothing is ever unpickled; every value file is read (up to its
    entry's signed size), every inline value up to the store's inline limit.
    """
    problems: list[Problem] = []
    rows = conn.execute(
        "SELECT id, key, mode, signature, filename, size, digest, expire_time, tag, user_key,"
        " prefix, version, CASE WHEN typeof(value) = 'integer' OR"
        " (typeof(value) = 'blob' AND length(value) <= ?) THEN value END FROM entries",
        (store.inline_limit,),
    )
    for row in rows:
        entry_id, key = row[0], row[1]
        if entry_id in skip:
            continue  # its file is missing, truncated or unusable: reported already
        reason = _bad_row(store, row)
        if reason is None:
            continue
        problems.append(Problem("bad-signature", f"entry {entry_id} ({key!r}): {reason}"))
        bad_rows.append(entry_id)
    return problems


def _bad_row(store: Store, row: tuple[Any, ...]) -> str | None:
    # The signature is checked by the store's own code (what get/has_key trust), on the row
    # without its key column: the layout Store.unverified_reason and payload_matches take.
    entry_id, key, *signed = row
    entry = (entry_id, *signed)
    reason = store.unverified_reason(key, entry)
    if reason is not None:
        return reason
    mode, filename, size, value = entry[1], entry[3], entry[4], entry[11]
    if mode == Mode.INT:
        return None
    payload = value
    if filename is not None:
        try:
            payload = store.files.read(filename, size)
        except FileNotFoundError:
            return None  # deleted or overwritten since this SELECT began
        except OSError as exc:  # BadValueFile included
            return f"its value file cannot be used ({exc})"
    if not store.payload_matches(entry, payload):
        return "its payload does not match its signed digest (never unpickled)"
    return None


def _repair(
    store: Store,
    problems: list[Problem],
    bad_rows: list[int],
    orphans: list[str],
    strays: list[Found],
    started: float,
) -> list[Problem]:
    owned = True

    def write(conn: sqlite3.Connection) -> list[str | None]:
        nonlocal owned
        owned = store._owned(conn)  # the engine's own check, same package
        filenames: list[str | None] = []
        if owned:
            for start in range(0, len(bad_rows), 500):
                chunk = bad_rows[start : start + 500]
                marks = ",".join("?" * len(chunk))
                filenames.extend(
                    row[0]
                    # An entry rewritten since the check began keeps its id but is healthy again.
                    for row in delete_returning(
                        conn, f"id IN ({marks}) AND store_time <= ?", (*chunk, started), "filename"
                    )
                )
        conn.execute("INSERT OR IGNORE INTO counters (id) VALUES (0)")
        conn.execute(
            "UPDATE counters SET (count, size) ="
            " (SELECT count(*), coalesce(sum(size), 0) FROM entries) WHERE id = 0"
        )
        return filenames

    store.files.remove(store.db.run_write(write))
    store.files.remove(orphans)
    for found in strays:
        store.files.remove_found(found)
    entry_kinds = {"missing-file", "truncated-file", "bad-file", "bad-signature"}
    repaired = [
        Problem(p.kind, p.detail, fixed=p.kind in FIXABLE and (owned or p.kind not in entry_kinds))
        for p in problems
    ]
    if not owned and not any(p.kind == "foreign-key" for p in repaired):
        repaired.append(Problem("foreign-key", _FOREIGN))
    return repaired
