"""Cache insight: sampled per-key and per-family read activity (hits and misses).

One read in ``SAMPLE_RATE`` (chosen at random, so a page that always reads the same 16 keys in
the same order is not sampled on the same key every time) is recorded in memory, by stored key
and by key family, as ``SAMPLE_RATE`` estimated reads. Nothing is written on the read path: the
pending samples go into the database in the statistics batch (``statistics.Shared.take_into``),
in the same write transaction as the hit and miss counters, so a crash loses at most the reads
since the last batch and never leaves a half-written table.

The tables stay bounded whatever the key space: each keeps the ``TOP`` keys (and ``TOP``
families) with the largest *weight*, a count of sampled reads that halves every
:data:`HALF_LIFE` seconds; a table is pruned back to ``TOP`` rows when it reaches twice that. A
key that enters the table starts from the heaviest weight pruned so far (the Space-Saving
algorithm), so a key read steadily but rarely per batch still climbs in; its displayed hits and
misses start from zero. Values are never recorded, and keys
under a hidden prefix (``DISKCACHE_ADMIN_HIDDEN_PREFIXES``, passed down by the backend) are not
recorded at all.

Decay uses a fixed landmark (forward decay): a read at time ``t`` adds ``2 ** ((t - L) / H)`` to
a score, so scores never need rewriting as time passes and every process adds in the same units.
When the multiplier grows large the landmark moves and every score is divided once.
"""

from __future__ import annotations

import math
import random
import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

DEFAULT_SAMPLE_RATE: Final = 16
DEFAULT_TOP: Final = 1000
# A sampled read's weight halves after this many seconds (one day).
HALF_LIFE: Final = 86_400.0
# Between two statistics batches at most this many distinct keys wait in memory.
# A batch is due every 10,000 reads, so at the default rate about 625 do; the bound matters only
# when batches cannot be written (a read-only or busy store): new keys then wait for the next one.
MAX_PENDING: Final = 10_000
# The landmark moves when a read would weigh more than 2**64 (after 64 half-lives).
_RESCALE_EXPONENT: Final = 64.0

_LANDMARK = "insight_landmark"
_SINCE = "insight_since"
# + table name: the weight a newcomer to that table starts from (see _prune).
_FLOOR = "insight_floor:"
TABLE_NAMES: Final = ("insight_keys", "insight_families")

TABLES: Final = (
    """
    CREATE TABLE IF NOT EXISTS insight_keys (
        key TEXT PRIMARY KEY,
        user_key TEXT NOT NULL,
        prefix TEXT NOT NULL,
        version INTEGER NOT NULL,
        family TEXT NOT NULL,
        hits REAL NOT NULL,
        misses REAL NOT NULL,
        hit_score REAL NOT NULL,
        miss_score REAL NOT NULL,
        weight REAL NOT NULL,
        first_seen REAL NOT NULL,
        last_seen REAL NOT NULL
    ) WITHOUT ROWID
    """,
    """
    CREATE TABLE IF NOT EXISTS insight_families (
        family TEXT PRIMARY KEY,
        hits REAL NOT NULL,
        misses REAL NOT NULL,
        hit_score REAL NOT NULL,
        miss_score REAL NOT NULL,
        weight REAL NOT NULL,
        first_seen REAL NOT NULL,
        last_seen REAL NOT NULL
    ) WITHOUT ROWID
    """,
)

# What a row written by the engine holds: finite numbers and text. The tables are not signed (a
# row is only a count), so a row planted with other types is skipped by every read and deleted
# by the next prune, instead of failing the batch (and with it every get and set) or a page.
_NUMBERS: Final = ("hits", "misses", "hit_score", "miss_score", "weight", "first_seen", "last_seen")
_FINITE: Final = " AND ".join(
    f"typeof({column}) IN ('integer', 'real') AND abs({column}) < 1e300" for column in _NUMBERS
)
SOUND: Final = {
    "insight_keys": f"{_FINITE} AND typeof(version) = 'integer' AND typeof(user_key) = 'text'"
    " AND typeof(prefix) = 'text' AND typeof(family) = 'text'",
    "insight_families": f"{_FINITE} AND typeof(family) = 'text'",
}

