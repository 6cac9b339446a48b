"""The admin in real headless Chromium (Debian's package, driven by Playwright) on a live server.

Set ``DISKCACHE_ADMIN_SCREENSHOTS=1`` to save the pages into ``docs/screenshots/``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from django.contrib.admin.models import LogEntry
from django.core.cache import caches as django_caches
from django.core.management import call_command
from django.test import override_settings

from diskcache_admin.inspection import get_adapter
from diskcache_admin.inspection.base import Capability
from tests.conftest import skip_or_fail_unless

from .conftest import diskcache_config
from .factories import PASSWORD, SuperuserFactory

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def browser_available() -> bool:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return False
    return os.path.exists(CHROMIUM) or shutil.which("chromium") is not None


@contextmanager
def browser_page(javascript: bool = True) -> Iterator[Any]:
    # Django's ORM refuses to run while Playwright's event loop is live in this thread, so
    # tests do their database work before and after this block, never inside it.
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS
        )
        try:
            context = browser.new_context(
                java_script_enabled=javascript, viewport={"width": 1280, "height": 860}
            )
            page = context.new_page()
            page.set_default_timeout(15_000)
            yield page
        finally:
            browser.close()


def shoot(page: Any, name: str) -> None:
    if os.environ.get("DISKCACHE_ADMIN_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def log_in(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/admin/login/?next=/admin/diskcache_admin/cache/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{base}/admin/diskcache_admin/cache/")


def seed_demo(cache: Any) -> None:
    cache.set("user:1", {"name": "Ada Lovelace", "langs": ["python", "c"], "admin": True}, 3600)
    cache.set("user:2", {"name": "Grace Hopper", "langs": ["cobol"]}, 3600, tag="users")
    for n in range(40):
        cache.set(f"product:{n}", {"id": n, "price": n * 1.5, "blurb": "x" * (n * 40)}, 86400)
    for n in range(12):
        cache.set(f"views.decorators.cache.cache_page.home.{n}", "<html>" + "y" * 3000, 60)
    for n in range(8):
        cache.set(f"template.cache.sidebar.{n}", "<nav>…</nav>", None, tag="fragments")
    cache.set("session:abc", {"_auth_user_id": "1"}, 7200)
    for n in range(30):  # some traffic for the hit ratio
        cache.get(f"product:{n % 50}")


@pytest.fixture
def live_disk(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A DiskCache ``default`` beside one alias of each other kind, as a real site has."""
    skip_or_fail_unless(browser_available(), f"Chromium ({CHROMIUM}) and Playwright are needed")
    caches = {
        "default": diskcache_config(str(tmp_path / "default"), MAX_ENTRIES=10_000),
        "fragments": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"browser-{tmp_path.name}",
        },
        "files": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(tmp_path / "files"),
        },
        "shared": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "browser_cache_table",
        },
        # Nothing listens on port 1: the list shows this alias's error, not an error page.
        "offline": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://:secret@127.0.0.1:1/0",
        },
        "dummy": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"},
    }
    with override_settings(CACHES=caches):
        call_command("createcachetable", "browser_cache_table", verbosity=0)
        for alias in ("fragments", "files", "shared"):
            for n in range(5 + len(alias)):
                django_caches[alias].set(f"{alias}:{n}", "x" * (n * 50), 3600)
        yield caches


def test_log_in_browse_delete_and_clear(live_server: Any, live_disk: dict[str, Any]) -> None:
    from django.core.cache import caches

    user = SuperuserFactory(username="ada")
    cache = caches["default"]
    seed_demo(cache)
    adapter = get_adapter("default")
    if adapter.can(Capability.SNAPSHOTS):
        for round_ in range(6):  # traffic between snapshots draws the hit-ratio line
            for n in range(10 + round_ * 5):
                cache.get(f"product:{n}" if n % (round_ + 2) else f"missing:{n}")
            adapter.take_snapshot()
    base = live_server.url

    with browser_page() as page:
        log_in(page, base, user.username)
        assert page.locator("#result_list").get_by_text("default").count() >= 1
        assert page.locator(".dca-row-error").count() == 1  # the offline Redis
        assert "secret" not in page.content()
        shoot(page, "caches-list")

        page.click("#result_list a:text-is('default')")
        page.wait_for_selector(".dca-stats")
        assert page.locator("svg.dca-chart").count() >= 2
        shoot(page, "cache-detail")

        page.click("text=Browse keys")
        page.fill("#id_q", "user:")
        page.click("#dca-search input[type=submit]")
        page.wait_for_url("**q=user%3A**")
        keys = page.locator("#result_list .dca-key").all_inner_texts()
        assert sorted(keys) == ["user:1", "user:2"]
        page.goto(page.url.split("?")[0] + "?per_page=25")
        shoot(page, "key-browser")
        page.goto(page.url.split("?")[0] + "?q=user%3A")

        page.click("#result_list a:text-is('user:1')")
        page.wait_for_selector("pre.dca-preview")
        assert '"name": "Ada Lovelace"' in page.inner_text("pre.dca-preview")
        shoot(page, "key-detail")

        page.click("input.dca-delete-button")
        page.wait_for_selector(".dca-statement")
        assert "This deletes 1 entry" in page.inner_text(".dca-statement")
        page.click("input.dca-confirm-button")
        page.wait_for_selector(".messagelist")
        assert "Deleted 1 key" in page.inner_text(".messagelist")
        assert cache.get("user:1") is None

        page.goto(f"{base}/admin/diskcache_admin/cache/default/")
        page.click("text=Clear the cache…")
        page.wait_for_selector(".dca-statement")
        statement = page.inner_text(".dca-statement")
        assert "entries" in statement
        page.fill("#id_typed", "default")
        shoot(page, "confirm-clear")
        page.click("input.dca-confirm-button")
        page.wait_for_selector(".messagelist")
        assert "Cleared" in page.inner_text(".messagelist")

    assert cache.get("user:2") is None
    assert adapter.stats().entries == 0
    actions = sorted(LogEntry.objects.values_list("change_message", flat=True))
    assert len(actions) == 2


def test_works_without_javascript(live_server: Any, live_disk: dict[str, Any]) -> None:
    from django.core.cache import caches

    user = SuperuserFactory(username="grace")
    cache = caches["default"]
    for n in range(5):
        cache.set(f"tmp:{n}", n)
    cache.set("keep", "me")
    base = live_server.url

    with browser_page(javascript=False) as page:
        log_in(page, base, user.username)
        page.goto(f"{base}/admin/diskcache_admin/cache/default/keys/?q=tmp%3A")
        page.click("text=Delete all matching…")
        page.wait_for_selector(".dca-statement")
        assert "5 entries" in page.inner_text(".dca-statement")
        page.click("input.dca-confirm-button")
        page.wait_for_selector(".messagelist")

        page.goto(f"{base}/admin/diskcache_admin/cache/default/keys/")
        page.check("input[name=k]")
        page.click("button[name=delete_selected]")
        page.wait_for_selector(".dca-statement")
        page.click("input.dca-confirm-button")
        page.wait_for_selector(".messagelist")

    assert [cache.get(f"tmp:{n}") for n in range(5)] == [None] * 5
    assert cache.get("keep") is None
    assert LogEntry.objects.count() == 2
