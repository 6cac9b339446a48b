"""``AuditEntryAdmin``: the audit trail (admin and command line), read-only, with filters.

Nobody adds, changes or deletes a record here, superusers included: a trail its readers can
edit proves nothing. Retention is ``manage.py cache audit prune --older-than``.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib import admin
from django.db.models import Field, Model, QuerySet
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from ..models import AuditEntry
from .helpers import ReadOnlyAdmin, display_key, short

if TYPE_CHECKING:
    _ModelAdmin = admin.ModelAdmin[AuditEntry]
else:  # ModelAdmin is only generic in the type stubs
    _ModelAdmin = admin.ModelAdmin


class _ValuesFilter(admin.SimpleListFilter):
    # One choice per value found in the trail (aliases and actions are open-ended), under a
    # translated title (the fields have no verbose names: adding them needs a migration).
    field: str

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        values = (
            AuditEntry.objects.order_by(self.field).values_list(self.field, flat=True).distinct()
        )
        return [(value, short(display_key(value), 60)) for value in values[:200]]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        return queryset.filter(**{self.field: value}) if value else queryset


class AliasFilter(_ValuesFilter):
    title = _("cache alias")
    parameter_name = "alias__exact"  # the cache page links here with this parameter
    field = "alias"


class ActionFilter(_ValuesFilter):
    title = _("action")
    parameter_name = "action__exact"
    field = "action"


class ViaFilter(admin.SimpleListFilter):
    title = _("made from")
    parameter_name = "via__exact"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return list(AuditEntry.VIA_CHOICES)

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        return queryset.filter(via=value) if value else queryset


class WhenFilter(admin.DateFieldListFilter):
    def __init__(
        self,
        field: Field[Any, Any],
        request: HttpRequest,
        params: dict[str, Any],
        model: type[Model],
        model_admin: Any,
        field_path: str,
    ) -> None:
        super().__init__(field, request, params, model, model_admin, field_path)
        self.title = str(_("date"))


# The trail is written by diskcache_admin.audit only; nobody edits history.
class AuditEntryAdmin(ReadOnlyAdmin, _ModelAdmin):
    list_display = (
        "when_shown",
        "who_shown",
        "via_shown",
        "cache",
        "action_shown",
        "summary_shown",
    )
    list_filter = (AliasFilter, ActionFilter, ViaFilter, ("when", WhenFilter))
    # The summary names the keys an action touched, so a key is found by searching for it.
    search_fields = ("summary", "who", "user__username", "alias")
    search_help_text = _("Search the keys and texts of the records, the user and the alias.")
    date_hierarchy = "when"
    list_per_page = 50
    fields = readonly_fields = (
        "when_shown",
        "who_shown",
        "user_shown",
        "via_shown",
        "cache",
        "action_shown",
        "summary_shown",
    )

    @admin.display(description=_("when"), ordering="when")
    def when_shown(self, entry: AuditEntry) -> datetime.datetime:
        return entry.when

    @admin.display(description=_("who"), ordering="who")
    def who_shown(self, entry: AuditEntry) -> str:
        return short(display_key(entry.who))

    @admin.display(description=_("user account"))
    def user_shown(self, entry: AuditEntry) -> str:
        # The account's username, not its __str__: a custom user model's can be anything.
        if entry.user_id is None or entry.user is None:
            return "—"
        return short(display_key(str(entry.user.get_username())))

    @admin.display(description=_("made from"), ordering="via")
    def via_shown(self, entry: AuditEntry) -> str:
        return entry.get_via_display()

    @admin.display(description=_("action"), ordering="action")
    def action_shown(self, entry: AuditEntry) -> str:
        return entry.action

    @admin.display(description=_("what happened"))
    def summary_shown(self, entry: AuditEntry) -> str:
        return display_key(entry.summary)

    @admin.display(description=_("cache"), ordering="alias")
    def cache(self, entry: AuditEntry) -> str:
        # The alias links to its cache page while it is configured.
        try:
            url = reverse(
                f"{self.admin_site.name}:diskcache_admin_cache_detail",
                args=(entry.alias,),
                current_app=self.admin_site.name,
            )
        except NoReverseMatch:
            return entry.alias
        if entry.alias not in settings.CACHES:
            return entry.alias
        return format_html('<a href="{}">{}</a>', url, entry.alias)

    def get_queryset(self, request: HttpRequest) -> QuerySet[AuditEntry]:
        return super().get_queryset(request).select_related("user")
