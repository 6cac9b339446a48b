"""cached_view end to end: every safety rule, sync and async, on LocMem, DiskCache and Redis."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace
from typing import Any

import pytest
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.middleware.csrf import get_token
from django.test import RequestFactory, override_settings

from diskcache_admin.decorators import bypass_cache, cached_view

from .helpers import outcomes
from .views import Page

pytestmark = pytest.mark.usefixtures("backend")

rf = RequestFactory()


@pytest.fixture(params=["sync", "async"])
def flavour(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def member(pk: int = 7) -> Any:
    return SimpleNamespace(is_authenticated=True, pk=pk)


def anonymous() -> Any:
    return SimpleNamespace(is_authenticated=False, pk=None)


def get(path: str = "/clubs/chess/", user: Any = None, **extra: Any) -> HttpRequest:
    request = rf.get(path, **extra)
    request.user = user or anonymous()
    return request


def test_a_get_is_cached_and_marked(flavour: str) -> None:
    page = Page(flavour)
    first, second = page(get()), page(get())
    assert page.calls == 1
    assert first["X-Cache"] == "miss"
    assert second["X-Cache"] == "hit"
    assert second.content == first.content == b"page of /clubs/chess/"
    assert second.status_code == 200
    assert second["Content-Type"] == first["Content-Type"]


def test_view_arguments_make_the_key(flavour: str) -> None:
    page = Page(flavour)
    page(get(), slug="chess")
    page(get(), slug="go")
    page(get(), slug="chess")
    assert page.calls == 2


def test_head_is_served_from_the_get_entry_but_never_stored(flavour: str) -> None:
    page = Page(flavour)
    head = rf.head("/clubs/chess/")
    head.user = anonymous()
    assert page(head)["X-Cache"] == "bypass"
    assert page(get())["X-Cache"] == "miss"
    head = rf.head("/clubs/chess/")
    head.user = anonymous()
    assert page(head)["X-Cache"] == "hit"
    assert page.calls == 2


def response_with(**headers: str) -> Callable[[HttpRequest], HttpResponseBase]:
    def respond(request: HttpRequest) -> HttpResponseBase:
        response = HttpResponse("x")
        for name, value in headers.items():
            response.headers[name.replace("_", "-")] = value
        return response

    return respond


def with_cookie(request: HttpRequest) -> HttpResponseBase:
    response = HttpResponse("x")
    response.set_cookie("seen", "1")
    return response


def using_csrf(request: HttpRequest) -> HttpResponseBase:
    return HttpResponse(f"<input value='{get_token(request)}'>")


def streaming(request: HttpRequest) -> HttpResponseBase:
    return StreamingHttpResponse(iter([b"a", b"b"]))


def status(code: int) -> Callable[[HttpRequest], HttpResponseBase]:
    return lambda request: HttpResponse("x", status=code)


REFUSED_RESPONSES = {
    "status 404": status(404),
    "status 500": status(500),
    "status 301": status(301),
    "streaming": streaming,
    "sets a cookie": with_cookie,
    "sets a raw Set-Cookie header": response_with(Set_Cookie="seen=1"),
    "Cache-Control: private": response_with(Cache_Control="private"),
    "Cache-Control: Private (any case)": response_with(Cache_Control="max-age=60, Private"),
    "Cache-Control: NO-STORE": response_with(Cache_Control="NO-STORE"),
    "Cache-Control: no-cache": response_with(Cache_Control="no-cache"),
    'Cache-Control: private="Set-Cookie"': response_with(Cache_Control='private="Set-Cookie"'),
    "Vary: *": response_with(Vary="*"),
    "Vary: padded *": response_with(Vary="Accept-Encoding,  * "),
    "Vary: Cookie without a user key": response_with(Vary="Cookie"),
    "used the CSRF token": using_csrf,
}


@pytest.mark.parametrize("case", REFUSED_RESPONSES, ids=list(REFUSED_RESPONSES))
def test_responses_that_are_never_stored(flavour: str, case: str) -> None:
    page = Page(flavour, REFUSED_RESPONSES[case])
    responses = [page(get()), page(get())]
    assert page.calls == 2
    assert [r["X-Cache"] for r in responses] == ["bypass", "bypass"]


def test_cacheable_response_headers_are_kept_and_unsafe_ones_dropped(flavour: str) -> None:
    page = Page(
        flavour,
        response_with(
            Cache_Control="public", Vary="Accept-Encoding", Content_Language="fr", Connection="x"
        ),
        vary_on=("header:Accept-Encoding",),
    )
    page(get())
    hit = page(get())
    assert hit["X-Cache"] == "hit"
    assert hit["Cache-Control"] == "public"
    assert hit["Content-Language"] == "fr"
    assert "Connection" not in hit


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete", "options"])
def test_only_get_and_head_are_cached(flavour: str, method: str) -> None:
    page = Page(flavour)
    for _ in range(2):
        request = getattr(rf, method)("/clubs/chess/")
        request.user = anonymous()
        assert page(request)["X-Cache"] == "bypass"
    assert page.calls == 2


def test_a_post_does_not_read_the_cached_get(flavour: str) -> None:
    page = Page(flavour)
    page(get())
    request = rf.post("/clubs/chess/")
    request.user = anonymous()
    page(request)
    assert page.calls == 2


def test_authenticated_users_are_not_cached_without_a_user_key(flavour: str) -> None:
    page = Page(flavour)
    page(get())  # an anonymous visitor fills the cache
    responses = [page(get(user=member())), page(get(user=member()))]
    assert [r["X-Cache"] for r in responses] == ["bypass", "bypass"]
    assert page.calls == 3


def test_per_user_pages_are_cached_per_user(flavour: str) -> None:
    page = Page(flavour, per_user=True)
    page(get(user=member(7)))
    page(get(user=member(7)))
    page(get(user=member(8)))
    page(get())
    assert page.calls == 3


def test_per_user_false_shares_the_page(flavour: str) -> None:
    page = Page(flavour, per_user=False)
    page(get())
    assert page(get(user=member()))["X-Cache"] == "hit"
    assert page.calls == 1


def test_an_authorization_header_is_not_cached_unless_keyed(flavour: str) -> None:
    page = Page(flavour)
    page(get(HTTP_AUTHORIZATION="Bearer a"))
    page(get(HTTP_AUTHORIZATION="Bearer a"))
    keyed = Page(flavour, vary_on=("header:Authorization",))
    keyed(get(HTTP_AUTHORIZATION="Bearer a"))
    keyed(get(HTTP_AUTHORIZATION="Bearer a"))
    keyed(get(HTTP_AUTHORIZATION="Bearer b"))
    assert (page.calls, keyed.calls) == (2, 2)


def test_vary_on_a_query_parameter(flavour: str) -> None:
    page = Page(flavour, vary_on=("GET:page",))
    for path in ["/c/?page=1", "/c/?page=1&utm=x", "/c/?page=2", "/c/", "/c/?page="]:
        page(get(path))
    assert page.calls == 4  # utm is not in the key; absent and empty differ


def test_a_key_callable_returning_none_skips_the_cache(flavour: str) -> None:
    page = Page(flavour, key=lambda request, slug: None if "preview" in request.GET else slug)
    page(get("/?preview=1"))
    page(get("/?preview=1"))
    page(get("/"))
    page(get("/"))
    assert page.calls == 3


def test_no_downstream_max_age_unless_asked(flavour: str) -> None:
    plain = Page(flavour)
    responses = [plain(get()), plain(get())]
    for response in responses:
        assert "max-age" not in response.get("Cache-Control", "")
        assert not response.has_header("Expires")
    asked = Page(flavour, max_age=30)
    assert [asked(get())["Cache-Control"] for _ in range(2)] == ["max-age=30", "max-age=30"]


def test_the_hit_header_can_be_renamed_or_turned_off(flavour: str) -> None:
    renamed = Page(flavour, hit_header="X-Page-Cache")
    renamed(get())
    assert renamed(get())["X-Page-Cache"] == "hit"
    silent = Page(flavour, hit_header=False)
    assert not silent(get()).has_header("X-Cache")
    with override_settings(DISKCACHE_ADMIN_CACHE_HEADER=None):
        assert not Page(flavour)(get()).has_header("X-Cache")
    with override_settings(DISKCACHE_ADMIN_CACHE_HEADER="X-From"):
        assert Page(flavour, key="fresh:{slug}")(get())["X-From"] == "miss"


def test_invalidate_with_the_view_arguments(flavour: str) -> None:
    page = Page(flavour, vary_on=("GET:page",))
    page(get("/?page=1"), slug="chess")
    page(get("/?page=2"), slug="chess")
    page(get("/?page=1"), slug="go")
    assert page.view.invalidate(slug="chess") is True
    page(get("/?page=1"), slug="chess")
    page(get("/?page=2"), slug="chess")
    page(get("/?page=1"), slug="go")
    assert page.calls == 5


def test_invalidate_a_plain_key(flavour: str) -> None:
    page = Page(flavour)
    page(get())
    assert page.view.invalidate("ignored-positional", slug="chess") is True
    assert page.view.invalidate(slug="chess") is False
    page(get())
    assert page.calls == 2


def test_bypassing_the_cache(flavour: str) -> None:
    page = Page(flavour)
    page(get())
    with page.view.cache_bypassed():
        assert page(get())["X-Cache"] == "bypass"
    with bypass_cache():
        page(get())
    assert page(get())["X-Cache"] == "hit"
    assert page.calls == 3
    assert page.view.uncached is not page.view


def test_the_stored_payload_is_a_small_dict(flavour: str) -> None:
    page = Page(flavour)
    page(get())
    raw = cache.get(page.view.cache_policy.storage_key(get(), slug="chess"))
    payload = raw["v"]
    assert set(payload) == {"version", "status", "body", "headers"}
    assert payload["status"] == 200
    assert payload["body"] == "page of /clubs/chess/"
    assert not any(name.lower() == "set-cookie" for name, _ in payload["headers"])


def test_outcomes_are_signalled_for_views(flavour: str) -> None:
    page = Page(flavour)
    with outcomes() as seen:
        page(get())
        page(get())
        page(get(user=member()))
    assert seen == ["miss", "hit", "bypass"]


def test_an_uncacheable_cold_page_does_not_queue_requests(flavour: str) -> None:
    page = Page(flavour, status(404))
    page(get())
    # The holder left a short "compute on your own" marker instead of a value.
    with outcomes() as seen:
        page(get())
    assert seen == ["bypass"]
    assert page.calls == 2


def test_concurrent_cold_requests_run_the_view_once() -> None:
    start = threading.Barrier(8)
    calls: list[int] = []

    @cached_view("busy:{slug}")
    def busy(request: HttpRequest, slug: str) -> HttpResponse:
        calls.append(1)
        threading.Event().wait(0.2)
        return HttpResponse(slug)

    def one(_: int) -> bytes:
        start.wait()
        return bytes(busy(get(), slug="x").content)

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(one, range(8))) == {b"x"}
    assert calls == [1]
