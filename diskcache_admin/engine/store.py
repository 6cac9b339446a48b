"""The storage engine: a cache in one SQLite database (WAL) plus value files, no Django inside."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import os
import pickle
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final, NamedTuple, Protocol, TypeVar

from . import connection
from .codec import DIGEST_SIZE, Codec, CorruptValue, Mode, digest, int_content, is_native_int
from .connection import StoreLocked
from .eviction import POLICIES, Limits
from .files import BadValueFile
from .schema import EXPIRED, FINGERPRINT, SIZE_SUM
from .statistics import SNAPSHOTS_KEPT, Shared, SnapshotRow, shared_for, writes_deferred

logger = logging.getLogger("diskcache_admin.engine")

T = TypeVar("T")

__all__ = [  # POLICIES is re-exported: it was defined here before eviction.py existed
    "DEFAULT_FILE_THRESHOLD",
    "KNOWN_FAMILIES",
    "MISSING",
    "POLICIES",
    "EntryInfo",
    "Item",
    "KeyParts",
    "Problem",
    "Progress",
    "Removal",
    "Stats",
    "Store",
    "family_of",
]

# Payloads at or above this many bytes go to a value file. Measured with
# benchmarks/file_threshold.py (benchmarks/results/file_threshold.md, docs/benchmarks.rst): up
# to 64 KiB an inline BLOB is as fast or faster to read and to write, at 96 KiB reads are even;
# from 128 KiB a file reads 1.3-4x faster (a long chain of overflow pages costs more than
# open+read), and it keeps the database and its WAL small.
DEFAULT_FILE_THRESHOLD: Final = 128 * 1024

# An inline value longer than this is never loaded from its row (a planted row must not exhaust
# memory): it reads as a corrupt entry. The store's own FILE_THRESHOLD raises it.
MAX_INLINE_READ: Final = 1024 * 1024


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
    # memoize and cached_view keys (diskcache_admin.decorators.keys) name their function or view
    # before a bracket: that is the family ("dca.memo:shop.views.price").
    for start, opener in (("dca.memo:", "("), ("dca.view:", "[")):
        if user_key.startswith(start) and user_key.find(opener) > len(start):
            return user_key[: user_key.find(opener)]
    for known in KNOWN_FAMILIES:
        if user_key.startswith(known):
            return known
    cut = len(user_key)
    for separator in (":", "."):
        position = user_key.find(separator)
        if 0 <= position < cut:
            cut = position
    return user_key[:cut]


# KeyParts and Item are built on every write. A frozen dataclass's generated __init__ sets each
# field through object.__setattr__ (about 0.3 µs a field); these write the instance's __dict__
# directly, which is what that does, and stay frozen dataclasses (eq, hash, repr, replace).


@dataclass(frozen=True, init=False)
class KeyParts:
    """The parts of a made key that browsing shows apart."""

    user_key: str
    prefix: str = ""
    version: int = 1

    def __init__(self, user_key: str, prefix: str = "", version: int = 1) -> None:
        fields = self.__dict__
        fields["user_key"] = user_key
        fields["prefix"] = prefix
        fields["version"] = version


@dataclass(frozen=True, init=False)
class Item:
    key: str
    parts: KeyParts
    value: object
    expire_time: float | None
    tag: str | None = None

    def __init__(
        self,
        key: str,
        parts: KeyParts,
        value: object,
        expire_time: float | None,
        tag: str | None = None,
    ) -> None:
        fields = self.__dict__
        fields["key"] = key
        fields["parts"] = parts
        fields["value"] = value
        fields["expire_time"] = expire_time
        fields["tag"] = tag


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


_ENTRY_COLUMNS = (
    "id, key, user_key, prefix, version, family, store_time, expire_time, tag, size, mode, filename"
)
_LIVE = "(expire_time IS NULL OR expire_time > ?)"
_INT_MODE: Final = int(Mode.INT)
_PICKLE_MODE: Final = int(Mode.PICKLE)
_pickle_loads = pickle.loads
_sha256 = hashlib.sha256  # the payload digest (codec.digest), looked up once for the read path
# Everything an entry's signature covers (codec.py), then the value. An inline value is loaded
# only if it is a BLOB of at most the first parameter's length (``length`` reads a BLOB's size from
# its header), or an integer: never a planted gigabyte.
_SIGNED = "id, mode, signature, filename, size, digest, expire_time, tag, user_key, prefix, version"
_ROW = (
    f"{_SIGNED}, CASE WHEN typeof(value) = 'integer' OR"
    " (typeof(value) = 'blob' AND length(value) <= ?) THEN value END"
)
# The signed metadata and a native integer's value, without loading any other payload.
_META = f"{_SIGNED}, CASE WHEN typeof(value) = 'integer' THEN value END"
# Built once: the hot paths then pass the very same string, which sqlite3's statement cache
# finds without formatting a new one on every call. Parameters: inline limit, key, now.
_GET = f"SELECT {_ROW} FROM entries WHERE key = ? AND {_LIVE}"

_GET_MANY: dict[int, str] = {}


def _get_many_sql(count: int) -> str:
    """The SELECT of ``count`` keys, built once per count (like _GET, the same string each time)."""
    sql = _GET_MANY.get(count)
    if sql is None:
        marks = ",".join("?" * count)
        sql = _GET_MANY[count] = (
            f"SELECT key, {_ROW} FROM entries WHERE key IN ({marks}) AND {_LIVE}"
        )
    return sql


# Why an entry is a miss, as logged.
_UNSIGNED = "its signature does not verify (never unpickled)"


# The counters are cast: they are not signed (docs/security.rst), and text planted in them
# must not turn every write into a TypeError. So is the old entry's size (it is read before the
# entry is verified): -1 when it is not an integer, which no value's size equals, so the
# overwrite rewrites it.
_LOOKUP = (
    "SELECT CAST(c.count AS INTEGER), CAST(c.size AS INTEGER), e.id, e.filename,"
    " CASE typeof(e.size) WHEN 'integer' THEN e.size ELSE -1 END,"
    " e.user_key, e.prefix, e.version, e.tag, e.expire_time"
    " FROM counters AS c LEFT JOIN entries AS e ON e.key = ? WHERE c.id = 0"
)
_STATS = (
    "SELECT CAST(count AS INTEGER), CAST(size AS INTEGER), CAST(hits AS INTEGER),"
    " CAST(misses AS INTEGER),"
    " CASE WHEN typeof(stats_since) IN ('integer', 'real') THEN stats_since END"
    " FROM counters WHERE id = 0"
)
_INSERT = (
    "INSERT INTO entries (key, user_key, prefix, version, family, store_time, rank,"
    " expire_time, tag, size, mode, signature, filename, value, digest)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_UPDATES: dict[tuple[bool, ...], str] = {}

# The usual overwrite in one statement, without _LOOKUP: it matches only an entry whose key
# parts, tag and size are those of the new value and whose old value is inline (no value file to
# remove), which is when _put's UPDATE would assign the same columns (the size unchanged: no
# counters trigger, no size index). A new key, or any other change, matches no row and takes
# the general path (docs/performance.rst: one statement of four per overwrite). A ``None``
# expiry is matched rather than assigned, so that its index entry stays put; any other expiry
# is assigned (a timeout makes it a new time on almost every set).
_OVERWRITE_SET = (
    "UPDATE entries SET store_time = ?, rank = ?, mode = ?, signature = ?, filename = ?,"
    " value = ?, digest = ?"
)
_OVERWRITE_MATCH = (
    " WHERE key = ? AND user_key = ? AND prefix = ? AND version = ? AND tag IS ? AND size = ?"
    " AND filename IS NULL"
)
_OVERWRITE_EXPIRING = f"{_OVERWRITE_SET}, expire_time = ?{_OVERWRITE_MATCH}"
_OVERWRITE_LASTING = f"{_OVERWRITE_SET}{_OVERWRITE_MATCH} AND expire_time IS NULL"


def _update_sql(changed: tuple[bool, ...]) -> str:
    """The UPDATE of an overwritten entry that assigns only ``changed`` optional columns.

    ``changed`` flags, in order: key parts (and family), size, tag, expire time.
    """
    sql = _UPDATES.get(changed)
    if sql is None:
        optional = ("user_key = ?, prefix = ?, version = ?, family = ?", "size = ?", "tag = ?")
        columns = [
            "store_time = ?, rank = ?, mode = ?, signature = ?, filename = ?, value = ?, digest = ?"
        ]
        columns += [
            c for c, flag in zip((*optional, "expire_time = ?"), changed, strict=True) if flag
        ]
        sql = _UPDATES[changed] = f"UPDATE entries SET {', '.join(columns)} WHERE id = ?"
    return sql


# What a delete returns of each row it removed: size, expire time, value file. The size is
# summed unverified (a planted text size must not raise after the rows went).
_Deleted = tuple[int, float | None, str | None]
_DELETED = "CAST(size AS INTEGER), expire_time, filename"


def _delete_rows(conn: sqlite3.Connection, where: str, params: Sequence[Any]) -> list[_Deleted]:
    """Delete the rows ``where`` selects; the only DELETE of the store's removal path."""
    return connection.delete_returning(conn, where, params, _DELETED)


