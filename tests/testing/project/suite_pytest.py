"""The story's suite for pytest (copied into a pytester directory by tests/testing)."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from django.core.cache import caches

from tests.testing.project.urls import FRESH


def test_club_page_shows_fresh_classes(client: Any) -> None:
    assert client.get("/clubs/").json() == {"default": FRESH, "disk": FRESH}


def test_a_test_may_write_and_even_clear_its_caches() -> None:
    caches["default"].set("club_page_classes", "written by a test")
    caches["disk"].set("club_page_classes", "written by a test")
    caches["default"].clear()
    caches["disk"].clear()
    assert caches["disk"].get("club_page_classes") is None


def test_every_store_is_private_to_this_worker(cache_isolation: Any, worker_id: str) -> None:
    assert cache_isolation.mode == "swap"
    assert worker_id in cache_isolation.aliases["default"].location or worker_id == "master"
    assert caches["disk"].location.startswith(str(cache_isolation.root))


def test_a_cold_page_makes_one_missed_get_or_set_per_alias(client: Any, cache_calls: Any) -> None:
    with cache_calls("default", "disk", hits=0, misses=2, sets=2) as calls:
        client.get("/clubs/")
    assert calls["disk"].keys == {"club_page_classes"}


def test_sessions_work_across_requests(client: Any) -> None:
    assert client.get("/visits/").json() == {"visits": 1}
    assert client.get("/visits/").json() == {"visits": 2}


def test_the_live_server_thread_sees_the_swapped_cache(live_server: Any) -> None:
    caches["default"].set("greeting", "set by the test thread")
    with urllib.request.urlopen(f"{live_server.url}/peek/default/greeting/") as response:
        assert json.load(response) == {"value": "set by the test thread"}


def test_the_live_server_threads_calls_are_recorded(live_server: Any, cache_calls: Any) -> None:
    with (
        cache_calls("default", "disk", hits=0, misses=2, sets=2) as calls,
        urllib.request.urlopen(f"{live_server.url}/clubs/") as response,
    ):
        response.read()
    assert calls["disk"].count("get_or_set") == 1
