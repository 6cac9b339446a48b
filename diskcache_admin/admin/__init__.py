"""The "Caches" admin: every alias's stats, keys, values and maintenance, on any AdminSite."""

from __future__ import annotations

from django.contrib import admin

from ..models import AuditEntry, Cache
from .audit_entries import AuditEntryAdmin
from .options import CacheAdmin

__all__ = ["AuditEntryAdmin", "CacheAdmin"]

admin.site.register(Cache, CacheAdmin)
admin.site.register(AuditEntry, AuditEntryAdmin)
