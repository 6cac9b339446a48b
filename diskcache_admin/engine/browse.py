"""Queries behind the key browser and the charts: keyset pages, search, counts, histograms and
statistics snapshots. No Django here, and no writes: this module selects; removals go through
:meth:`Store.remove_matching` and :meth:`Store.remove` (a :class:`Filter` is their selection),
snapshots are taken by :meth:`Store.take_snapshot`.

Every page is one index range scan: rows are ordered by ``(sort value, id)`` and the next page
starts strictly after the last row's pair, so a page costs the same at any depth and at any store
size (OFFSET would cost the depth). Nothing here reads a value through :meth:`Store.get`, so no
hit is counted and no access time moves.
"""

from __future__ import annotations

import json
import math
import random
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Literal

from .codec import Mode
from .schema import EXPIRED, EXPIRES_ORDER
from .statistics import SNAPSHOTS_KEPT, SnapshotRow
from .store import EntryInfo, Removal, Store

__all__ = [  # SNAPSHOTS_KEPT and SnapshotRow are re-exported from statistics.py
    "EXACT_LIMIT",
    "EXPIRED_COUNT_LIMIT",
    "EXPIRY_BUCKETS",
    "ORDER_EXPRESSIONS",
    "SAMPLE_SIZE",
    "SIZE_BUCKETS",
    "SNAPSHOTS_KEPT",
    "Filter",
    "MatchMode",
    "Order",
    "Page",
    "RawValue",
    "Sample",
    "SampledEntry",
    "SnapshotRow",
    "draw",
    "expired_count",
    "expired_up_to",
    "expiry_histogram",
    "glob_literal_prefix",
    "latest_snapshot",
    "needs_sample",
    "page",
    "prefix_upper_bound",
    "read_raw",
    "size_histogram",
    "snapshots",
    "top_families",
    "top_tags",
    "totals",
    "where_clause",
]

MatchMode = Literal["prefix", "glob", "substring"]
Order = Literal["key", "size", "stored", "expires"]

ORDER_EXPRESSIONS: Final[dict[str, str]] = {
    "key": "user_key",
    "size": "size",
    # Under least-recently-stored ``rank`` is the store time; under least-recently-used, the
    # last use. Its index is the eviction order's, so this sort costs no index of its own.
    "stored": "rank",
    "expires": EXPIRES_ORDER,
}

# Same columns and order as EntryInfo's fields.
_COLUMNS: Final = (
    "id, key, user_key, prefix, version, family, store_time, expire_time, tag, size, mode, filename"
)

SIZE_BUCKETS: Final = (
    ("< 100 B", 0, 100),
    ("100 B - 1 KiB", 100, 1024),
    ("1 - 10 KiB", 1024, 10 * 1024),
    ("10 - 100 KiB", 10 * 1024, 100 * 1024),
    ("100 KiB - 1 MiB", 100 * 1024, 1024 * 1024),
    ("1 - 10 MiB", 1024 * 1024, 10 * 1024 * 1024),
    (">= 10 MiB", 10 * 1024 * 1024, None),
)

EXPIRY_BUCKETS: Final = (
    ("within 1 min", 60.0),
    ("within 1 h", 3600.0),
    ("within 1 day", 86400.0),
)


@dataclass(frozen=True)
class Filter:
    """Which entries a page, a count or a bulk delete covers (all conditions must hold)."""

    search: str = ""
    match: MatchMode = "prefix"
    family: str | None = None
    tag: str | None = None
    expired: bool | None = None  # None: all; True: only expired; False: only live
    exclude_prefixes: tuple[str, ...] = ()

    def where(self, now: float) -> tuple[str, list[Any]]:
        """The selection as :meth:`Store.remove_matching` takes it (see :func:`where_clause`)."""
        return where_clause(self, now)


@dataclass(frozen=True)
class Page:
    entries: list[EntryInfo]
    after: tuple[Any, int] | None  # pass back as ``after`` for the next page; None: last page


