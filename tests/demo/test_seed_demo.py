from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import caches
from django.core.management import CommandError, call_command
from django.http import HttpResponse
from django.test import RequestFactory
from django.utils.cache import get_cache_key

from diskcache_admin.backend import DiskCache
from diskcache_admin.engine import DEFAULT_FILE_THRESHOLD
from testproject.clubs.management.commands.seed_demo import ADMIN_URL, SITE_URL
from testproject.clubs.models import Club, ClubClass

pytestmark = pytest.mark.django_db


def seed(*args: str) -> list[str]:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue().splitlines()


def disk() -> DiskCache:
    cache = caches["default"]
    assert isinstance(cache, DiskCache)
    return cache


def test_creates_clubs_with_classes() -> None:
    seed()

    assert Club.objects.count() == 4
    assert ClubClass.objects.count() == 11
    assert set(Club.objects.values_list("slug", flat=True)) >= {
        "riverside-chess-club",
        "harbour-rowing-club",
    }


def test_is_idempotent() -> None:
    seed()
    first = (Club.objects.count(), ClubClass.objects.count(), disk().stats().count)

    seed()

    user_model = get_user_model()
    assert (Club.objects.count(), ClubClass.objects.count(), disk().stats().count) == first
    assert user_model.objects.filter(username="admin").count() == 1


def test_creates_a_superuser_that_can_log_in() -> None:
    seed()

    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser
    assert admin.is_staff
    assert admin.check_password("admin")


def test_resets_the_password_of_an_existing_admin() -> None:
    get_user_model().objects.create_user("admin", password="forgotten")

    lines = seed()

    admin = get_user_model().objects.get(username="admin")
    assert admin.check_password("admin")
    assert admin.is_superuser
    assert "Superuser 'admin' updated." in lines


def test_ends_with_the_urls_and_the_login() -> None:
    lines = seed()

    assert lines[-3:] == [
        "Site:  http://127.0.0.1:8000/",
        "Admin: http://127.0.0.1:8000/admin/",
        "Login: username admin  password admin",
    ]
    assert (SITE_URL, ADMIN_URL) == ("http://127.0.0.1:8000/", "http://127.0.0.1:8000/admin/")


def test_prints_the_urls_of_the_port_it_is_told() -> None:
    lines = seed("--port", "8123")

    assert lines[-3:-1] == ["Site:  http://127.0.0.1:8123/", "Admin: http://127.0.0.1:8123/admin/"]


@pytest.mark.parametrize("port", ["0", "65536", "http", ""])
def test_refuses_a_port_that_is_not_one(port: str) -> None:
    with pytest.raises(CommandError, match="is not a port number"):
        seed("--port", port)


def test_username_and_password_can_be_chosen() -> None:
    lines = seed("--username", "demo", "--password", "s3cret-demo")

    assert get_user_model().objects.get(username="demo").check_password("s3cret-demo")
    assert lines[-1] == "Login: username demo  password s3cret-demo"


def test_fills_the_cache_with_several_families_types_and_expiries() -> None:
    seed()
    cache = disk()

    assert cache.get("club:riverside-chess-club")["city"] == "Lyon"
    assert cache.get("user:1")["username"] == "alice"
    assert "clubs.view_club" in cache.get("user:3:permissions")
    assert cache.get("feature_flags", version=2) == {"new_timetable": True, "dark_mode": False}
    assert cache.get("feature_flags") is None  # only version 2 exists
    assert cache.has_key("club:no-such-club")  # a cached None
    never = cache.entry("user:1:permissions")
    expiring = cache.entry("user:1")
    assert never is not None
    assert never.expire_time is None
    assert expiring is not None
    assert expiring.expire_time is not None


def test_tags_some_entries() -> None:
    seed()

    club_entry = disk().entry("club:riverside-chess-club")
    user_entry = disk().entry("user:1")
    assert club_entry is not None
    assert club_entry.tag == "clubs"
    assert user_entry is not None
    assert user_entry.tag is None
    assert disk().evict("clubs").count == 9  # 4 summaries, 4 member lists, 1 cached miss


def test_stores_one_value_larger_than_the_file_threshold_in_a_value_file() -> None:
    seed()

    entry = disk().entry("export:clubs.csv")
    assert entry is not None
    assert entry.size >= DEFAULT_FILE_THRESHOLD
    assert entry.filename is not None
    assert disk().get("export:clubs.csv").startswith("club,member_id,")


def test_writes_cache_page_entries_that_django_finds() -> None:
    seed()

    request = RequestFactory(HTTP_HOST="127.0.0.1:8000").get("/clubs/old-town-choir/")
    page_key = get_cache_key(request, cache=disk())

    assert page_key is not None
    assert page_key.startswith("views.decorators.cache.cache_page.")
    page = disk().get(page_key)
    assert isinstance(page, HttpResponse)
    assert b"Sight-reading basics" in page.content


def test_writes_cache_page_entries_for_the_host_the_demo_is_served_on() -> None:
    seed("--port", "8123")

    served = RequestFactory(HTTP_HOST="127.0.0.1:8123").get("/clubs/old-town-choir/")
    elsewhere = RequestFactory(HTTP_HOST="127.0.0.1:8000").get("/clubs/old-town-choir/")
    assert get_cache_key(served, cache=disk()) is not None
    assert get_cache_key(elsewhere, cache=disk()) is None


def test_can_fill_a_cache_without_tags() -> None:
    lines = seed("--cache", "locmem")

    assert caches["locmem"].get("club:riverside-chess-club")["name"] == "Riverside Chess Club"
    assert "Cache 'locmem': 51 demo entries written." in lines
    assert disk().stats().count == 0
