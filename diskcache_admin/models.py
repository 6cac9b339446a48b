"""An unmanaged model: no table, only the admin entry "Caches" and the permissions below."""

from __future__ import annotations

from django.db import models


class Cache(models.Model):
    class Meta:
        managed = False
        default_permissions = ()
        verbose_name = "cache"
        verbose_name_plural = "caches"
        permissions = (
            ("view_cache_stats", "Can view cache statistics"),
            ("view_cache_keys", "Can view cache keys"),
            ("view_cache_values", "Can view cache values"),
            ("delete_cache_keys", "Can delete cache keys"),
            ("clear_cache", "Can clear a cache"),
            ("maintain_cache", "Can run cache maintenance (expire, evict, cull, reset stats)"),
        )

    def __str__(self) -> str:
        return "cache"
