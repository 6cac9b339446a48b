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


def _basket(request: HttpRequest, slug: str) -> HttpResponse:
    calls.append("basket")
    return HttpResponse(f"basket of {slug}: " + ",".join(request.session.get("basket", [])))


def add_to_basket(request: HttpRequest, item: str) -> HttpResponse:
    request.session["basket"] = [*request.session.get("basket", []), item]
    return HttpResponse("added")


# Built from session data: must never be stored for everybody (issue 12, item 14).
basket = cached_view("basket:{slug}")(_basket)
# The same page keyed on the whole Cookie header, so one entry per session cookie.
basket_per_cookie = cached_view("basket-cookie:{slug}", vary_on=("header:Cookie",))(_basket)


@cached_view("async-basket:{slug}")
async def async_basket(request: HttpRequest, slug: str) -> HttpResponse:
    calls.append("async_basket")
    items = await request.session.aget("basket", [])
    return HttpResponse(f"basket of {slug}: " + ",".join(items))


# per_user=False promises the page shows nothing personal; this one breaks the promise.
@cached_view("greeting:{slug}", per_user=False)
def greeting(request: HttpRequest, slug: str) -> HttpResponse:
    calls.append("greeting")
    return HttpResponse(f"hello {request.user}")


# The default policy loads the user itself (to refuse logged-in users), before the view runs.
@cached_view("welcome:{slug}")
def welcome(request: HttpRequest, slug: str) -> HttpResponse:
    calls.append("welcome")
    return HttpResponse(f"welcome {request.user}")


urlpatterns = [
    path("basket/add/<slug:item>/", add_to_basket),
    path("basket/<slug:slug>/", basket),
    path("basket-per-cookie/<slug:slug>/", basket_per_cookie),
    path("async-basket/<slug:slug>/", async_basket),
    path("greeting/<slug:slug>/", greeting),
    path("welcome/<slug:slug>/", welcome),
    path("cbv/<slug:slug>/", ClubView.as_view()),
    path("async-cbv/<slug:slug>/", AsyncClubView.as_view()),
    path("mixin/<slug:slug>/", MixinClubView.as_view()),
    path("async-mixin/<slug:slug>/", AsyncMixinClubView.as_view()),
    path("form/<slug:slug>/", club_form),
    path("hello/<slug:slug>/", hello),
]
