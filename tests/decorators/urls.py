"""Routes for the tests that go through Django's whole middleware stack."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.urls import path
from django.utils.decorators import method_decorator
from django.views import View

from diskcache_admin.decorators import CachedViewMixin, cached_view

calls: list[str] = []

club_cache = cached_view("cbv:{slug}")


@method_decorator(club_cache, name="get")
class ClubView(View):
    def get(self, request: HttpRequest, slug: str) -> HttpResponse:
        calls.append("ClubView")
        return HttpResponse(f"club {slug}")


async_club_cache = cached_view("async-cbv:{slug}")


@method_decorator(async_club_cache, name="get")
class AsyncClubView(View):
    async def get(self, request: HttpRequest, slug: str) -> HttpResponse:
        calls.append("AsyncClubView")
        return HttpResponse(f"club {slug}")


class MixinClubView(CachedViewMixin, View):
    cache_key = "mixin:{slug}"
    cache_vary_on = ("GET:page",)

    def get(self, request: HttpRequest, slug: str) -> HttpResponse:
        calls.append("MixinClubView")
        return HttpResponse(f"club {slug} page {request.GET.get('page')}")


class AsyncMixinClubView(CachedViewMixin, View):
    cache_key = "async-mixin:{slug}"

    async def get(self, request: HttpRequest, slug: str) -> HttpResponse:
        calls.append("AsyncMixinClubView")
        return HttpResponse(f"club {slug}")


@cached_view("form:{slug}")
def club_form(request: HttpRequest, slug: str) -> HttpResponse:
    calls.append("club_form")
    return HttpResponse(f"<form><input name=csrfmiddlewaretoken value='{get_token(request)}'>")


@cached_view("hello:{slug}", vary_on=("user",))
def hello(request: HttpRequest, slug: str) -> HttpResponse:
    calls.append("hello")
    return HttpResponse(f"hello {request.user}")


urlpatterns = [
    path("cbv/<slug:slug>/", ClubView.as_view()),
    path("async-cbv/<slug:slug>/", AsyncClubView.as_view()),
    path("mixin/<slug:slug>/", MixinClubView.as_view()),
    path("async-mixin/<slug:slug>/", AsyncMixinClubView.as_view()),
    path("form/<slug:slug>/", club_form),
    path("hello/<slug:slug>/", hello),
]
