"""The cache page's key activity: "Hot keys", "Most-missed keys" and "Families" (estimates).

Built from :meth:`VisibleAdapter.hot_keys` and its siblings, so hidden keys never show. The
tables are in ``templates/diskcache_admin/admin/_insight.html``; the detail view adds
:func:`insight_context` to its context.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from django.http import HttpRequest
from django.utils.translation import gettext

from ..inspection import (
    Activity,
    Capability,
    FamilyActivity,
    InspectionError,
    KeyActivity,
)
from . import helpers
from .helpers import VIEW_KEYS
from .visibility import VisibleAdapter

if TYPE_CHECKING:
    from .views import CacheViews

#: Rows per table on the cache page.
ROWS = 10


def _attempt(call: Callable[[], Activity[Any]]) -> tuple[Activity[Any] | None, str | None]:
    try:
        return call(), None
    except InspectionError as exc:  # InsightUnavailable too: its message says why
        return None, str(exc) or type(exc).__name__


def _estimate(count: int | None) -> str:
    """An estimated count as shown: ``~1,234``; ``0`` and unknown (``—``) are exact."""
    if count is None:
        return "—"
    return "0" if count == 0 else f"~{helpers.count(count)}"


def _method(activity: Activity[Any]) -> str:
    text = gettext("Estimated counts: {method}.").format(method=activity.method)
    if activity.entries_sampled is not None:
        text += " " + gettext(
            "Entries and sizes (≈) estimated from {n} sampled entries of the store."
        ).format(n=helpers.count(activity.entries_sampled))
    if activity.since is not None:
        text += " " + gettext("Recorded since {when}.").format(when=helpers.moment(activity.since))
    return text


def _key_rows(views: CacheViews, alias: str, activity: Activity[KeyActivity]) -> list[Any]:
    rows = []
    for row in activity.rows:
        token = helpers.token_for(row.raw_key) if row.present else None
        shown = helpers.display_key(row.key)
        rows.append(
            {
                "key": helpers.short(shown),
                "full_key": helpers.short(shown, 2000),
                # A present key opens its page; a missed key with no entry has none to open.
                "url": views.url("key", alias, token) if token is not None else None,
                "present": row.present,
                "size": helpers.size(row.size) if row.present else "",
                "hits": _estimate(row.hits),
                "misses": _estimate(row.misses),
                "ratio": helpers.ratio(row.hit_ratio),
                "score": "" if row.score is None else f"{row.score:g}",
            }
        )
    return rows


def _family_rows(
    views: CacheViews, alias: str, activity: Activity[FamilyActivity]
) -> list[dict[str, Any]]:
    keys_url = views.url("keys", alias)
    # Entries and sizes of a large store are estimated from a sample (Activity.entries_sampled).
    mark = "≈" if activity.entries_sampled is not None else ""
    return [
        {
            "family": helpers.short(helpers.display_key(row.family)) or gettext("(empty key)"),
            "url": f"{keys_url}?{urlencode({'family': row.family})}",
            "entries": mark + helpers.count(row.entries),
            "size": mark + helpers.size(row.size),
            "hits": _estimate(row.hits),
            "misses": _estimate(row.misses),
            "ratio": helpers.ratio(row.hit_ratio),
        }
        for row in activity.rows
    ]


def insight_context(
    views: CacheViews, request: HttpRequest, adapter: VisibleAdapter, alias: str
) -> dict[str, Any]:
    """``{"insight": {...}}`` for the cache page: the three tables, or why there are none."""
    if not adapter.can(Capability.INSIGHT):
        reason = adapter.insight_unavailable()
        return {"insight": {"unavailable": reason}} if adapter.capabilities else {}
    reason = adapter.insight_unavailable()
    if reason is not None:
        return {"insight": {"unavailable": reason}}
    may_see_keys = helpers.has(request, VIEW_KEYS)
    tables = []
    for title, call, kind in (
        (gettext("Hot keys"), lambda: adapter.hot_keys(ROWS), "keys"),
        (gettext("Most-missed keys"), lambda: adapter.missed_keys(ROWS), "keys"),
        (gettext("Families"), lambda: adapter.families(ROWS), "families"),
    ):
        if kind == "keys" and not may_see_keys:
            tables.append(
                {"title": title, "error": gettext("Key names need the view_cache_keys permission.")}
            )
            continue
        activity, error = _attempt(call)
        table: dict[str, Any] = {"title": title, "kind": kind, "error": error}
        if activity is not None:
            table["method"] = _method(activity)
            # Redis: keys ranked by the server's LFU counter, no hit or miss counts.
            table["lfu"] = kind == "keys" and any(
                getattr(row, "score", None) is not None for row in activity.rows
            )
            table["rows"] = (
                _key_rows(views, alias, activity)
                if kind == "keys"
                else _family_rows(views, alias, activity)
            )
        tables.append(table)
    return {"insight": {"tables": tables}}