def _delete_signed(conn: sqlite3.Connection, where: str, params: Sequence[Any]) -> list[Any]:
    """Like :func:`_delete_rows`, each row followed by its key and ``_META`` columns."""
    return connection.delete_returning(conn, where, params, f"{_DELETED}, key, {_META}")


def _live(row: Sequence[Any], now: float) -> bool:
    return row[1] is None or row[1] > now


def _reseed_counters(conn: sqlite3.Connection) -> None:
    """Recreate a deleted counters row from the table (a no-op, without a scan, if it exists)."""
    # Looked up first: as one INSERT ... SELECT ... WHERE NOT EXISTS, SQLite counted the whole
    # table before the condition dropped the row (0.3 s a call at 1M entries, measured).
    if conn.execute("SELECT 1 FROM counters WHERE id = 0").fetchone() is None:
        conn.execute(
            "INSERT OR IGNORE INTO counters (id, count, size, hits, misses)"
            f" SELECT 0, count(*), {SIZE_SUM}, 0, 0 FROM entries"
        )


# ``progress(done, total)``, given to the long maintenance operations (clear, check): called
# after each batch has committed (and its value files are gone), with the entries done so far
# and the total expected (at least ``done``), and now and then during a long single statement
# (check's integrity check). Whatever it raises stops the operation there and propagates: what
# the batches before did stays done, nothing is half done (a KeyboardInterrupt is how the
# ``cache`` command stops one after its current batch).
Progress = Callable[[int, int], None]

# A clear (and check's repairs) deletes in write transactions of about this long: other
# processes' writes then wait at most about this long behind one batch. Measured at 1M small
# entries: ~5 us an entry, so batches of ~10,000 (docs/reliability.rst).
BATCH_SECONDS: Final = 0.05
FIRST_BATCH: Final = 1000
MIN_BATCH: Final = 100
MAX_BATCH: Final = 50_000
# Between two batches the loop sleeps longer than a queued writer's longest poll of the writers'
# queue (1 ms, connection.Database._flock): without it the loop would take the lock back before
# any waiting writer saw it free, and hold them off for the whole clear.
BATCH_PAUSE: Final = 0.002
# check() reads entries this many at a time, each batch its own short read: a reader holding one
# snapshot for the whole store would keep every checkpoint from finishing (the WAL would grow).
CHECK_BATCH: Final = 5000
_MIN_ROWID: Final = -(2**63)