@dataclass(frozen=True)
class RawValue:
    """An entry's stored payload, not decoded; ``payload`` is None when it was not read."""

    key: str
    mode: int
    payload: bytes | int | None
    signature: bytes | None
    size: int
    missing_file: bool = False
    too_large: bool = False
    # False when the entry's signature or payload digest does not verify: never decode it.
    verified: bool = True


def prefix_upper_bound(prefix: str) -> str | None:
    """The smallest string above every string that starts with ``prefix`` (None: no bound)."""
    chars = list(prefix)
    while chars:
        code = ord(chars[-1]) + 1
        if 0xD800 <= code <= 0xDFFF:  # surrogates cannot be encoded; UTF-8 order skips them
            code = 0xE000
        if code <= 0x10FFFF:
            chars[-1] = chr(code)
            return "".join(chars)
        chars.pop()
    return None


def glob_literal_prefix(pattern: str) -> str:
    """The part of a glob before its first wildcard: it narrows the scan to an index range."""
    for position, char in enumerate(pattern):
        if char in "*?[":
            return pattern[:position]
    return pattern


def _prefix_condition(column: str, prefix: str) -> tuple[str, list[Any]]:
    upper = prefix_upper_bound(prefix)
    if upper is None:
        return f"{column} >= ?", [prefix]
    return f"{column} >= ? AND {column} < ?", [prefix, upper]


def where_clause(flt: Filter, now: float) -> tuple[str, list[Any]]:
    """The SQL condition for ``flt`` (``1`` when it selects everything) and its parameters."""
    conditions: list[str] = []
    params: list[Any] = []
    if flt.search:
        if flt.match == "prefix":
            sql, values = _prefix_condition("user_key", flt.search)
            conditions.append(sql)
            params.extend(values)
        elif flt.match == "glob":
            literal = glob_literal_prefix(flt.search)
            if literal:
                sql, values = _prefix_condition("user_key", literal)
                conditions.append(sql)
                params.extend(values)
            conditions.append("user_key GLOB ?")
            params.append(flt.search)
        elif flt.match == "substring":
            conditions.append("instr(user_key, ?) > 0")
            params.append(flt.search)
        else:
            raise ValueError(f"Unknown match mode {flt.match!r}.")
    if flt.family is not None:
        conditions.append("family = ?")
        params.append(flt.family)
    if flt.tag is not None:
        conditions.append("tag = ?")
        params.append(flt.tag)
    if flt.expired is True:
        conditions.append(EXPIRED)
        params.append(now)
    elif flt.expired is False:
        conditions.append("(expire_time IS NULL OR expire_time > ?)")
        params.append(now)
    for prefix in flt.exclude_prefixes:
        if prefix:
            sql, values = _prefix_condition("user_key", prefix)
            conditions.append(f"NOT ({sql})")
            params.extend(values)
    return (" AND ".join(conditions) or "1"), params


def page(
    store: Store,
    flt: Filter,
    *,
    order: Order = "key",
    descending: bool = False,
    after: tuple[Any, int] | None = None,
    limit: int = 50,
    now: float | None = None,
) -> Page:
    """One page of entries in ``order``, starting strictly after the pair ``after``."""
    if order not in ORDER_EXPRESSIONS:
        raise ValueError(f"Unknown order {order!r}; use one of {sorted(ORDER_EXPRESSIONS)}.")
    if limit < 1:
        raise ValueError("limit must be at least 1.")
    expression = ORDER_EXPRESSIONS[order]
    where, params = where_clause(flt, store.clock() if now is None else now)
    if after is not None:
        # Spelled out rather than as a row value: SQLite turns a row value on an expression
        # into a scan, but the leading ``<=``/``>=`` here into an index range.
        op = "<" if descending else ">"
        where += f" AND {expression} {op}= ? AND ({expression} {op} ? OR id {op} ?)"
        params.extend((after[0], after[0], after[1]))
    direction = "DESC" if descending else "ASC"
    rows = (
        store.db.connection()
        .execute(
            f"SELECT {expression}, {_COLUMNS} FROM entries WHERE {where}"
            f" ORDER BY {expression} {direction}, id {direction} LIMIT ?",
            (*params, limit + 1),
        )
        .fetchall()
    )
    more = len(rows) > limit
    rows = rows[:limit]
    entries = [EntryInfo(*row[1:]) for row in rows]
    last = rows[-1] if rows else None
    return Page(entries, (last[0], last[1]) if more and last is not None else None)


