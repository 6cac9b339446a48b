"""Pages built from the session (or from the user loaded from it) are never shared.

A view decorator runs inside SessionMiddleware, so it cannot see the ``Vary: Cookie`` the
middleware adds later for a session that was read. ``cached_view`` asks the session itself
(``request.session.accessed``) and refuses to store such a page unless the key varies on the
session cookie. These tests go through Django's whole middleware stack with real sessions.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.contrib.sessions.backends.db import SessionStore
from django.http import HttpRequest, HttpResponse
from django.test import AsyncClient, Client, RequestFactory

from diskcache_admin.decorators import cached_view

from . import urls
from .helpers import run

pytestmark = [
    pytest.mark.usefixtures("backend"),
    pytest.mark.urls("tests.decorators.urls"),
    pytest.mark.django_db,
]

rf = RequestFactory()


@pytest.fixture(autouse=True)
def _calls() -> Iterator[list[str]]:
    urls.calls.clear()
    yield urls.calls
    urls.calls.clear()


def shopper(*items: str) -> Client:
    """A visitor with their own session cookie and these items in the basket."""
    client = Client()
    for item in items:
        assert client.get(f"/basket/add/{item}/").status_code == 200
    return client


def test_a_basket_page_is_not_served_to_the_next_visitor() -> None:
    alice, bob = shopper("apple"), shopper()
    first = alice.get("/basket/fruit/")
    assert first.content == b"basket of fruit: apple"
    assert first["X-Cache"] == "bypass"
    # Bob is anonymous too: with the page stored, he would have received Alice's basket.
    second = bob.get("/basket/fruit/")
    assert second.content == b"basket of fruit: "
    assert second["X-Cache"] == "bypass"
    assert urls.calls == ["basket", "basket"]


def test_an_empty_session_read_is_not_stored_either() -> None:
    # The first visitor has no session yet; reading it still makes the page per-visitor.
    assert Client().get("/basket/fruit/")["X-Cache"] == "bypass"
    assert shopper("pear").get("/basket/fruit/").content == b"basket of fruit: pear"


# The async handler loads the session and the user in other threads: they need committed rows.
@pytest.mark.django_db(transaction=True)
def test_an_async_view_that_reads_the_session_is_not_stored() -> None:
    alice = shopper("apple")

    async def visit(client: AsyncClient) -> Any:
        return await client.get("/async-basket/fruit/")

    as_alice = AsyncClient()
    as_alice.cookies = alice.cookies
    first = run(visit(as_alice))
    second = run(visit(AsyncClient()))
    assert first.content == b"basket of fruit: apple"
    assert second.content == b"basket of fruit: "
    assert [first["X-Cache"], second["X-Cache"]] == ["bypass", "bypass"]


def test_a_key_that_varies_on_the_cookie_caches_each_session_apart() -> None:
    alice, bob = shopper("apple"), shopper("kiwi")
    responses = [alice.get("/basket-per-cookie/fruit/"), alice.get("/basket-per-cookie/fruit/")]
    assert [r["X-Cache"] for r in responses] == ["miss", "hit"]
    assert responses[1].content == b"basket of fruit: apple"
    assert bob.get("/basket-per-cookie/fruit/").content == b"basket of fruit: kiwi"
    assert urls.calls == ["basket", "basket"]


def test_a_shared_page_that_shows_the_user_is_not_stored() -> None:
    member = Client()
    member.force_login(User.objects.create_user("alice"))
    assert member.get("/greeting/x/").content == b"hello alice"
    # per_user=False shares the page, but the view loaded the user from the session.
    assert Client().get("/greeting/x/").content == b"hello AnonymousUser"
    assert urls.calls == ["greeting", "greeting"]


def test_an_anonymous_page_stays_cached_when_only_the_decorator_loaded_the_user() -> None:
    responses = [Client().get("/welcome/x/"), Client().get("/welcome/x/")]
    assert [r["X-Cache"] for r in responses] == ["miss", "hit"]
    assert responses[1].content == b"welcome AnonymousUser"
    # SessionMiddleware still sees the session as read, so downstream caches vary on Cookie.
    assert all("Cookie" in r["Vary"] for r in responses)


def anonymous_request_with_session() -> Any:
    request: Any = rf.get("/")
    request.session = SessionStore()
    request.user = SimpleNamespace(is_authenticated=False, pk=None)
    return request


def test_the_policy_refuses_a_request_whose_session_was_read() -> None:
    policy = cached_view("page")(lambda request: HttpResponse()).cache_policy
    request = anonymous_request_with_session()
    assert policy.is_cacheable(request, HttpResponse("x"))
    request.session.get("basket")
    assert not policy.is_cacheable(request, HttpResponse("x"))
    assert "read the session" in (policy.refusal(request, HttpResponse("x")) or "")
    keyed = cached_view("page", vary_on=("header:Cookie",))(lambda r: HttpResponse()).cache_policy
    assert keyed.is_cacheable(request, HttpResponse("x"))


def test_a_session_read_before_the_view_does_not_count() -> None:
    served: list[int] = []

    @cached_view("before:{slug}")
    def page(request: HttpRequest, slug: str) -> HttpResponse:
        served.append(1)
        return HttpResponse(slug)

    labels = []
    for _ in range(2):
        request = anonymous_request_with_session()
        request.session.get("anything")  # as a middleware might (CSRF_USE_SESSIONS...)
        labels.append(page(request, slug="x")["X-Cache"])
        assert request.session.accessed  # left as it was, for SessionMiddleware
    assert labels == ["miss", "hit"]
    assert served == [1]
