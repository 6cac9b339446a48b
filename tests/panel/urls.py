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


urlpatterns = [
    path("page/", cached_page),
    path("async/", async_page),
    *debug_toolbar_urls(),
]
