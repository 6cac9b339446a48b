"""The rows of the "Statistics" table: every backend's numbers in words a reader expects.

The adapters return raw, JSON-safe values (``Stats`` and its ``extra`` dict); the wording of
values and of the backend-specific fields is shared with the CLI (``diskcache_admin.wording``);
this module spells sizes through ``filesizeformat`` and moments as local times for the page.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext, gettext_lazy

from .. import wording
from ..inspection import Stats
from . import helpers

__all__ = ["estimated", "humanize", "stats_rows"]


def humanize(value: Any) -> str:
    """Any statistics value as text for a page (no Python spelling shows; escapes visible)."""
    return wording.humanize(value, helpers.display_key)


def _moment(epoch: float) -> str:
    relative = helpers.relative(epoch)
    return f"{helpers.moment(epoch)} ({relative})" if relative else helpers.moment(epoch)


# Sizes through ``filesizeformat``, moments in the site's time zone with "3 hours ago".
_SPELLING = wording.Spelling(size=helpers.size, moment=_moment, text=helpers.display_key)


def extra_rows(extra: Mapping[str, Any]) -> list[tuple[str, str]]:
    return wording.extra_rows(extra, _SPELLING)


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
