"""The sqlite3 storage engine behind :class:`diskcache_admin.backend.DiskCache`.

Nothing in this package imports Django: it can be tested, benchmarked and stress-tested alone.

Modules, one job each: ``store`` (entry reads and writes, the one removal path), ``statistics``
(process-wide hit/miss/access batching, fork and exit handling), ``eviction`` (limits, culling,
expiry purges), ``browse`` (read-only queries for the key browser and charts), ``codec``,
``connection``, ``files``, ``schema``, ``integrity``.
"""

from __future__ import annotations

from .codec import BadSignature, Codec, CorruptValue, Mode, UnserializableValue
from .connection import StoreLocked
from .eviction import POLICIES, Limits
from .store import (
    DEFAULT_FILE_THRESHOLD,
    KNOWN_FAMILIES,
    MISSING,
    EntryInfo,
    Item,
    KeyParts,
    Problem,
    Removal,
    Stats,
    Store,
    family_of,
)

__all__ = [
    "DEFAULT_FILE_THRESHOLD",
    "KNOWN_FAMILIES",
    "MISSING",
    "POLICIES",
    "BadSignature",
    "Codec",
    "CorruptValue",
    "EntryInfo",
    "Item",
    "KeyParts",
    "Limits",
    "Mode",
    "Problem",
    "Removal",
    "Stats",
    "Store",
    "StoreLocked",
    "UnserializableValue",
    "family_of",
]