def totals(store: Store, flt: Filter, now: float | None = None) -> Removal:
    """How many entries ``flt`` selects and how many bytes they hold."""
    where, params = where_clause(flt, store.clock() if now is None else now)
    count, size = (
        store.db.connection()
        .execute(f"SELECT count(*), total(size) FROM entries WHERE {where}", params)
        .fetchone()
    )
    return Removal(int(count), int(size))


def expired_count(store: Store, now: float | None = None, sample: Sample | None = None) -> int:
    """Entries that have expired but are still stored: a range count on the expiry index, or
    an estimate from ``sample`` (the range can hold most of a large store)."""
    now = store.clock() if now is None else now
    if sample is not None:
        return sample.count(lambda entry: _expired(entry, now))
    row = store.db.connection().execute(f"SELECT count(*) FROM entries WHERE {EXPIRED}", (now,))
    return int(row.fetchone()[0])


def expired_up_to(store: Store, limit: int, now: float | None = None) -> int | None:
    """:func:`expired_count` when at most ``limit`` entries have expired, else None; reads at
    most ``limit + 1`` entries of the expiry index, however many have expired."""
    now = store.clock() if now is None else now
    row = store.db.connection().execute(
        f"SELECT count(*) FROM (SELECT 1 FROM entries WHERE {EXPIRED} LIMIT ?)", (now, limit + 1)
    )
    count = int(row.fetchone()[0])
    return count if count <= limit else None


def read_raw(store: Store, key: str, max_bytes: int | None = None) -> RawValue | None:
    """The stored payload of ``key`` without decoding, verifying or counting anything.

    Payloads above ``max_bytes`` are not read at all (``too_large``).
    """
    row = store.read_row(key)
    if row is None:
        return None
    mode, signature, filename, size = row[1], row[2], row[3], row[4]
    if store.unverified_reason(key, row) is not None:
        return RawValue(key, mode, None, signature, size, verified=False)
    if mode == Mode.INT:
        return RawValue(key, mode, row[11], signature, size)
    if max_bytes is not None and size > max_bytes:
        return RawValue(key, mode, None, signature, size, too_large=True)
    payload = row[11]
    if filename is not None:
        try:
            payload = store.files.read(filename, size)
        except FileNotFoundError:
            return RawValue(key, mode, None, signature, size, missing_file=True)
        except OSError:  # a link, a FIFO, a file of another size: not a value of this entry
            return RawValue(key, mode, None, signature, size, verified=False)
    if not store.payload_matches(row, payload):
        return RawValue(key, mode, None, signature, size, verified=False)
    return RawValue(key, mode, payload, signature, size)


# -- estimates -------------------------------------------------------------------------------

# Up to this many entries the charts and the expired count are exact. Each exact figure is an
# index range count, so all of them together read every entry about twice: 330 ms at 1,000,000
# entries on the 2-core benchmark machine under load, so ~30 ms at this size, about what a
# sample costs there; below it exact is as cheap and better, above it a sample keeps the cache
# page flat.
EXACT_LIMIT: Final = 100_000
# In a store above EXACT_LIMIT, up to this many expired entries are still counted: a read of
# the expiry index that stops there (~1 ms), so the usual case (expired entries are purged as
# they are met) keeps an exact figure; more are estimated.
EXPIRED_COUNT_LIMIT: Final = 10_000
# Entries drawn for an estimate. A share p is then known to within sqrt(p * (1 - p) / n): +-1.6
# points at worst (p = 0.5), which a bar chart cannot show anyway. Each draw reads about one
# table page that is rarely cached, so the cost grows with n and not with the store.
SAMPLE_SIZE: Final = 1_000

