from __future__ import annotations

from django.apps import AppConfig


class ClubsConfig(AppConfig):
    name = "testproject.clubs"
    label = "clubs"
    verbose_name = "Clubs"
    default_auto_field = "django.db.models.AutoField"

    def ready(self) -> None:
        from . import signals  # noqa: F401  (connects the cache invalidation receivers)
