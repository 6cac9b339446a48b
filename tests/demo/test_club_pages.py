from __future__ import annotations

import datetime

import pytest
from django.core.cache import cache, caches
from django.test import Client, RequestFactory
from pytest_django import DjangoAssertNumQueries, DjangoCaptureOnCommitCallbacks

from diskcache_admin.backend import DiskCache
from testproject.clubs.cache import INDEX_CACHE, INDEX_KEY, PAGE_TIMEOUT
from testproject.clubs.factories import ClubClassFactory, ClubFactory
from testproject.clubs.models import Club, ClubClass
from testproject.clubs.views import club_detail

pytestmark = pytest.mark.django_db


def page_key(slug: str) -> str:
    """The cache key of the club page (what ``cached_view`` stores it under)."""
    key = club_detail.cache_policy.storage_key(RequestFactory().get("/"), slug=slug)
    assert key is not None
    return key


@pytest.fixture
def club() -> Club:
    club = ClubFactory.create(name="Riverside Chess Club", city="Lyon")
    ClubClassFactory.create(
        club=club, title="Blitz night", weekday=ClubClass.Weekday.FRIDAY, start_time="20:00"
    )
    ClubClassFactory.create(
        club=club,
        title="Openings for beginners",
        weekday=ClubClass.Weekday.MONDAY,
        start_time=datetime.time(18, 30),
        level=ClubClass.Level.BEGINNER,
    )
    return club


def test_index_lists_clubs_with_links(client: Client, club: Club) -> None:
    response = client.get("/")

    assert response.status_code == 200
    assert b"Riverside Chess Club" in response.content
    assert b'href="/clubs/riverside-chess-club/"' in response.content


def test_index_is_cached_in_the_locmem_alias(
    client: Client, club: Club, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    client.get("/")

    with django_assert_num_queries(0):
        response = client.get("/")

    assert response.context["from_cache"] is True
    assert caches[INDEX_CACHE].get(INDEX_KEY) == [
        {"name": "Riverside Chess Club", "slug": "riverside-chess-club", "city": "Lyon"}
    ]


def test_club_page_lists_classes_by_weekday(client: Client, club: Club) -> None:
    response = client.get("/clubs/riverside-chess-club/")

    assert response.status_code == 200
    assert response["X-Cache"] == "miss"
    content = response.content.decode()
    assert content.index("Openings for beginners") < content.index("Blitz night")
    assert "Monday" in content
    assert "18:30" in content
    assert "Beginner" in content


def test_unknown_club_is_404(client: Client) -> None:
    assert client.get("/clubs/no-such-club/").status_code == 404


def test_second_request_is_served_from_the_cache(
    client: Client, club: Club, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    with django_assert_num_queries(2):  # the club, then its classes
        client.get("/clubs/riverside-chess-club/")

    with django_assert_num_queries(0):  # the whole page comes from the cache
        response = client.get("/clubs/riverside-chess-club/")

    assert response["X-Cache"] == "hit"
    assert b"Blitz night" in response.content
    assert b"club_page:riverside-chess-club" in response.content


def test_the_page_is_cached_under_its_key_with_a_timeout(client: Client, club: Club) -> None:
    client.get("/clubs/riverside-chess-club/")

    disk = caches["default"]
    assert isinstance(disk, DiskCache)
    entry = disk.entry(page_key("riverside-chess-club"))
    assert entry is not None
    assert entry.expire_time is not None
    assert entry.expire_time - entry.store_time == pytest.approx(PAGE_TIMEOUT, abs=1)


def test_adding_a_class_invalidates_the_page(client: Client, club: Club) -> None:
    client.get("/clubs/riverside-chess-club/")

    ClubClassFactory.create(club=club, title="Endgame clinic", weekday=ClubClass.Weekday.WEDNESDAY)

    assert cache.get(page_key(club.slug)) is None
    response = client.get("/clubs/riverside-chess-club/")
    assert response["X-Cache"] == "miss"
    assert b"Endgame clinic" in response.content


def test_editing_a_class_invalidates_the_page(client: Client, club: Club) -> None:
    client.get("/clubs/riverside-chess-club/")
    blitz = ClubClass.objects.get(title="Blitz night")

    blitz.title = "Rapid night"
    blitz.save()

    content = client.get("/clubs/riverside-chess-club/").content
    assert b"Rapid night" in content
    assert b"Blitz night" not in content


def test_deleting_a_class_invalidates_the_page(client: Client, club: Club) -> None:
    client.get("/clubs/riverside-chess-club/")

    ClubClass.objects.get(title="Blitz night").delete()

    assert cache.get(page_key(club.slug)) is None
    assert b"Blitz night" not in client.get("/clubs/riverside-chess-club/").content


def test_moving_a_class_invalidates_both_clubs(client: Client, club: Club) -> None:
    other = ClubFactory.create(name="Harbour Rowing Club")
    client.get("/clubs/riverside-chess-club/")
    client.get("/clubs/harbour-rowing-club/")
    blitz = ClubClass.objects.get(title="Blitz night")

    blitz.club = other
    blitz.save()

    assert cache.get(page_key(club.slug)) is None
    assert cache.get(page_key(other.slug)) is None
    assert b"Blitz night" in client.get("/clubs/harbour-rowing-club/").content
    assert b"Blitz night" not in client.get("/clubs/riverside-chess-club/").content


def test_changing_a_club_slug_drops_the_old_entry(client: Client, club: Club) -> None:
    client.get("/clubs/riverside-chess-club/")

    club.slug = "riverside-chess"
    club.save()

    assert cache.get(page_key("riverside-chess-club")) is None


def test_deleting_a_club_drops_its_entries(client: Client, club: Club) -> None:
    client.get("/")
    client.get("/clubs/riverside-chess-club/")

    club.delete()

    assert cache.get(page_key("riverside-chess-club")) is None
    assert caches[INDEX_CACHE].get(INDEX_KEY) is None
    assert b"Riverside" not in client.get("/").content


def test_a_new_club_shows_on_the_index(client: Client, club: Club) -> None:
    client.get("/")

    ClubFactory.create(name="Old Town Choir")

    assert b"Old Town Choir" in client.get("/").content


def test_saving_a_class_in_the_admin_invalidates_the_page(
    admin_client: Client, client: Client, club: Club
) -> None:
    client.get("/clubs/riverside-chess-club/")
    blitz = ClubClass.objects.get(title="Blitz night")

    response = admin_client.post(
        f"/admin/clubs/clubclass/{blitz.pk}/change/",
        {
            "club": club.pk,
            "title": "Bullet night",
            "weekday": ClubClass.Weekday.FRIDAY,
            "start_time": "20:00",
            "level": ClubClass.Level.ALL,
        },
    )

    assert response.status_code == 302
    assert b"Bullet night" in client.get("/clubs/riverside-chess-club/").content


def test_entries_cached_before_the_commit_are_dropped_when_it_commits(
    club: Club, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    key = page_key(club.slug)
    with django_capture_on_commit_callbacks(execute=True):
        ClubClassFactory.create(club=club, title="Endgame clinic")
        # What a concurrent request would cache from the rows it still sees before the commit.
        cache.set(key, [{"title": "Blitz night"}])
        caches[INDEX_CACHE].set(INDEX_KEY, [])

    assert cache.get(key) is None
    assert caches[INDEX_CACHE].get(INDEX_KEY) is None
