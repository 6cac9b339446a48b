"""The storage engine: a cache in one SQLite database (WAL) plus value files, no Django inside."""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from .codec import BadSignature, Codec, CorruptValue, Mode, is_native_int
from .connection import Database, StoreLocked
from .files import ValueFiles
from .schema import EXPIRED

logger = logging.getLogger("diskcache_admin.engine")

T = TypeVar("T")

POLICIES: Final = ("least-recently-stored", "least-recently-used")

# Payloads at or above this many bytes go to a value file. Measured with
# benchmarks/file_threshold.py (benchmarks/results/file_threshold.md, docs/benchmarks.rst): up
# to 64 KiB an inline BLOB is as fast or faster to read and to write, at 96 KiB reads are even;
# from 128 KiB a file reads 1.3-4x faster (a long chain of overflow pages costs more than
# open+read), and it keeps the database and its WAL small.
DEFAULT_FILE_THRESHOLD: Final = 128 * 1024

# Hit/miss counts and LRU access times are kept in memory and written in batches, so that a
# read never needs a write transaction of its own. A batch costs one write transaction (0.2 to
# 0.5 ms measured): every 1,000 reads that was still ~5 % of a get (benchmarks/backends.py,
# statistics on vs off); every 10,000 it is noise, and a busy process still flushes every 5 s.
FLUSH_EVERY_OPS: Final = 10_000
FLUSH_EVERY_SECONDS: Final = 5.0


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()

# Django's own key families, named so that the admin can group them.
KNOWN_FAMILIES: Final = (
    "views.decorators.cache.cache_page",
    "views.decorators.cache.cache_header",
    "template.cache",
    "django.contrib.sessions.cached_db",
    "django.contrib.sessions.cache",
)


def family_of(user_key: str) -> str:
    """The key's family: a known Django prefix, else everything up to the first ``:`` or ``.``."""
    for known in KNOWN_FAMILIES:
        if user_key.startswith(known):
            return known
    cut = len(user_key)
    for separator in (":", "."):
        position = user_key.find(separator)
        if 0 <= position < cut:
            cut = position
    return user_key[:cut]


@dataclass(frozen=True)
class KeyParts:
    """The parts of a made key that browsing shows apart."""

    user_key: str
    prefix: str = ""
    version: int = 1


@dataclass(frozen=True)
class Item:
    key: str
    parts: KeyParts
    value: object
    expire_time: float | None
    tag: str | None = None


@dataclass(frozen=True)
class Stats:
    count: int
    size: int
    hits: int
    misses: int
    stats_since: float | None

    @property
    def hit_ratio(self) -> float | None:
        total = self.hits + self.misses
        return self.hits / total if total else None


@dataclass(frozen=True)
class EntryInfo:
    """An entry's metadata, read without touching its value, statistics or eviction order."""

    id: int
    key: str
    user_key: str
    prefix: str
    version: int
    family: str
    store_time: float
    expire_time: float | None
    tag: str | None
    size: int
    mode: int
    filename: str | None

    def expired(self, now: float) -> bool:
        return self.expire_time is not None and self.expire_time <= now


@dataclass(frozen=True)
class Removal:
    count: int
    size: int


@dataclass(frozen=True)
class Problem:
    kind: str
    detail: str
    fixed: bool = False


class _Shared:
    """State shared by every Store on one directory in this process."""

    def __init__(self, directory: str, busy_timeout: float) -> None:
        self.db = Database(directory, busy_timeout=busy_timeout)
        self.files = ValueFiles(directory)
        self.lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self.accessed: dict[int, float] = {}
        self.last_flush = time.monotonic()
        self.logged: set[tuple[str, str]] = set()


# Unflushed hits, misses and access times taken for one transaction.
_Taken = tuple[int, int, dict[int, float]]

_registry: dict[str, _Shared] = {}
_registry_lock = threading.Lock()


def _after_fork_in_child() -> None:
    # The parent still holds its unflushed counts and access times and will write them itself:
    # a child that flushed its copy too would count every one of them twice. Locks are renewed
    # because another parent thread may have held one at the moment of the fork.
    global _registry_lock
    _registry_lock = threading.Lock()
    for shared in _registry.values():
        shared.lock = threading.Lock()
        shared.hits = shared.misses = 0
        shared.accessed = {}
        shared.last_flush = time.monotonic()


