"""An unmanaged model: no table, only the admin entry "Caches" and the permissions below."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Cache(models.Model):
    class Meta:
        managed = False
        default_permissions = ()
        verbose_name = _("cache")
        verbose_name_plural = _("caches")
        permissions = (
            ("view_cache_stats", _("Can view cache statistics")),
            ("view_cache_keys", _("Can view cache keys")),
            ("view_cache_values", _("Can view cache values")),
            ("delete_cache_keys", _("Can delete cache keys")),
            ("clear_cache", _("Can clear a cache")),
            ("maintain_cache", _("Can run cache maintenance (expire, evict, cull, reset stats)")),
        )

    def __str__(self) -> str:
        return "cache"


class AuditEntry(models.Model):
    """One destructive or state-changing action on a cache, from the admin or the CLI."""

    VIA_CHOICES = (("admin", _("admin")), ("cli", _("command line")))

    when = models.DateTimeField(default=timezone.now, db_index=True)
    who = models.CharField(max_length=150, help_text=_("Username, or the OS user for the CLI."))
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
        verbose_name = _("cache audit entry")
        verbose_name_plural = _("cache audit entries")

    def __str__(self) -> str:
        return f"{self.when:%Y-%m-%d %H:%M:%S} {self.who} ({self.via}) {self.action} {self.alias}"
