"""The admin pages. They talk to :mod:`diskcache_admin.inspection` only, never to a backend."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, TypeVar

from django.conf import settings
from django.contrib import messages
from django.contrib.admin import AdminSite
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from .. import audit
from ..conf import conf
from ..inspection import get_adapter, hit_ratio_series, maybe_take_snapshot
from ..inspection.base import (
    Adapter,
    Capability,
    InspectionError,
    KeyInfo,
    KeyPage,
    KeyQuery,
    Removal,
    Snapshot,
    Stats,
)
from ..models import Cache
from . import charts, helpers
from .forms import ConfirmForm, KeySearchForm, LookupForm, TagForm, TouchForm, TypeAliasForm
from .helpers import CLEAR, DELETE_KEYS, MAINTAIN, VIEW_KEYS, VIEW_STATS, VIEW_VALUES

if TYPE_CHECKING:
    from django.forms import Form

T = TypeVar("T")

PREVIEW_SAMPLE = 20
BATCH = 500


@dataclass(frozen=True)
class Action:
    """A maintenance action on a whole alias."""

    slug: str
    title: str
    capability: Capability
    permission: str
    method: str
    danger: bool = False
    typed: bool = False  # the user types the alias name to confirm


ACTIONS: dict[str, Action] = {
    action.slug: action
    for action in (
        Action("expire", "Purge expired entries", Capability.EXPIRE, MAINTAIN, "expire"),
        Action("evict", "Evict a tag", Capability.EVICT_TAG, MAINTAIN, "evict"),
        Action("cull", "Cull to the limits", Capability.CULL, MAINTAIN, "cull"),
        Action("reset-stats", "Reset statistics", Capability.RESET_STATS, MAINTAIN, "reset_stats"),
        Action(
            "clear", "Clear the cache", Capability.CLEAR, CLEAR, "clear", danger=True, typed=True
        ),
        Action(
            "flush-db",
            "Flush the whole database",
            Capability.FLUSH_DB,
            CLEAR,
            "flush_db",
            danger=True,
            typed=True,
        ),
    )
}


def offers(adapter: Adapter, action: Action) -> bool:
    """Whether ``adapter`` can run ``action``.

    Besides the declared capability, the adapter must implement the method: an action whose
    method is still the base class's would only fail after the user confirmed it.
    """
    implemented = getattr(type(adapter), action.method) is not getattr(Adapter, action.method)
    return adapter.can(action.capability) and implemented


def _attempt(call: Callable[[], T]) -> tuple[T | None, str | None]:
    """Run one adapter call; an inspection failure becomes a message for the page."""
    try:
        return call(), None
    except InspectionError as exc:
        return None, str(exc) or type(exc).__name__


def _record(request: HttpRequest, alias: str, action: str, summary: str) -> None:
    audit.record(alias=alias, action=action, summary=summary, user=request.user, via="admin")


class CacheViews:
    """The views of :class:`~diskcache_admin.admin.CacheAdmin`, one method per page."""

    admin_site: AdminSite

    # -- plumbing ------------------------------------------------------------------------------

    def url(self, name: str, *args: str) -> str:
        return reverse(
            f"{self.admin_site.name}:diskcache_admin_cache_{name}",
            args=args,
            current_app=self.admin_site.name,
        )

    def adapter(self, alias: str) -> Adapter:
        if alias not in settings.CACHES:
            raise Http404(f"No cache alias {alias!r}.")
        return get_adapter(alias)

    def context(self, request: HttpRequest, title: str, **extra: Any) -> dict[str, Any]:
        opts = Cache._meta
        crumbs: list[tuple[str, str | None]] = [
            (str(opts.verbose_name_plural).capitalize(), self.url("changelist"))
        ]
        alias = extra.get("alias")
        if alias is not None:
            crumbs.append((alias, self.url("detail", alias)))
        crumbs.extend(extra.pop("crumbs", []))
        return {
            **self.admin_site.each_context(request),
            "opts": opts,
            "app_label": opts.app_label,
            "title": title,
            "crumbs": crumbs,
            "can": {
                "stats": helpers.has(request, VIEW_STATS),
                "keys": helpers.has(request, VIEW_KEYS),
                "values": helpers.has(request, VIEW_VALUES),
                "delete": helpers.has(request, DELETE_KEYS),
                "clear": helpers.has(request, CLEAR),
                "maintain": helpers.has(request, MAINTAIN),
            },
            **extra,
        }

    def render(
        self, request: HttpRequest, template: str, context: dict[str, Any], status: int = 200
    ) -> TemplateResponse:
        request.current_app = self.admin_site.name
        return TemplateResponse(
            request, f"diskcache_admin/admin/{template}", context, status=status
        )

    @staticmethod
    def user_key(adapter: Adapter | None, raw_key: str) -> str:
        """The key as the user wrote it: from the adapter when it can tell, else a best guess."""
        if adapter is not None and adapter.can(Capability.KEY_INFO):
            info, _ = _attempt(lambda: adapter.key_info(raw_key))
            if info is not None:
                return info.key
        return helpers.user_key_from_raw(raw_key)

    def capability_list(self, adapter: Adapter) -> list[str]:
        return [helpers.CAPABILITY_LABELS[c] for c in Capability if adapter.can(c)]

    # -- caches list ---------------------------------------------------------------------------

    def caches_view(self, request: HttpRequest) -> HttpResponse:
        if not helpers.has_any(request):
            helpers.require_permissions(request, VIEW_STATS)
        show_stats = helpers.has(request, VIEW_STATS)
        rows = []
        for alias, config in settings.CACHES.items():
            row: dict[str, Any] = {"alias": alias, "detail_url": self.url("detail", alias)}
            adapter, error = _attempt(lambda alias=alias: self.adapter(alias))  # type: ignore[misc]
            if adapter is None:
                row.update(backend=str(config.get("BACKEND", "")), error=error, location="")
                rows.append(row)
                continue
            row.update(
                backend=adapter.backend_name,
                kind=adapter.kind,
                location=adapter.location(),
                capabilities=self.capability_list(adapter),
                inspectable=bool(adapter.capabilities),
                keys_url=self.url("keys", alias)
                if adapter.can(Capability.LIST_KEYS)
                or adapter.can(Capability.PEEK)
                or adapter.can(Capability.KEY_INFO)
                else None,
                error=adapter.error,
            )
            if show_stats and adapter.can(Capability.STATS):
                stats, error = _attempt(adapter.stats)
                row["error"] = row["error"] or error
                if stats is not None:
                    row.update(
                        entries=helpers.count(stats.entries),
                        size=helpers.size(stats.size if stats.size is not None else stats.volume),
                        hit_ratio=helpers.ratio(stats.hit_ratio),
                    )
            rows.append(row)
        context = self.context(request, "Caches", rows=rows, show_stats=show_stats)
        return self.render(request, "caches.html", context)

    # -- cache detail --------------------------------------------------------------------------

    def detail_view(self, request: HttpRequest, alias: str) -> HttpResponse:
        helpers.require_permissions(request, VIEW_STATS)
        adapter, error = _attempt(lambda: self.adapter(alias))
        context = self.context(request, f"Cache {alias!r}", alias=alias, error=error)
        if adapter is None:
            return self.render(request, "detail.html", context)
        context.update(
            backend=adapter.backend_name,
            kind=adapter.kind,
            location=adapter.location(),
            capabilities=self.capability_list(adapter),
            inspectable=bool(adapter.capabilities),
            keys_url=self.url("keys", alias),
            can_browse=adapter.can(Capability.LIST_KEYS)
            or adapter.can(Capability.PEEK)
            or adapter.can(Capability.KEY_INFO),
        )
        errors: list[str] = [adapter.error] if adapter.error else []
        if adapter.can(Capability.STATS):
            stats, error = _attempt(adapter.stats)
            if error:
                errors.append(error)
            if stats is not None:
                context["stats_rows"] = self.stats_rows(stats)
        charts_out = []
        if adapter.can(Capability.HISTOGRAMS):
            histograms, error = _attempt(adapter.histograms)
            if error:
                errors.append(error)
            for histogram in histograms or []:
                charts_out.append(
                    (histogram.title, charts.bar_chart(histogram.title, histogram.buckets))
                )
        if adapter.can(Capability.SNAPSHOTS):
            # The in-request sampler: at most one snapshot every five minutes, written to the
            # snapshot table only (no entry, counter or access time changes).
            maybe_take_snapshot(adapter)
            snapshots, error = _attempt(adapter.snapshots)
            if error:
                errors.append(error)
            points = self.ratio_points(snapshots or [])
            if points:
                charts_out.append(
                    ("Hit ratio over time", charts.line_chart("Hit ratio over time", points))
                )
            else:
                context["no_snapshots"] = True
        context["charts"] = charts_out
        context["errors"] = errors
        context["actions"] = [
            {
                "title": action.title,
                "url": self.url("action", alias, action.slug),
                "danger": action.danger,
                "slug": action.slug,
            }
            for action in ACTIONS.values()
            if offers(adapter, action) and helpers.has(request, action.permission)
        ]
        return self.render(request, "detail.html", context)

    @staticmethod
    def stats_rows(stats: Stats) -> list[tuple[str, str]]:
        rows = [("Entries", helpers.count(stats.entries))]
        if stats.expired is not None:
            rows.append(("Expired, not yet purged", helpers.count(stats.expired)))
        if stats.size is not None:
            rows.append(("Size of values", helpers.size(stats.size)))
        if stats.volume is not None:
            volume = helpers.size(stats.volume)
            if stats.size_limit:
                volume += (
                    f" of {helpers.size(stats.size_limit)} ({stats.volume / stats.size_limit:.0%})"
                )
            rows.append(("Volume", volume))
        elif stats.size_limit:
            rows.append(("Size limit", helpers.size(stats.size_limit)))
        if stats.max_entries is not None:
            rows.append(("Max entries", helpers.count(stats.max_entries)))
        if stats.hits is not None or stats.misses is not None:
            rows.append(("Hits", helpers.count(stats.hits)))
            rows.append(("Misses", helpers.count(stats.misses)))
            rows.append(("Hit ratio", helpers.ratio(stats.hit_ratio)))
        if stats.evictions is not None:
            rows.append(("Evictions", helpers.count(stats.evictions)))
        if stats.eviction_policy:
            rows.append(("Eviction policy", stats.eviction_policy))
        for name, value in stats.extra.items():
            rows.append(
                (str(name).replace("_", " ").capitalize(), CacheViews.extra_value(name, value))
            )
        return rows

    @staticmethod
    def extra_value(name: str, value: Any) -> str:
        if value is None:
            return "—"
        if isinstance(value, bool):
            return "on" if value else "off"
        if isinstance(value, (int, float)) and name.endswith(("_since", "_time", "_at")):
            return helpers.moment(float(value))
        if isinstance(value, int):
            return f"{value:,}"
        return str(value)

    @staticmethod
    def ratio_points(snapshots: list[Snapshot]) -> list[tuple[str, float]]:
        """Hit ratio of each interval between snapshots that saw any reads."""
        ordered = sorted(snapshots, key=lambda snapshot: snapshot.taken)
        return [
            (helpers.moment(taken), ratio)
            for taken, ratio in hit_ratio_series(ordered)
            if ratio is not None
        ]

    # -- key browser ---------------------------------------------------------------------------

    def visible_page(self, adapter: Adapter, query: KeyQuery) -> KeyPage:
        """One page of keys; the adapter excludes hidden prefixes, this re-checks the page."""
        adapter.check_query(query)
        page = adapter.keys(query)
        if not conf.HIDDEN_PREFIXES:
            return page
        return KeyPage(
            [info for info in page.keys if not helpers.is_hidden(info.key)], page.next_cursor
        )

    def key_row(self, alias: str, info: KeyInfo) -> dict[str, Any]:
        token = helpers.encode_key(info.raw_key)
        shown = helpers.display_key(info.key)
        return {
            "info": info,
            "token": token,
            "url": self.url("key", alias, token),
            "key": helpers.short(shown),
            "full_key": helpers.short(shown, 2000),
            "family": helpers.display_key(info.family),
            "prefix": helpers.display_key(info.prefix or ""),
            "tag": helpers.display_key(info.tag) if info.tag is not None else "",
            "size": helpers.size(info.size),
            "stored": helpers.moment(info.stored),
            "stored_rel": helpers.relative(info.stored),
            "expires": helpers.moment(info.expires)
            if info.expires is not None
            else ("never" if info.has_expiry else "unknown"),
            "expires_rel": helpers.relative(info.expires),
        }

    def keys_view(self, request: HttpRequest, alias: str) -> HttpResponse:
        helpers.require_permissions(request, VIEW_KEYS)
        adapter, error = _attempt(lambda: self.adapter(alias))
        context = self.context(
            request, f"Keys of {alias!r}", alias=alias, error=error, crumbs=[("Keys", None)]
        )
        if adapter is None:
            return self.render(request, "keys.html", context)
        lookup = LookupForm(request.GET if "key" in request.GET else None)
        if lookup.is_bound and lookup.is_valid():
            raw_key, error = _attempt(
                lambda: adapter.make_raw_key(
                    lookup.cleaned_data["key"], lookup.cleaned_data["version"]
                )
            )
            if raw_key is not None:
                return HttpResponseRedirect(self.url("key", alias, helpers.encode_key(raw_key)))
            context["error"] = error
        form = KeySearchForm(request.GET, adapter=adapter)
        form.is_valid()
        query = form.query()
        context.update(
            form=form,
            lookup=lookup if lookup.is_bound else LookupForm(),
            backend=adapter.backend_name,
            can_list=adapter.can(Capability.LIST_KEYS),
            can_search=adapter.can(Capability.SEARCH),
            can_open=adapter.can(Capability.PEEK) or adapter.can(Capability.KEY_INFO),
            can_delete=adapter.can(Capability.DELETE) and helpers.has(request, DELETE_KEYS),
            hidden_prefixes=conf.HIDDEN_PREFIXES,
            delete_url=self.url("delete_keys", alias),
            here=request.get_full_path(),
        )
        if not adapter.can(Capability.LIST_KEYS):
            return self.render(request, "keys.html", context)
        page, error = _attempt(lambda: self.visible_page(adapter, query))
        if error:
            context["error"] = error
            return self.render(request, "keys.html", context)
        assert page is not None
        context["rows"] = [self.key_row(alias, info) for info in page.keys]
        params = request.GET.copy()
        params.pop("cursor", None)
        base = params.urlencode()
        context["first_url"] = f"?{base}" if query.cursor else None
        if page.next_cursor is not None:
            params["cursor"] = page.next_cursor
            context["next_url"] = f"?{params.urlencode()}"
        filters = form.has_filter()
        context["filtered"] = filters
        if filters and context["can_delete"] and adapter.can(Capability.SEARCH):
            params.pop("cursor", None)
            context["delete_matching_url"] = (
                f"{self.url('delete_matching', alias)}?{params.urlencode()}"
            )
        context["sort_links"] = self.sort_links(request.GET, query, adapter.orders)
        return self.render(request, "keys.html", context)

    @staticmethod
    def sort_links(
        current: QueryDict, query: KeyQuery, supported: tuple[str, ...]
    ) -> list[dict[str, Any]]:
        links = []
        for order in ("key", "size", "stored", "expires"):
            params = current.copy()
            params.pop("cursor", None)
            params["o"] = order
            active = query.order == order
            if active and not query.descending:
                params["desc"] = "1"
            else:
                params.pop("desc", None)
            links.append(
                {
                    "order": order,
                    "url": f"?{params.urlencode()}" if order in supported else None,
                    "active": active,
                    "descending": active and query.descending,
                }
            )
        return links

    # -- key detail ----------------------------------------------------------------------------

    def key_view(self, request: HttpRequest, alias: str, token: str) -> HttpResponse:
        helpers.require_permissions(request, VIEW_KEYS)
        raw_key = helpers.decode_key(token)
        adapter, error = _attempt(lambda: self.adapter(alias))
        context = self.context(
            request,
            "Key",
            alias=alias,
            error=error,
            raw_key=helpers.short(helpers.display_key(raw_key), 2000),
            crumbs=[("Keys", self.url("keys", alias)), ("Key", None)],
        )
        if adapter is None:
            return self.render(request, "key.html", context)
        info: KeyInfo | None = None
        exists: bool | None = None
        if adapter.can(Capability.KEY_INFO):
            info, error = _attempt(lambda: adapter.key_info(raw_key))
            if error:
                context["error"] = error
                return self.render(request, "key.html", context)
            exists = info is not None
        user_key = info.key if info is not None else helpers.user_key_from_raw(raw_key)
        if helpers.is_hidden(user_key):
            raise Http404("No such key.")
        preview = None
        if adapter.can(Capability.PEEK) and helpers.has(request, VIEW_VALUES):
            preview, error = _attempt(lambda: adapter.preview(raw_key, conf.PREVIEW_LIMIT))
            if error:
                context["value_error"] = error
            elif preview is not None:
                exists = exists or preview.found
                if info is None and not preview.found:
                    exists = False
        elif exists is None and adapter.can(Capability.PEEK):
            found, error = _attempt(lambda: adapter.peek(raw_key)[0])
            exists = bool(found) if error is None else None
        if exists is False:
            context["missing"] = True
            return self.render(request, "key.html", context, status=404)
        context.update(
            info=info,
            key=helpers.short(helpers.display_key(user_key), 12_000),
            row=self.key_row(alias, info) if info is not None else None,
            preview=preview,
            preview_text=helpers.safe_text(preview.text) if preview is not None else "",
            preview_size=helpers.size(preview.size) if preview is not None else "",
            preview_limit=helpers.size(conf.PREVIEW_LIMIT),
            can_peek=adapter.can(Capability.PEEK),
            delete_url=self.url("delete_keys", alias)
            if adapter.can(Capability.DELETE) and helpers.has(request, DELETE_KEYS)
            else None,
            touch_url=self.url("touch", alias, token)
            if adapter.can(Capability.TOUCH) and helpers.has(request, MAINTAIN)
            else None,
            token=token,
        )
        return self.render(request, "key.html", context)

    # -- key changes ---------------------------------------------------------------------------

    def safe_next(self, request: HttpRequest, fallback: str) -> str:
        target = request.POST.get("next") or request.GET.get("next") or ""
        if target and url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            return target
        return fallback

    def delete_keys_view(self, request: HttpRequest, alias: str) -> HttpResponse:
        helpers.require_permissions(request, VIEW_KEYS, DELETE_KEYS)
        adapter, error = _attempt(lambda: self.adapter(alias))
        source = request.POST if request.method == "POST" else request.GET
        tokens = source.getlist("k")
        raw_keys = [helpers.decode_key(token) for token in tokens]
        keys_url = self.url("keys", alias)
        next_url = self.safe_next(request, keys_url)
        context = self.context(
            request,
            "Delete keys",
            alias=alias,
            error=error,
            crumbs=[("Keys", keys_url), ("Delete", None)],
            next=next_url,
            tokens=tokens,
            form_url=self.url("delete_keys", alias),
        )
        if adapter is None:
            return self.render(request, "confirm.html", context)
        if not adapter.can(Capability.DELETE):
            context["error"] = str(adapter.unsupported(Capability.DELETE))
            return self.render(request, "confirm.html", context)
        if not raw_keys:
            messages.info(request, "No keys were selected, so nothing was deleted.")
            return HttpResponseRedirect(next_url)
        infos: list[KeyInfo | None] = []
        if adapter.can(Capability.KEY_INFO):
            for raw_key in raw_keys[:BATCH]:
                info, error = _attempt(lambda raw_key=raw_key: adapter.key_info(raw_key))  # type: ignore[misc]
                infos.append(info)
        visible = []
        for index, raw_key in enumerate(raw_keys):
            info = infos[index] if index < len(infos) else None
            user_key = info.key if info is not None else helpers.user_key_from_raw(raw_key)
            if not helpers.is_hidden(user_key):
                visible.append((raw_key, info, user_key))
        known_sizes = [info.size for _, info, _ in visible if info is not None and info.size]
        summary = helpers.amount(len(visible), sum(known_sizes) if known_sizes else None)
        form = ConfirmForm(request.POST if "confirm" in request.POST else None)
        if request.method == "POST" and form.is_valid():
            deleted, error = _attempt(lambda: adapter.delete([raw for raw, _, _ in visible]))
            if error:
                context["error"] = error
            else:
                shown = ", ".join(
                    helpers.short(helpers.display_key(k), 80) for _, _, k in visible[:5]
                )
                more = f" and {len(visible) - 5} more" if len(visible) > 5 else ""
                _record(
                    request,
                    alias,
                    "delete",
                    f"Deleted {deleted} of {len(visible)} selected key(s): {shown}{more}",
                )
                messages.success(request, f"Deleted {deleted} key(s) from {alias!r}.")
                return HttpResponseRedirect(next_url)
        context.update(
            form=form,
            statement=f"This deletes {summary} from cache {alias!r}:",
            sample=[helpers.short(helpers.display_key(k)) for _, _, k in visible[:PREVIEW_SAMPLE]],
            sample_more=max(len(visible) - PREVIEW_SAMPLE, 0),
            button="Yes, delete",
            danger=True,
        )
        return self.render(request, "confirm.html", context)

    def matching(self, adapter: Adapter, query: KeyQuery) -> tuple[Removal, list[KeyInfo]]:
        """How much a "delete all matching" takes, and a sample of it."""
        base = replace(query, cursor=None)
        sample = self.visible_page(adapter, replace(base, limit=PREVIEW_SAMPLE)).keys
        return adapter.count_matching(base), sample

    def delete_matching_view(self, request: HttpRequest, alias: str) -> HttpResponse:
        helpers.require_permissions(request, VIEW_KEYS, DELETE_KEYS)
        adapter, error = _attempt(lambda: self.adapter(alias))
        form = KeySearchForm(request.GET, adapter=adapter)
        form.is_valid()
        query = form.query(with_cursor=False)
        params = request.GET.copy()
        params.pop("cursor", None)
        keys_url = f"{self.url('keys', alias)}?{params.urlencode()}"
        context = self.context(
            request,
            "Delete all matching keys",
            alias=alias,
            error=error,
            crumbs=[("Keys", keys_url), ("Delete matching", None)],
            form_url=f"{self.url('delete_matching', alias)}?{params.urlencode()}",
            next=keys_url,
            criteria=self.describe(query),
        )
        if adapter is None:
            return self.render(request, "confirm.html", context)
        if not (adapter.can(Capability.SEARCH) and adapter.can(Capability.DELETE)):
            context["error"] = str(adapter.unsupported(Capability.SEARCH))
            return self.render(request, "confirm.html", context)
        if not form.has_filter():
            context["error"] = (
                "Give a search or a filter first; to remove everything, use Clear on the"
                " cache page."
            )
            return self.render(request, "confirm.html", context)
        confirm = ConfirmForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and confirm.is_valid():
            removal, error = _attempt(lambda: adapter.delete_matching(query))
            if removal is not None:
                summary = helpers.amount(removal.count, removal.size)
                _record(
                    request,
                    alias,
                    "delete_matching",
                    f"Deleted {summary} matching {context['criteria']}",
                )
                messages.success(request, f"Deleted {summary} from {alias!r}.")
                return HttpResponseRedirect(self.url("keys", alias))
            context["error"] = error
            return self.render(request, "confirm.html", context)
        preview, error = _attempt(lambda: self.matching(adapter, query))
        if preview is None:
            context["error"] = error
            return self.render(request, "confirm.html", context)
        removal, sample = preview
        context.update(
            form=confirm,
            statement=(
                f"{helpers.amount(removal.count, removal.size)} currently match"
                f" {context['criteria']} in cache {alias!r}. All of them will be deleted."
            ),
            sample=[helpers.short(helpers.display_key(info.key)) for info in sample],
            sample_more=max((removal.count or 0) - len(sample), 0),
            nothing=removal.count == 0,
            button="Yes, delete all matching keys",
            danger=True,
        )
        return self.render(request, "confirm.html", context)

    @staticmethod
    def describe(query: KeyQuery) -> str:
        parts = []
        if query.search:
            how = {"prefix": "starting with", "glob": "matching", "substring": "containing"}
            parts.append(f"keys {how[query.match]} {helpers.short(query.search, 200)!r}")
        if query.family:
            parts.append(f"family {query.family!r}")
        if query.tag is not None:
            parts.append(f"tag {query.tag!r}")
        if query.expired is not None:
            parts.append("expired" if query.expired else "live")
        return ", ".join(parts) or "everything"

    def touch_view(self, request: HttpRequest, alias: str, token: str) -> HttpResponse:
        helpers.require_permissions(request, VIEW_KEYS, MAINTAIN)
        raw_key = helpers.decode_key(token)
        adapter, error = _attempt(lambda: self.adapter(alias))
        if helpers.is_hidden(self.user_key(adapter, raw_key)):
            raise Http404("No such key.")
        key_url = self.url("key", alias, token)
        context = self.context(
            request,
            "Change expiry",
            alias=alias,
            error=error,
            crumbs=[("Keys", self.url("keys", alias)), ("Key", key_url), ("Expiry", None)],
            raw_key=helpers.short(helpers.display_key(raw_key), 2000),
            form_url=self.url("touch", alias, token),
            next=key_url,
        )
        form = TouchForm(request.POST if request.method == "POST" else None)
        context["touch_form"] = form
        if adapter is None:
            return self.render(request, "touch.html", context)
        if not adapter.can(Capability.TOUCH):
            context["error"] = str(adapter.unsupported(Capability.TOUCH))
            return self.render(request, "touch.html", context)
        if request.method == "POST" and form.is_valid():
            timeout = form.new_timeout()
            touched, error = _attempt(lambda: adapter.touch(raw_key, timeout))
            if error:
                context["error"] = error
            elif not touched:
                context["error"] = "The key no longer exists (it expired or was deleted)."
            else:
                when = "never expires" if timeout is None else f"expires in {timeout:g} s"
                shown = helpers.short(helpers.display_key(raw_key), 200)
                _record(request, alias, "touch", f"Key {shown} now {when}")
                messages.success(request, f"The key now {when}.")
                return HttpResponseRedirect(key_url)
        return self.render(request, "touch.html", context)

    # -- maintenance -------------------------------------------------------------------------

    def action_view(self, request: HttpRequest, alias: str, slug: str) -> HttpResponse:
        action = ACTIONS.get(slug)
        if action is None:
            raise Http404("No such action.")
        helpers.require_permissions(request, action.permission)
        adapter, error = _attempt(lambda: self.adapter(alias))
        detail_url = self.url("detail", alias)
        context = self.context(
            request,
            f"{action.title}: {alias}",
            alias=alias,
            error=error,
            crumbs=[(action.title, None)],
            form_url=self.url("action", alias, slug),
            next=detail_url,
            action=action,
            danger=action.danger,
            button=f"Yes, {action.title.lower()}",
        )
        if adapter is None:
            return self.render(request, "confirm.html", context)
        if not offers(adapter, action):
            context["error"] = str(adapter.unsupported(action.capability))
            return self.render(request, "confirm.html", context)
        context["location"] = adapter.location()
        context["backend"] = adapter.backend_name
        tag = ""
        if slug == "evict":
            tag_form = TagForm(request.POST if request.method == "POST" else request.GET or None)
            context["tag_form"] = tag_form
            if not tag_form.is_bound or not tag_form.is_valid():
                context["ask_tag"] = True
                return self.render(request, "confirm.html", context)
            tag = tag_form.cleaned_data["tag"]
            context["tag"] = tag
        form: Form
        posted = request.POST if request.method == "POST" and "confirm" in request.POST else None
        form = TypeAliasForm(posted, alias=alias) if action.typed else ConfirmForm(posted)
        context["form"] = form
        if posted is not None and form.is_valid():
            done, error = _attempt(lambda: self.perform(adapter, slug, tag))
            if error is None and done is not None:
                _record(request, alias, slug.replace("-", "_"), done)
                messages.success(request, f"{alias}: {done}")
                return HttpResponseRedirect(detail_url)
            context["error"] = error
        statement, error = _attempt(lambda: self.statement(adapter, slug, tag))
        if error:
            context["error"] = error
        context["statement"] = statement
        context["blast"] = self.blast_radius(adapter, slug)
        return self.render(request, "confirm.html", context)

    def statement(self, adapter: Adapter, slug: str, tag: str) -> str:
        """What the action will remove, as exactly as the backend can tell."""
        alias = adapter.alias
        if slug == "clear":
            removal = adapter.clear_preview()
            return (
                f"This deletes {helpers.amount(removal.count, removal.size)} from cache {alias!r}."
            )
        if slug == "flush-db":
            return (
                f"This deletes EVERY key in the database at {adapter.location()}, not only the"
                f" entries of cache {alias!r}."
            )
        if slug == "expire":
            if adapter.can(Capability.SEARCH):
                removal = adapter.count_matching(KeyQuery(expired=True))
                what = helpers.amount(removal.count, removal.size)
            else:
                what = helpers.amount(adapter.stats().expired, None)
            return f"This purges {what} that have expired but are still stored in {alias!r}."
        if slug == "evict":
            if adapter.can(Capability.SEARCH):
                removal = adapter.count_matching(KeyQuery(tag=tag))
                what = helpers.amount(removal.count, removal.size)
            else:
                what = "every entry"
            return f"This deletes {what} stored with tag {tag!r} in {alias!r}."
        if slug == "cull":
            stats = adapter.stats()
            parts = [f"Expired entries ({helpers.count(stats.expired)}) are purged first."]
            if stats.max_entries is not None and stats.entries is not None:
                over = max(stats.entries - stats.max_entries, 0)
                parts.append(
                    f"{stats.entries:,} entries against a limit of {stats.max_entries:,}:"
                    f" {over:,} over."
                )
            if stats.size_limit is not None:
                current = stats.volume if stats.volume is not None else stats.size
                if current is not None:
                    parts.append(
                        f"{helpers.size(current)} against a size limit of"
                        f" {helpers.size(stats.size_limit)}:"
                        f" {helpers.size(max(current - stats.size_limit, 0))} over."
                    )
            parts.append("Then the oldest entries go until the store is within its limits.")
            return " ".join(parts)
        if slug == "reset-stats":
            stats = adapter.stats()
            return (
                f"This resets the hit and miss counters ({helpers.count(stats.hits)} hits,"
                f" {helpers.count(stats.misses)} misses) and the statistics snapshots of"
                f" {alias!r}. No entry is removed."
            )
        raise Http404("No such action.")

    @staticmethod
    def blast_radius(adapter: Adapter, slug: str) -> str:
        if slug == "flush-db":
            return (
                "Other cache aliases and any other application that share this database lose"
                " their data too. This cannot be undone."
            )
        if slug == "clear":
            return "This cannot be undone."
        return ""

    @staticmethod
    def perform(adapter: Adapter, slug: str, tag: str) -> str:
        if slug == "clear":
            removal = adapter.clear()
            return f"Cleared: {helpers.amount(removal.count, removal.size)} removed."
        if slug == "flush-db":
            adapter.flush_db()
            return f"Flushed the whole database at {adapter.location()}."
        if slug == "expire":
            removal = adapter.expire()
            return f"Purged {helpers.amount(removal.count, removal.size)} (expired)."
        if slug == "evict":
            removal = adapter.evict(tag)
            return f"Evicted tag {tag!r}: {helpers.amount(removal.count, removal.size)} removed."
        if slug == "cull":
            removal = adapter.cull()
            return f"Culled: {helpers.amount(removal.count, removal.size)} removed."
        if slug == "reset-stats":
            adapter.reset_stats()
            return "Statistics reset."
        raise Http404("No such action.")