_UPSERT_KEY: Final = (
    "INSERT INTO insight_keys (key, user_key, prefix, version, family, hits, misses, hit_score,"
    " miss_score, weight, first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ? + ?, ?, ?)"
    " ON CONFLICT(key) DO UPDATE SET hits = hits + excluded.hits,"
    " misses = misses + excluded.misses, hit_score = hit_score + excluded.hit_score,"
    " miss_score = miss_score + excluded.miss_score,"
    " weight = weight + excluded.hit_score + excluded.miss_score,"
    " last_seen = excluded.last_seen"
)
_UPSERT_FAMILY: Final = (
    "INSERT INTO insight_families (family, hits, misses, hit_score, miss_score, weight,"
    " first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ? + ?, ?, ?)"
    " ON CONFLICT(family) DO UPDATE SET hits = hits + excluded.hits,"
    " misses = misses + excluded.misses, hit_score = hit_score + excluded.hit_score,"
    " miss_score = miss_score + excluded.miss_score,"
    " weight = weight + excluded.hit_score + excluded.miss_score,"
    " last_seen = excluded.last_seen"
)


@dataclass(frozen=True)
class InsightOptions:
    """``OPTIONS["INSIGHT"]`` of an alias, parsed (``backend_options``)."""

    sample_rate: int = DEFAULT_SAMPLE_RATE
    top: int = DEFAULT_TOP


class Pending:
    """Samples not yet written, for one store directory in this process (``Shared.insight``).

    ``keys``: stored key -> [user key, prefix, version, family, hits, misses] (estimated reads);
    families are summed from it when the batch is written. Guarded by ``Shared.lock``.
    """

    __slots__ = ("keys", "samples", "top")

    def __init__(self) -> None:
        self.keys: dict[str, list[Any]] = {}
        self.samples = 0
        # The largest TOP of the aliases sampling this directory in this process.
        self.top = 0

    def clear(self) -> None:
        self.keys = {}
        self.samples = 0

    def take(self) -> Batch | None:
        if not self.samples:
            return None
        batch = Batch(self.keys, self.samples, max(self.top, 1))
        self.clear()
        return batch

    def put_back(self, batch: Batch) -> None:
        """A batch whose transaction rolled back: merged into what came since (bounded)."""
        for key, row in batch.keys.items():
            mine = self.keys.get(key)
            if mine is not None:
                mine[4] += row[4]
                mine[5] += row[5]
            elif len(self.keys) < MAX_PENDING:
                self.keys[key] = row
        self.samples += batch.samples


@dataclass
class Batch:
    keys: dict[str, list[Any]]
    samples: int
    top: int

    def families(self) -> dict[str, list[float]]:
        """family -> [hits, misses], summed over the batch's keys."""
        families: dict[str, list[float]] = {}
        for _user_key, _prefix, _version, family, hits, misses in self.keys.values():
            counts = families.get(family)
            if counts is None:
                families[family] = [hits, misses]
            else:
                counts[0] += hits
                counts[1] += misses
        return families


class Owner(Protocol):
    """What a :class:`Sampler` records into: ``statistics.Shared`` (read on every sample, since
    a forked child gets a new lock and a new :class:`Pending`)."""

    lock: threading.Lock
    insight: Pending


class Sampler:
    """One alias's sampling of its reads into its directory's :class:`Pending`.

    The backend counts reads down to the next sample itself (an integer on the hot path) and
    calls :meth:`record` only for the sampled ones; :meth:`next_gap` draws the next distance,
    uniform in ``1 .. 2 * rate - 1`` (mean ``rate``), so periodic read patterns do not alias.
    ``hidden()`` returns the hidden prefixes (non-empty ones, as a tuple); it is called on every
    sampled read, so it must be cheap (the backend caches the setting).
    """

    def __init__(
        self,
        owner: Owner,
        options: InsightOptions,
        hidden: Callable[[], tuple[str, ...]],
        family_of: Callable[[str], str],
        rng: random.Random | None = None,
    ) -> None:
        self.owner = owner
        self.rate = options.sample_rate
        self.top = options.top
        self.hidden = hidden
        self.family_of = family_of
        self.rng = rng or random.Random()  # sampling, not security: no secret depends on it
        self._span = 2 * self.rate - 1  # gaps 1 .. 2 * rate - 1
        owner.insight.top = max(owner.insight.top, options.top)

    def next_gap(self) -> int:
        # random() and arithmetic: randint() cost as much as the rest of a sample.
        return int(self.rng.random() * self._span) + 1

    def record(self, key: str, user_key: str, prefix: str, version: int, hit: bool) -> None:
        """Count one sampled read of ``key`` as ``rate`` estimated reads (never its value)."""
        hidden = self.hidden()
        if hidden and user_key.startswith(hidden):
            return  # a hidden key is not recorded at all, nor counted in its family
        owner = self.owner
        with owner.lock:
            pending = owner.insight
            row = pending.keys.get(key)
            if row is None:
                if len(pending.keys) >= MAX_PENDING:
                    return  # batches cannot be written: new keys wait for the next one
                # Per distinct key, not per sample: its family, and this alias's TOP.
                row = pending.keys[key] = [
                    user_key, prefix, version, self.family_of(user_key), 0.0, 0.0
                ]  # fmt: skip
                if pending.top < self.top:
                    pending.top = self.top
            row[4 if hit else 5] += self.rate
            pending.samples += 1