os.register_at_fork(after_in_child=_after_fork_in_child)


def _flush_at_exit() -> None:
    # A short-lived process (a management command, a cron job) rarely reaches a batch: without
    # this its hits and misses would never be counted. Access times are not worth a write here.
    for shared in list(_registry.values()):
        with shared.lock:
            hits, misses = shared.hits, shared.misses
            shared.hits = shared.misses = 0
        # A store whose directory is gone (a test's temporary one) is not brought back for this.
        if not (hits or misses) or not os.path.exists(shared.db.path):
            continue
        with contextlib.suppress(sqlite3.Error):  # exiting: a busy or vanished store loses them
            shared.db.run_write(_counts_adder(hits, misses))


def _counts_adder(hits: int, misses: int) -> Callable[[sqlite3.Connection], None]:
    def add(conn: sqlite3.Connection) -> None:
        conn.execute(
            "UPDATE counters SET hits = hits + ?, misses = misses + ?,"
            " stats_since = coalesce(stats_since, ?) WHERE id = 0",
            (hits, misses, time.time()),
        )

    return add


atexit.register(_flush_at_exit)


def _shared_for(directory: str, busy_timeout: float) -> _Shared:
    real = os.path.realpath(directory)
    with _registry_lock:
        shared = _registry.get(real)
        if shared is None:
            shared = _registry[real] = _Shared(real, busy_timeout)
        return shared


_ENTRY_COLUMNS = (
    "id, key, user_key, prefix, version, family, store_time, expire_time, tag, size, mode, filename"
)
_LIVE = "(expire_time IS NULL OR expire_time > ?)"
_ROW = "id, mode, value, signature, filename"
# Built once: the hot paths then pass the very same string, which sqlite3's statement cache
# finds without formatting a new one on every call.
_GET = f"SELECT {_ROW} FROM entries WHERE key = ? AND {_LIVE}"


