from __future__ import annotations

from typing import Any

from django.core.cache import cache, caches
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from .cache import CLASSES_TIMEOUT, INDEX_CACHE, INDEX_KEY, INDEX_TIMEOUT, classes_key
from .models import Club, ClubClass


def index(request: HttpRequest) -> HttpResponse:
    index_cache = caches[INDEX_CACHE]
    clubs: list[dict[str, Any]] | None = index_cache.get(INDEX_KEY)
    from_cache = clubs is not None
    if clubs is None:
        clubs = [{"name": c.name, "slug": c.slug, "city": c.city} for c in Club.objects.all()]
        index_cache.set(INDEX_KEY, clubs, INDEX_TIMEOUT)
    return render(request, "clubs/index.html", {"clubs": clubs, "from_cache": from_cache})


def club_detail(request: HttpRequest, slug: str) -> HttpResponse:
    club = get_object_or_404(Club, slug=slug)
    key = classes_key(slug)
    # Plain dicts rather than model instances: they survive model changes between deploys and
    # read well in the admin's value preview.
    classes: list[dict[str, Any]] | None = cache.get(key)
    from_cache = classes is not None
    if classes is None:
        classes = timetable(club)
        cache.set(key, classes, CLASSES_TIMEOUT)
    context = {"club": club, "classes": classes, "from_cache": from_cache, "cache_key": key}
    return render(request, "clubs/club_detail.html", context)


def timetable(club: Club) -> list[dict[str, Any]]:
    """The club's classes as the page shows them (and as the cache keeps them)."""
    return [
        {
            "title": c.title,
            "weekday": c.get_weekday_display(),
            "start_time": c.start_time,
            "level": c.get_level_display(),
        }
        for c in ClubClass.objects.filter(club=club)
    ]
