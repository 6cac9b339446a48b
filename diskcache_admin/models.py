"""An unmanaged model: no table, only the admin entry "Caches" and the permissions below."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


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


class AuditEntry(models.Model):
    """One destructive or state-changing action on a cache, from the admin or the CLI."""

    VIA_CHOICES = (("admin", "admin"), ("cli", "command line"))

    when = models.DateTimeField(default=timezone.now, db_index=True)
    who = models.CharField(max_length=150, help_text="Username, or the OS user for the CLI.")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    via = models.CharField(max_length=10, choices=VIA_CHOICES)
    alias = models.CharField(max_length=100, db_index=True)
    action = models.CharField(max_length=40)
    summary = models.TextField(blank=True)

    class Meta:
        ordering = ("-when", "-id")
        default_permissions = ("view",)
        verbose_name = "cache audit entry"
        verbose_name_plural = "cache audit entries"

    def __str__(self) -> str:
        return f"{self.when:%Y-%m-%d %H:%M:%S} {self.who} ({self.via}) {self.action} {self.alias}"
