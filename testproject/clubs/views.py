from __future__ import annotations

from typing import Any

from django.core.cache import caches
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from diskcache_admin.decorators import cached_view

from .cache import INDEX_CACHE, INDEX_KEY, INDEX_TIMEOUT, PAGE_KEY, PAGE_TIMEOUT
from .models import Club, ClubClass


def index(request: HttpRequest) -> HttpResponse:
    index_cache = caches[INDEX_CACHE]
    clubs: list[dict[str, Any]] | None = index_cache.get(INDEX_KEY)
    from_cache = clubs is not None
    if clubs is None:
        clubs = [{"name": c.name, "slug": c.slug, "city": c.city} for c in Club.objects.all()]
        index_cache.set(INDEX_KEY, clubs, INDEX_TIMEOUT)
    return render(request, "clubs/index.html", {"clubs": clubs, "from_cache": from_cache})


# The whole page is cached, per club and shared by every visitor (it shows nothing personal).
# Saving or deleting a club or a class calls club_detail.invalidate(slug=...) (see cache.py).
@cached_view(PAGE_KEY, timeout=PAGE_TIMEOUT, per_user=False)
def club_detail(request: HttpRequest, slug: str) -> HttpResponse:
    club = get_object_or_404(Club, slug=slug)
    context = {"club": club, "classes": timetable(club), "cache_key": PAGE_KEY.format(slug=slug)}
    return render(request, "clubs/club_detail.html", context)


def timetable(club: Club) -> list[dict[str, Any]]:
    """The club's classes as the page shows them."""
    return [
        {
            "title": c.title,
            "weekday": c.get_weekday_display(),
            "start_time": c.start_time,
            "level": c.get_level_display(),
        }
        for c in ClubClass.objects.filter(club=club)
    ]