# One draw: the first entry at or after a random point between the smallest and the largest id,
# the id before it (the gap it closes), and the columns every estimate needs. Every probe is a
# seek on the rowid b-tree, so a draw costs O(log N).
_DRAW: Final = """
WITH points(point) AS (SELECT value FROM json_each(?)),
landed(id) AS MATERIALIZED (
    SELECT (SELECT id FROM entries WHERE id >= point ORDER BY id LIMIT 1) FROM points
)
SELECT
    landed.id - coalesce(
        (SELECT id FROM entries WHERE id < landed.id ORDER BY id DESC LIMIT 1), ? - 1
    ),
    e.user_key, e.family, e.size, e.expire_time, e.tag, e.filename IS NOT NULL
FROM landed JOIN entries AS e ON e.id = landed.id
"""


@dataclass(frozen=True)
class SampledEntry:
    """One drawn entry and its weight: 1 / (the id gap it closes)."""

    weight: float
    user_key: str
    family: str
    size: int
    expire_time: float | None
    tag: str | None
    in_file: bool


@dataclass(frozen=True)
class Sample:
    """Entries drawn at random, to estimate what exact counts would cost a full scan for.

    A random point between the smallest and the largest id lands on the first entry at or after
    it, so an entry after a gap of ids (deleted, expired, culled entries) is met more often:
    with probability (gap + 1) / span. Each entry is weighed by the inverse, 1 / (gap + 1),
    which makes every estimate unbiased whatever the gaps (Horvitz-Thompson). A share of the
    weights is then scaled by the exact totals of the counters row, so a question every entry
    answers the same way (a store of one family) is estimated exactly.
    """

    entries: int  # exact, from the counters row
    size: int  # bytes of values, exact, from the counters row
    rows: tuple[SampledEntry, ...]

    @property
    def drawn(self) -> int:
        return len(self.rows)

    def count(self, keep: Callable[[SampledEntry], bool]) -> int:
        """Estimated entries for which ``keep`` holds."""
        weight = sum(row.weight for row in self.rows)
        if not weight:
            return 0
        kept = sum(row.weight for row in self.rows if keep(row))
        return round(self.entries * kept / weight)

    def bytes(self, keep: Callable[[SampledEntry], bool]) -> int:
        """Estimated bytes of values of the entries for which ``keep`` holds."""
        weight = sum(row.weight * row.size for row in self.rows)
        if not weight:
            return 0
        kept = sum(row.weight * row.size for row in self.rows if keep(row))
        return round(self.size * kept / weight)

    def top(self, of: Callable[[SampledEntry], str | None], limit: int) -> list[tuple[str, int]]:
        """The ``limit`` most frequent values of ``of`` (None is left out), estimated."""
        weights: dict[str, float] = {}
        for row in self.rows:
            name = of(row)
            if name is not None:
                weights[name] = weights.get(name, 0.0) + row.weight
        total = sum(row.weight for row in self.rows)
        if not total:
            return []
        counted = [(name, round(self.entries * weight / total)) for name, weight in weights.items()]
        counted.sort(key=lambda item: (-item[1], item[0]))
        return counted[:limit]


def needs_sample(store: Store) -> bool:
    """Whether the store holds more entries than :data:`EXACT_LIMIT` (the counters row, O(1))."""
    return store.stats().count > EXACT_LIMIT


