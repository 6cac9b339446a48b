"""Class-based views (method_decorator and the mixin) and the whole middleware stack."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from asgiref.sync import iscoroutinefunction
from django.contrib.auth.models import User
from django.test import AsyncClient, Client, override_settings

from diskcache_admin.decorators import CachedViewMixin

from . import urls

pytestmark = [
    pytest.mark.usefixtures("backend"),
    pytest.mark.urls("tests.decorators.urls"),
]


@pytest.fixture(autouse=True)
def _calls() -> Iterator[list[str]]:
    urls.calls.clear()
    yield urls.calls
    urls.calls.clear()


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/cbv/chess/", "ClubView"),
        ("/async-cbv/chess/", "AsyncClubView"),
        ("/mixin/chess/", "MixinClubView"),
        ("/async-mixin/chess/", "AsyncMixinClubView"),
    ],
)
def test_class_based_views_are_cached(client: Client, path: str, name: str) -> None:
    first, second = client.get(path), client.get(path)
    assert (first["X-Cache"], second["X-Cache"]) == ("miss", "hit")
    assert second.content == b"club chess" or second.content.startswith(b"club chess page")
    assert urls.calls == [name]


def test_async_views_are_served_by_the_async_client() -> None:
    async def scenario() -> list[str]:
        client = AsyncClient()
        return [(await client.get("/async-cbv/go/"))["X-Cache"] for _ in range(2)]

    from .helpers import run

    assert run(scenario()) == ["miss", "hit"]
    assert urls.calls == ["AsyncClubView"]


def test_the_mixin_keeps_async_views_async() -> None:
    assert iscoroutinefunction(urls.AsyncMixinClubView.as_view())
    assert not iscoroutinefunction(urls.MixinClubView.as_view())


def test_the_policy_of_a_decorated_method_is_reachable(client: Client) -> None:
    client.get("/cbv/chess/")
    assert urls.club_cache.invalidate(slug="chess") is True
    client.get("/cbv/chess/")
    assert urls.calls == ["ClubView", "ClubView"]
    decorator = urls.MixinClubView.get_cache_decorator()
    assert decorator is urls.MixinClubView.get_cache_decorator()
    client.get("/mixin/go/?page=1")
    client.get("/mixin/go/?page=2")
    assert decorator.invalidate(slug="go") is True
    client.get("/mixin/go/?page=1")
    assert urls.calls.count("MixinClubView") == 3


def test_a_mixin_without_a_key_is_an_error() -> None:
    class Keyless(CachedViewMixin):
        pass

    with pytest.raises(TypeError, match="sets no cache_key"):
        Keyless.get_cache_decorator()


def test_a_page_with_a_csrf_token_is_never_cached(client: Client) -> None:
    responses = [client.get("/form/chess/"), client.get("/form/chess/")]
    assert [r["X-Cache"] for r in responses] == ["bypass", "bypass"]
    assert urls.calls == ["club_form", "club_form"]
    assert "csrftoken" in responses[0].cookies


@pytest.mark.django_db
def test_logged_in_users_get_their_own_page(client: Client) -> None:
    alice = User.objects.create_user("alice")
    bob = User.objects.create_user("bob")
    client.force_login(alice)
    assert client.get("/hello/x/").content == b"hello alice"
    assert client.get("/hello/x/")["X-Cache"] == "hit"
    client.force_login(bob)
    assert client.get("/hello/x/").content == b"hello bob"
    client.logout()
    assert client.get("/hello/x/").content == b"hello AnonymousUser"
    assert urls.calls == ["hello", "hello", "hello"]


@pytest.mark.django_db
def test_logged_in_users_bypass_a_shared_page(client: Client) -> None:
    client.get("/cbv/chess/")
    client.force_login(User.objects.create_user("carol"))
    assert client.get("/cbv/chess/")["X-Cache"] == "bypass"
    assert urls.calls == ["ClubView", "ClubView"]


def test_settings_override_is_seen() -> None:
    with override_settings(DISKCACHE_ADMIN_CACHE_HEADER="X-Club-Cache"):
        assert Client().get("/cbv/chess/")["X-Club-Cache"] == "miss"
