"""The admin pages. They talk to :mod:`diskcache_admin.inspection` only, never to a backend."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar

from django.conf import settings
from django.contrib import messages
from django.contrib.admin import AdminSite
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext, gettext_lazy, ngettext

from .. import audit
from ..conf import conf
from ..decorators.keys import owner_of
from ..inspection import (
    Capability,
    InspectionError,
    KeyInfo,
    KeyPage,
    KeyQuery,
    Removal,
    Snapshot,
    get_adapter,
    hit_ratio_series,
)
from ..models import AuditEntry, Cache
from . import charts, helpers, statistics
from .actions import ACTIONS
from .forms import (
    ConfirmForm,
    KeySearchForm,
    KeySelectionForm,
    LookupForm,
    TagForm,
    TouchForm,
    TypeAliasForm,
)
from .helpers import CLEAR, DELETE_KEYS, MAINTAIN, VIEW_KEYS, VIEW_STATS, VIEW_VALUES
from .insight import insight_context
from .visibility import VisibleAdapter

if TYPE_CHECKING:
    from django.forms import Form

T = TypeVar("T")

PREVIEW_SAMPLE = 20

# The inspection layer names its charts and their fixed buckets in English; the page translates
# them. Bars made of keys (families, tags) are data and are never translated.
CHART_WORDS = {
    "Value sizes": gettext_lazy("Value sizes"),
    "Expiry": gettext_lazy("Expiry"),
    "Top key families": gettext_lazy("Top key families"),
    "Top tags": gettext_lazy("Top tags"),
    "expired": gettext_lazy("expired"),
    "within 1 min": gettext_lazy("within 1 min"),
    "within 1 h": gettext_lazy("within 1 h"),
    "within 1 day": gettext_lazy("within 1 day"),
    "later": gettext_lazy("later"),
    "never": gettext_lazy("never"),
}
WORDED = frozenset({"Expiry"})


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

    def adapter(self, alias: str) -> VisibleAdapter:
        """The alias's adapter as the admin may see it: the only way the views reach a cache."""
        if alias not in settings.CACHES:
            raise Http404(gettext("No such cache alias."))
        return VisibleAdapter(get_adapter(alias))

    def existing_key(
        self, alias: str, raw_key: str
    ) -> tuple[VisibleAdapter | None, str | None, str]:
        """``(adapter, error, user key)`` for a page that changes one key.

        An absent key and a hidden key both answer 404 (the adapter answers "absent" for a
        hidden key), before anything else is said. The adapter is ``None`` when it could not be
        reached; the error is the message for the page; the user key is the stored key as the
        user wrote it (the raw key when there is no adapter to tell).
        """
        adapter, error = _attempt(lambda: self.adapter(alias))
        if adapter is None:
            return None, error, raw_key
        exists, error = _attempt(lambda: adapter.exists(raw_key))
        if exists is False:
            raise Http404(gettext("No such key."))
        return adapter, error, adapter.user_key(raw_key)

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

    def capability_list(self, adapter: VisibleAdapter) -> list[str]:
        return [str(helpers.CAPABILITY_LABELS[c]) for c in Capability if adapter.can(c)]

    def backend_facts(self, adapter: VisibleAdapter) -> dict[str, Any]:
        """What the caches list and the cache page both say about an alias's backend."""
        return {
            "backend": adapter.backend_name,
            "kind": adapter.kind,
            "location": adapter.location(),
            "capabilities": self.capability_list(adapter),
            "inspectable": bool(adapter.capabilities),
        }

    @staticmethod
    def can_browse(adapter: VisibleAdapter) -> bool:
        # The keys page has something to show with any of them: a list, a value or metadata.
        return (
            adapter.can(Capability.LIST_KEYS)
            or adapter.can(Capability.PEEK)
            or adapter.can(Capability.KEY_INFO)
        )

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
                self.backend_facts(adapter),
                keys_url=self.url("keys", alias) if self.can_browse(adapter) else None,
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
        context = self.context(request, gettext("Caches"), rows=rows, show_stats=show_stats)
        return self.render(request, "caches.html", context)

    # -- cache detail --------------------------------------------------------------------------

    def detail_view(self, request: HttpRequest, alias: str) -> HttpResponse:
        helpers.require_permissions(request, VIEW_STATS)
        adapter, error = _attempt(lambda: self.adapter(alias))
        context = self.context(
            request, gettext("Cache {alias!r}").format(alias=alias), alias=alias, error=error
        )
        if adapter is None:
            return self.render(request, "detail.html", context)
        context.update(
            self.backend_facts(adapter),
            keys_url=self.url("keys", alias),
            can_browse=self.can_browse(adapter),
        )
        errors: list[str] = [adapter.error] if adapter.error else []
        if adapter.can(Capability.STATS):
            stats, error = _attempt(adapter.stats)
            if error:
                errors.append(error)
            if stats is not None:
                context["stats_rows"] = statistics.stats_rows(stats)
        charts_out = []
        if adapter.can(Capability.HISTOGRAMS):
            histograms, error = _attempt(adapter.histograms)
            if error:
                errors.append(error)
            for histogram in histograms or []:
                title = str(CHART_WORDS.get(histogram.title, histogram.title))
                buckets = [
                    (str(CHART_WORDS.get(label, label)) if histogram.title in WORDED else label, n)
                    for label, n in histogram.buckets
                ]
                estimated = histogram.sampled is not None
                svg = charts.bar_chart(title, buckets, estimated=estimated)
                if estimated:
                    svg = format_html(
                        '{}<p class="help dca-estimated">{}</p>',
                        svg,
                        gettext(
                            "≈ Estimated from {n} entries drawn at random: counting them all"
                            " would read the whole store."
                        ).format(n=helpers.count(histogram.sampled)),
                    )
                charts_out.append((title, svg))
        if adapter.can(Capability.SNAPSHOTS):
            # The in-request sampler: at most one snapshot every five minutes, written to the
            # snapshot table only (no entry, counter or access time changes).
            adapter.take_snapshot_if_due()
            snapshots, error = _attempt(adapter.snapshots)
            if error:
                errors.append(error)
            points = self.ratio_points(snapshots or [])
            if points:
                charts_out.append(
                    (
                        gettext("Hit ratio over time"),
                        charts.line_chart(gettext("Hit ratio over time"), points),
                    )
                )
            else:
                context["no_snapshots"] = True
        context["charts"] = charts_out
        context["errors"] = errors
        context["audit_url"] = self.audit_url(request, alias)
        context.update(insight_context(self, request, adapter, alias))  # admin/insight.py
        context["actions"] = [
            {
                "title": action.title,
                "url": self.url("action", alias, action.slug),
                "danger": action.danger,
                "slug": action.slug,
            }
            for action in ACTIONS.values()
            if action.offered_by(adapter) and helpers.has(request, action.permission)
        ]
        return self.render(request, "detail.html", context)

    def audit_url(self, request: HttpRequest, alias: str) -> str | None:
        """The audit trail of this alias, for users who may read it."""
        if not request.user.has_perm(f"{AuditEntry._meta.app_label}.view_auditentry"):
            return None
        try:
            changelist = reverse(
                f"{self.admin_site.name}:diskcache_admin_auditentry_changelist",
                current_app=self.admin_site.name,
            )
        except NoReverseMatch:  # a custom AdminSite that does not register the audit
            return None
        return f"{changelist}?{urlencode({'alias__exact': alias})}"

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

    @staticmethod
    def page(adapter: VisibleAdapter, query: KeyQuery) -> KeyPage:
        adapter.check_query(query)
        return adapter.keys(query)

    def key_row(self, alias: str, info: KeyInfo) -> dict[str, Any]:
        # A key that is not valid Unicode text (LocMemCache can hold one) has no token: it is
        # listed, but no page opens or deletes it.
        token = helpers.token_for(info.raw_key)
        shown = helpers.display_key(info.key)
        return {
            "info": info,
            "token": token,
            "url": self.url("key", alias, token) if token is not None else None,
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
            else (gettext("never") if info.has_expiry else gettext("unknown")),
            "expires_rel": helpers.relative(info.expires),
        }

    def keys_view(self, request: HttpRequest, alias: str) -> HttpResponse:
        helpers.require_permissions(request, VIEW_KEYS)
        adapter, error = _attempt(lambda: self.adapter(alias))
        context = self.context(
            request,
            gettext("Keys of {alias!r}").format(alias=alias),
            alias=alias,
            error=error,
            crumbs=[(gettext("Keys"), None)],
        )
        if adapter is None:
            return self.render(request, "keys.html", context)
        status = 200
        lookup = LookupForm(request.GET if "key" in request.GET else None)
        if lookup.is_bound:
            if lookup.is_valid():
                raw_key, error = _attempt(
                    lambda: adapter.make_raw_key(
                        lookup.cleaned_data["key"], lookup.cleaned_data["version"]
                    )
                )
                token = helpers.token_for(raw_key) if raw_key is not None else None
                if token is not None:
                    return HttpResponseRedirect(self.url("key", alias, token))
                context["error"] = error or gettext("This key cannot be opened.")
            status = 400
        form = KeySearchForm(request.GET, adapter=adapter)
        valid = form.is_valid()
        context.update(
            form=form,
            lookup=lookup if lookup.is_bound else LookupForm(),
            backend=adapter.backend_name,
            can_list=adapter.can(Capability.LIST_KEYS),
            can_search=adapter.can(Capability.SEARCH),
            can_open=adapter.can(Capability.PEEK) or adapter.can(Capability.KEY_INFO),
            can_delete=adapter.can(Capability.DELETE) and helpers.has(request, DELETE_KEYS),
            hidden_prefixes=adapter.prefixes,
            delete_url=self.url("delete_keys", alias),
            here=request.get_full_path(),
        )
        if not adapter.can(Capability.LIST_KEYS):
            return self.render(request, "keys.html", context, status=status)
        if not valid:
            # A crafted or stale query string: say which parameter is wrong, list nothing.
            return self.render(request, "keys.html", context, status=400)
        query = form.query()
        page, error = _attempt(lambda: self.page(adapter, query))
        if error:
            context["error"] = error
            return self.render(request, "keys.html", context, status=status)
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
        return self.render(request, "keys.html", context, status=status)

    @staticmethod
    def sort_links(
        current: QueryDict, query: KeyQuery, supported: tuple[str, ...]
    ) -> list[dict[str, Any]]:
        links = []
        labels = {
            "key": gettext("Key"),
            "size": gettext("Size"),
            "stored": gettext("Stored"),
            "expires": gettext("Expires"),
        }
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
                    "label": labels[order],
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
        # The page is titled with the key itself (escaped and cut), as a change form is titled
        # with its object; hidden or absent keys get the same title (it is in the URL anyway).
        shown = helpers.display_key(adapter.user_key(raw_key) if adapter is not None else raw_key)
        context = self.context(
            request,
            helpers.short(shown, 120),
            alias=alias,
            error=error,
            raw_key=helpers.short(helpers.display_key(raw_key), 2000),
            crumbs=[
                (gettext("Keys"), self.url("keys", alias)),
                (helpers.short(shown, 60), None),
            ],
        )
        if adapter is None:
            return self.render(request, "key.html", context)
        info: KeyInfo | None = None
        # A hidden key takes exactly the path of an absent one (the adapter answers "absent").
        # With metadata, one key_info read answers both "exists?" and "what is it?".
        exists: bool | None
        if adapter.can(Capability.KEY_INFO):
            info, error = _attempt(lambda: adapter.key_info(raw_key))
            exists = info is not None
        else:
            exists, error = _attempt(lambda: adapter.exists(raw_key))
        if error:
            context["error"] = error
            return self.render(request, "key.html", context)
        user_key = info.key if info is not None else adapter.user_key(raw_key)
        preview = None
        if exists is False:
            pass
        elif adapter.can(Capability.PEEK) and helpers.has(request, VIEW_VALUES):
            preview, error = _attempt(lambda: adapter.preview(raw_key, conf.PREVIEW_LIMIT))
            if error:
                context["value_error"] = error
            elif preview is not None:
                exists = exists or preview.found
                if info is None and not preview.found:
                    exists = False
        elif exists is None and adapter.can(Capability.PEEK):
            found, error = _attempt(lambda: adapter.peek_found(raw_key))
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
        owner = owner_of(user_key)
        if owner is not None:
            context["owner"] = {
                "kind": owner.kind,
                "name": helpers.short(helpers.display_key(owner.name), 300),
                "url": self.url("invalidate", alias, token)
                if self.can_invalidate(request, adapter)
                else None,
            }
        return self.render(request, "key.html", context)

    @staticmethod
    def can_invalidate(request: HttpRequest, adapter: VisibleAdapter) -> bool:
        """Whether "invalidate this function/view" can run: it deletes every key of one prefix."""
        return (
            adapter.can(Capability.SEARCH)
            and adapter.can(Capability.DELETE)
            and "prefix" in adapter.match_modes
            and helpers.has(request, VIEW_KEYS, DELETE_KEYS)
        )

    def invalidate_view(self, request: HttpRequest, alias: str, token: str) -> HttpResponse:
        """Forget every entry of the memoized function or cached view a key belongs to.

        It deletes all keys that start with the owner's prefix (``dca.memo:<function>(`` or
        ``dca.view:<pattern>[``, generation tokens included) through delete-matching, so hidden
        keys are spared as everywhere else.
        """
        helpers.require_permissions(request, VIEW_KEYS, DELETE_KEYS)
        raw_key = helpers.decode_key(token)
        adapter, error, user_key = self.existing_key(alias, raw_key)
        key_url = self.url("key", alias, token)
        owner = owner_of(user_key)
        if owner is None:
            raise Http404(gettext("This key was not written by memoize or cached_view."))
        name = helpers.quoted(owner.name)
        what = (
            gettext("function {name}").format(name=name)
            if owner.kind == "function"
            else gettext("view {name}").format(name=name)
        )
        keys_url = f"{self.url('keys', alias)}?{urlencode({'q': owner.prefix})}"
        context = self.context(
            request,
            gettext("Invalidate the {what}").format(what=what),
            alias=alias,
            error=error,
            crumbs=[
                (gettext("Keys"), self.url("keys", alias)),
                (helpers.short(helpers.display_key(user_key), 60), key_url),
                (gettext("Invalidate"), None),
            ],
            form_url=self.url("invalidate", alias, token),
            next=key_url,
        )
        if adapter is None:
            return self.render(request, "confirm.html", context)
        if not self.can_invalidate(request, adapter):
            context["error"] = str(adapter.unsupported(Capability.SEARCH))
            return self.render(request, "confirm.html", context)
        return self.confirm_matching_removal(
            request,
            adapter,
            context,
            KeyQuery(search=owner.prefix, match="prefix"),
            statement=gettext(
                "{amount} of the {what} are in cache {alias}. All of them will be deleted;"
                " the next calls compute their values again."
            ),
            button=gettext("Yes, invalidate"),
            audit_action="invalidate",
            audit=gettext("Invalidated the {what}: deleted {amount}"),
            message=gettext("Invalidated the {what}: deleted {amount} from {alias}."),
            done_url=keys_url,
            what=what,
        )

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
        selection = KeySelectionForm(request.POST if request.method == "POST" else request.GET)
        valid = selection.is_valid()
        keys_url = self.url("keys", alias)
        next_url = self.safe_next(request, keys_url)
        raw_keys: list[str] = selection.cleaned_data["k"] if valid else []
        context = self.context(
            request,
            gettext("Delete keys"),
            alias=alias,
            error=error,
            crumbs=[(gettext("Keys"), keys_url), (gettext("Delete"), None)],
            next=next_url,
            tokens=[helpers.encode_key(raw_key) for raw_key in raw_keys],
            form_url=self.url("delete_keys", alias),
        )
        if not valid:
            context["error"] = " ".join(str(e) for e in selection.errors.get("k", [])) or str(
                selection.errors
            )
            return self.render(request, "confirm.html", context, status=400)
        if adapter is None:
            return self.render(request, "confirm.html", context)
        if not adapter.can(Capability.DELETE):
            context["error"] = str(adapter.unsupported(Capability.DELETE))
            return self.render(request, "confirm.html", context)
        if not raw_keys:
            messages.info(request, gettext("No keys were selected, so nothing was deleted."))
            return HttpResponseRedirect(next_url)
        entries, error = _attempt(lambda: self.selected(adapter, raw_keys))
        if entries is None:
            context["error"] = error
            return self.render(request, "confirm.html", context)
        form = ConfirmForm(request.POST if "confirm" in request.POST else None)
        if request.method == "POST" and form.is_bound:
            if form.is_valid():
                deleted, error = _attempt(lambda: adapter.delete([raw for raw, _, _ in entries]))
                if error is None:
                    _record(request, alias, "delete", self.deletion_summary(entries, deleted or 0))
                    messages.success(
                        request,
                        ngettext(
                            "Deleted {count} key from {alias}.",
                            "Deleted {count} keys from {alias}.",
                            deleted or 0,
                        ).format(count=deleted, alias=helpers.quoted(alias)),
                    )
                    return HttpResponseRedirect(next_url)
                context["error"] = error
            else:
                return self.render(request, "confirm.html", context, status=400)
        known = [info.size for _, _, info in entries if info is not None and info.size]
        context.update(
            form=form,
            statement=gettext("This deletes {amount} from cache {alias}:").format(
                amount=helpers.amount(len(entries), sum(known) if known else None),
                alias=helpers.quoted(alias),
            ),
            sample=[helpers.short(k) for _, k, _ in entries[:PREVIEW_SAMPLE]],
            sample_more=max(len(entries) - PREVIEW_SAMPLE, 0),
            nothing=not entries,
            button=gettext("Yes, delete"),
            danger=True,
        )
        return self.render(request, "confirm.html", context)

    @staticmethod
    def deletion_summary(entries: list[tuple[str, str, KeyInfo | None]], deleted: int) -> str:
        """The audit text of a key deletion: it names the keys (escaped, cut, at most five).

        Like every text of the admin it is in the page's language (the maintenance actions'
        texts are too); the keys in it stay as they are, so the trail is searched by key.
        """
        if len(entries) == 1:
            return gettext("Deleted key {key}").format(key=helpers.quoted(entries[0][1], 200))
        shown = ", ".join(helpers.quoted(key, 80) for _, key, _ in entries[:5])
        if len(entries) > 5:
            shown = gettext("{keys} and {count} more").format(keys=shown, count=len(entries) - 5)
        return gettext("Deleted {deleted} of {count} selected keys: {keys}").format(
            deleted=deleted, count=len(entries), keys=shown
        )

    @staticmethod
    def selected(
        adapter: VisibleAdapter, raw_keys: list[str]
    ) -> list[tuple[str, str, KeyInfo | None]]:
        """``(stored key, key as shown, metadata)`` of the selected keys that may exist.

        Absent keys and hidden keys are left out alike (the adapter answers "absent" for a
        hidden key), so nothing on the page tells whether a hidden key exists.
        """
        entries = []
        for raw_key in raw_keys:
            info = None
            if adapter.can(Capability.KEY_INFO):
                info = adapter.key_info(raw_key)
                if info is None:
                    continue
            elif adapter.exists(raw_key) is False:
                continue
            user_key = info.key if info is not None else adapter.user_key(raw_key)
            entries.append((raw_key, helpers.display_key(user_key), info))
        return entries

    def matching(self, adapter: VisibleAdapter, query: KeyQuery) -> tuple[Removal, list[KeyInfo]]:
        """How much a "delete all matching" takes, and a sample of it."""
        base = replace(query, cursor=None)
        sample = self.page(adapter, replace(base, limit=PREVIEW_SAMPLE)).keys
        return adapter.count_matching(base), sample

    def confirm_matching_removal(
        self,
        request: HttpRequest,
        adapter: VisibleAdapter,
        context: dict[str, Any],
        query: KeyQuery,
        *,
        statement: str,
        button: str,
        audit_action: str,
        audit: str,
        message: str,
        done_url: str,
        **words: str,
    ) -> HttpResponse:
        """The confirmation page of a "delete every key matching ``query``", and its POST.

        A GET (or an unconfirmed POST) shows how much matches and a sample; a confirmed POST
        deletes, records ``audit`` under ``audit_action``, says ``message`` and goes to
        ``done_url``. The texts are filled with ``{amount}``, ``{alias}`` (quoted) and
        ``words``.
        """
        alias = context["alias"]

        def fill(text: str, removal: Removal) -> str:
            amount = helpers.amount(removal.count, removal.size)
            return text.format(amount=amount, alias=helpers.quoted(alias), **words)

        confirm = ConfirmForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and confirm.is_valid():
            removal, error = _attempt(lambda: adapter.delete_matching(query))
            if removal is not None:
                _record(request, alias, audit_action, fill(audit, removal))
                messages.success(request, fill(message, removal))
                return HttpResponseRedirect(done_url)
            context["error"] = error
            return self.render(request, "confirm.html", context)
        preview, error = _attempt(lambda: self.matching(adapter, query))
        if preview is None:
            context["error"] = error
            return self.render(request, "confirm.html", context)
        removal, sample = preview
        context.update(
            form=confirm,
            statement=fill(statement, removal),
            sample=[helpers.short(helpers.display_key(info.key)) for info in sample],
            sample_more=max((removal.count or 0) - len(sample), 0),
            nothing=removal.count == 0,
            button=button,
            danger=True,
        )
        return self.render(request, "confirm.html", context)

    def delete_matching_view(self, request: HttpRequest, alias: str) -> HttpResponse:
        helpers.require_permissions(request, VIEW_KEYS, DELETE_KEYS)
        adapter, error = _attempt(lambda: self.adapter(alias))
        form = KeySearchForm(request.GET, adapter=adapter)
        valid = form.is_valid()
        query = form.query(with_cursor=False) if valid else KeyQuery()
        params = request.GET.copy()
        params.pop("cursor", None)
        keys_url = f"{self.url('keys', alias)}?{params.urlencode()}"
        context = self.context(
            request,
            gettext("Delete all matching keys"),
            alias=alias,
            error=error,
            crumbs=[(gettext("Keys"), keys_url), (gettext("Delete matching"), None)],
            form_url=f"{self.url('delete_matching', alias)}?{params.urlencode()}",
            next=keys_url,
            criteria=self.describe(query),
        )
        if adapter is None:
            return self.render(request, "confirm.html", context)
        if not (adapter.can(Capability.SEARCH) and adapter.can(Capability.DELETE)):
            context["error"] = str(adapter.unsupported(Capability.SEARCH))
            return self.render(request, "confirm.html", context)
        if not valid:
            context["error"] = gettext("The search is not valid: ") + "; ".join(
                f"{name}: {' '.join(str(e) for e in errors)}"
                for name, errors in form.errors.items()
            )
            return self.render(request, "confirm.html", context, status=400)
        if not form.has_filter():
            context["error"] = gettext(
                "Give a search or a filter first; to remove everything, use Clear on the"
                " cache page."
            )
            return self.render(request, "confirm.html", context)
        return self.confirm_matching_removal(
            request,
            adapter,
            context,
            query,
            statement=gettext(
                "{amount} currently match {criteria} in cache {alias}. All of them will be deleted."
            ),
            button=gettext("Yes, delete all matching keys"),
            audit_action="delete_matching",
            audit=gettext("Deleted {amount} matching {criteria}"),
            message=gettext("Deleted {amount} from {alias}."),
            # Back to the same search (rebuilt from the request's own parameters on our own
            # URL, so it cannot lead anywhere else): it now lists what is left.
            done_url=keys_url,
            criteria=context["criteria"],
        )

    @staticmethod
    def describe(query: KeyQuery) -> str:
        parts = []
        if query.search:
            how = {
                "prefix": gettext("keys starting with {text}"),
                "glob": gettext("keys matching {text}"),
                "substring": gettext("keys containing {text}"),
            }
            parts.append(how[query.match].format(text=helpers.quoted(query.search)))
        if query.family:
            parts.append(gettext("family {name}").format(name=helpers.quoted(query.family)))
        if query.tag is not None:
            parts.append(gettext("tag {name}").format(name=helpers.quoted(query.tag)))
        if query.expired is not None:
            parts.append(gettext("expired") if query.expired else gettext("live"))
        return ", ".join(parts) or gettext("everything")

    def touch_view(self, request: HttpRequest, alias: str, token: str) -> HttpResponse:
        helpers.require_permissions(request, VIEW_KEYS, MAINTAIN)
        raw_key = helpers.decode_key(token)
        adapter, error, shown_key = self.existing_key(alias, raw_key)
        key_url = self.url("key", alias, token)
        context = self.context(
            request,
            gettext("Change expiry"),
            alias=alias,
            error=error,
            crumbs=[
                (gettext("Keys"), self.url("keys", alias)),
                (helpers.short(helpers.display_key(shown_key), 60), key_url),
                (gettext("Expiry"), None),
            ],
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
        if request.method == "POST":
            if not form.is_valid():
                return self.render(request, "touch.html", context, status=400)
            timeout = form.new_timeout()
            touched, error = _attempt(lambda: adapter.touch(raw_key, timeout))
            if error:
                context["error"] = error
            elif not touched:
                context["error"] = gettext("The key no longer exists (it expired or was deleted).")
            else:
                when = (
                    gettext("never expires")
                    if timeout is None
                    else gettext("expires in {seconds:g} s").format(seconds=timeout)
                )
                # The key as the user wrote it, as the deletion records name keys.
                shown = helpers.quoted(shown_key, 200)
                _record(
                    request,
                    alias,
                    "touch",
                    gettext("Key {key} now {when}").format(key=shown, when=when),
                )
                messages.success(request, gettext("The key now {when}.").format(when=when))
                return HttpResponseRedirect(key_url)
        return self.render(request, "touch.html", context)

    # -- maintenance -------------------------------------------------------------------------

    def action_view(self, request: HttpRequest, alias: str, slug: str) -> HttpResponse:
        action = ACTIONS.get(slug)
        if action is None:
            raise Http404(gettext("No such action."))
        helpers.require_permissions(request, action.permission)
        adapter, error = _attempt(lambda: self.adapter(alias))
        detail_url = self.url("detail", alias)
        context = self.context(
            request,
            gettext("{action}: {alias}").format(action=action.title, alias=alias),
            alias=alias,
            error=error,
            crumbs=[(action.title, None)],
            form_url=self.url("action", alias, slug),
            next=detail_url,
            action=action,
            danger=action.danger,
            button=gettext("Yes, {action}").format(action=action.title.lower()),
        )
        if adapter is None:
            return self.render(request, "confirm.html", context)
        if not action.offered_by(adapter):
            context["error"] = str(adapter.unsupported(action.capability))
            return self.render(request, "confirm.html", context)
        context["location"] = adapter.location()
        context["backend"] = adapter.backend_name
        tag = ""
        if action.needs_tag:
            data = request.POST if request.method == "POST" else request.GET
            tag_form = TagForm(data if "tag" in data else None)
            context["tag_form"] = tag_form
            if not tag_form.is_bound or not tag_form.is_valid():
                context["ask_tag"] = True
                status = 400 if tag_form.is_bound else 200
                return self.render(request, "confirm.html", context, status=status)
            tag = tag_form.cleaned_data["tag"]
            context["tag"] = tag
        form: Form
        posted = request.POST if request.method == "POST" and "confirm" in request.POST else None
        form = TypeAliasForm(posted, alias=alias) if action.typed else ConfirmForm(posted)
        context["form"] = form
        if posted is not None and form.is_valid():
            done, error = _attempt(lambda: action.perform(adapter, tag))
            if error is None and done is not None:
                _record(request, alias, action.audit_name, done)
                messages.success(request, gettext("{alias}: {done}").format(alias=alias, done=done))
                return HttpResponseRedirect(detail_url)
            context["error"] = error
        statement, error = _attempt(lambda: action.statement(adapter, tag))
        if error:
            context["error"] = context.get("error") or error
        context["statement"] = statement
        context["blast"] = action.blast_radius(adapter)
        return self.render(request, "confirm.html", context)