def draw(store: Store, size: int | None = None, rng: random.Random | None = None) -> Sample:
    """``size`` entries (:data:`SAMPLE_SIZE`) drawn at random, with replacement."""
    size = SAMPLE_SIZE if size is None else size
    rng = random.Random() if rng is None else rng
    conn = store.db.connection()
    counters = store.stats()
    # Two queries: SQLite answers a lone min() or max() from the end of the b-tree, but scans
    # the whole table for both in one.
    low = conn.execute("SELECT min(id) FROM entries").fetchone()[0]
    high = conn.execute("SELECT max(id) FROM entries").fetchone()[0]
    if low is None or high is None:
        return Sample(counters.count, counters.size, ())
    # In id order, consecutive seeks share the b-tree's upper pages while they are cached.
    points = sorted(rng.randint(low, high) for _ in range(size))
    try:
        rows = conn.execute(_DRAW, (json.dumps(points), low)).fetchall()
    except sqlite3.OperationalError:
        # SQLite before 3.35 (no MATERIALIZED) or built without JSON: the same seeks, one by one.
        rows = _draw_one_by_one(conn, points, low)
    # A row deleted between the queries is simply not drawn.
    return Sample(counters.count, counters.size, tuple(_sampled(row) for row in rows))


_LANDED: Final = (
    "SELECT id, user_key, family, size, expire_time, tag, filename IS NOT NULL FROM entries"
    " WHERE id >= ? ORDER BY id LIMIT 1"
)
_BEFORE: Final = "SELECT id FROM entries WHERE id < ? ORDER BY id DESC LIMIT 1"


def _draw_one_by_one(
    conn: sqlite3.Connection, points: list[int], low: int
) -> list[tuple[Any, ...]]:
    rows = []
    for point in points:
        landed = conn.execute(_LANDED, (point,)).fetchone()
        if landed is None:
            continue  # the last entries were deleted since max(id) was read
        before = conn.execute(_BEFORE, (landed[0],)).fetchone()
        rows.append((landed[0] - (low - 1 if before is None else before[0]), *landed[1:]))
    return rows


def _sampled(row: tuple[Any, ...]) -> SampledEntry:
    # The columns are not STRICT, so a planted row may hold any type: one that is not what
    # the engine writes counts as no size, no expiry or no tag instead of failing the page.
    gap, user_key, family, size, expire_time, tag, in_file = row
    if not isinstance(size, int) or size < 0:
        size = 0
    if not isinstance(expire_time, (int, float)) or not math.isfinite(expire_time):
        expire_time = None
    return SampledEntry(
        1.0 / max(int(gap), 1),  # ids are integers and strictly increase: a gap is >= 1
        str(user_key),
        str(family),
        size,
        None if expire_time is None else float(expire_time),
        None if tag is None else str(tag),
        bool(in_file),
    )


def _expired(entry: SampledEntry, now: float) -> bool:
    return entry.expire_time is not None and entry.expire_time <= now


# -- charts ----------------------------------------------------------------------------------


def size_histogram(store: Store, sample: Sample | None = None) -> list[tuple[str, int]]:
    """Entry counts by value size (each bucket is a range count on the size index), or their
    estimates from ``sample``."""
    if sample is not None:
        return [
            (label, sample.count(_size_between(low, high))) for label, low, high in SIZE_BUCKETS
        ]
    conn = store.db.connection()
    buckets = []
    for label, low, high in SIZE_BUCKETS:
        if high is None:
            row = conn.execute("SELECT count(*) FROM entries WHERE size >= ?", (low,)).fetchone()
        else:
            row = conn.execute(
                "SELECT count(*) FROM entries WHERE size >= ? AND size < ?", (low, high)
            ).fetchone()
        buckets.append((label, int(row[0])))
    return buckets


