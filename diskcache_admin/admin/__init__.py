"""The "Caches" admin: every alias's stats, keys, values and maintenance, on any AdminSite."""

from __future__ import annotations

from django.contrib import admin

from ..models import Cache
from .options import CacheAdmin

__all__ = ["CacheAdmin"]

admin.site.register(Cache, CacheAdmin)
