"""The demo's club page, tested in the two styles ``cached_view`` allows.

1. The view, with the cache bypassed: what the page shows, as if there were no cache.
2. The policy alone, with RequestFactory: keys, what may be cached, invalidation. The view
   never runs in these tests.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from django.core.cache import cache
from django.http import HttpResponse, HttpResponseNotFound
from django.test import Client, RequestFactory, override_settings
from pytest_django import DjangoAssertNumQueries

from diskcache_admin.decorators import CachePolicy, bypass_cache
from testproject.clubs.factories import ClubClassFactory, ClubFactory
from testproject.clubs.models import Club, ClubClass
from testproject.clubs.views import club_detail

pytestmark = pytest.mark.django_db

URL = "/clubs/riverside-chess-club/"
SLUG = "riverside-chess-club"
rf = RequestFactory()


@pytest.fixture(autouse=True)
def fresh_caches(tmp_path: Path) -> Iterator[None]:
    with override_settings(
        CACHES={
            "default": {
                "BACKEND": "diskcache_admin.backend.DiskCache",
                "LOCATION": str(tmp_path / "cache"),
            },
            "locmem": {
                "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                "LOCATION": f"decorators-demo-{tmp_path.name}",
            },
        }
    ):
        yield


@pytest.fixture
def club() -> Club:
    club = ClubFactory.create(name="Riverside Chess Club")
    ClubClassFactory.create(
        club=club, title="Blitz night", weekday=ClubClass.Weekday.FRIDAY, start_time="20:00"
    )
    ClubClassFactory.create(
        club=club,
        title="Openings for beginners",
        weekday=ClubClass.Weekday.MONDAY,
        start_time=datetime.time(18, 30),
    )
    return club


@pytest.fixture
def policy() -> CachePolicy:
    result: CachePolicy = club_detail.cache_policy
    return result


def visitor(path: str = URL, *, logged_in: bool = False) -> Any:
    request: Any = rf.get(path)
    request.user = SimpleNamespace(is_authenticated=logged_in, pk=1 if logged_in else None)
    return request


# -- 1. the view, with the cache bypassed -------------------------------------------------------


@pytest.mark.usefixtures("club")
def test_the_page_lists_the_classes_by_weekday(client: Client) -> None:
    with club_detail.cache_bypassed():
        content = client.get(URL).content.decode()
    assert content.index("Openings for beginners") < content.index("Blitz night")
    assert "18:30" in content


@pytest.mark.usefixtures("club")
def test_bypassed_every_request_reads_the_database(
    client: Client, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    with bypass_cache():
        for _ in range(2):
            with django_assert_num_queries(2):  # the club, then its classes
                assert client.get(URL)["X-Cache"] == "bypass"


def test_an_unknown_club_is_a_404(client: Client) -> None:
    with club_detail.cache_bypassed():
        assert client.get("/clubs/no-such-club/").status_code == 404


# -- 2. the policy alone: the view never runs ---------------------------------------------------


def test_the_key_names_the_club(policy: CachePolicy) -> None:
    assert policy.key_for(visitor(), slug=SLUG) == "club_page:riverside-chess-club"
    assert policy.key_for(visitor(URL + "?utm_source=x"), slug=SLUG) == (
        "club_page:riverside-chess-club"
    )


def test_logged_in_visitors_share_the_page(policy: CachePolicy) -> None:
    # per_user=False: the page shows nothing personal, so members get the cached copy too.
    assert policy.refusal(visitor(logged_in=True)) is None


def test_what_is_never_cached(policy: CachePolicy) -> None:
    assert policy.is_cacheable(visitor(), HttpResponse("the page"))
    assert not policy.is_cacheable(visitor(), HttpResponseNotFound())
    assert policy.refusal(rf.post(URL)) == "POST requests are never cached"


def test_saving_a_class_invalidates_the_page(club: Club, policy: CachePolicy) -> None:
    key = policy.storage_key(visitor(), slug=SLUG)
    assert key is not None
    cache.set(key, "a cached copy")  # stands in for a cached page; no view runs
    ClubClassFactory.create(club=club, title="Endgame clinic")
    assert cache.get(key) is None


def test_renaming_a_club_invalidates_its_old_page(club: Club, policy: CachePolicy) -> None:
    key = policy.storage_key(visitor(), slug=SLUG)
    assert key is not None
    cache.set(key, "a cached copy")
    club.slug = "riverside-chess"
    club.save()
    assert cache.get(key) is None


# -- and together ------------------------------------------------------------------------------


@pytest.mark.usefixtures("club")
def test_the_second_visit_is_a_hit_without_queries(
    client: Client, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    assert client.get(URL)["X-Cache"] == "miss"
    with django_assert_num_queries(0):
        response = client.get(URL)
    assert response["X-Cache"] == "hit"
    assert b"Blitz night" in response.content
