"""How the ``cache`` command shows values, sizes, statistics and keys, as text and as JSON.

The JSON shapes built here are documented in ``docs/cli.rst``; keep the two in step, since
scripts depend on them.
"""

from __future__ import annotations

import base64
import datetime
import json
import math
from dataclasses import dataclass
from typing import Any, Literal

from django.utils.translation import gettext, gettext_lazy, ngettext

from diskcache_admin import wording
from diskcache_admin.conf import conf
from diskcache_admin.inspection._common import preview_of
from diskcache_admin.inspection.base import Activity, Adapter, FamilyActivity, KeyInfo, Stats

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
STAT_LABELS = {
    "entries": gettext_lazy("entries"),
    "expired": gettext_lazy("expired"),
    "size": gettext_lazy("size"),
    "volume": gettext_lazy("volume"),
    "size_limit": gettext_lazy("size limit"),
    "max_entries": gettext_lazy("max entries"),
    "hits": gettext_lazy("hits"),
    "misses": gettext_lazy("misses"),
    "evictions": gettext_lazy("evictions"),
    "eviction_policy": gettext_lazy("eviction policy"),
}
_UNITS = ("KB", "MB", "GB", "TB")


def human_size(size: int | None) -> str:
    """``31.2 MB``; bytes below one KB are spelled out."""
    if size is None:
        return gettext("unknown size")
    if abs(size) < 1024:
        return counted(ngettext("%(count)s byte", "%(count)s bytes", size), size)
    value = float(size)
    for unit in _UNITS:
        value /= 1024
        if abs(value) < 1024 or unit == _UNITS[-1]:
            break
    return f"{value:.1f} {unit}"


def counted(text: str, count: int) -> str:
    """``text`` (from ``ngettext``, holding ``%(count)s``) with ``count`` written as ``2,048``."""
    return text % {"count": f"{count:,}"}


def keys(count: int) -> str:
    return counted(ngettext("%(count)s key", "%(count)s keys", count), count)


def problems(count: int) -> str:
    return counted(ngettext("%(count)s problem", "%(count)s problems", count), count)


def entries(count: int | None) -> str:
    if count is None:
        return gettext("an unknown number of entries")
    return counted(ngettext("%(count)s entry", "%(count)s entries", count), count)


def removal_text(count: int | None, size: int | None) -> str:
    """``12,408 entries (31.2 MB)``, leaving out what the backend cannot tell."""
    text = entries(count)
    return text if size is None else f"{text} ({human_size(size)})"


def needs_escape(char: str) -> bool:
    """Whether a terminal could act on ``char`` rather than show it.

    Python's own definition of printable, as ``repr()`` uses it: control characters (ESC, C1
    controls such as CSI), format characters (bidi overrides and isolates, zero-width ones),
    lone surrogates, private-use and unassigned code points, line and paragraph separators.
    """
    return not char.isprintable()


def _escaped(char: str, as_json: bool) -> str:
    code = ord(char)
    if not as_json:
        return char.encode("unicode_escape").decode("ascii")
    if code < 0x10000:
        return f"\\u{code:04x}"
    # JSON spells a character beyond the BMP as its UTF-16 surrogate pair.
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def escape(text: str, *, keep: str = "", as_json: bool = False) -> str:
    """``text`` with every character a terminal could act on written as an escape.

    The one function the command runs every user-controlled string through (keys, values,
    tags, patterns, messages that quote them) before it reaches a terminal: a cached value
    or a key must not be able to move the cursor, retitle the window, hide text behind a
    bidi override or split a line. ``keep`` lists characters left as they are (``"\\n"`` for a
    multi-line value). Python-style escapes (``\\x1b``, ``\\u202e``) by default; with
    ``as_json``, JSON escapes (``\\u001b``), which is safe to apply to JSON text since these
    characters can only occur inside its strings.
    """
    if text.isprintable():
        return text
    return "".join(
        _escaped(char, as_json) if needs_escape(char) and char not in keep else char
        for char in text
    )


def quote(text: str) -> str:
    """``'text'``, escaped: how messages name a key, tag, pattern or path."""
    return f"'{escape(text)}'"


def json_text(document: Any, *, indent: int | None = None) -> str:
    """``document`` as JSON text that is safe on a terminal and parses back to the same data.

    ``ensure_ascii=False`` keeps non-ASCII text readable; the characters a terminal could act
    on (which JSON itself leaves raw, such as C1 controls and bidi overrides) are escaped.
    """
    text = json.dumps(document, ensure_ascii=False, indent=indent, default=str)
    return escape(text, keep="\n" if indent is not None else "", as_json=True)


