"""A django-debug-toolbar panel: every cache call of a request, with exact hits and misses.

DiskCache aliases report each call themselves through :mod:`diskcache_admin.instrumentation`,
so hits and misses are exact (a cached value equal to the default is still a hit). Other
backends are observed by wrapping their per-thread instances with our own marker, never the
toolbar's ``_djdt_panel``, so the toolbar's own CachePanel can run beside this one; for them a
``get`` is a hit when the backend's answer is not our private sentinel, which is exact for
``get``, and hit/miss of other operations is labelled "inferred".

Only import this module when django-debug-toolbar is installed (``pip install
django-diskcache-admin[toolbar]``); check ``diskcache_admin.W003`` explains a panel configured
without it.
"""

from __future__ import annotations

import contextlib
import functools
import os
import pickle
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from types import FrameType
from typing import Any

from debug_toolbar.panels import Panel
from django.conf import settings
from django.core import checks
from django.core.cache import caches
from django.core.cache.backends.base import BaseCache
from django.http import HttpRequest, HttpResponse

from . import instrumentation
from .backend import DiskCache
from .checks import disk_aliases
from .conf import conf

PREVIEW_CHARS = 120
OBSERVED_METHODS = (
    "add",
    "get",
    "set",
    "get_or_set",
    "touch",
    "delete",
    "clear",
    "get_many",
    "set_many",
    "delete_many",
    "has_key",
    "incr",
    "decr",
    "incr_version",
    "decr_version",
)
_MARKER = "_diskcache_admin_panel_wrapped"
_SENTINEL = object()

# The panel collecting calls in this context, and whether a wrapped call is already running
# (backends implement get_or_set with get and add; only the outer call is the user's).
_active_panel: ContextVar[DiskCachePanel | None] = ContextVar("diskcache_panel", default=None)
_inside_call: ContextVar[bool] = ContextVar("diskcache_panel_inside", default=False)

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
    try:
        text = repr(value)
    except Exception as exc:  # a user class's __repr__ may raise anything; the panel must not
        text = f"<unrepresentable {type(value).__qualname__}: {exc!r}>"
    if len(text) > PREVIEW_CHARS:
        text = text[: PREVIEW_CHARS - 1] + "…"
    return text


def _alias_of(cache: BaseCache) -> str:
    for alias in settings.CACHES:
        if caches[alias] is cache:
            return alias
    return "?"


