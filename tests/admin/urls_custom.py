"""A URLconf with only a custom AdminSite, to show the pages do not assume ``admin.site``."""

from __future__ import annotations

from django.contrib.admin import AdminSite
from django.urls import path

from diskcache_admin.admin import CacheAdmin
from diskcache_admin.models import Cache

site = AdminSite(name="ops")
site.site_header = "Operations"
site.register(Cache, CacheAdmin)

urlpatterns = [path("ops/", site.urls)]
