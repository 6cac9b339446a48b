"""A django-debug-toolbar panel: every cache call of a request, with exact hits and misses.

Calls are recorded through :mod:`diskcache_admin.instrumentation`, the same layer ``cache_calls``
reads: DiskCache reports each call itself; other backends are observed by wrappers on their
cache objects that pass the caller's arguments through unchanged (never the toolbar's
``_djdt_panel``, never a default of ours), so the toolbar's own ``CachePanel`` records exactly
the same with or without this panel. A call is one row, whatever number of keys it names; a
``get_many``'s per-key hits and misses, sizes and values are detail rows under it, matched by
key.

Only import this module when django-debug-toolbar is installed (``pip install
django-diskcache-admin[toolbar]``); check ``diskcache_admin.W002`` explains a panel configured
without it.
"""

from __future__ import annotations

import contextlib
import functools
import os
import pickle
import sys
from collections.abc import Callable
from types import FrameType
from typing import Any

from debug_toolbar.panels import Panel
from django.conf import settings
from django.core import checks
from django.core.cache import caches
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import instrumentation
from .checks import check_panel_sees_diskcache, disk_aliases
from .conf import conf
from .inspection._common import bounded_text

PREVIEW_CHARS = 120

_LIBRARY_PATHS = tuple(
    os.path.dirname(path) + os.sep
    for path in (
        sys.modules["django"].__file__ or "",
        sys.modules["asgiref"].__file__ or "",
        sys.modules["debug_toolbar"].__file__ or "",
        __file__,
        functools.__file__,
    )
)


