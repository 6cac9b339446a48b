"""The key-activity tables of the cache page in real headless Chromium (see test_browser.py).

``DISKCACHE_ADMIN_SCREENSHOTS=1`` saves ``docs/screenshots/cache-insight.png``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import caches
from django.test import override_settings

from diskcache_admin.engine import statistics
from tests.conftest import skip_or_fail_unless

from .conftest import diskcache_config
from .factories import SuperuserFactory
from .test_browser import CHROMIUM, browser_available, browser_page, log_in, shoot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def recorded(tmp_path: Path) -> Iterator[None]:
    skip_or_fail_unless(browser_available(), f"Chromium ({CHROMIUM}) and Playwright are needed")
    location = str(tmp_path / "default")
    setting = {"default": diskcache_config(location, INSIGHT={"SAMPLE_RATE": 1})}
    with override_settings(CACHES=setting):
        cache = caches["default"]
        for n in range(20):
            cache.set(f"product:{n}", {"id": n, "blurb": "x" * (n * 30)}, 3600)
        cache.set("user:1", {"name": "Ada"}, 3600)
        for round_ in range(12):
            for n in range(12 - round_):
                cache.get(f"product:{n}")
            cache.get("user:1")
            cache.get(f"product:{100 + round_ % 3}")  # never stored: misses by name
        cache.get("user:2")
        cache.store.flush()
        yield
    statistics.forget(location)


def test_the_key_activity_tables_link_into_the_browser(live_server: Any, recorded: None) -> None:
    user = SuperuserFactory(username="insight")
    base = live_server.url

    with browser_page() as page:
        log_in(page, base, user.username)
        page.goto(f"{base}/admin/diskcache_admin/cache/default/")
        page.wait_for_selector("#dca-insight")
        tables = page.locator(".dca-insight-table")
        assert tables.count() == 3
        titles = [tables.nth(index).locator("h2").inner_text() for index in range(3)]
        assert titles == ["Hot keys", "Most-missed keys", "Families"]
        assert "Estimated counts" in tables.nth(0).inner_text()

        hot = tables.nth(0).locator("tbody th").all_inner_texts()
        assert hot[:2] == ["product:0", "user:1"] or hot[:2] == ["user:1", "product:0"]
        missed = tables.nth(1).locator("tbody tr")
        assert missed.first.locator("th").inner_text().startswith("product:10")
        assert "no entry" in missed.first.inner_text()
        assert missed.first.locator("a").count() == 0
        families = tables.nth(2).locator("tbody th").all_inner_texts()
        assert families[0] == "product"
        shoot(page, "cache-insight")

        tables.nth(0).locator("a:text-is('user:1')").click()
        page.wait_for_selector("pre.dca-preview")
        assert '"name": "Ada"' in page.inner_text("pre.dca-preview")

        page.go_back()
        page.wait_for_selector("#dca-insight")
        page.locator(".dca-insight-table").nth(2).locator("a:text-is('product')").click()
        page.wait_for_url("**family=product**")
        keys = page.locator("#result_list .dca-key").all_inner_texts()
        assert len(keys) == 20
        assert all(key.startswith("product:") for key in keys)
