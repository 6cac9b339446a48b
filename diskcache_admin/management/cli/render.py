"""How the ``cache`` command shows values, sizes, statistics and keys, as text and as JSON.

The JSON shapes built here are documented in ``docs/cli.rst``; keep the two in step, since
scripts depend on them.
"""

from __future__ import annotations

import base64
import json
from typing import Any, Literal

from diskcache_admin.inspection.base import Adapter, KeyInfo, Stats

Encoding = Literal["json", "base64", "repr"]

# Stats fields in the order both outputs list them.
STAT_FIELDS = (
    "entries",
    "expired",
    "size",
    "volume",
    "size_limit",
    "max_entries",
    "hits",
    "misses",
    "evictions",
    "eviction_policy",
)
_BYTE_FIELDS = frozenset({"size", "volume", "size_limit"})
_UNITS = ("KB", "MB", "GB", "TB")


def human_size(size: int | None) -> str:
    """``31.2 MB``; bytes below one KB are spelled out."""
    if size is None:
        return "unknown size"
    if abs(size) < 1024:
        return f"{size:,} byte" + ("" if size == 1 else "s")
    value = float(size)
    for unit in _UNITS:
        value /= 1024
        if abs(value) < 1024 or unit == _UNITS[-1]:
            break
    return f"{value:.1f} {unit}"


def plural(count: int, singular: str, plural: str | None = None) -> str:
    """``1 key``, ``2,048 keys``."""
    return f"{count:,} " + (singular if count == 1 else plural or singular + "s")


def entries(count: int | None) -> str:
    if count is None:
        return "an unknown number of entries"
    return plural(count, "entry", "entries")


def removal_text(count: int | None, size: int | None) -> str:
    """``12,408 entries (31.2 MB)``, leaving out what the backend cannot tell."""
    text = entries(count)
    return text if size is None else f"{text} ({human_size(size)})"


def printable(text: str) -> str:
    """``text`` with control characters escaped, so that one key stays on one line."""
    if text.isprintable():
        return text
    return "".join(
        char if char.isprintable() else char.encode("unicode_escape").decode("ascii")
        for char in text
    )


def safe_repr(value: Any) -> str:
    try:
        return repr(value)
    # A cached object's __repr__ is arbitrary user code and may raise anything; the command
    # must still say what it found.
    except Exception as exc:
        return f"<{type_name(value)} object; repr() failed: {type(exc).__name__}>"


def type_name(value: Any) -> str:
    cls = type(value)
    if cls.__module__ == "builtins":
        return cls.__qualname__
    return f"{cls.__module__}.{cls.__qualname__}"


def encode_value(value: Any) -> tuple[Encoding, Any]:
    """A JSON-safe form of ``value``: itself when JSON can hold it, base64 for bytes, else repr."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "base64", base64.b64encode(bytes(value)).decode("ascii")
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        return "repr", safe_repr(value)
    return "json", value


def value_text(value: Any) -> str:
    """Text as is, JSON-able values as indented JSON, anything else as its repr."""
    if isinstance(value, str):
        return value
    encoding, shown = encode_value(value)
    if encoding == "json":
        return json.dumps(shown, indent=2, ensure_ascii=False)
    return str(shown)


def get_document(
    alias: str, key: str, version: int | None, found: bool, value: Any = None
) -> dict[str, Any]:
    """The ``cache get --json`` document."""
    document: dict[str, Any] = {"alias": alias, "key": key, "version": version, "found": found}
    if found:
        encoding, shown = encode_value(value)
        document.update(type=type_name(value), encoding=encoding, value=shown)
    return document


def stats_json(stats: Stats) -> dict[str, Any]:
    document: dict[str, Any] = {name: getattr(stats, name) for name in STAT_FIELDS}
    document["hit_ratio"] = stats.hit_ratio
    document["extra"] = stats.extra
    return document


def cache_document(
    adapter: Adapter, stats: Stats | None, error: str | None = None
) -> dict[str, Any]:
    """One alias in the ``cache stats --json`` output."""
    return {
        "alias": adapter.alias,
        "backend": adapter.backend_name,
        "kind": adapter.kind,
        "location": adapter.location(),
        "capabilities": sorted(capability.value for capability in adapter.capabilities),
        "stats": None if stats is None else stats_json(stats),
        "error": error,
    }


def stats_lines(stats: Stats) -> list[tuple[str, str]]:
    """``(label, value)`` rows for the figures the backend can tell."""
    rows: list[tuple[str, str]] = []
    for name in STAT_FIELDS:
        value = getattr(stats, name)
        if value is None:
            continue
        if name in _BYTE_FIELDS:
            shown = f"{human_size(value)} ({value:,} bytes)" if value >= 1024 else human_size(value)
        elif isinstance(value, int):
            shown = f"{value:,}"
        else:
            shown = str(value)
        rows.append((name.replace("_", " "), shown))
        if name == "misses" and stats.hit_ratio is not None:
            rows.append(("hit ratio", f"{stats.hit_ratio:.1%}"))
    rows.extend((str(name), printable(str(value))) for name, value in stats.extra.items())
    return rows


def key_json(info: KeyInfo) -> dict[str, Any]:
    """One line of ``cache keys --json``."""
    return {
        "key": info.key,
        "raw_key": info.raw_key,
        "prefix": info.prefix,
        "version": info.version,
        "family": info.family,
        "size": info.size,
        "stored": info.stored,
        "expires": info.expires,
        "has_expiry": info.has_expiry,
        "tag": info.tag,
        "expired": info.expired,
    }