def expiry_histogram(
    store: Store, now: float | None = None, sample: Sample | None = None
) -> list[tuple[str, int]]:
    """Entry counts by time left: expired, within 1 min / 1 h / 1 day, later, never (or their
    estimates from ``sample``)."""
    now = store.clock() if now is None else now
    if sample is not None:
        return _sampled_expiry(sample, now)
    conn = store.db.connection()

    def between(low: float | None, high: float | None) -> int:
        # Ranges on the indexed expiry expression; 1e300 is how "never expires" sorts.
        sql = f"SELECT count(*) FROM entries WHERE {EXPIRES_ORDER} < 1e300"
        params: list[float] = []
        if low is not None:
            sql += f" AND {EXPIRES_ORDER} > ?"
            params.append(low)
        if high is not None:
            sql += f" AND {EXPIRES_ORDER} <= ?"
            params.append(high)
        return int(conn.execute(sql, params).fetchone()[0])

    buckets = [("expired", between(None, now))]
    low = now
    for label, seconds in EXPIRY_BUCKETS:
        buckets.append((label, between(low, now + seconds)))
        low = now + seconds
    buckets.append(("later", between(low, None)))
    with_expiry = sum(count for _label, count in buckets)
    total = int(conn.execute("SELECT count FROM counters WHERE id = 0").fetchone()[0])
    buckets.append(("never", max(total - with_expiry, 0)))
    return buckets


def _size_between(low: int, high: int | None) -> Callable[[SampledEntry], bool]:
    return lambda entry: entry.size >= low and (high is None or entry.size < high)


def _expires_between(low: float | None, high: float | None) -> Callable[[SampledEntry], bool]:
    def within(entry: SampledEntry) -> bool:
        expires = entry.expire_time
        return (
            expires is not None
            and (low is None or expires > low)
            and (high is None or expires <= high)
        )

    return within


def _sampled_expiry(sample: Sample, now: float) -> list[tuple[str, int]]:
    # The same buckets as the exact counts: (low, high], "never" apart.
    bounds: list[tuple[str, float | None, float | None]] = [("expired", None, now)]
    low = now
    for label, seconds in EXPIRY_BUCKETS:
        bounds.append((label, low, now + seconds))
        low = now + seconds
    bounds.append(("later", low, None))
    buckets = [(label, sample.count(_expires_between(lo, hi))) for label, lo, hi in bounds]
    buckets.append(("never", sample.count(lambda entry: entry.expire_time is None)))
    return buckets


def top_families(
    store: Store, limit: int = 10, sample: Sample | None = None
) -> list[tuple[str, int]]:
    """The largest key families as ``(family, entries)``, most entries first.

    Counts only: a scan of the family index (summing sizes too would read every row); or
    estimates from ``sample``, where a family too small to be drawn is missing.
    """
    if sample is not None:
        return sample.top(lambda entry: entry.family, limit)
    rows = (
        store.db.connection()
        .execute(
            "SELECT family, count(*) FROM entries GROUP BY family"
            " ORDER BY count(*) DESC, family LIMIT ?",
            (limit,),
        )
        .fetchall()
    )
    return [(family, int(count)) for family, count in rows]


def top_tags(store: Store, limit: int = 10, sample: Sample | None = None) -> list[tuple[str, int]]:
    """The largest tags as ``(tag, entries)``, most entries first (or estimates from
    ``sample``)."""
    if sample is not None:
        return sample.top(lambda entry: entry.tag, limit)
    rows = (
        store.db.connection()
        .execute(
            "SELECT tag, count(*) FROM entries WHERE tag IS NOT NULL GROUP BY tag"
            " ORDER BY count(*) DESC, tag LIMIT ?",
            (limit,),
        )
        .fetchall()
    )
    return [(tag, int(count)) for tag, count in rows]


# -- snapshots -------------------------------------------------------------------------------


def snapshots(store: Store, limit: int = SNAPSHOTS_KEPT) -> list[SnapshotRow]:
    """The newest ``limit`` snapshots, oldest first."""
    rows = (
        store.db.connection()
        .execute(
            "SELECT taken, count, size, hits, misses FROM snapshots ORDER BY taken DESC LIMIT ?",
            (limit,),
        )
        .fetchall()
    )
    return [tuple(row) for row in reversed(rows)]


def latest_snapshot(store: Store) -> SnapshotRow | None:
    rows = snapshots(store, 1)
    return rows[0] if rows else None
