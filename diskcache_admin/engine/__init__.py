"""The sqlite3 storage engine behind :class:`diskcache_admin.backend.DiskCache`.

Nothing in this package imports Django: it can be tested, benchmarked and stress-tested alone.
"""

from __future__ import annotations

from .codec import BadSignature, Codec, CorruptValue, Mode, UnserializableValue
from .connection import StoreLocked
from .store import (
    DEFAULT_FILE_THRESHOLD,
    KNOWN_FAMILIES,
    MISSING,
    POLICIES,
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
    "Mode",
    "Problem",
    "Removal",
    "Stats",
    "Store",
    "StoreLocked",
    "UnserializableValue",
    "family_of",
]
