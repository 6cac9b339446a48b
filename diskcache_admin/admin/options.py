"""``CacheAdmin``: the admin entry "Caches", with its own pages instead of a change list."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path

from ..models import Cache
from . import helpers
from .views import CacheViews

if TYPE_CHECKING:
    _ModelAdmin = admin.ModelAdmin[Cache]
else:  # ModelAdmin is only generic in the type stubs
    _ModelAdmin = admin.ModelAdmin


# The model has no table: nothing can be added, changed or deleted through ModelAdmin.
class CacheAdmin(helpers.ReadOnlyAdmin, CacheViews, _ModelAdmin):
    """Register with ``site.register(Cache, CacheAdmin)``; works on any ``AdminSite``."""

    def get_urls(self) -> list[URLPattern]:
        info = "diskcache_admin_cache"

        def wrap(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
            return self.admin_site.admin_view(view)

        detail = wrap(self.detail_view)
        return [
            path("", wrap(self.caches_view), name=f"{info}_changelist"),
            path("<str:alias>/", detail, name=f"{info}_detail"),
            # LogEntry.get_admin_url() reverses "_change" with the alias: the cache page.
            path("<str:alias>/", detail, name=f"{info}_change"),
            path("<str:alias>/keys/", wrap(self.keys_view), name=f"{info}_keys"),
            path(
                "<str:alias>/keys/delete/", wrap(self.delete_keys_view), name=f"{info}_delete_keys"
            ),
            path(
                "<str:alias>/keys/delete-matching/",
                wrap(self.delete_matching_view),
                name=f"{info}_delete_matching",
            ),
            path("<str:alias>/key/<str:token>/", wrap(self.key_view), name=f"{info}_key"),
            path(
                "<str:alias>/key/<str:token>/expiry/", wrap(self.touch_view), name=f"{info}_touch"
            ),
            path(
                "<str:alias>/key/<str:token>/invalidate/",
                wrap(self.invalidate_view),
                name=f"{info}_invalidate",
            ),
            path("<str:alias>/do/<slug:slug>/", wrap(self.action_view), name=f"{info}_action"),
        ]

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return helpers.has_any(request)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return helpers.has_any(request)
