from __future__ import annotations

from django.apps import AppConfig


class DiskCacheAdminConfig(AppConfig):
    name = "diskcache_admin"
    verbose_name = "Caches"
    default_auto_field = "django.db.models.AutoField"

    def ready(self) -> None:
        from . import checks

        checks.register()