def has_surrogates(text: str) -> bool:
    """Whether ``text`` holds lone surrogates: what argv becomes for bytes that are not UTF-8."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def type_name(value: Any) -> str:
    cls = type(value)
    if cls.__module__ == "builtins":
        return cls.__qualname__
    return f"{cls.__module__}.{cls.__qualname__}"


# How much of a value the command writes as JSON. Past it (or for what JSON cannot hold) it
# shows the inspection layer's bounded preview instead: a pickled value of a few hundred bytes
# can hold shared sub-lists that expand to millions of nodes, each written out by JSON.
JSON_NODE_LIMIT = 1_000_000
JSON_DEPTH_LIMIT = 200
# Python refuses to turn an int of more than 4,300 digits into text (sys.int_info).
_INT_BITS_LIMIT = 14_000


@dataclass(frozen=True)
class Shown:
    """A value as the command writes it: ``value`` is JSON-safe, as ``encoding`` says."""

    encoding: Encoding
    value: Any
    truncated: bool = False  # a repr preview cut at DISKCACHE_ADMIN_PREVIEW_LIMIT


def fits_json(value: Any) -> bool:
    """Whether JSON holds ``value`` exactly, within the node and depth limits.

    Only the plain types JSON maps one to one (dicts with ``str`` keys, lists and tuples,
    ``str``, ``int``, finite ``float``, ``bool``, ``None``); a subclass is not trusted, since
    its methods are arbitrary code. The walk counts every visit, so shared sub-structures are
    counted as often as JSON would write them.
    """
    stack: list[tuple[Any, int]] = [(value, 0)]
    nodes = 0
    while stack:
        item, depth = stack.pop()
        nodes += 1
        if nodes > JSON_NODE_LIMIT or depth > JSON_DEPTH_LIMIT:
            return False
        kind = type(item)
        if item is None or kind is str or kind is bool:
            continue
        if kind is int:
            if item.bit_length() > _INT_BITS_LIMIT:
                return False
        elif kind is float:
            if not math.isfinite(item):
                return False
        elif kind is list or kind is tuple:
            if nodes + len(stack) + len(item) > JSON_NODE_LIMIT:
                return False
            stack.extend((child, depth + 1) for child in item)
        elif kind is dict:
            if nodes + len(stack) + len(item) > JSON_NODE_LIMIT:
                return False
            for name, child in item.items():
                if type(name) is not str:
                    return False
                stack.append((child, depth + 1))
        else:
            return False
    return True


def shown_value(value: Any) -> Shown:
    """Itself when JSON can hold it, base64 for bytes, else a bounded ``repr`` preview."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return Shown("base64", base64.b64encode(bytes(value)).decode("ascii"))
    if fits_json(value):
        return Shown("json", value)
    # The inspection layer's preview has its own size and depth budget and survives a
    # __repr__ that raises, loops or exits: the admin shows values through it too.
    preview = preview_of(value, conf.PREVIEW_LIMIT, None)
    return Shown("repr", preview.error or preview.text, preview.truncated)


def value_text(value: Any) -> tuple[str, bool]:
    """``(text, truncated)``: text as is, JSON-able values as indented JSON, else a preview."""
    if isinstance(value, str):
        return value, False
    shown = shown_value(value)
    if shown.encoding == "json":
        return json.dumps(shown.value, indent=2, ensure_ascii=False), False
    return str(shown.value), shown.truncated


def get_document(
    alias: str, key: str, version: int | None, found: bool, value: Any = None
) -> dict[str, Any]:
    """The ``cache get --json`` document."""
    document: dict[str, Any] = {"alias": alias, "key": key, "version": version, "found": found}
    if found:
        shown = shown_value(value)
        document.update(type=type_name(value), encoding=shown.encoding, value=shown.value)
        if shown.encoding == "repr":
            document["truncated"] = shown.truncated
    return document


def stats_json(stats: Stats) -> dict[str, Any]:
    document: dict[str, Any] = {name: getattr(stats, name) for name in STAT_FIELDS}
    document["hit_ratio"] = stats.hit_ratio
    document["extra"] = stats.extra
    # Fields whose figure is an estimate from ``sampled`` entries drawn at random.
    document["estimated"] = list(stats.estimated)
    document["sampled"] = stats.sampled
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


def estimate_note(sampled: int | None) -> str:
    """Says a figure is an estimate (``≈`` marks it) and from how many sampled entries."""
    if not sampled:
        return gettext("(estimated)")
    return gettext("(estimated from %(count)s sampled entries)") % {"count": f"{sampled:,}"}


