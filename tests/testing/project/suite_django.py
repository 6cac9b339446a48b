"""The story's suite for ``python -m django test`` (run in a subprocess by tests/testing)."""

from __future__ import annotations

import json
import os
import re
import urllib.request

from django.core.cache import caches
from django.test import LiveServerTestCase, SimpleTestCase

from diskcache_admin.testing import CacheCallsAssertionsMixin, cache_isolation
from diskcache_admin.testing import isolation as isolation_module

from .urls import FRESH

EXPECT_WORKERS = os.environ.get("STORY_EXPECT_WORKERS") == "1"


class ClubPageTests(SimpleTestCase):
    def test_club_page_shows_fresh_classes(self) -> None:
        page = self.client.get("/clubs/").json()
        assert page == {"default": FRESH, "disk": FRESH}, f"{page} should show {FRESH!r}"

    def test_a_test_may_write_and_even_clear_its_caches(self) -> None:
        caches["default"].set("club_page_classes", "written by a test")
        caches["disk"].set("club_page_classes", "written by a test")
        caches["default"].clear()
        caches["disk"].clear()
        assert caches["default"].get("club_page_classes") is None


class StoreTests(CacheCallsAssertionsMixin, SimpleTestCase):
    def test_every_store_is_private_to_this_worker(self) -> None:
        current = isolation_module.active()
        assert current is not None
        assert current.mode == "swap"
        assert current.worker in current.aliases["default"].location
        assert caches["disk"].location.startswith(str(current.root))
        if EXPECT_WORKERS:
            assert re.fullmatch(r"w\d+", current.worker)

    def test_a_cold_page_makes_one_missed_get_or_set_per_alias(self) -> None:
        with self.assertCacheCalls("default", "disk", hits=0, misses=2, sets=2) as calls:
            self.client.get("/clubs/")
        assert calls["disk"].keys == {"club_page_classes"}

    def test_sessions_work_across_requests(self) -> None:
        assert self.client.get("/visits/").json() == {"visits": 1}
        assert self.client.get("/visits/").json() == {"visits": 2}


class LiveServerTests(CacheCallsAssertionsMixin, LiveServerTestCase):
    def test_the_live_server_thread_sees_the_swapped_cache(self) -> None:
        caches["default"].set("greeting", "set by the test thread")
        with urllib.request.urlopen(f"{self.live_server_url}/peek/default/greeting/") as response:
            assert json.load(response) == {"value": "set by the test thread"}

    def test_the_live_server_threads_calls_are_recorded(self) -> None:
        with (
            self.assertCacheCalls("default", "disk", hits=0, misses=2, sets=2) as calls,
            urllib.request.urlopen(f"{self.live_server_url}/clubs/") as response,
        ):
            response.read()
        assert calls["disk"].count("get_or_set") == 1


@cache_isolation("off")
class KeptBetweenTests(SimpleTestCase):
    def test_1_writes(self) -> None:
        caches["disk"].set("kept", "from test 1")

    def test_2_still_sees_it(self) -> None:
        assert caches["disk"].get("kept") == "from test 1"
