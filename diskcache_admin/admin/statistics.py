"""The rows of the "Statistics" table: every backend's numbers in words a reader expects.

The adapters return raw, JSON-safe values (``Stats`` and its ``extra`` dict); this module is the
one place that turns them into labelled, translated text: sizes through ``filesizeformat``,
booleans as yes/no, lists joined, ``None`` as an em dash, moments as local times, and the known
backend-specific fields (DiskCache, LocMem, Redis, memcached) under readable names.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.utils.translation import gettext, gettext_lazy, pgettext_lazy

from ..inspection import Stats
from . import helpers

__all__ = ["estimated", "humanize", "stats_rows"]

DASH = "—"


def humanize(value: Any) -> str:
    """Any statistics value as text: no Python spelling (``True``, ``None``, ``['a']``) shows."""
    if value is None or value == "":
        return DASH
    if isinstance(value, bool):
        return gettext("yes") if value else gettext("no")
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    if isinstance(value, Mapping):
        return ", ".join(f"{humanize(k)}: {humanize(v)}" for k, v in value.items()) or DASH
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=str) if isinstance(value, (set, frozenset)) else value
        return ", ".join(humanize(item) for item in items) or DASH
    return helpers.display_key(str(value))


def _size(value: Any) -> str:
    return helpers.size(value) if isinstance(value, int) else humanize(value)


def _moment(value: Any) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        relative = helpers.relative(float(value))
        return f"{helpers.moment(float(value))} ({relative})" if relative else helpers.moment(value)
    return humanize(value)


def _cull_frequency(value: Any) -> str:
    if value == 0:
        return gettext("the whole cache when full")
    if isinstance(value, int) and value > 0:
        return gettext("1/{n} of the entries when full").format(n=value)
    return humanize(value)


# The Stats fields an adapter may name in extra["server_wide"] (Redis), as the rows call them.
_FIELD_LABELS = {
    "entries": gettext_lazy("Entries"),
    "hits": gettext_lazy("Hits"),
    "misses": gettext_lazy("Misses"),
    "evictions": gettext_lazy("Evictions"),
    "volume": gettext_lazy("Volume"),
    "size": gettext_lazy("Size of values"),
}


def _server_wide(value: Any) -> str:
    # memcached: True (every number is the servers'); Redis: the list of server-wide fields.
    if isinstance(value, (list, tuple)):
        return ", ".join(str(_FIELD_LABELS.get(str(name), name)) for name in value) or DASH
    return humanize(value)


# Known extra fields: (label, formatter). Unknown ones get a label made from their name.
EXTRA_FIELDS: dict[str, tuple[Any, Callable[[Any], str]]] = {
    # DiskCache
    "statistics": (gettext_lazy("Hit statistics recorded"), humanize),
    "stats_since": (gettext_lazy("Statistics since"), _moment),
    "cull_frequency": (gettext_lazy("Culling removes"), _cull_frequency),
    "file_threshold": (gettext_lazy("Values in files from"), _size),
    "directory": (gettext_lazy("Directory"), humanize),
    # LocMem
    "process_local": (gettext_lazy("Store of this process only"), humanize),
    # memcached and Redis
    "servers": (gettext_lazy("Servers"), humanize),
    "server_wide": (gettext_lazy("Numbers for the whole server"), _server_wide),
    # Redis
    "db_keys": (gettext_lazy("Keys in the Redis database"), humanize),
    "redis_version": (gettext_lazy("Redis version"), humanize),
    "used_memory_human": (
        pgettext_lazy("Redis INFO used_memory_human", "Memory used (as Redis rounds it)"),
        humanize,
    ),
}


def _guess(name: str, value: Any) -> tuple[str, str]:
    # A field no adapter of ours returns today (a third-party adapter's): readable anyway.
    label = name.replace("_", " ").strip().capitalize() or name
    if name.endswith(("_since", "_time", "_at")):
        return label, _moment(value)
    if name.endswith(("_bytes", "_size", "_memory")) and isinstance(value, int):
        return label, helpers.size(value)
    return label, humanize(value)


def extra_rows(extra: Mapping[str, Any]) -> list[tuple[str, str]]:
    rows = []
    for name, value in extra.items():
        known = EXTRA_FIELDS.get(str(name))
        if known is None:
            rows.append(_guess(helpers.display_key(str(name)), value))
        else:
            label, formatter = known
            rows.append((str(label), formatter(value)))
    return rows


def _volume(stats: Stats) -> str:
    assert stats.volume is not None
    volume = helpers.size(stats.volume)
    if not stats.size_limit:
        return volume
    return gettext("{volume} of {limit} ({percent})").format(
        volume=volume,
        limit=helpers.size(stats.size_limit),
        percent=helpers.ratio(stats.volume / stats.size_limit).replace(".0%", "%"),
    )


def estimated(text: str, sampled: int | None) -> str:
    """A figure estimated from ``sampled`` entries drawn at random, as shown: ``≈1,234 (...)``."""
    note = (
        gettext("estimated from {n} sampled entries").format(n=helpers.count(sampled))
        if sampled
        else gettext("estimated")
    )
    return f"≈{text} ({note})"


def stats_rows(stats: Stats) -> list[tuple[str, str]]:
    """``(label, text)`` for every number the backend gave; estimates are marked ``≈``."""
    rows = [(gettext("Entries"), helpers.count(stats.entries))]
    if stats.expired is not None:
        rows.append((gettext("Expired, not yet purged"), helpers.count(stats.expired)))
    if stats.size is not None:
        rows.append((gettext("Size of values"), helpers.size(stats.size)))
    if stats.volume is not None:
        rows.append((gettext("Volume"), _volume(stats)))
    elif stats.size_limit:
        rows.append((gettext("Size limit"), helpers.size(stats.size_limit)))
    if stats.max_entries is not None:
        rows.append((gettext("Max entries"), helpers.count(stats.max_entries)))
    if stats.hits is not None or stats.misses is not None:
        rows.append((gettext("Hits"), helpers.count(stats.hits)))
        rows.append((gettext("Misses"), helpers.count(stats.misses)))
        rows.append((gettext("Hit ratio"), helpers.ratio(stats.hit_ratio)))
    if stats.evictions is not None:
        rows.append((gettext("Evictions"), helpers.count(stats.evictions)))
    if stats.eviction_policy:
        rows.append((gettext("Eviction policy"), humanize(stats.eviction_policy)))
    rows.extend(extra_rows(stats.extra))
    return _marked(stats, rows)


# The stats_rows label of each Stats field an adapter may estimate.
_ESTIMATE_LABELS = {
    "entries": gettext_lazy("Entries"),
    "expired": gettext_lazy("Expired, not yet purged"),
    "size": gettext_lazy("Size of values"),
    "volume": gettext_lazy("Volume"),
}


def _marked(stats: Stats, rows: list[tuple[str, str]]) -> list[tuple[str, str]]:
    labels = {str(_ESTIMATE_LABELS[name]) for name in stats.estimated if name in _ESTIMATE_LABELS}
    if not labels:
        return rows
    return [
        (label, estimated(text, stats.sampled) if label in labels else text) for label, text in rows
    ]