# -- writing (inside the statistics batch's transaction) ---------------------------------------


def ensure_tables(conn: sqlite3.Connection) -> None:
    for statement in TABLES:
        conn.execute(statement)


def _meta(conn: sqlite3.Connection, name: str) -> float | None:
    row = conn.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
    # Unsigned, like the counters: an infinite landmark or floor would make every score inf.
    if row is None or not isinstance(row[0], (int, float)) or not math.isfinite(row[0]):
        return None
    return float(row[0])


def _set_meta(conn: sqlite3.Connection, name: str, value: float) -> None:
    conn.execute("INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)", (name, value))


def _multiplier(conn: sqlite3.Connection, now: float) -> float:
    """The weight of a read at ``now`` in the tables' units; moves the landmark when due."""
    landmark = _meta(conn, _LANDMARK)
    if landmark is None or landmark > now + HALF_LIFE:
        # A new table, or a landmark from a clock far ahead (set back since): start over here.
        if landmark is not None:
            exponent = (landmark - now) / HALF_LIFE
            if exponent > _RESCALE_EXPONENT:  # 2.0 ** exponent would overflow: start over
                for table in TABLE_NAMES:
                    conn.execute(f"DELETE FROM {table}")
            else:
                _rescale(conn, 2.0**exponent)
        _set_meta(conn, _LANDMARK, now)
        return 1.0
    exponent = (now - landmark) / HALF_LIFE
    if exponent > _RESCALE_EXPONENT:
        _rescale(conn, 2.0**-exponent)
        _set_meta(conn, _LANDMARK, now)
        return 1.0
    return float(2.0 ** max(exponent, 0.0))


def _rescale(conn: sqlite3.Connection, factor: float) -> None:
    for table in TABLE_NAMES:
        conn.execute(
            f"UPDATE {table} SET hit_score = hit_score * ?, miss_score = miss_score * ?,"
            " weight = weight * ?",
            (factor, factor, factor),
        )
        floor = _meta(conn, _FLOOR + table)
        if floor is not None:
            _set_meta(conn, _FLOOR + table, floor * factor)


def _prune(conn: sqlite3.Connection, table: str, column: str, top: int) -> None:
    """Once the table holds twice ``top`` rows, keep the ``top`` heaviest.

    The heaviest weight pushed out becomes the *floor* a newcomer starts from (Space-Saving:
    a key that is read often enough is never kept out). Pruning at twice the bound, not at every
    batch, keeps its sort off most batches.
    """
    (count,) = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
    if count <= 2 * top:
        return
    if conn.execute(f"DELETE FROM {table} WHERE NOT ({SOUND[table]})").rowcount:
        (count,) = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
        if count <= 2 * top:
            return
    # The weight (and, among equal weights, the reads) of the first row beyond the bound: rows
    # below it go. Ties (newcomers all start from the same floor) go to the rows with more
    # reads; rows equal on both stay, a few more than ``top`` at most. One scan that deletes in
    # place costs half of deleting a sorted list of keys.
    floor, reads = conn.execute(
        f"SELECT weight, hits + misses FROM {table}"
        " ORDER BY weight DESC, hits + misses DESC LIMIT 1 OFFSET ?",
        (top,),
    ).fetchone()
    conn.execute(
        f"DELETE FROM {table} WHERE weight < ? OR (weight = ? AND hits + misses < ?)",
        (floor, floor, reads),
    )
    _set_meta(conn, _FLOOR + table, max(float(floor), _meta(conn, _FLOOR + table) or 0.0))