class DiskCachePanel(Panel):
    """Cache calls of the request for every alias; store state before/after for DiskCache."""

    title = "Cache calls (diskcache_admin)"
    nav_title = "Caches"
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
        self._undo.append(instrumentation.subscribe(self._record_disk_call))
        token = _active_panel.set(self)
        self._undo.append(lambda: _active_panel.reset(token))
        for alias in settings.CACHES:
            cache = caches[alias]
            if not isinstance(cache, DiskCache):
                _wrap(cache, alias)

    def disable_instrumentation(self) -> None:
        while self._undo:
            undo = self._undo.pop()
            # A token from another context (an async hand-off) has nothing left to undo here.
            with contextlib.suppress(ValueError):
                undo()

    def _record_disk_call(self, call: instrumentation.CacheCall) -> None:
        alias = _alias_of(call.backend)
        values = list(call.values)
        for index, key in enumerate(call.keys or ("",)):
            hit = call.hits[index] if index < len(call.hits) else None
            value = values[index] if index < len(values) else _SENTINEL
            self._add(
                alias,
                type(call.backend).__name__,
                call.operation,
                key,
                hit,
                False,
                call.duration / max(len(call.keys), 1),
                value,
            )

    def record_observed(
        self,
        alias: str,
        cache: BaseCache,
        operation: str,
        key: str,
        hit: bool | None,
        inferred: bool,
        duration: float,
        value: Any,
    ) -> None:
        self._add(alias, type(cache).__name__, operation, key, hit, inferred, duration, value)

    def _add(
        self,
        alias: str,
        backend: str,
        operation: str,
        key: str,
        hit: bool | None,
        inferred: bool,
        duration: float,
        value: Any,
    ) -> None:
        has_value = value is not _SENTINEL
        self.calls.append(
            {
                "alias": alias,
                "backend": backend,
                "operation": operation,
                "key": key,
                "hit": hit,
                "inferred": inferred,
                "ms": round(duration * 1000, 3),
                "size": _size_of(value) if has_value else None,
                "preview": _preview(value) if has_value and conf.PANEL_PREVIEW else None,
                "site": call_site(),
            }
        )

    # -- stats -------------------------------------------------------------------------------

    def _store_states(self) -> dict[str, dict[str, Any]]:
        from .inspection import InspectionError, get_adapter

        states: dict[str, dict[str, Any]] = {}
        for alias, _ in disk_aliases():
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
            alias_totals["hits"] += call["hit"] is True
            alias_totals["misses"] += call["hit"] is False
            operations = alias_totals["operations"]
            operations[call["operation"]] = operations.get(call["operation"], 0) + 1
        after = self._store_states()
        self.record_stats(
            {
                "calls": self.calls,
                "total_calls": len(self.calls),
                "total_ms": round(sum(call["ms"] for call in self.calls), 3),
                "hits": sum(call["hit"] is True for call in self.calls),
                "misses": sum(call["hit"] is False for call in self.calls),
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
            url = key_url(call["alias"], call["key"])
            if url:
                links[f"{call['alias']}\x00{call['key']}"] = url
        return links

    @property
    def nav_subtitle(self) -> str:
        stats = self.get_stats()
        return (
            f"{stats.get('total_calls', 0)} calls, {stats.get('hits', 0)} hits,"
            f" {stats.get('misses', 0)} misses in {stats.get('total_ms', 0):.2f} ms"
        )

    def generate_server_timing(self, request: HttpRequest, response: HttpResponse) -> None:
        stats = self.get_stats()
        self.record_server_timing(
            "diskcache_admin",
            f"Cache {stats.get('total_calls', 0)} calls",
            stats.get("total_ms", 0),
        )

    @classmethod
    def run_checks(cls) -> list[checks.CheckMessage]:
        if any(disk_aliases()):
            return []
        return [
            checks.Info(
                "DiskCachePanel is enabled but no cache alias uses DiskCache.",
                hint="The panel still shows the calls of other backends, with hit/miss labelled"
                " inferred where it cannot be exact.",
                id="diskcache_admin.I001",
            )
        ]


def _wrap(cache: BaseCache, alias: str) -> None:
    """Wrap a non-DiskCache instance once; the wrappers record only while a panel is active."""
    if getattr(cache, _MARKER, False):
        return
    for name in OBSERVED_METHODS:
        original = getattr(cache, name, None)
        if original is not None:
            setattr(cache, name, _observer(cache, alias, name, original))
    setattr(cache, _MARKER, True)


def _observer(
    cache: BaseCache, alias: str, name: str, original: Callable[..., Any]
) -> Callable[..., Any]:
    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        panel = _active_panel.get()
        if panel is None or _inside_call.get():
            return original(*args, **kwargs)
        args, kwargs, default = _with_sentinel_default(name, args, kwargs)
        with _nested():
            started = time.perf_counter()
            result = original(*args, **kwargs)
            duration = time.perf_counter() - started
        _record_wrapped(panel, alias, cache, name, args, kwargs, result, duration)
        return default if result is _SENTINEL else result

    return wrapper


def _with_sentinel_default(
    name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any], Any]:
    # Asking the backend for our private sentinel as the default makes a get's hit/miss exact.
    if name != "get":
        return args, kwargs, None
    kwargs = dict(kwargs)
    if len(args) > 1:
        default = args[1]
        args = (args[0], _SENTINEL, *args[2:])
    else:
        default = kwargs.get("default")
        kwargs["default"] = _SENTINEL
    return args, kwargs, default


@contextmanager
def _nested() -> Iterator[None]:
    token = _inside_call.set(True)
    try:
        yield
    finally:
        _inside_call.reset(token)


def _record_wrapped(
    panel: DiskCachePanel,
    alias: str,
    cache: BaseCache,
    name: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    result: Any,
    duration: float,
) -> None:
    key = args[0] if args else kwargs.get("key", kwargs.get("keys", kwargs.get("data", "")))
    if name == "get":
        hit = result is not _SENTINEL
        panel.record_observed(
            alias, cache, name, str(key), hit, False, duration, result if hit else _SENTINEL
        )
    elif name == "get_many":
        keys = list(key)
        for each in keys:
            hit = each in result
            panel.record_observed(
                alias,
                cache,
                name,
                str(each),
                hit,
                False,
                duration / max(len(keys), 1),
                result.get(each, _SENTINEL),
            )
    elif name in ("set_many", "delete_many"):
        keys = list(key)
        for each in keys:
            panel.record_observed(
                alias, cache, name, str(each), None, False, duration / max(len(keys), 1), _SENTINEL
            )
    elif name == "get_or_set":
        panel.record_observed(alias, cache, name, str(key), None, True, duration, result)
    else:
        panel.record_observed(alias, cache, name, str(key), None, False, duration, _SENTINEL)