def stats_lines(stats: Stats) -> list[tuple[str, str]]:
    """``(label, value)`` rows for the figures the backend can tell."""
    rows: list[tuple[str, str]] = []
    for name in STAT_FIELDS:
        value = getattr(stats, name)
        if value is None:
            continue
        if name in _BYTE_FIELDS:
            shown = human_size(value)
            if value >= 1024:
                exact = counted(ngettext("%(count)s byte", "%(count)s bytes", value), value)
                shown += f" ({exact})"
        elif isinstance(value, int):
            shown = f"{value:,}"
        else:
            shown = escape(str(value))
        if name in stats.estimated:
            shown = "≈" + shown + " " + estimate_note(stats.sampled)
        rows.append((str(STAT_LABELS[name]), shown))
        if name == "misses" and stats.hit_ratio is not None:
            rows.append((gettext("hit ratio"), f"{stats.hit_ratio:.1%}"))
    rows.extend(_extra_line(*row) for row in wording.extra_rows(stats.extra, _SPELLING))
    return rows


def _extra_line(label: str, text: str) -> tuple[str, str]:
    # The admin's labels start with a capital; the CLI's rows do not ("hit ratio").
    return escape(label[:1].lower() + label[1:]), escape(text)


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


def when(epoch: float) -> str:
    """An epoch time as UTC text, to the minute."""
    moment = datetime.datetime.fromtimestamp(epoch, tz=datetime.timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _count(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def activity_rows(activity: Activity[Any]) -> list[list[str]]:
    """The text table of ``cache top``: a header, then one row per key or family, the name
    last (escaped)."""
    rows: list[list[str]]
    if activity.rows and isinstance(activity.rows[0], FamilyActivity):
        # Entries and sizes of a large store are estimates from a sample: marked in the header
        # (with the sample's size) and on every figure.
        sampled = activity.entries_sampled
        mark = "" if sampled is None else "≈"
        entries = gettext("entries")
        if sampled is not None:
            entries += " " + estimate_note(sampled)
        rows = [[gettext("hits"), gettext("misses"), gettext("ratio"), entries, gettext("size"),
                 gettext("family")]]  # fmt: skip
        for family in activity.rows:
            rows.append(
                [
                    _count(family.hits),
                    _count(family.misses),
                    _ratio(family.hit_ratio),
                    mark + _count(family.entries),
                    "-" if family.size is None else mark + human_size(family.size),
                    escape(family.family) or gettext("(empty key)"),
                ]
            )
        return rows
    if activity.rows and all(row.hits is None and row.score is not None for row in activity.rows):
        rows = [[gettext("LFU counter"), gettext("key")]]
        rows.extend([f"{row.score:g}", escape(row.key)] for row in activity.rows)
        return rows
    rows = [[gettext("hits"), gettext("misses"), gettext("ratio"), gettext("entry"),
             gettext("key")]]  # fmt: skip
    for key in activity.rows:
        if key.present is None:
            entry = "-"
        elif not key.present:
            entry = gettext("no entry")
        else:
            entry = "-" if key.size is None else human_size(key.size)
        rows.append(
            [_count(key.hits), _count(key.misses), _ratio(key.hit_ratio), entry, escape(key.key)]
        )
    return rows


def activity_json(adapter: Adapter, table: str, activity: Activity[Any]) -> dict[str, Any]:
    """The ``cache top --json`` document."""
    rows: list[dict[str, Any]] = []
    for row in activity.rows:
        if isinstance(row, FamilyActivity):
            rows.append(
                {
                    "family": row.family,
                    "hits": row.hits,
                    "misses": row.misses,
                    "hit_ratio": row.hit_ratio,
                    "entries": row.entries,
                    "size": row.size,
                }
            )
        else:
            rows.append(
                {
                    "key": row.key,
                    "raw_key": row.raw_key,
                    "prefix": row.prefix,
                    "version": row.version,
                    "family": row.family,
                    "hits": row.hits,
                    "misses": row.misses,
                    "hit_ratio": row.hit_ratio,
                    "present": row.present,
                    "size": row.size,
                    "score": row.score,
                }
            )
    return {
        "alias": adapter.alias,
        "backend": adapter.backend_name,
        "table": table,
        "estimated": True,
        "method": activity.method,
        "sample_rate": activity.sample_rate,
        "since": activity.since,
        # Families: entries and size estimated from this many sampled entries (None: counted).
        "entries_sampled": activity.entries_sampled,
        "rows": rows,
    }


# Sizes as ``31.2 MB``, moments in UTC: the text a log or a terminal keeps.
_SPELLING = wording.Spelling(size=human_size, moment=when)