def write(conn: sqlite3.Connection, batch: Batch, now: float) -> None:
    """Add ``batch`` to the tables (in the caller's write transaction) and keep them bounded."""
    ensure_tables(conn)
    if _meta(conn, _SINCE) is None:
        _set_meta(conn, _SINCE, now)
    scale = _multiplier(conn, now)
    top = batch.top
    floor = _meta(conn, _FLOOR + "insight_keys") or 0.0
    conn.executemany(
        _UPSERT_KEY,
        [
            (key, user_key, prefix, version, family, hits, misses, hits * scale,
             misses * scale, floor, (hits + misses) * scale, now, now)
            for key, (user_key, prefix, version, family, hits, misses) in batch.keys.items()
        ],
    )  # fmt: skip
    _prune(conn, "insight_keys", "key", top)
    floor = _meta(conn, _FLOOR + "insight_families") or 0.0
    conn.executemany(
        _UPSERT_FAMILY,
        [
            (family, hits, misses, hits * scale, misses * scale, floor,
             (hits + misses) * scale, now, now)
            for family, (hits, misses) in batch.families().items()
        ],
    )  # fmt: skip
    _prune(conn, "insight_families", "family", top)


def reset(conn: sqlite3.Connection, now: float) -> None:
    """Forget every recorded key and family (in the caller's write transaction)."""
    ensure_tables(conn)
    for table in TABLE_NAMES:
        conn.execute(f"DELETE FROM {table}")
        conn.execute("DELETE FROM meta WHERE name = ?", (_FLOOR + table,))
    _set_meta(conn, _SINCE, now)
    _set_meta(conn, _LANDMARK, now)


# -- reading (read-only: never creates the tables) ---------------------------------------------


@dataclass(frozen=True)
class KeyRow:
    key: str
    user_key: str
    prefix: str
    version: int
    family: str
    hits: float
    misses: float
    first_seen: float
    last_seen: float


@dataclass(frozen=True)
class FamilyRow:
    family: str
    hits: float
    misses: float
    first_seen: float
    last_seen: float


def _has_tables(conn: sqlite3.Connection) -> bool:
    row = conn.execute(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'insight_keys'"
    ).fetchone()
    return bool(row[0])


def since(conn: sqlite3.Connection) -> float | None:
    """When recording started (or was last reset); None before the first batch."""
    return _meta(conn, _SINCE) if _has_tables(conn) else None


def top_keys(
    conn: sqlite3.Connection,
    *,
    misses: bool = False,
    limit: int = 20,
    exclude_prefixes: Sequence[str] = (),
) -> list[KeyRow]:
    """The keys with the most recent hits (or misses), by decayed count, best first."""
    if not _has_tables(conn):
        return []
    score = "miss_score" if misses else "hit_score"
    conditions = [f"{score} > 0", SOUND["insight_keys"]]
    params: list[Any] = []
    for prefix in exclude_prefixes:
        if prefix:
            # substr, not LIKE: a prefix may hold % or _ and LIKE folds ASCII case.
            conditions.append("substr(user_key, 1, ?) != ?")
            params += [len(prefix), prefix]
    rows = conn.execute(
        "SELECT key, user_key, prefix, version, family, hits, misses, first_seen, last_seen"
        f" FROM insight_keys WHERE {' AND '.join(conditions)}"
        f" ORDER BY {score} DESC, key LIMIT ?",
        (*params, limit),
    ).fetchall()
    return [KeyRow(*row) for row in rows]


def top_families(conn: sqlite3.Connection, *, limit: int = 20) -> list[FamilyRow]:
    """The families with the most recent reads (hits and misses), best first."""
    if not _has_tables(conn):
        return []
    rows = conn.execute(
        "SELECT family, hits, misses, first_seen, last_seen FROM insight_families"
        f" WHERE {SOUND['insight_families']} ORDER BY hit_score + miss_score DESC, family LIMIT ?",
        (limit,),
    ).fetchall()
    return [FamilyRow(*row) for row in rows]


def row_counts(conn: sqlite3.Connection) -> tuple[int, int]:
    """How many keys and families the tables hold (bounded by TOP)."""
    if not _has_tables(conn):
        return 0, 0
    keys = conn.execute("SELECT count(*) FROM insight_keys").fetchone()[0]
    families = conn.execute("SELECT count(*) FROM insight_families").fetchone()[0]
    return int(keys), int(families)
