"""``AuditEntryAdmin``: a read-only list of the audit trail (admin and command line)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest

from ..models import AuditEntry

if TYPE_CHECKING:
    _ModelAdmin = admin.ModelAdmin[AuditEntry]
else:  # ModelAdmin is only generic in the type stubs
    _ModelAdmin = admin.ModelAdmin


class AuditEntryAdmin(_ModelAdmin):
    list_display = ("when", "who", "via", "alias", "action", "summary")
    list_filter = ("via", "action", "alias")
    search_fields = ("who", "alias", "summary")
    date_hierarchy = "when"
    readonly_fields = ("when", "who", "user", "via", "alias", "action", "summary")

    # The trail is written by diskcache_admin.audit only; nobody edits history.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False
