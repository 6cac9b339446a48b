"""The on-disk schema of a store: one SQLite database, ``cache.db``, per directory."""

from __future__ import annotations

# Version 5 (docs/security.rst): signatures cover the whole entry, with the payload's digest in
# ``digest``; ``meta`` records which key signs the store. Entries of older versions never verify,
# so they read as misses and go as they are met (the cache is a cache). Version 6 only replaced
# the triggers: a store of version 5 is upgraded in place and its entries stay readable.
SCHEMA_VERSION = 6

# The row of ``meta`` holding the fingerprint of the key that signs the store (codec.py).
FINGERPRINT = "key_fingerprint"

# The key browser's "expires" order: never-expiring entries sort after every expiry time. Queries
# must spell the expression exactly like the index does, or SQLite will not use the index.
EXPIRES_ORDER = "coalesce(expire_time, 1e300)"
# "Expired at ``?``", spelled on the same expression so purges use that one index too.
EXPIRED = f"{EXPIRES_ORDER} <= ?"

# ``key`` is the full made key (prefix, version and user key, as Django's key function made it);
# ``user_key``/``prefix``/``version`` are kept apart so that browsing never has to parse it.
# ``rank`` orders eviction: the store time for least-recently-stored, bumped in batches on reads
# for least-recently-used. ``mode`` says how ``value`` is encoded (see codec.py); ``filename``
# is set when the payload lives in a file beside the database instead of in ``value``.
TABLES = (
    """
    CREATE TABLE IF NOT EXISTS entries (
        id INTEGER PRIMARY KEY,
        key TEXT NOT NULL UNIQUE,
        user_key TEXT NOT NULL,
        prefix TEXT NOT NULL DEFAULT '',
        version INTEGER NOT NULL DEFAULT 1,
        family TEXT NOT NULL DEFAULT '',
        store_time REAL NOT NULL,
        rank REAL NOT NULL,
        expire_time REAL,
        tag TEXT,
        size INTEGER NOT NULL DEFAULT 0,
        mode INTEGER NOT NULL,
        signature BLOB,
        filename TEXT,
        value BLOB,
        digest BLOB
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS counters (
        id INTEGER PRIMARY KEY CHECK (id = 0),
        count INTEGER NOT NULL DEFAULT 0,
        size INTEGER NOT NULL DEFAULT 0,
        hits INTEGER NOT NULL DEFAULT 0,
        misses INTEGER NOT NULL DEFAULT 0,
        stats_since REAL
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS meta (
        name TEXT PRIMARY KEY,
        value BLOB
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS snapshots (
        taken REAL PRIMARY KEY,
        count INTEGER NOT NULL,
        size INTEGER NOT NULL,
        hits INTEGER NOT NULL,
        misses INTEGER NOT NULL
    )
    """,
)

# Every index costs each write a page or two in the WAL, so each one serves several queries:
# ``rank`` is the eviction order and (under least-recently-stored, where it is the store time) the
# browser's "stored" order; the expiry expression serves purges and the "expires" order; the
# partial tag index serves evict(tag) and the browser's tag filter.
INDEXES = (
    "CREATE INDEX IF NOT EXISTS entries_rank ON entries (rank)",
    "CREATE INDEX IF NOT EXISTS entries_user_key ON entries (user_key)",
    "CREATE INDEX IF NOT EXISTS entries_family ON entries (family, user_key)",
    # Version 2: the key browser's sort orders, so that a page is an index range scan whatever
    # the store's size (engine/browse.py). "Never expires" sorts after every expiry time.
    "CREATE INDEX IF NOT EXISTS entries_size ON entries (size)",
    f"CREATE INDEX IF NOT EXISTS entries_expires_order ON entries ({EXPIRES_ORDER})",
    # Store.volume() sums the sizes of file-held values: a covering index keeps that off the table.
    "CREATE INDEX IF NOT EXISTS entries_file_size ON entries (size) WHERE filename IS NOT NULL",
    # Version 3: a tag's entries in key order (the key browser's tag filter), tagged rows only.
    "CREATE INDEX IF NOT EXISTS entries_tag_key ON entries (tag, user_key) WHERE tag IS NOT NULL",
)

# Triggers keep the entry count and total size exact in one row, so neither is ever a scan. A size
# the engine never writes (not an integer, negative, or past 2**48 bytes: 256 TiB) was written by
# someone else and counts as 0, so that a planted ``inf`` or 2**63-1 can neither make the sum NULL
# (every later write would fail) nor push it past any SIZE_LIMIT (every write would evict all).
MAX_SIZE = 2**48
_KEPT = f"BETWEEN 0 AND {MAX_SIZE}"
_SIZE = "CASE WHEN typeof({0}.size) = 'integer' AND {0}.size %s THEN {0}.size ELSE 0 END".replace(
    "%s", _KEPT
)
# The same rule for a recount (a deleted counters row, check --fix): what the triggers would sum.
# total(), not sum(): a sum past 64 bits is then a number, where sum() raises "integer overflow".
SIZE_SUM = (
    f"CAST(total(CASE WHEN typeof(size) = 'integer' AND size {_KEPT} THEN size ELSE 0 END)"
    " AS INTEGER)"
)
TRIGGERS = (
    f"""
    CREATE TRIGGER IF NOT EXISTS entries_count_insert_6 AFTER INSERT ON entries BEGIN
        UPDATE counters SET count = count + 1, size = size + {_SIZE.format("NEW")} WHERE id = 0;
    END
    """,
    f"""
    CREATE TRIGGER IF NOT EXISTS entries_count_delete_6 AFTER DELETE ON entries BEGIN
        UPDATE counters SET count = count - 1, size = size - {_SIZE.format("OLD")} WHERE id = 0;
    END
    """,
    f"""
    CREATE TRIGGER IF NOT EXISTS entries_count_update_6 AFTER UPDATE OF size ON entries BEGIN
        UPDATE counters SET size = size - {_SIZE.format("OLD")} + {_SIZE.format("NEW")}
        WHERE id = 0;
    END
    """,
)

SEED = ("INSERT OR IGNORE INTO counters (id, count, size, hits, misses) VALUES (0, 0, 0, 0, 0)",)

# Version 4 dropped indexes that another one already serves (measured: a third off each set).
DROPPED = tuple(
    f"DROP INDEX IF EXISTS {name}" for name in ("entries_expire", "entries_tag", "entries_stored")
) + tuple(
    # Version 6 replaced the triggers of versions 1-5 (a forged size could break their sums).
    f"DROP TRIGGER IF EXISTS entries_count_{event}"
    for event in ("insert", "delete", "update")
)

STATEMENTS = TABLES + DROPPED + INDEXES + TRIGGERS + SEED


def added_columns(existing: set[str]) -> list[str]:
    """``ALTER TABLE`` statements that bring an older ``entries`` table to this version."""
    return [] if "digest" in existing else ["ALTER TABLE entries ADD COLUMN digest BLOB"]
