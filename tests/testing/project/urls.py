from __future__ import annotations

from django.core.cache import caches
from django.http import HttpRequest, JsonResponse
from django.urls import path

FRESH = "Tuesday 18:00 yoga"
STALE = "Monday 19:00 boxing"


def club_page(request: HttpRequest) -> JsonResponse:
    """The page of the story: its classes come from the cache when they are there."""
    return JsonResponse(
        {
            alias: caches[alias].get_or_set("club_page_classes", FRESH)
            for alias in ("default", "disk")
        }
    )


def visits(request: HttpRequest) -> JsonResponse:
    request.session["visits"] = request.session.get("visits", 0) + 1
    return JsonResponse({"visits": request.session["visits"]})


def peek(request: HttpRequest, alias: str, key: str) -> JsonResponse:
    return JsonResponse({"value": caches[alias].get(key)})


urlpatterns = [
    path("clubs/", club_page),
    path("visits/", visits),
    path("peek/<str:alias>/<str:key>/", peek),
]