_LOOKUP = (
    "SELECT c.count, c.size, e.id, e.filename, e.size, e.user_key, e.prefix, e.version, e.tag,"
    " e.expire_time FROM counters AS c LEFT JOIN entries AS e ON e.key = ? WHERE c.id = 0"
)
_INSERT = (
    "INSERT INTO entries (key, user_key, prefix, version, family, store_time, rank,"
    " expire_time, tag, size, mode, signature, filename, value)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_UPDATES: dict[tuple[bool, ...], str] = {}


def _update_sql(changed: tuple[bool, ...]) -> str:
    """The UPDATE of an overwritten entry that assigns only ``changed`` optional columns.

    ``changed`` flags, in order: key parts (and family), size, tag, expire time.
    """
    sql = _UPDATES.get(changed)
    if sql is None:
        optional = ("user_key = ?, prefix = ?, version = ?, family = ?", "size = ?", "tag = ?")
        columns = ["store_time = ?, rank = ?, mode = ?, signature = ?, filename = ?, value = ?"]
        columns += [
            c for c, flag in zip((*optional, "expire_time = ?"), changed, strict=True) if flag
        ]
        sql = _UPDATES[changed] = f"UPDATE entries SET {', '.join(columns)} WHERE id = ?"
    return sql


def _wall_clock() -> float:
    # Looked up on every call, not bound once: Django computes expiry times with time.time(),
    # so a test that patches it (mock, freezegun) must move the store's "now" as well.
    return time.time()


class Store:
    """A cache store in ``directory``. Cheap to create: stores on one directory share state."""

    def __init__(
        self,
        directory: str,
        codec: Codec,
        *,
        max_entries: int | None = 300,
        cull_frequency: int = 3,
        size_limit: int | None = None,
        eviction_policy: str = "least-recently-stored",
        statistics: bool = True,
        file_threshold: int = DEFAULT_FILE_THRESHOLD,
        busy_timeout: float = 5.0,
        clock: Callable[[], float] = _wall_clock,
    ) -> None:
        if eviction_policy not in POLICIES:
            raise ValueError(f"Unknown eviction policy {eviction_policy!r}; use one of {POLICIES}.")
        if cull_frequency < 0:
            raise ValueError("cull_frequency must be 0 or more.")
        self.directory = os.path.realpath(directory)
        self.codec = codec
        self.max_entries = max_entries
        self.cull_frequency = cull_frequency
        self.size_limit = size_limit
        self.eviction_policy = eviction_policy
        self.statistics = statistics
        self.file_threshold = file_threshold
        self.clock = clock
        self._shared = _shared_for(directory, busy_timeout)
        self.db = self._shared.db
        self.files = self._shared.files
        self._lru = eviction_policy == "least-recently-used"

    # -- reading -----------------------------------------------------------------------------

    def get(self, key: str) -> Any:
        """The live value of ``key``, or :data:`MISSING`."""
        row = self.db.connection().execute(_GET, (key, self.clock())).fetchone()
        value = MISSING if row is None else self._decode(key, row)
        self._count(value is not MISSING, row[0] if row is not None else None)
        return value

    def get_many(self, keys: Sequence[str]) -> dict[str, Any]:
        if not keys:
            return {}
        now = self.clock()
        found: dict[str, Any] = {}
        conn = self.db.connection()
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = conn.execute(
                f"SELECT key, id, mode, value, signature, filename FROM entries"
                f" WHERE key IN ({marks}) AND {_LIVE}",
                (*chunk, now),
            ).fetchall()
            for row in rows:
                value = self._decode(row[0], row[1:])
                if value is not MISSING:
                    found[row[0]] = value
                    self._note_access(row[1])
        if self.statistics:
            with self._shared.lock:
                self._shared.hits += len(found)
                self._shared.misses += len(keys) - len(found)
            self.flush_if_due()
        return found

    def has(self, key: str) -> bool:
        row = (
            self.db.connection()
            .execute(f"SELECT 1 FROM entries WHERE key = ? AND {_LIVE}", (key, self.clock()))
            .fetchone()
        )
        return row is not None

    def peek(self, key: str) -> Any:
        """Like :meth:`get`, but counts nothing and leaves the eviction order alone."""
        row = (
            self.db.connection()
            .execute(
                "SELECT id, mode, value, signature, filename FROM entries WHERE key = ?", (key,)
            )
            .fetchone()
        )
        return MISSING if row is None else self._decode(key, row, repair=False)

    def entry(self, key: str) -> EntryInfo | None:
        row = (
            self.db.connection()
            .execute(f"SELECT {_ENTRY_COLUMNS} FROM entries WHERE key = ?", (key,))
            .fetchone()
        )
        return None if row is None else EntryInfo(*row)

    def stats(self) -> Stats:
        """Counters from the database plus this process's unflushed ones. Writes nothing."""
        count, size, hits, misses, since = (
            self.db.connection()
            .execute("SELECT count, size, hits, misses, stats_since FROM counters WHERE id = 0")
            .fetchone()
        )
        with self._shared.lock:
            hits += self._shared.hits
            misses += self._shared.misses
        return Stats(count, size, hits, misses, since)

    def volume(self) -> int:
        """Bytes on disk: the database, its WAL and every value file."""
        total = 0
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                total += os.path.getsize(self.db.path + suffix)
        row = (
            self.db.connection()
            .execute("SELECT total(size) FROM entries WHERE filename IS NOT NULL")
            .fetchone()
        )
        return total + int(row[0])

    # -- writing -----------------------------------------------------------------------------

    def set(
        self,
        key: str,
        parts: KeyParts,
        value: object,
        expire_time: float | None,
        tag: str | None = None,
    ) -> bool:
        """Store ``value``; ``False`` when it cannot fit within SIZE_LIMIT at all."""
        encoded = self._encode(Item(key, parts, value, expire_time, tag))
        return self._store_one(encoded, only_if_absent=False)

    def add(
        self,
        key: str,
        parts: KeyParts,
        value: object,
        expire_time: float | None,
        tag: str | None = None,
    ) -> bool:
        """Store ``value`` only if ``key`` has no live entry; ``True`` if it was stored."""
        encoded = self._encode(Item(key, parts, value, expire_time, tag))
        return self._store_one(encoded, only_if_absent=True)

    def _store_one(self, encoded: Store._Encoded, *, only_if_absent: bool) -> bool:
        # set_many() of one item, without its per-batch bookkeeping.
        now = self.clock()
        garbage: list[str | None] = []

        def write(conn: sqlite3.Connection) -> bool:
            garbage.clear()  # a retried transaction starts over
            if only_if_absent:
                existing = conn.execute(
                    "SELECT expire_time FROM entries WHERE key = ?", (encoded.key,)
                ).fetchone()
                if existing is not None and (existing[0] is None or existing[0] > now):
                    return False
            return self._put(conn, encoded, now, garbage)

        try:
            stored = self._write(write)
        except BaseException:
            self.files.remove([encoded.filename])
            raise
        if not stored:
            garbage.append(encoded.filename)
        self.files.remove(garbage)
        return stored

    def set_many(self, items: Sequence[Item]) -> list[str]:
        """Store every item in one transaction; return the keys that could not be stored."""
        encoded = []
        try:
            for item in items:
                encoded.append(self._encode(item))
        except BaseException:
            self.files.remove(e.filename for e in encoded)
            raise
        now = self.clock()
        garbage: list[str | None] = []

        def write(conn: sqlite3.Connection) -> list[str]:
            garbage.clear()
            return [e.key for e in encoded if not self._put(conn, e, now, garbage)]

        try:
            failed = self._write(write)
        except BaseException:
            self.files.remove(e.filename for e in encoded)
            raise
        failed_set = set(failed)
        garbage.extend(e.filename for e in encoded if e.key in failed_set)
        self.files.remove(garbage)
        return failed

    def touch(self, key: str, expire_time: float | None) -> bool:
        now = self.clock()

        def write(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute(
                f"UPDATE entries SET expire_time = ? WHERE key = ? AND {_LIVE}",
                (expire_time, key, now),
            )
            return cursor.rowcount > 0

        return self._write(write)

    def delete(self, key: str) -> bool:
        now = self.clock()

        def write(conn: sqlite3.Connection) -> tuple[bool, str | None]:
            row = conn.execute(
                "DELETE FROM entries WHERE key = ? RETURNING expire_time, filename", (key,)
            ).fetchone()
            if row is None:
                return False, None
            return row[0] is None or row[0] > now, row[1]

        existed, filename = self._write(write)
        self.files.remove([filename])
        return existed

    def delete_many(self, keys: Iterable[str]) -> int:
        keys = list(keys)
        now = self.clock()

        def write(conn: sqlite3.Connection) -> tuple[int, list[str | None]]:
            live = 0
            filenames: list[str | None] = []
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                marks = ",".join("?" * len(chunk))
                for expire_time, filename in conn.execute(
                    f"DELETE FROM entries WHERE key IN ({marks}) RETURNING expire_time, filename",
                    chunk,
                ):
                    live += expire_time is None or expire_time > now
                    filenames.append(filename)
            return live, filenames

        live, filenames = self._write(write)
        self.files.remove(filenames)
        return live

    def incr(self, key: str, delta: int) -> Any:
        """Add ``delta`` atomically, keeping expiry and tag; ``KeyError`` if ``key`` is missing."""
        now = self.clock()

        def write(conn: sqlite3.Connection) -> Any:
            row = conn.execute(
                f"SELECT {_ROW} FROM entries WHERE key = ? AND {_LIVE}",
                (key, now),
            ).fetchone()
            if row is None:
                raise KeyError(key)
            entry_id, mode, payload, _, filename = row
            if mode == Mode.INT and type(payload) is int:
                new_value = payload + delta
            else:
                current = self._decode(key, row[0:], repair=False)
                if current is MISSING:
                    raise KeyError(key)
                new_value = current + delta
            self._replace_value(conn, entry_id, key, new_value)
            return new_value, filename

        new_value, old_file = self._write(write)
        self.files.remove([old_file])
        return new_value

    def rename(self, old_key: str, new_key: str, parts: KeyParts) -> bool:
        """Move a live entry to another key (``incr_version``), keeping expiry and tag."""
        now = self.clock()

        def write(conn: sqlite3.Connection) -> tuple[bool, list[str | None]]:
            row = conn.execute(
                f"SELECT {_ROW} FROM entries WHERE key = ? AND {_LIVE}",
                (old_key, now),
            ).fetchone()
            if row is None:
                return False, []
            value = self._decode(old_key, row, repair=False)
            if value is MISSING:
                return False, []
            replaced = conn.execute(
                "DELETE FROM entries WHERE key = ? RETURNING filename", (new_key,)
            ).fetchone()
            conn.execute(
                "UPDATE entries SET key = ?, user_key = ?, prefix = ?, version = ?, family = ?"
                " WHERE id = ?",
                (
                    new_key,
                    parts.user_key,
                    parts.prefix,
                    parts.version,
                    family_of(parts.user_key),
                    row[0],
                ),
            )
            self._replace_value(conn, row[0], new_key, value)
            return True, [row[4], replaced[0] if replaced else None]

        moved, garbage = self._write(write)
        self.files.remove(garbage)
        return moved

    def clear(self) -> Removal:
        def write(conn: sqlite3.Connection) -> tuple[Removal, list[str]]:
            count, size = conn.execute("SELECT count, size FROM counters WHERE id = 0").fetchone()
            filenames = [
                row[0]
                for row in conn.execute("SELECT filename FROM entries WHERE filename IS NOT NULL")
            ]
            conn.execute("DELETE FROM entries")
            return Removal(count, size), filenames

        removed, filenames = self._write(write)
        self.files.remove(filenames)
        return removed

    # -- maintenance -------------------------------------------------------------------------

    def expire(
        self, *, batch: int = 1000, progress: Callable[[int], None] | None = None
    ) -> Removal:
        """Purge expired entries in short transactions, so writers are never held up for long."""
        now = self.clock()
        return self._remove_in_batches(EXPIRED, (now,), batch, progress)

    def evict(
        self, tag: str, *, batch: int = 1000, progress: Callable[[int], None] | None = None
    ) -> Removal:
        """Remove every entry stored with ``tag``."""
        return self._remove_in_batches("tag = ?", (tag,), batch, progress)

    def cull(self) -> Removal:
        """Bring the store within MAX_ENTRIES and SIZE_LIMIT now."""
        now = self.clock()
        garbage: list[str | None] = []

        def write(conn: sqlite3.Connection) -> Removal:
            garbage.clear()
            before = conn.execute("SELECT count, size FROM counters WHERE id = 0").fetchone()
            self._purge_expired(conn, now, garbage)
            count, _size = conn.execute("SELECT count, size FROM counters WHERE id = 0").fetchone()
            if self.max_entries is not None and count > self.max_entries:
                self._evict_oldest(conn, count - self.max_entries, None, garbage)
            if self.size_limit is not None:
                self._evict_for_size(conn, None, garbage)
            after = conn.execute("SELECT count, size FROM counters WHERE id = 0").fetchone()
            return Removal(before[0] - after[0], before[1] - after[1])

        removed = self._write(write)
        self.files.remove(garbage)
        return removed

    def reset_stats(self) -> None:
        with self._shared.lock:
            self._shared.hits = self._shared.misses = 0

        def write(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE counters SET hits = 0, misses = 0, stats_since = ? WHERE id = 0",
                (self.clock(),),
            )
            conn.execute("DELETE FROM snapshots")

        self.db.run_write(write)

    def flush(self) -> None:
        """Write this process's pending statistics and access times now."""
        if self._pending():
            self._write(lambda conn: None)

    # -- internals ---------------------------------------------------------------------------

    def _write(self, operation: Callable[[sqlite3.Connection], T]) -> T:
        """A write transaction that also carries this process's pending counters."""

        def run(conn: sqlite3.Connection) -> T:
            # Pending access times go in first, so that an eviction inside ``operation`` sees the
            # latest reads (least-recently-used); a failed transaction puts the counts back.
            taken = self._flush_into(conn)
            try:
                return operation(conn)
            except BaseException:
                self._restore(taken)
                raise

        return self.db.run_write(run)

    def _pending(self) -> bool:
        shared = self._shared
        return bool(shared.hits or shared.misses or shared.accessed)

    def _flush_into(self, conn: sqlite3.Connection) -> _Taken | None:
        """Move the pending counts into ``conn``'s transaction; return what was taken."""
        shared = self._shared
        if not (shared.hits or shared.misses or shared.accessed):
            return None
        with shared.lock:
            hits, misses, accessed = shared.hits, shared.misses, shared.accessed
            shared.hits = shared.misses = 0
            shared.accessed = {}
            shared.last_flush = time.monotonic()
        try:
            if hits or misses:
                conn.execute(
                    "UPDATE counters SET hits = hits + ?, misses = misses + ?,"
                    " stats_since = coalesce(stats_since, ?) WHERE id = 0",
                    (hits, misses, self.clock()),
                )
            if accessed:
                conn.executemany(
                    "UPDATE entries SET rank = ? WHERE id = ?",
                    [(when, entry_id) for entry_id, when in accessed.items()],
                )
        except BaseException:
            self._restore((hits, misses, accessed))
            raise
        return hits, misses, accessed

    def _restore(self, taken: _Taken | None) -> None:
        """The transaction rolled back: the counts it carried must not be lost."""
        if taken is None:
            return
        hits, misses, accessed = taken
        shared = self._shared
        with shared.lock:
            shared.hits += hits
            shared.misses += misses
            for entry_id, when in accessed.items():
                shared.accessed.setdefault(entry_id, when)

    def _count(self, hit: bool, entry_id: int | None) -> None:
        # Runs on every get: kept to a lock, an addition and a comparison.
        shared = self._shared
        if self.statistics:
            with shared.lock:
                if hit:
                    shared.hits += 1
                else:
                    shared.misses += 1
        elif not self._lru:
            return
        if hit and entry_id is not None and self._lru:
            shared.accessed[entry_id] = self.clock()
        self.flush_if_due()

    def _note_access(self, entry_id: int) -> None:
        if self._lru:
            self._shared.accessed[entry_id] = self.clock()

    def flush_if_due(self) -> None:
        """Write pending statistics when a batch is due (cheap otherwise; never raises on busy)."""
        shared = self._shared
        pending = shared.hits + shared.misses + len(shared.accessed)
        if pending < FLUSH_EVERY_OPS and time.monotonic() - shared.last_flush < FLUSH_EVERY_SECONDS:
            return
        try:
            self.flush()
        except (StoreLocked, sqlite3.OperationalError):
            # Statistics are best effort: a busy or read-only store keeps them for next time.
            shared.last_flush = time.monotonic()

    def _decode(self, key: str, row: Sequence[Any], *, repair: bool = True) -> Any:
        """``row`` is ``(id, mode, value, signature, filename)``."""
        entry_id, mode, payload, signature, filename = row
        if mode == Mode.INT:
            # Native integers carry no signature; a forged row must not smuggle text or bytes
            # (an HTML fragment, say) past the signature check by claiming to be one.
            if type(payload) is int:
                return payload
            self._reject(key, row, "its integer value is not an integer", repair)
            return MISSING
        if filename is not None:
            try:
                payload = self.files.read(filename)
            except FileNotFoundError:
                if self._still_there(entry_id, filename):
                    self._reject(key, row, "its value file is missing", repair)
                return MISSING
        try:
            return self.codec.loads(key, mode, payload, signature)
        except BadSignature:
            self._reject(key, row, "its signature does not verify (never unpickled)", repair)
        except CorruptValue as exc:
            self._reject(key, row, f"its value cannot be decoded ({exc})", repair)
        return MISSING

    def _still_there(self, entry_id: int, filename: str) -> bool:
        row = (
            self.db.connection()
            .execute("SELECT 1 FROM entries WHERE id = ? AND filename = ?", (entry_id, filename))
            .fetchone()
        )
        return row is not None

    def _reject(self, key: str, row: Sequence[Any], reason: str, repair: bool) -> None:
        """Log once that ``row`` (as read: id, mode, value, signature, filename) is a miss."""
        marker = (key, reason)
        if marker not in self._shared.logged:
            if len(self._shared.logged) >= 10_000:  # a flood of bad rows must not grow memory
                self._shared.logged.clear()
            self._shared.logged.add(marker)
            logger.warning(
                "Cache entry %r in %s is treated as a miss: %s.", key, self.directory, reason
            )
        if not repair:
            return

        # Only the version that was read goes: a writer may have replaced it since, in place.
        def write(conn: sqlite3.Connection) -> list[str | None]:
            return [
                found[0]
                for found in conn.execute(
                    "DELETE FROM entries WHERE id = ? AND mode = ? AND value IS ?"
                    " AND signature IS ? AND filename IS ? RETURNING filename",
                    tuple(row),
                )
            ]

        # Read-only or busy: the entry stays a miss and is tried again on the next read.
        with contextlib.suppress(StoreLocked, sqlite3.OperationalError):
            self.files.remove(self._write(write))

    @dataclass(frozen=True)
    class _Encoded:
        key: str
        parts: KeyParts
        expire_time: float | None
        tag: str | None
        mode: int
        value: object
        size: int
        signature: bytes | None
        filename: str | None

    def _encode(self, item: Item) -> Store._Encoded:
        if is_native_int(item.value):
            return Store._Encoded(
                item.key,
                item.parts,
                item.expire_time,
                item.tag,
                Mode.INT,
                item.value,
                8,
                None,
                None,
            )
        mode, payload = self.codec.dumps(item.key, item.value)
        signature = self.codec.sign(item.key, mode, payload)
        filename = None
        stored: object = payload
        if len(payload) >= self.file_threshold and (
            self.size_limit is None or len(payload) <= self.size_limit
        ):
            filename = self.files.write(payload)
            stored = None
        return Store._Encoded(
            item.key,
            item.parts,
            item.expire_time,
            item.tag,
            mode,
            stored,
            len(payload),
            signature,
            filename,
        )

    def _put(
        self, conn: sqlite3.Connection, e: Store._Encoded, now: float, garbage: list[str | None]
    ) -> bool:
        if self.size_limit is not None and e.size > self.size_limit:
            # It can never fit: drop any older value so a stale one is not served instead.
            row = conn.execute(
                "DELETE FROM entries WHERE key = ? RETURNING filename", (e.key,)
            ).fetchone()
            if row is not None:
                garbage.append(row[0])
            return False
        # One lookup for the counters and the entry being replaced, if any.
        (count, total, entry_id, old_file, old_size, *old_parts, old_tag, old_expiry) = (
            conn.execute(_LOOKUP, (e.key,)).fetchone()
        )
        parts = e.parts
        if entry_id is None:
            if self.max_entries is not None and count >= self.max_entries:
                self._cull_for_insert(conn, count, now, garbage)
            conn.execute(
                _INSERT,
                (
                    e.key,
                    parts.user_key,
                    parts.prefix,
                    parts.version,
                    family_of(parts.user_key),
                    now,
                    now,
                    e.expire_time,
                    e.tag,
                    e.size,
                    e.mode,
                    e.signature,
                    e.filename,
                    e.value,
                ),
            )
            total += e.size  # an overestimate after a cull, which _evict_for_size re-reads
        else:
            garbage.append(old_file)
            # Only the columns that change are assigned: every assigned column rewrites its
            # indexes (and the size trigger), which is most of what an overwrite costs.
            new_parts = [parts.user_key, parts.prefix, parts.version]
            changed = (
                new_parts != old_parts,
                e.size != old_size,
                e.tag != old_tag,
                e.expire_time != old_expiry,
            )
            params: list[Any] = [now, now, e.mode, e.signature, e.filename, e.value]
            if changed[0]:
                params += [*new_parts, family_of(parts.user_key)]
            if changed[1]:
                params.append(e.size)
            if changed[2]:
                params.append(e.tag)
            if changed[3]:
                params.append(e.expire_time)
            params.append(entry_id)
            conn.execute(_update_sql(changed), params)
            total += e.size - old_size
        if self.size_limit is not None and total > self.size_limit:
            self._evict_for_size(conn, e.key, garbage)
        return True

    def _cull_for_insert(
        self, conn: sqlite3.Connection, count: int, now: float, garbage: list[str | None]
    ) -> None:
        # Django: when MAX_ENTRIES is reached, 1/CULL_FREQUENCY of the entries go (0: all).
        if self.cull_frequency == 0:
            garbage.extend(row[0] for row in conn.execute("DELETE FROM entries RETURNING filename"))
            return
        count -= self._purge_expired(conn, now, garbage)
        if self.max_entries is not None and count >= self.max_entries:
            self._evict_oldest(conn, max(count // self.cull_frequency, 1), None, garbage)

    def _purge_expired(
        self, conn: sqlite3.Connection, now: float, garbage: list[str | None]
    ) -> int:
        rows = conn.execute(
            f"DELETE FROM entries WHERE {EXPIRED} RETURNING filename",
            (now,),
        ).fetchall()
        garbage.extend(row[0] for row in rows)
        return len(rows)

    def _evict_oldest(
        self, conn: sqlite3.Connection, number: int, keep: str | None, garbage: list[str | None]
    ) -> None:
        rows = conn.execute(
            "DELETE FROM entries WHERE id IN"
            " (SELECT id FROM entries WHERE key IS NOT ? ORDER BY rank LIMIT ?)"
            " RETURNING filename",
            (keep, number),
        ).fetchall()
        garbage.extend(row[0] for row in rows)

    def _evict_for_size(
        self, conn: sqlite3.Connection, keep: str | None, garbage: list[str | None]
    ) -> None:
        assert self.size_limit is not None
        while True:
            size = conn.execute("SELECT size FROM counters WHERE id = 0").fetchone()[0]
            excess = size - self.size_limit
            if excess <= 0:
                return
            victims: list[int] = []
            freed = 0
            for entry_id, entry_size in conn.execute(
                "SELECT id, size FROM entries WHERE key IS NOT ? ORDER BY rank LIMIT 64", (keep,)
            ):
                victims.append(entry_id)
                freed += entry_size
                if freed >= excess:
                    break
            if not victims:
                return
            marks = ",".join("?" * len(victims))
            garbage.extend(
                row[0]
                for row in conn.execute(
                    f"DELETE FROM entries WHERE id IN ({marks}) RETURNING filename", victims
                )
            )

    def _replace_value(
        self, conn: sqlite3.Connection, entry_id: int, key: str, value: object
    ) -> None:
        """Store ``value`` inline in row ``entry_id``; the caller removes any old value file."""
        if is_native_int(value):
            conn.execute(
                "UPDATE entries SET mode = ?, value = ?, signature = NULL, filename = NULL,"
                " size = 8 WHERE id = ?",
                (Mode.INT, value, entry_id),
            )
        else:
            mode, payload = self.codec.dumps(key, value)
            conn.execute(
                "UPDATE entries SET mode = ?, value = ?, signature = ?, filename = NULL, size = ?"
                " WHERE id = ?",
                (mode, payload, self.codec.sign(key, mode, payload), len(payload), entry_id),
            )

    def _remove_in_batches(
        self,
        where: str,
        params: tuple[Any, ...],
        batch: int,
        progress: Callable[[int], None] | None,
    ) -> Removal:
        count = size = 0
        while True:

            def write(conn: sqlite3.Connection) -> list[tuple[int, str | None]]:
                return conn.execute(
                    f"DELETE FROM entries WHERE id IN (SELECT id FROM entries WHERE {where}"
                    f" LIMIT ?) RETURNING size, filename",
                    (*params, batch),
                ).fetchall()

            rows = self._write(write)
            self.files.remove(row[1] for row in rows)
            count += len(rows)
            size += sum(row[0] for row in rows)
            if progress is not None and rows:
                progress(len(rows))
            if len(rows) < batch:
                return Removal(count, size)

    def check(self, *, fix: bool = False) -> list[Problem]:
        """Integrity check: database, value files and bookkeeping; ``fix`` repairs them."""
        from .integrity import check

        return check(self, fix=fix)
