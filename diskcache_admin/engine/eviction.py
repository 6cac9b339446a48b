"""Limits and eviction: MAX_ENTRIES with CULL_FREQUENCY, SIZE_LIMIT, expiry purges, the policy.

Every function here runs inside a write transaction the store opened, deletes rows only, and
appends the value files of the rows it deleted to ``garbage``: the store removes those files
after the commit (a rolled-back transaction must not have lost its files). The ``counters`` row
follows deletions through the schema's triggers.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Final

from .connection import delete_returning
from .schema import EXPIRED

POLICIES: Final = ("least-recently-stored", "least-recently-used")

# Cast: the counters are not signed, and planted text must not become a TypeError here.
_COUNTERS: Final = "SELECT CAST(count AS INTEGER), CAST(size AS INTEGER) FROM counters WHERE id = 0"


@dataclass(frozen=True)
class Limits:
    """How large a store may grow and which entries go first when it is full.

    ``rank`` orders eviction: the store time under least-recently-stored, the last use under
    least-recently-used (the store writes it; eviction only reads the order).
    """

    max_entries: int | None = 300
    cull_frequency: int = 3
    size_limit: int | None = None
    policy: str = "least-recently-stored"

    def __post_init__(self) -> None:
        if self.policy not in POLICIES:
            raise ValueError(f"Unknown eviction policy {self.policy!r}; use one of {POLICIES}.")
        if self.cull_frequency < 0:
            raise ValueError("cull_frequency must be 0 or more.")

    def fits(self, size: int) -> bool:
        """Whether one value of ``size`` bytes can be stored at all."""
        return self.size_limit is None or size <= self.size_limit

    def make_room(
        self, conn: sqlite3.Connection, count: int, now: float, garbage: list[str | None]
    ) -> None:
        """Before an insert into a store of ``count`` entries: cull as Django does if it is full.

        Django: when MAX_ENTRIES is reached, 1/CULL_FREQUENCY of the entries go (0: all).
        Expired entries go first; the oldest by ``rank`` only if that was not enough.
        """
        if self.max_entries is None or count < self.max_entries:
            return
        if self.cull_frequency == 0:
            garbage.extend(row[0] for row in delete_returning(conn, "1", (), "filename"))
            return
        count -= purge_expired(conn, now, garbage)
        if count >= self.max_entries:
            evict_oldest(conn, max(count // self.cull_frequency, 1), None, garbage)

    def trim_size(
        self, conn: sqlite3.Connection, keep: str | None, garbage: list[str | None]
    ) -> None:
        """Evict the oldest entries (never ``keep``) until the store is within SIZE_LIMIT."""
        if self.size_limit is None:
            return
        while True:
            size = conn.execute(_COUNTERS).fetchone()[1]
            excess = size - self.size_limit
            if excess <= 0:
                return
            victims: list[int] = []
            freed = 0
            for entry_id, entry_size in conn.execute(
                "SELECT id, CAST(size AS INTEGER) FROM entries"
                " WHERE key IS NOT ? ORDER BY rank LIMIT 64",
                (keep,),
            ):
                victims.append(entry_id)
                freed += entry_size
                if freed >= excess:
                    break
            if not victims:
                return
            marks = ",".join("?" * len(victims))
            garbage.extend(
                row[0] for row in delete_returning(conn, f"id IN ({marks})", victims, "filename")
            )

    def cull(
        self, conn: sqlite3.Connection, now: float, garbage: list[str | None]
    ) -> tuple[int, int]:
        """Purge expired entries, then bring the store within both limits now.

        Returns how many entries went and how many bytes they held.
        """
        before = conn.execute(_COUNTERS).fetchone()
        purge_expired(conn, now, garbage)
        count, _size = conn.execute(_COUNTERS).fetchone()
        if self.max_entries is not None and count > self.max_entries:
            evict_oldest(conn, count - self.max_entries, None, garbage)
        self.trim_size(conn, None, garbage)
        after = conn.execute(_COUNTERS).fetchone()
        return before[0] - after[0], before[1] - after[1]


def purge_expired(conn: sqlite3.Connection, now: float, garbage: list[str | None]) -> int:
    """Delete every entry expired at ``now``; returns how many went."""
    rows = delete_returning(conn, EXPIRED, (now,), "filename")
    garbage.extend(row[0] for row in rows)
    return len(rows)


def evict_oldest(
    conn: sqlite3.Connection, number: int, keep: str | None, garbage: list[str | None]
) -> None:
    """Delete the ``number`` entries lowest in eviction order (never ``keep``)."""
    rows = delete_returning(
        conn,
        "id IN (SELECT id FROM entries WHERE key IS NOT ? ORDER BY rank LIMIT ?)",
        (keep, number),
        "filename",
    )
    garbage.extend(row[0] for row in rows)