class _BatchSizer:
    """Sizes the batches of a maintenance loop: ``fixed`` entries, or adapted after each batch
    so that one holds the write lock about :data:`BATCH_SECONDS`."""

    def __init__(self, fixed: int | None) -> None:
        if fixed is not None and fixed < 1:
            raise ValueError(f"batch must be at least 1, not {fixed}")
        self.fixed = fixed
        self.size = fixed if fixed is not None else FIRST_BATCH

    def adapt(self, done: int, seconds: float) -> None:
        if self.fixed is not None or done < self.size or seconds <= 0:
            return  # a short last batch says nothing about the rate
        wanted = done * BATCH_SECONDS / seconds
        # At most halved or doubled at a time: one slow batch (a checkpoint, a busy disk) must
        # not swing the next one far.
        wanted = min(max(wanted, self.size / 2), self.size * 2)
        self.size = int(min(max(wanted, MIN_BATCH), MAX_BATCH))


def _parts_of(row: Sequence[Any]) -> KeyParts:
    """The key parts of a ``_ROW``/``_META`` row (verified by the caller)."""
    return KeyParts(row[8], row[9], row[10])


class Selection(Protocol):
    """Which entries a bulk removal covers (``browse.Filter`` is one)."""

    def where(self, now: float) -> tuple[str, Sequence[Any]]:
        """An SQL condition on ``entries`` and its parameters, evaluated at ``now``."""
        ...


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
        self.limits = Limits(max_entries, cull_frequency, size_limit, eviction_policy)
        self.directory = os.path.realpath(directory)
        self.codec = codec
        self.statistics = statistics
        self.file_threshold = file_threshold
        self.inline_limit = max(file_threshold, MAX_INLINE_READ)
        self.clock = clock
        # Whether this Store has recorded (or checked) its key's fingerprint in the store's
        # metadata; done in its first write transaction.
        self._claimed = False
        self._shared: Shared = shared_for(directory, busy_timeout)
        self.db = self._shared.db
        self.files = self._shared.files
        self._lru = eviction_policy == "least-recently-used"

    # The limits, by the names of the constructor's arguments (read-only: see ``limits``).

    @property
    def max_entries(self) -> int | None:
        return self.limits.max_entries

    @property
    def cull_frequency(self) -> int:
        return self.limits.cull_frequency

    @property
    def size_limit(self) -> int | None:
        return self.limits.size_limit

    @property
    def eviction_policy(self) -> str:
        return self.limits.policy

    # -- reading -----------------------------------------------------------------------------

    def get(self, key: str) -> Any:
        """The live value of ``key``, or :data:`MISSING`."""
        row = self.db.connection().execute(_GET, (self.inline_limit, key, self.clock())).fetchone()
        value = MISSING if row is None else self._decode(key, row)
        self._count(value is not MISSING, row[0] if row is not None else None)
        return value

    def get_many(self, keys: Sequence[str]) -> dict[str, Any]:
        if not keys:
            return {}
        now = self.clock()
        found: dict[str, Any] = {}
        conn = self.db.connection()
        lru = self._lru
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            rows = conn.execute(
                _get_many_sql(len(chunk)), (self.inline_limit, *chunk, now)
            ).fetchall()
            for row in rows:
                value = self._decode(row[0], row[1:])
                if value is not MISSING:
                    found[row[0]] = value
                    if lru:
                        self._note_access(row[1])
        if self.statistics:
            shared = self._shared
            shared.add_counts(len(found), len(keys) - len(found))
            shared.reads_to_check -= len(keys)
            if shared.reads_to_check <= 0:
                self.flush_if_due()
        return found

    def has(self, key: str) -> bool:
        """Whether ``key`` has a live entry that verifies (see :meth:`_absent_reason`)."""
        row = self.db.connection().execute(_GET, (self.inline_limit, key, self.clock())).fetchone()
        if row is None:
            return False
        reason = self._absent_reason(key, row)
        if reason is not None:
            self._reject(key, row, reason, repair=True)
            return False
        return True

    def peek(self, key: str) -> Any:
        """Like :meth:`get`, but counts nothing and leaves the eviction order alone."""
        row = (
            self.db.connection()
            .execute(f"SELECT {_ROW} FROM entries WHERE key = ?", (self.inline_limit, key))
            .fetchone()
        )
        return MISSING if row is None else self._decode(key, row, repair=False)

    def entry(self, key: str) -> EntryInfo | None:
        """The metadata of ``key``'s entry (live or expired), or ``None``: also when it does not
        verify, like every other operation."""
        conn = self.db.connection()
        meta = conn.execute(f"SELECT {_META} FROM entries WHERE key = ?", (key,)).fetchone()
        if meta is None or self.unverified_reason(key, meta) is not None:
            return None
        row = conn.execute(
            f"SELECT {_ENTRY_COLUMNS} FROM entries WHERE id = ? AND signature IS ?",
            (meta[0], meta[2]),
        ).fetchone()
        return None if row is None else EntryInfo(*row)

    def stats(self) -> Stats:
        """Counters from the database plus this process's unflushed ones. Writes nothing."""
        row = self.db.connection().execute(_STATS).fetchone()
        # A deleted counters row (it is recounted by the next write or check --fix).
        count, size, hits, misses, since = row if row is not None else (0, 0, 0, 0, None)
        unflushed_hits, unflushed_misses = self._shared.unflushed()
        return Stats(count, size, hits + unflushed_hits, misses + unflushed_misses, since)

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
        encoded = self._encode_value(key, parts, value, expire_time, tag)
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
        encoded = self._encode_value(key, parts, value, expire_time, tag)
        return self._store_one(encoded, only_if_absent=True)

    def _store_one(self, encoded: Store._Encoded, *, only_if_absent: bool) -> bool:
        # set_many() of one item, without its per-batch bookkeeping.
        now = self.clock()
        garbage: list[str | None] = []

        def write(conn: sqlite3.Connection) -> bool:
            garbage.clear()  # a retried transaction starts over
            if only_if_absent:
                existing = conn.execute(_GET, (self.inline_limit, encoded.key, now)).fetchone()
                # A live entry that does not verify is absent, as for get and has_key: it is
                # replaced (unless the store is signed by another key, which never loses one).
                if existing is not None:
                    if self._absent_reason(encoded.key, existing) is None:
                        return False
                    if not self._owned(conn):
                        return False
            # add(): _GET found no live entry, so the usual overwrite is unlikely (one statement
            # saved on an insert); an expired entry it replaces takes the general path.
            return self._put(conn, encoded, now, garbage, overwrite=not only_if_absent)

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
            overwrite = self._overwrite_many(conn, encoded, now)
            if overwrite is None:
                return []  # every item was a usual overwrite
            return [
                e.key for e in encoded if not self._put(conn, e, now, garbage, overwrite=overwrite)
            ]

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

        def write(conn: sqlite3.Connection) -> tuple[bool, list[str | None]]:
            row = conn.execute(_GET, (self.inline_limit, key, now)).fetchone()
            if row is None:
                return False, []
            if self._absent_reason(key, row) is not None:
                # Absent, as for get: removed, unless another key signs the store.
                if not self._owned(conn):
                    return False, []
                return False, [r[2] for r in _delete_rows(conn, "id = ?", (row[0],))]
            entry_id, mode, _, _, size, stored_digest, _, tag, user_key, prefix, version, value = (
                row
            )
            content = int_content(value) if mode == Mode.INT else stored_digest
            signature = self.codec.sign(
                key, user_key, prefix, version, expire_time, tag, mode, size, content
            )
            conn.execute(
                "UPDATE entries SET expire_time = ?, signature = ? WHERE id = ?",
                (expire_time, signature, entry_id),
            )
            return True, []

        return self._removing(write)

    # -- removing: every removal goes through _removing and _delete_rows ----------------------

    def delete(self, key: str) -> bool:
        """Delete ``key``'s entry; ``True`` if it was live (an expired one goes silently)."""
        now = self.clock()

        def write(conn: sqlite3.Connection) -> tuple[bool, list[str | None]]:
            rows = _delete_signed(conn, "key = ?", (key,))
            return any(self._existed(row, now) for row in rows), [row[2] for row in rows]

        return self._removing(write)

    def delete_many(self, keys: Iterable[str]) -> int:
        """Delete the entries of ``keys`` in one transaction; returns how many were live."""
        now = self.clock()
        keys = list(keys)

        def write(conn: sqlite3.Connection) -> tuple[int, list[str | None]]:
            rows: list[Any] = []
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                rows += _delete_signed(conn, f"key IN ({','.join('?' * len(chunk))})", chunk)
            return sum(self._existed(row, now) for row in rows), [row[2] for row in rows]

        return self._removing(write) if keys else 0

    def _existed(self, row: Sequence[Any], now: float) -> bool:
        """A deleted row (``_delete_signed``) was a live entry that verifies: what ``get`` would
        have returned, so that ``delete`` agrees with every other operation."""
        return _live(row, now) and self.unverified_reason(row[3], row[4:]) is None

    def remove(self, keys: Sequence[str]) -> Removal:
        """Delete entries by stored key, live or expired: how many rows went, and their bytes."""
        rows = self._delete_keys(keys)
        return Removal(len(rows), sum(row[0] for row in rows))

    def remove_matching(
        self,
        selection: Selection,
        *,
        batch: int | None = None,
        progress: Callable[[int], None] | None = None,
        now: float | None = None,
    ) -> Removal:
        """Delete every entry ``selection`` selects, in short transactions (see :meth:`expire`)."""
        where, params = selection.where(self.clock() if now is None else now)
        return self._remove_in_batches(where, tuple(params), batch, progress)

    def delete_if_equal(self, key: str, value: object) -> bool:
        """Delete ``key``'s entry only if it is live and its value ``== value``, atomically.

        The read, the comparison and the delete share one write transaction, so no other writer
        (thread or process) can replace the value in between: releasing a lock this way never
        deletes another holder's lock. An entry that does not verify counts as absent.
        """
        now = self.clock()

        def write(conn: sqlite3.Connection) -> tuple[bool, list[str | None]]:
            row = conn.execute(_GET, (self.inline_limit, key, now)).fetchone()
            if row is None:
                return False, []
            current = self._decode(key, row, repair=False)
            if current is MISSING or not bool(current == value):
                return False, []
            # By id, and only the version just read (the transaction holds the write lock).
            return True, [found[2] for found in _delete_rows(conn, "id = ?", (row[0],))]

        return self._removing(write)

    def incr(self, key: str, delta: int) -> Any:
        """Add ``delta`` atomically, keeping expiry and tag; ``KeyError`` if ``key`` is missing."""
        now = self.clock()

        def write(conn: sqlite3.Connection) -> Any:
            row = conn.execute(_GET, (self.inline_limit, key, now)).fetchone()
            if row is None:
                raise KeyError(key)
            # Verified like any read (a native integer is signed too: no forged counter).
            current = self._decode(key, row, repair=False)
            if current is MISSING:
                raise KeyError(key)
            new_value = current + delta
            self._replace_value(conn, row, key, _parts_of(row), new_value)
            return new_value, row[3]

        new_value, old_file = self._write(write)
        self.files.remove([old_file])
        return new_value

    def rename(self, old_key: str, new_key: str, parts: KeyParts) -> bool:
        """Move a live entry to another key (``incr_version``), keeping expiry and tag."""
        now = self.clock()

        def write(conn: sqlite3.Connection) -> tuple[bool, list[str | None]]:
            row = conn.execute(_GET, (self.inline_limit, old_key, now)).fetchone()
            if row is None:
                return False, []
            value = self._decode(old_key, row, repair=False)
            if value is MISSING:
                return False, []
            replaced = next(iter(_delete_rows(conn, "key = ?", (new_key,))), None)
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
            self._replace_value(conn, row, new_key, parts, value)
            return True, [row[3], replaced[2] if replaced else None]

        moved, garbage = self._write(write)
        self.files.remove(garbage)
        return moved

    def clear(self, *, batch: int | None = None, progress: Progress | None = None) -> Removal:
        """Remove every entry that exists when the clear starts, in short transactions.

        Entries go in ascending id order, a batch per write transaction (by default sized to
        hold the write lock about :data:`BATCH_SECONDS`; ``batch`` fixes the number of entries),
        so other processes' reads and writes go on between batches. Each batch deletes its rows
        (the counters follow through the schema's triggers) and commits before its value files
        are unlinked: whenever the clear stops, every remaining entry is intact and readable
        and the counters are exact. An entry created after the clear started (a new id) is
        kept; one overwritten in place while the clear runs goes if the clear had not reached
        it yet. ``progress(done, total)`` is called after each batch (see :data:`Progress`).
        """
        with self.db.read() as snapshot:
            top = snapshot.execute("SELECT max(id) FROM entries").fetchone()[0]
            counted = snapshot.execute(
                "SELECT CAST(count AS INTEGER) FROM counters WHERE id = 0"
            ).fetchone()
        total = max(int(counted[0]), 0) if counted is not None else 0
        sizer = _BatchSizer(batch)
        low = _MIN_ROWID
        count = size = 0
        held = [0.0]
        while True:

            def write(
                conn: sqlite3.Connection, low: int = low, limit: int = sizer.size
            ) -> tuple[tuple[int | None, list[_Deleted]], list[str | None]]:
                held[0] = time.perf_counter()  # the write lock is held from here to the COMMIT
                _reseed_counters(conn)  # a deleted counters row is recounted, then followed
                if top is None:
                    return (None, []), []
                # The batch is a range of ids, its end found on the primary key's b-tree: the
                # DELETE is then a range scan, whatever the gaps in the ids.
                row = conn.execute(
                    "SELECT id FROM entries WHERE id >= ? AND id <= ? ORDER BY id LIMIT 1 OFFSET ?",
                    (low, top, limit - 1),
                ).fetchone()
                high = top if row is None else int(row[0])
                rows = _delete_rows(conn, "id >= ? AND id <= ?", (low, high))
                return (high, rows), [found[2] for found in rows]

            high, rows = self._removing(write)
            sizer.adapt(len(rows), time.perf_counter() - held[0])
            count += len(rows)
            size += sum(found[0] for found in rows)
            if progress is not None:
                progress(count, max(total, count))
            if high is None or top is None or high >= top:
                return Removal(count, size)
            low = high + 1
            time.sleep(BATCH_PAUSE)

    # -- maintenance -------------------------------------------------------------------------

    def expire(
        self, *, batch: int | None = None, progress: Callable[[int], None] | None = None
    ) -> Removal:
        """Purge expired entries in short transactions, so writers are never held up for long."""
        now = self.clock()
        return self._remove_in_batches(EXPIRED, (now,), batch, progress)

    def evict(
        self, tag: str, *, batch: int | None = None, progress: Callable[[int], None] | None = None
    ) -> Removal:
        """Remove every entry stored with ``tag``."""
        return self._remove_in_batches("tag = ?", (tag,), batch, progress)

    def cull(self) -> Removal:
        """Bring the store within MAX_ENTRIES and SIZE_LIMIT now."""
        now = self.clock()

        def write(conn: sqlite3.Connection) -> tuple[Removal, list[str | None]]:
            garbage: list[str | None] = []
            _reseed_counters(conn)  # maintenance: a deleted counters row must not stop it
            return Removal(*self.limits.cull(conn, now, garbage)), garbage

        return self._removing(write)

    def reset_stats(self) -> None:
        self._shared.reset_counts()

        def write(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE counters SET hits = 0, misses = 0, stats_since = ? WHERE id = 0",
                (self.clock(),),
            )
            conn.execute("DELETE FROM snapshots")

        self.db.run_write(write)

    def take_snapshot(self, now: float | None = None, keep: int = SNAPSHOTS_KEPT) -> SnapshotRow:
        """Record the current counters (this process's unflushed hits included); keep the newest
        ``keep`` snapshots."""
        taken = self.clock() if now is None else now
        stats = self.stats()
        row: SnapshotRow = (taken, stats.count, stats.size, stats.hits, stats.misses)

        def write(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT OR REPLACE INTO snapshots (taken, count, size, hits, misses)"
                " VALUES (?, ?, ?, ?, ?)",
                row,
            )
            conn.execute(
                "DELETE FROM snapshots WHERE taken <"
                " (SELECT taken FROM snapshots ORDER BY taken DESC LIMIT 1 OFFSET ?)",
                (keep - 1,),
            )

        self.db.run_write(write)
        return row

    def flush(self) -> None:
        """Write this process's pending statistics and access times now."""
        if self._shared.pending():
            self._write(lambda conn: None, flush=True)

    # -- internals ---------------------------------------------------------------------------

    def _write(self, operation: Callable[[sqlite3.Connection], T], *, flush: bool = False) -> T:
        """A write transaction that also carries this process's pending counters when a batch is
        due (``flush``: whatever is pending), see ``Shared.take_into``."""

        def run(conn: sqlite3.Connection) -> T:
            # Pending access times go in first, so that an eviction inside ``operation`` sees the
            # latest reads (least-recently-used); a failed transaction puts the counts back.
            taken = self._shared.take_into(conn, self.clock, everything=flush)
            try:
                if not self._claimed:
                    self._owned(conn)
                return operation(conn)
            except BaseException:
                self._shared.restore(taken)
                raise

        result = self.db.run_write(run)
        self._claimed = True
        return result

    def _owned(self, conn: sqlite3.Connection) -> bool:
        """Whether one of our keys signs the store; records ours if none does yet.

        Called inside a write transaction: the first one of this Store, and each that would
        remove an entry because it does not verify. A store signed by another key (another
        project's SECRET_KEY on the same LOCATION) never loses an entry to a failed check: its
        entries are misses here, and the system check reports diskcache_admin.E020. A store
        signed by a fallback key (SECRET_KEY_FALLBACKS: a rotation) passes to the new key.
        """
        row = conn.execute("SELECT value FROM meta WHERE name = ?", (FINGERPRINT,)).fetchone()
        recorded = None if row is None else row[0]
        if recorded == self.codec.fingerprint:
            return True
        if recorded is not None and not self.codec.owns(recorded):
            return False
        conn.execute(
            "INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)",
            (FINGERPRINT, self.codec.fingerprint),
        )
        return True

    def _count(self, hit: bool, entry_id: int | None) -> None:
        # Runs on every get: kept to a lock, an addition and a comparison, inline rather than
        # through Shared's methods (statistics.py), whose call would cost more than the update.
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
        # Shared.due() only every so many reads (statistics.CHECK_EVERY_READS), and at the read
        # that makes a batch due by its count.
        shared.reads_to_check -= 1
        if shared.reads_to_check <= 0:
            self.flush_if_due()

    def _note_access(self, entry_id: int) -> None:
        if self._lru:
            self._shared.accessed[entry_id] = self.clock()

    def repair_deferred(self) -> None:
        """Remove the rejected entries that reads in an event loop left (see ``_reject``)."""
        for key, row, reason in self._shared.take_deferred_repairs():
            self._reject(key, row, reason, repair=True)

    def flush_if_due(self) -> None:
        """Write pending statistics when a batch is due (cheap otherwise; never raises on busy)."""
        shared = self._shared
        if shared.due():
            try:
                self.flush()
            except (StoreLocked, sqlite3.OperationalError):
                # Statistics are best effort: a busy or read-only store keeps them for next time.
                shared.postpone()
        shared.next_check()

    def read_row(self, key: str) -> tuple[Any, ...] | None:
        """``key``'s row, live or expired, as :meth:`unverified_reason` and
        :meth:`payload_matches` take it (an inline value only up to the inline limit)."""
        row = (
            self.db.connection()
            .execute(f"SELECT {_ROW} FROM entries WHERE key = ?", (self.inline_limit, key))
            .fetchone()
        )
        return None if row is None else tuple(row)

    def payload_matches(self, row: Sequence[Any], payload: object) -> bool:
        """Whether ``payload`` (read for ``row``) has the row's signed size and digest."""
        return (
            isinstance(payload, bytes)
            and len(payload) == row[4]
            and hmac.compare_digest(digest(payload), row[5] if isinstance(row[5], bytes) else b"")
        )

    def unverified_reason(self, key: str, row: Sequence[Any]) -> str | None:
        """Why ``row`` (``_ROW`` or ``_META`` columns) is not a genuine entry of ``key``; None
        if its signature verifies. Reads nothing: a metadata check costs one short hash."""
        (_, mode, signature, filename, size, stored_digest, expire_time, tag, user_key, prefix,
         version, value) = row  # fmt: skip
        if mode == Mode.INT:
            # A native integer is signed over its value: a forged counter, or text claiming to
            # be an integer (an HTML fragment, say), does not verify.
            if type(value) is not int or filename is not None:
                return "its integer value is not an integer"
            content = int_content(value)
        elif not isinstance(stored_digest, bytes) or len(stored_digest) != DIGEST_SIZE:
            return "it has no payload digest (written by an older version, or forged)"
        else:
            content = stored_digest
        if not self.codec.verify(
            signature, key, user_key, prefix, version, expire_time, tag, mode, size, content
        ):
            return _UNSIGNED
        return None

    def _absent_reason(self, key: str, row: Sequence[Any]) -> str | None:
        """Why ``has_key``, ``add`` and ``touch`` must treat ``row`` (``_ROW``) as absent.

        What ``get`` checks, except that a value file is not read (it may be large): it must be a
        regular file of the signed size. An inline payload is hashed like ``get`` does.
        """
        reason = self.unverified_reason(key, row)
        if reason is not None or row[1] == Mode.INT:
            return reason
        if row[3] is not None:
            return self._bad_file_size(row[3], row[4])
        if not self.payload_matches(row, row[11]):
            return "its payload does not match the digest its signature covers (never unpickled)"
        return None

    def _bad_file_size(self, filename: object, size: object) -> str | None:
        try:
            actual = self.files.size(filename)  # type: ignore[arg-type]
        except BadValueFile as exc:
            return f"its value file cannot be used ({exc})"
        except OSError as exc:
            return f"its value file cannot be read ({exc})"
        if actual is None:
            return "its value file is missing"
        if actual != size:
            return f"its value file holds {actual} B, its entry says {size} B"
        return None

    def _decode(self, key: str, row: Sequence[Any], *, repair: bool = True) -> Any:
        """The value of ``row`` (``_ROW`` columns), or MISSING if it is not a genuine entry.

        The signed metadata is checked first, so that a forged row never makes the engine read
        anything; then the payload (read up to its signed size only) against its signed digest;
        only then is it decoded.
        """
        # The fast lane: an inline value (the usual entry) whose signature and digest verify, by
        # the very checks of the full path below and in the same order, without its calls
        # (docs/performance.rst). Any other entry, or a check that fails, takes the full path,
        # which says why and acts on it.
        (_, mode, signature, filename, size, stored_digest, expire_time, tag, user_key, prefix,
         version, payload) = row  # fmt: skip
        if (
            filename is None
            and mode != _INT_MODE
            and type(payload) is bytes
            and self.codec.verify(
                signature, key, user_key, prefix, version, expire_time, tag, mode, size,
                stored_digest,
            )
            and len(payload) == size
            and type(stored_digest) is bytes
            and hmac.compare_digest(_sha256(payload).digest(), stored_digest)
        ):  # fmt: skip
            try:
                if mode == _PICKLE_MODE:  # Codec.decode's first case, without its call
                    return _pickle_loads(payload)
                return self.codec.decode(key, mode, payload)
            except Exception:  # as Codec.decode: the full path below rejects it, and logs why
                pass
        reason = self.unverified_reason(key, row)
        if reason is not None:
            self._reject(key, row, reason, repair)
            return MISSING
        entry_id, mode, _, filename, size = row[:5]
        payload = row[11]
        if mode == Mode.INT:
            return payload
        if filename is not None:
            try:
                payload = self.files.read(filename, size)
            except FileNotFoundError:
                if self._still_there(entry_id, filename):
                    self._reject(key, row, "its value file is missing", repair)
                return MISSING
            except BadValueFile as exc:
                self._reject(key, row, f"its value file cannot be used ({exc})", repair)
                return MISSING
            except OSError as exc:
                self._reject(key, row, f"its value file cannot be read ({exc})", False)
                return MISSING
        elif not isinstance(payload, bytes):
            self._reject(key, row, "its inline value is not a value this engine stores", repair)
            return MISSING
        if not self.payload_matches(row, payload):
            self._reject(
                key,
                row,
                "its payload does not match the digest its signature covers (never unpickled)",
                repair,
            )
            return MISSING
        try:
            return self.codec.decode(key, mode, payload)
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
        """Log once that ``row`` (as read, ``_ROW`` or ``_META`` columns) is a miss; remove it
        if ``repair`` and one of our keys signs the store."""
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
        if writes_deferred():
            # A read in an event loop's thread never waits for the write lock: the removal is
            # left to a worker thread (DiskCache's async reads call repair_deferred()).
            self._shared.defer_repair(key, tuple(row), reason)
            return

        # Only the version that was read goes: a writer may have replaced it since, in place.
        def write(conn: sqlite3.Connection) -> tuple[None, list[str | None]]:
            if not self._owned(conn):
                return None, []  # another key signs the store: its entries are not ours to remove
            rows = _delete_rows(
                conn,
                "id = ? AND mode IS ? AND signature IS ? AND filename IS ? AND digest IS ?",
                (row[0], row[1], row[2], row[3], row[5]),
            )
            return None, [found[2] for found in rows]

        # Read-only or busy: the entry stays a miss and is tried again on the next read.
        with contextlib.suppress(StoreLocked, sqlite3.OperationalError):
            self._removing(write)

    class _Encoded(NamedTuple):
        # A NamedTuple, not a frozen dataclass: built for every value written, and a frozen
        # dataclass's __init__ (one object.__setattr__ per field) cost about 2 µs of a set.
        key: str
        parts: KeyParts
        expire_time: float | None
        tag: str | None
        mode: int
        value: object
        size: int
        signature: bytes | None
        filename: str | None
        digest: bytes | None

    def _sign(
        self,
        key: str,
        parts: KeyParts,
        expire_time: float | None,
        tag: str | None,
        mode: int,
        size: int,
        content: bytes,
    ) -> bytes:
        return self.codec.sign(
            key, parts.user_key, parts.prefix, parts.version, expire_time, tag, mode, size, content
        )

    def _encode(self, item: Item) -> Store._Encoded:
        return self._encode_value(item.key, item.parts, item.value, item.expire_time, item.tag)

    def _encode_value(
        self, key: str, parts: KeyParts, value: object, expire_time: float | None, tag: str | None
    ) -> Store._Encoded:
        sign = self.codec.sign
        if is_native_int(value):
            assert isinstance(value, int)
            signature = sign(
                key, parts.user_key, parts.prefix, parts.version, expire_time, tag, Mode.INT, 8,
                int_content(value),
            )  # fmt: skip
            return Store._Encoded(
                key, parts, expire_time, tag, Mode.INT, value, 8, signature, None, None
            )
        mode, payload = self.codec.dumps(key, value)
        payload_digest = digest(payload)
        size = len(payload)
        signature = sign(
            key, parts.user_key, parts.prefix, parts.version, expire_time, tag, mode, size,
            payload_digest,
        )  # fmt: skip
        filename = None
        stored: object = payload
        if size >= self.file_threshold and self.limits.fits(size):
            filename = self.files.write(payload)
            stored = None
        return Store._Encoded(
            key, parts, expire_time, tag, mode, stored, size, signature, filename, payload_digest
        )

    def _put(
        self,
        conn: sqlite3.Connection,
        e: Store._Encoded,
        now: float,
        garbage: list[str | None],
        *,
        overwrite: bool = True,
    ) -> bool:
        """Write ``e`` in ``conn``'s transaction; ``False`` if it can never fit. ``overwrite``:
        try the usual overwrite's single UPDATE first (an insert then costs one statement
        more: worth it where most writes replace a value, as a cache's sets do)."""
        limits = self.limits
        if not limits.fits(e.size):
            # It can never fit: drop any older value so a stale one is not served instead.
            garbage.extend(row[2] for row in _delete_rows(conn, "key = ?", (e.key,)))
            return False
        parts = e.parts
        # The usual overwrite (same key parts, tag and size, inline before): one UPDATE. The
        # size is unchanged, so is the total: nothing for make_room or trim_size to do. A probe
        # that matches nothing (a new key, a new size) costs about 1.5 % of a set's
        # instructions (docs/performance.rst).
        if not overwrite:
            matched = 0
        elif e.expire_time is None:
            matched = conn.execute(
                _OVERWRITE_LASTING,
                (now, now, e.mode, e.signature, e.filename, e.value, e.digest, e.key,
                 parts.user_key, parts.prefix, parts.version, e.tag, e.size),
            ).rowcount  # fmt: skip
        else:
            matched = conn.execute(
                _OVERWRITE_EXPIRING,
                (now, now, e.mode, e.signature, e.filename, e.value, e.digest, e.expire_time,
                 e.key, parts.user_key, parts.prefix, parts.version, e.tag, e.size),
            ).rowcount  # fmt: skip
        if matched:
            return True
        # One lookup for the counters and the entry being replaced, if any.
        found = conn.execute(_LOOKUP, (e.key,)).fetchone()
        if found is None:  # the counters row was deleted (by hand, or by someone else)
            _reseed_counters(conn)
            found = conn.execute(_LOOKUP, (e.key,)).fetchone()
        (count, total, entry_id, old_file, old_size, *old_parts, old_tag, old_expiry) = found
        if entry_id is None:
            limits.make_room(conn, count, now, garbage)
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
                    e.digest,
                ),
            )
            total += e.size  # an overestimate after a cull, which trim_size re-reads
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
            params: list[Any] = [now, now, e.mode, e.signature, e.filename, e.value, e.digest]
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
        if limits.size_limit is not None and total > limits.size_limit:
            limits.trim_size(conn, e.key, garbage)
        return True

    def _overwrite_many(
        self, conn: sqlite3.Connection, encoded: Sequence[Store._Encoded], now: float
    ) -> bool | None:
        """set_many's usual overwrites, by ``executemany`` (one call for the batch instead of
        one ``execute`` per key). ``None`` if every item was one; else whether ``_put`` should
        still try the one-statement overwrite per item.

        Only for distinct keys (the updates then commute), values that fit and stay inline: an
        item updated here and put again by ``_put`` matches the same statement again and writes
        the same columns, so a batch with some new keys loses nothing by going item by item.
        """
        if len(encoded) < 2 or len({e.key for e in encoded}) != len(encoded):
            return True
        fits = self.limits.fits
        lasting: list[tuple[Any, ...]] = []
        expiring: list[tuple[Any, ...]] = []
        for e in encoded:
            if e.filename is not None or not fits(e.size):
                return True
            parts = e.parts
            if e.expire_time is None:
                lasting.append(
                    (now, now, e.mode, e.signature, None, e.value, e.digest, e.key,
                     parts.user_key, parts.prefix, parts.version, e.tag, e.size)
                )  # fmt: skip
            else:
                expiring.append(
                    (now, now, e.mode, e.signature, None, e.value, e.digest, e.expire_time,
                     e.key, parts.user_key, parts.prefix, parts.version, e.tag, e.size)
                )  # fmt: skip
        matched = 0
        if lasting:
            matched += conn.executemany(_OVERWRITE_LASTING, lasting).rowcount
        if expiring:
            matched += conn.executemany(_OVERWRITE_EXPIRING, expiring).rowcount
        if matched == len(encoded):
            return None
        return matched > 0  # none matched: new keys (or new sizes), no use trying each again

    def _replace_value(
        self, conn: sqlite3.Connection, row: Sequence[Any], key: str, parts: KeyParts, value: object
    ) -> None:
        """Store ``value`` inline in ``row``'s entry (now of ``key``/``parts``, same expiry and
        tag), signed anew; the caller removes any old value file."""
        entry_id, expire_time, tag = row[0], row[6], row[7]
        payload: object
        if is_native_int(value):
            assert isinstance(value, int)
            mode, payload, size, stored_digest = int(Mode.INT), value, 8, None
            content = int_content(value)
        else:
            mode, encoded = self.codec.dumps(key, value)
            payload, size, stored_digest = encoded, len(encoded), digest(encoded)
            content = stored_digest
        signature = self._sign(key, parts, expire_time, tag, mode, size, content)
        conn.execute(
            "UPDATE entries SET mode = ?, value = ?, signature = ?, filename = NULL, size = ?,"
            " digest = ? WHERE id = ?",
            (mode, payload, signature, size, stored_digest, entry_id),
        )

    def _removing(
        self, operation: Callable[[sqlite3.Connection], tuple[T, Iterable[str | None]]]
    ) -> T:
        """The one removal path: ``operation`` deletes rows and returns its result with the
        value files of the rows it deleted.

        It runs in :meth:`_write`'s transaction, which carries this process's pending statistics
        (and puts them back if it rolls back); the counters row follows the deletes through the
        schema's triggers; the value files go only after the commit, so a rolled-back delete
        keeps its files.
        """
        result, filenames = self._write(operation)
        self.files.remove(filenames)
        return result

    def _delete_keys(self, keys: Sequence[str]) -> list[_Deleted]:
        if not keys:
            return []

        def write(conn: sqlite3.Connection) -> tuple[list[_Deleted], list[str | None]]:
            rows: list[_Deleted] = []
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                rows += _delete_rows(conn, f"key IN ({','.join('?' * len(chunk))})", chunk)
            return rows, [row[2] for row in rows]

        return self._removing(write)

    def _remove_in_batches(
        self,
        where: str,
        params: tuple[Any, ...],
        batch: int | None,
        progress: Callable[[int], None] | None,
    ) -> Removal:
        # Short transactions, sized like clear's (about BATCH_SECONDS of write lock each, or
        # ``batch`` entries), with clear's pause between them: without it this loop takes the
        # write lock back before a queued writer sees it free, and holds them all off until the
        # last expired entry of a large store is gone.
        sizer = _BatchSizer(batch)
        count = size = 0
        while True:
            limit = sizer.size

            def write(
                conn: sqlite3.Connection, limit: int = limit
            ) -> tuple[list[_Deleted], list[str | None]]:
                rows = _delete_rows(
                    conn, f"id IN (SELECT id FROM entries WHERE {where} LIMIT ?)", (*params, limit)
                )
                return rows, [row[2] for row in rows]

            started = time.perf_counter()
            rows = self._removing(write)
            sizer.adapt(len(rows), time.perf_counter() - started)
            count += len(rows)
            size += sum(row[0] for row in rows)
            if progress is not None and rows:
                progress(len(rows))
            if len(rows) < limit:
                return Removal(count, size)
            time.sleep(BATCH_PAUSE)

    def check(
        self,
        *,
        fix: bool = False,
        grace: float | None = None,
        batch: int | None = None,
        progress: Progress | None = None,
    ) -> list[Problem]:
        """Integrity check: database, value files and bookkeeping; ``fix`` repairs them.

        ``grace``: value files younger than this many seconds are never orphans (default 60).
        Entries are read ``batch`` at a time (default :data:`CHECK_BATCH`), each batch its own
        short read, and repairs are written in short transactions; ``progress(done, total)``
        counts the entries verified (see :data:`Progress`).
        """
        from .integrity import ORPHAN_GRACE_SECONDS, check

        return check(
            self,
            fix=fix,
            grace=ORPHAN_GRACE_SECONDS if grace is None else grace,
            batch=batch,
            progress=progress,
        )
