"""Statistics in words, for the admin and the CLI alike.

The adapters return raw, JSON-safe values (``Stats`` and its ``extra`` dict); this module says
them as a reader expects: booleans as yes/no, lists joined, ``None`` as an em dash, and the
known backend-specific fields (DiskCache, LocMem, Redis, memcached) under readable names. Each
face passes its own spelling of sizes and moments (the admin: ``filesizeformat`` and local
time; the CLI: ``31.2 MB`` and UTC) and escapes the result its own way (HTML, terminal).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.utils.translation import gettext, gettext_lazy, pgettext_lazy

__all__ = ["DASH", "Spelling", "extra_rows", "humanize"]

DASH = "—"

# The Stats fields an adapter may name in extra["server_wide"] (Redis), as the rows call them.
_FIELD_LABELS = {
    "entries": gettext_lazy("Entries"),
    "hits": gettext_lazy("Hits"),
    "misses": gettext_lazy("Misses"),
    "evictions": gettext_lazy("Evictions"),
    "volume": gettext_lazy("Volume"),
    "size": gettext_lazy("Size of values"),
}


def _same(text: str) -> str:
    return text


def humanize(value: Any, text: Callable[[str], str] = _same) -> str:
    """Any statistics value as text: no Python spelling (``True``, ``None``, ``['a']``) shows.

    ``text`` escapes the strings the value holds (they come from the backend) for the face.
    """
    if value is None or value == "":
        return DASH
    if isinstance(value, bool):
        return gettext("yes") if value else gettext("no")
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    if isinstance(value, Mapping):
        pairs = (f"{humanize(k, text)}: {humanize(v, text)}" for k, v in value.items())
        return ", ".join(pairs) or DASH
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=str) if isinstance(value, (set, frozenset)) else value
        return ", ".join(humanize(item, text) for item in items) or DASH
    return text(str(value))


class Spelling:
    """How a face spells sizes (bytes) and moments (epoch seconds)."""

    def __init__(
        self,
        size: Callable[[int], str],
        moment: Callable[[float], str],
        text: Callable[[str], str] = _same,
    ) -> None:
        self._size = size
        self._moment = moment
        self.text = text  # escapes the backend's own strings (values, unknown field names)

    def words(self, value: Any) -> str:
        return humanize(value, self.text)

    def size(self, value: Any) -> str:
        if isinstance(value, int) and not isinstance(value, bool):
            return self._size(value)
        return self.words(value)

    def moment(self, value: Any) -> str:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            try:
                return self._moment(float(value))
            except (OverflowError, ValueError, OSError):  # a year datetime cannot hold
                pass
        return self.words(value)


def _cull_frequency(value: Any, spelling: Spelling) -> str:
    if value == 0 and not isinstance(value, bool):
        return gettext("the whole cache when full")
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return gettext("1/{n} of the entries when full").format(n=value)
    return spelling.words(value)


def _stats_since(value: Any, spelling: Spelling) -> str:
    return gettext("nothing recorded yet") if value is None else spelling.moment(value)


def _server_wide(value: Any, spelling: Spelling) -> str:
    # memcached: True (every number is the servers'); Redis: the list of server-wide fields.
    if isinstance(value, (list, tuple)):
        names = (str(_FIELD_LABELS.get(str(name)) or spelling.text(str(name))) for name in value)
        return ", ".join(names) or DASH
    return spelling.words(value)


def _plain(value: Any, spelling: Spelling) -> str:
    return spelling.words(value)


# Known extra fields: (label, formatter). Unknown ones get a label made from their name.
EXTRA_FIELDS: dict[str, tuple[Any, Callable[[Any, Spelling], str]]] = {
    # DiskCache
    "statistics": (gettext_lazy("Hit statistics recorded"), _plain),
    "stats_since": (gettext_lazy("Statistics since"), _stats_since),
    "cull_frequency": (gettext_lazy("Culling removes"), _cull_frequency),
    "file_threshold": (gettext_lazy("Values in files from"), lambda v, s: s.size(v)),
    "directory": (gettext_lazy("Directory"), _plain),
    # LocMem
    "process_local": (gettext_lazy("Store of this process only"), _plain),
    # memcached and Redis
    "servers": (gettext_lazy("Servers"), _plain),
    "server_wide": (gettext_lazy("Numbers for the whole server"), _server_wide),
    # Redis
    "db_keys": (gettext_lazy("Keys in the Redis database"), _plain),
    "redis_version": (gettext_lazy("Redis version"), _plain),
    "used_memory_human": (
        pgettext_lazy("Redis INFO used_memory_human", "Memory used (as Redis rounds it)"),
        _plain,
    ),
}


def _guess(name: str, value: Any, spelling: Spelling) -> tuple[str, str]:
    # A field no adapter of ours returns today (a third-party adapter's): readable anyway.
    label = spelling.text(name.replace("_", " ").strip().capitalize() or name)
    if name.endswith(("_since", "_time", "_at")):
        return label, spelling.moment(value)
    if name.endswith(("_bytes", "_size", "_memory")):
        return label, spelling.size(value)
    return label, spelling.words(value)


def extra_rows(extra: Mapping[str, Any], spelling: Spelling) -> list[tuple[str, str]]:
    """``(label, text)`` for each backend-specific field; the backend's strings escaped by
    ``spelling.text``."""
    rows = []
    for name, value in extra.items():
        known = EXTRA_FIELDS.get(str(name))
        if known is None:
            rows.append(_guess(str(name), value, spelling))
        else:
            label, formatter = known
            rows.append((str(label), formatter(value, spelling)))
    return rows
