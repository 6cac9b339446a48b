"""The panel inside a real toolbar in headless Chromium (``DISKCACHE_ADMIN_SCREENSHOTS=1`` saves
docs/screenshots/panel.png)."""

from __future__ import annotations

import pytest
from django.contrib.staticfiles.testing import StaticLiveServerTestCase
from django.test import override_settings

from tests.admin.test_browser import browser_available, browser_page, shoot
from tests.conftest import skip_or_fail_unless

from .test_panel import PANELS


# A class-level override is applied before the live server thread starts, so the server loads
# the toolbar's middleware (pytest-django's session-wide live_server has its own already).
@pytest.mark.browser
@override_settings(
    ROOT_URLCONF="tests.panel.urls",
    DEBUG=True,
    MIDDLEWARE=["debug_toolbar.middleware.DebugToolbarMiddleware"],
    DEBUG_TOOLBAR_PANELS=PANELS,
    DEBUG_TOOLBAR_CONFIG={
        "SHOW_TOOLBAR_CALLBACK": "tests.panel.test_panel.always",
        "IS_RUNNING_TESTS": False,
    },
)
class PanelInBrowserTests(StaticLiveServerTestCase):
    def test_the_panel_shows_the_calls_in_the_toolbar(self) -> None:
        skip_or_fail_unless(browser_available(), "Playwright or Debian's chromium is not installed")
        with browser_page() as page:
            page.goto(f"{self.live_server_url}/page/")
            handle = page.locator("#djShowToolBarButton")
            if handle.is_visible():
                handle.click()
            page.locator("#djDebugToolbar a", has_text="Caches").first.click()
            panel = page.locator("#DiskCachePanel")
            panel.get_by_text("panel:absent").first.wait_for()
            text = panel.inner_text()
            shoot(page, "panel")
        assert "panel:page" in text
        assert "miss" in text
        assert "<b>hello</b>" in text  # the value preview, shown as text rather than markup