def call_site() -> str:
    """``file:line in function`` of the first frame outside Django, asgiref and this app."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not filename.startswith(_LIBRARY_PATHS) and not filename.startswith("<"):
            return f"{os.path.relpath(filename)}:{frame.f_lineno} in {frame.f_code.co_name}"
        frame = frame.f_back
    return "(outside the request thread)"


def _size_of(value: Any) -> int | None:
    if isinstance(value, (bytes, bytearray)):
        return len(value)
    try:
        return len(pickle.dumps(value, pickle.HIGHEST_PROTOCOL))
    except (pickle.PicklingError, TypeError, AttributeError, RecursionError):
        return None


def _preview(value: Any) -> str:
    # The admin's budgeted walker: a user class's own __repr__ never runs, and a large or
    # deeply shared value costs the request no more than PREVIEW_CHARS of work.
    text, _stopped = bounded_text(value, PREVIEW_CHARS)
    return text


class DiskCachePanel(Panel):
    """Cache calls of the request for every alias; store state before/after for DiskCache.

    It records every call the toolbar's ``CachePanel`` records (the same fifteen methods, the
    same calls), plus exact hits and misses, values and sizes: it can replace that panel.
    """

    title = _("Cache calls (diskcache_admin)")
    nav_title = _("Caches")
    template = "diskcache_admin/panels/cache.html"
    is_async = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.calls: list[dict[str, Any]] = []
        self._undo: list[Callable[[], None]] = []
        self._before: dict[str, dict[str, Any]] = {}

    # -- instrumentation ---------------------------------------------------------------------

    def enable_instrumentation(self) -> None:
        if self._undo:
            return
        self._before = self._store_states()
        # Cache objects created later in the request (a first use, another alias) too.
        instrumentation.install_connection_hook()
        self._undo.append(instrumentation.subscribe(self._record))
        for alias in settings.CACHES:
            instrumentation.instrument(caches[alias], alias)

    def disable_instrumentation(self) -> None:
        while self._undo:
            undo = self._undo.pop()
            # A token from another context (an async hand-off) has nothing left to undo here.
            with contextlib.suppress(ValueError):
                undo()

    def _record(self, call: instrumentation.CacheCall) -> None:
        alias = call.alias or instrumentation.alias_of(call.backend) or "?"
        values = call.value_of()
        preview = conf.PANEL_PREVIEW
        rows = []
        for index, key in enumerate(call.keys):
            has_value = index in values
            value = values.get(index)
            rows.append(
                {
                    "key": key,
                    "ref": f"{alias}\x00{key}",
                    "hit": call.hits[index] if index < len(call.hits) else None,
                    "size": _size_of(value) if has_value else None,
                    "preview": _preview(value) if has_value and preview else None,
                }
            )
        single = rows[0] if len(rows) == 1 else None
        self.calls.append(
            {
                "alias": alias,
                "backend": type(call.backend).__name__,
                "operation": call.operation,
                # One key: shown on the call's own row; several: detail rows under it.
                "key": single["key"] if single else "",
                "ref": single["ref"] if single else "",
                "hit": single["hit"] if single else None,
                "size": single["size"] if single else None,
                "preview": single["preview"] if single else None,
                "keys": rows if len(rows) > 1 else [],
                "hits": sum(row["hit"] is True for row in rows),
                "misses": sum(row["hit"] is False for row in rows),
                "inferred": call.inferred,
                "internal": call.internal,
                "ms": round(call.duration * 1000, 3),
                "site": call_site(),
            }
        )

    # -- stats -------------------------------------------------------------------------------

    def _store_states(self) -> dict[str, dict[str, Any]]:
        from .inspection import InspectionError, get_adapter

        states: dict[str, dict[str, Any]] = {}
        for alias, _config in disk_aliases():
            try:
                stats = get_adapter(alias).stats()
            except InspectionError as exc:
                states[alias] = {"error": str(exc)}
                continue
            states[alias] = {
                "entries": stats.entries,
                "volume": stats.volume,
                "hit_ratio": None if stats.hit_ratio is None else round(stats.hit_ratio, 4),
            }
        return states

    def generate_stats(self, request: HttpRequest, response: HttpResponse) -> None:
        totals: dict[str, dict[str, Any]] = {}
        for call in self.calls:
            alias_totals = totals.setdefault(
                call["alias"], {"calls": 0, "ms": 0.0, "hits": 0, "misses": 0, "operations": {}}
            )
            alias_totals["calls"] += 1
            alias_totals["ms"] = round(alias_totals["ms"] + call["ms"], 3)
            alias_totals["hits"] += call["hits"]
            alias_totals["misses"] += call["misses"]
            operations = alias_totals["operations"]
            operations[call["operation"]] = operations.get(call["operation"], 0) + 1
        after = self._store_states()
        hits = sum(call["hits"] for call in self.calls)
        misses = sum(call["misses"] for call in self.calls)
        self.record_stats(
            {
                "calls": self.calls,
                "total_calls": len(self.calls),
                "total_ms": round(sum(call["ms"] for call in self.calls), 3),
                "hits": hits,
                "misses": misses,
                "hit_ratio": hits / (hits + misses) if hits + misses else None,
                "totals": [{"alias": alias, **data} for alias, data in totals.items()],
                "stores": [
                    {"alias": alias, "before": self._before.get(alias, {}), "after": state}
                    for alias, state in after.items()
                ],
                "preview": conf.PANEL_PREVIEW,
                "key_urls": self._key_urls(request),
            }
        )

    def _key_urls(self, request: HttpRequest) -> dict[str, str]:
        """Admin links for keys the user may see, ``"alias\\x00key" -> url``."""
        user = getattr(request, "user", None)
        if user is None or not user.has_perm("diskcache_admin.view_cache_keys"):
            return {}
        from .admin.links import key_url

        links: dict[str, str] = {}
        for call in self.calls:
            for key in [call["key"], *(row["key"] for row in call["keys"])]:
                if not key:
                    continue
                url = key_url(call["alias"], key)
                if url:
                    links[f"{call['alias']}\x00{key}"] = url
        return links

    @property
    def nav_subtitle(self) -> str:
        stats = self.get_stats()
        calls = stats.get("total_calls", 0)
        return ngettext(
            "%(calls)d call, %(hits)d hits, %(misses)d misses in %(ms).2f ms",
            "%(calls)d calls, %(hits)d hits, %(misses)d misses in %(ms).2f ms",
            calls,
        ) % {
            "calls": calls,
            "hits": stats.get("hits", 0),
            "misses": stats.get("misses", 0),
            "ms": stats.get("total_ms", 0),
        }

    def generate_server_timing(self, request: HttpRequest, response: HttpResponse) -> None:
        stats = self.get_stats()
        self.record_server_timing(
            "diskcache_admin",
            ngettext("Cache %(calls)d call", "Cache %(calls)d calls", stats.get("total_calls", 0))
            % {"calls": stats.get("total_calls", 0)},
            stats.get("total_ms", 0),
        )

    @classmethod
    def run_checks(cls) -> list[checks.CheckMessage]:
        # The toolbar runs a panel's checks only when the panel is configured; the logic (and
        # every other check ID) lives in diskcache_admin.checks.
        return check_panel_sees_diskcache()
