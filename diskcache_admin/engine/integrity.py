"""``check()``: find (and optionally repair) what a crash, a full disk or a hand edit can leave.

It trusts nothing it reads (docs/security.rst): value-file names are used only if the engine
could have made them, ``values/`` is walked with ``lstat`` (a link is reported and, with ``fix``,
the link itself removed, never what it points to), and a value file is read only up to its
entry's signed size. Entries are only ever removed if one of our keys signs the store.

It works in batches (docs/reliability.rst): entries are read a batch at a time, each batch its own
short read (no snapshot is held across the store, so checkpoints go on), and repairs are written
in short transactions; ``progress(done, total)`` is called after each batch and, while SQLite's
own integrity check and the final count run, every few milliseconds, so whatever it raises stops
the check between two steps. Stopped anywhere, a check leaves the store as consistent as it found
it: each repair is its own committed transaction, and a value file is unlinked only after its row
is gone.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from . import schema
from .codec import Mode
from .connection import delete_returning
from .files import BadValueFile, Found, is_valid_name
from .schema import FINGERPRINT
from .store import _MIN_ROWID, BATCH_PAUSE, CHECK_BATCH, Problem, Progress, _BatchSizer

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


# Columns of a row as the check reads it: everything its signature and payload digest need
# (``Store.unverified_reason``), the key second; an inline value only up to the store's limit.
_ROW = (
    "SELECT id, key, mode, signature, filename, size, digest, expire_time, tag, user_key,"
    " prefix, version, CASE WHEN typeof(value) = 'integer' OR"
    " (typeof(value) = 'blob' AND length(value) <= ?) THEN value END FROM entries"
    " WHERE id >= ? ORDER BY id LIMIT ?"
)
_MAX_ROWID = 2**63 - 1
# What _file_problem says of a row deleted or moved to another file since it was read.
_GONE = Problem("gone", "")
# SQLite calls the progress handler every this many virtual-machine instructions (a few ms).
_HANDLER_INSTRUCTIONS = 200_000
# How often a check reports progress (and can be stopped) while SQLite's integrity check runs.
_WAIT_SECONDS = 0.1


def _wall_clock() -> float:
    # Value files' times are wall-clock times, whatever clock the store was given for expiry;
    # looked up on each call so that a test can move it.
    return time.time()


def check(
    store: Store,
    *,
    fix: bool = False,
    grace: float = ORPHAN_GRACE_SECONDS,
    batch: int | None = None,
    progress: Progress | None = None,
) -> list[Problem]:
    checker = _Checker(store, grace, batch, progress)
    try:
        return checker.run(fix)
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


class _Checker:
    def __init__(
        self, store: Store, grace: float, batch: int | None, progress: Progress | None
    ) -> None:
        if batch is not None and batch < 1:
            raise ValueError(f"batch must be at least 1, not {batch}")
        self.store = store
        self.grace = grace
        self.batch = batch
        self.progress = progress
        self.done = 0
        self.total = 0

    def report(self) -> None:
        if self.progress is not None:
            self.progress(self.done, max(self.total, self.done))

    @contextmanager
    def interruptible(self, conn: sqlite3.Connection) -> Iterator[None]:
        """Calls :meth:`report` while one long statement runs; what it raises aborts the
        statement (a read: nothing to undo) and is raised again here."""
        if self.progress is None:
            yield
            return
        raised: list[BaseException] = []

        def handler() -> int:
            try:
                self.report()
            except BaseException as exc:  # KeyboardInterrupt too: it stops the statement
                raised.append(exc)
                return 1
            return 0

        conn.set_progress_handler(handler, _HANDLER_INSTRUCTIONS)
        try:
            yield
        except sqlite3.OperationalError:
            if raised:
                raise raised[0] from None
            raise
        finally:
            conn.set_progress_handler(None, 0)

    def integrity_check(self, conn: sqlite3.Connection) -> list[str]:
        """SQLite's ``PRAGMA integrity_check``.

        SQLite first walks every page of the database in one step of its virtual machine, which
        calls no progress handler (measured: 42 s of 69 s at 10M entries read from a cold page
        cache). With a ``progress`` callback the statement therefore runs in a thread of its own,
        on its own read-only connection, while this thread waits and calls :meth:`report` every
        :data:`_WAIT_SECONDS`: what that raises stops the check at once. The abandoned statement
        goes on in its daemon thread until it ends (a read: it changes nothing, but holds its
        snapshot so long) or the process exits.
        """
        if self.progress is None:
            return [row[0] for row in conn.execute("PRAGMA integrity_check")]
        path = self.store.db.path
        self.store.db._ensure_directory()  # the database is a regular file, never a link
        outcome: list[Any] = []

        def run() -> None:
            try:
                reader = sqlite3.connect(f"file:{quote(path)}?mode=ro", uri=True)
                try:
                    outcome.append([row[0] for row in reader.execute("PRAGMA integrity_check")])
                finally:
                    reader.close()
            except BaseException as exc:  # sqlite3.DatabaseError above all: raised below
                outcome.append(exc)

        thread = threading.Thread(target=run, name="diskcache-admin integrity_check", daemon=True)
        thread.start()
        while True:
            thread.join(_WAIT_SECONDS)
            self.report()  # may raise: the check stops here
            if not thread.is_alive():
                break
        if isinstance(outcome[0], BaseException):
            raise outcome[0]
        messages: list[str] = outcome[0]
        return messages

    def run(self, fix: bool) -> list[Problem]:
        store = self.store
        started = store.clock()
        # Taken before the walk and the scan of the rows: a value file older than this was
        # written (and its row committed, but for a writer slower than ``grace``) before the scan
        # began, so the scan sees its row unless the row is deleted meanwhile.
        cutoff = _wall_clock() - self.grace
        conn = store.db.connection()
        counted = conn.execute(
            "SELECT CAST(count AS INTEGER) FROM counters WHERE id = 0"
        ).fetchone()
        self.total = max(int(counted[0]), 0) if counted is not None and counted[0] else 0
        self.report()

        problems: list[Problem] = [
            Problem("database", message)
            for message in self.integrity_check(conn)
            if message != "ok"
        ]
        recorded = conn.execute("SELECT value FROM meta WHERE name = ?", (FINGERPRINT,)).fetchone()
        if recorded is not None and not store.codec.owns(recorded[0]):
            problems.append(Problem("foreign-key", _FOREIGN))

        # The walk comes first (see ``cutoff``): a file it finds that no row read afterwards
        # names is an orphan.
        candidates: list[str] = []
        strays: list[Found] = []
        stray_problems: list[Problem] = []
        for found in store.files.walk():
            if found.kind == "value":
                if found.mtime < cutoff:
                    candidates.append(found.name)
            elif found.kind == "symlink":
                strays.append(found)
                stray_problems.append(
                    Problem("symlink", f"values/{found.name} is a symbolic link (never followed)")
                )
            elif found.mtime < cutoff or found.kind == "special":
                strays.append(found)
                what = "a FIFO, device or socket" if found.kind == "special" else "not a value file"
                stray_problems.append(Problem("unexpected-file", f"values/{found.name} is {what}"))

        referenced: set[object] = set()
        file_problems: list[Problem] = []
        row_problems: list[Problem] = []
        bad_rows: list[int] = []
        self.scan(conn, referenced, file_problems, row_problems, bad_rows)
        problems.extend(file_problems)
        problems.extend(row_problems)

        orphans = []
        for name in candidates:
            # Not named by any row, and still there (a row deleted during the scan takes its
            # file with it).
            if name not in referenced and _exists(store, name):
                orphans.append(name)
                problems.append(Problem("orphan-file", f"{name} belongs to no entry"))
        problems.extend(stray_problems)

        # One snapshot for both: a write committing between them would look like drift.
        with self.interruptible(conn), store.db.read() as snapshot:
            counters = snapshot.execute("SELECT count, size FROM counters WHERE id = 0").fetchone()
            actual = snapshot.execute(f"SELECT count(*), {schema.SIZE_SUM} FROM entries").fetchone()
        drift = counters is None or tuple(counters) != tuple(actual)
        if drift:
            problems.append(
                Problem(
                    "counters",
                    f"counters say {tuple(counters) if counters else None} (entries, bytes),"
                    f" the table holds {actual[0]} / {actual[1]} B",
                )
            )
        if not fix or not problems:
            return problems
        return self.repair(problems, bad_rows, orphans, strays, started, recount=drift)

    def scan(
        self,
        conn: sqlite3.Connection,
        referenced: set[object],
        file_problems: list[Problem],
        row_problems: list[Problem],
        bad_rows: list[int],
    ) -> None:
        """Every row, in batches by id: its value file (name, presence, size), then its signature
        and payload digest. Only hashes are computed, so nothing is ever unpickled; a value file
        is read up to its entry's signed size, an inline value up to the store's inline limit."""
        store = self.store
        size = self.batch or CHECK_BATCH
        low = _MIN_ROWID
        while True:
            rows = conn.execute(_ROW, (store.inline_limit, low, size)).fetchall()
            for row in rows:
                entry_id, filename = row[0], row[4]
                if filename is not None:
                    referenced.add(filename)
                    problem = _file_problem(store, conn, entry_id, filename, row[5])
                    if problem is _GONE:
                        continue
                    if problem is not None:
                        file_problems.append(problem)
                        bad_rows.append(entry_id)
                        continue
                reason = _bad_row(store, row)
                if reason is not None:
                    row_problems.append(
                        Problem("bad-signature", f"entry {entry_id} ({row[1]!r}): {reason}")
                    )
                    bad_rows.append(entry_id)
            self.done += len(rows)
            self.report()
            if len(rows) < size or rows[-1][0] >= _MAX_ROWID:
                return
            low = rows[-1][0] + 1

    def repair(
        self,
        problems: list[Problem],
        bad_rows: list[int],
        orphans: list[str],
        strays: list[Found],
        started: float,
        *,
        recount: bool,
    ) -> list[Problem]:
        store = self.store
        owned = True
        sizer = _BatchSizer(self.batch)
        position = 0
        while position < len(bad_rows) and owned:
            chunk = bad_rows[position : position + sizer.size]

            def write(conn: sqlite3.Connection, chunk: list[int] = chunk) -> list[str | None]:
                nonlocal owned
                owned = store._owned(conn)  # the engine's own check, same package
                if not owned:
                    return []
                filenames: list[str | None] = []
                for start in range(0, len(chunk), 500):
                    part = chunk[start : start + 500]
                    marks = ",".join("?" * len(part))
                    filenames.extend(
                        row[0]
                        # An entry rewritten since the check began keeps its id but is healthy.
                        for row in delete_returning(
                            conn,
                            f"id IN ({marks}) AND store_time <= ?",
                            (*part, started),
                            "filename",
                        )
                    )
                return filenames

            began = time.perf_counter()
            store.files.remove(store.db.run_write(write))
            sizer.adapt(len(chunk), time.perf_counter() - began)
            position += len(chunk)
            self.report()
            if position < len(bad_rows):
                time.sleep(BATCH_PAUSE)  # writers queued behind the repair get their turn

        def finish(conn: sqlite3.Connection) -> None:
            nonlocal owned
            owned = store._owned(conn) and owned
            conn.execute("INSERT OR IGNORE INTO counters (id) VALUES (0)")
            if recount:
                # The one full count under the write lock, and only when the counters drifted
                # (a hand edit: the triggers keep them exact through every write and crash).
                conn.execute(
                    "UPDATE counters SET (count, size) ="
                    f" (SELECT count(*), {schema.SIZE_SUM} FROM entries) WHERE id = 0"
                )

        store.db.run_write(finish)
        store.files.remove(orphans)
        for found in strays:
            store.files.remove_found(found)
        entry_kinds = {"missing-file", "truncated-file", "bad-file", "bad-signature"}
        repaired = [
            Problem(
                p.kind, p.detail, fixed=p.kind in FIXABLE and (owned or p.kind not in entry_kinds)
            )
            for p in problems
        ]
        if not owned and not any(p.kind == "foreign-key" for p in repaired):
            repaired.append(Problem("foreign-key", _FOREIGN))
        return repaired


def _exists(store: Store, name: str) -> bool:
    try:
        return store.files.size(name) is not None
    except OSError:
        return True  # not a regular file any more: reported, and removed by a fix, as before


def _file_problem(
    store: Store, conn: sqlite3.Connection, entry_id: int, filename: object, size: object
) -> Problem | None:
    """What is wrong with a row's value file; :data:`_GONE` when the row is gone (or moved to
    another file) since it was read; ``None`` when the file is fine."""
    if not is_valid_name(filename):
        return Problem("bad-file", f"entry {entry_id}: {filename!r} is not a value file name")
    try:
        actual = store.files.size(filename)  # type: ignore[arg-type]
    except BadValueFile as exc:
        return Problem("bad-file", f"entry {entry_id}: {exc}")
    if actual is None:
        if not _still_referenced(conn, entry_id, filename):
            return _GONE  # deleted or overwritten (and its file removed) since it was read
        return Problem("missing-file", f"entry {entry_id}: {filename} is missing")
    if actual != size:
        return Problem("truncated-file", f"entry {entry_id}: {filename} has {actual} of {size} B")
    return None


def _still_referenced(conn: sqlite3.Connection, entry_id: int, filename: object) -> bool:
    row = conn.execute(
        "SELECT 1 FROM entries WHERE id = ? AND filename IS ?", (entry_id, filename)
    ).fetchone()
    return row is not None


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
