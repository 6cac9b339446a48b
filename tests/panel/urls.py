from __future__ import annotations

from debug_toolbar.toolbar import debug_toolbar_urls
from django.core.cache import cache, caches
from django.http import HttpRequest, HttpResponse
from django.urls import path


def cached_page(request: HttpRequest) -> HttpResponse:
    cache.set("panel:page", "<b>hello</b>")
    value = cache.get("panel:page")
    caches["locmem"].get("panel:absent")
    return HttpResponse(f"<html><body>{value}</body></html>")


async def async_page(request: HttpRequest) -> HttpResponse:
    await cache.aset("panel:async", 41)
    value = await cache.aincr("panel:async")
    await cache.aget("panel:async-missing")
    return HttpResponse(f"<html><body>{value}</body></html>")


def many(request: HttpRequest, order: str) -> HttpResponse:
    """get_many in the order asked for, on DiskCache and on LocMem, then two plain gets."""
    keys = list(order)
    cache.set("a", "value-a")
    caches["locmem"].set("a", "value-a")
    cache.get_many(keys)
    caches["locmem"].get_many(keys)
    caches["locmem"].get("a")
    caches["locmem"].get("absent")
    return HttpResponse("<html><body>many</body></html>")


urlpatterns = [
    path("page/", cached_page),
    path("many/<str:order>/", many),
    path("async/", async_page),
    *debug_toolbar_urls(),
]
