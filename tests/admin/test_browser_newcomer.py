"""Issue 14's admin changes in real headless Chromium (see test_browser.py for the set-up).

``DISKCACHE_ADMIN_SCREENSHOTS=1`` saves ``docs/screenshots/invalidate-function.png`` and
``docs/screenshots/audit-trail.png``.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.core.cache import caches

from diskcache_admin.decorators import cached_view, memoize
from diskcache_admin.models import AuditEntry

from . import test_browser
from .factories import SuperuserFactory
from .test_browser import browser_page, log_in, seed_demo, shoot

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("live_disk"),
]
live_disk = test_browser.live_disk  # the aliases of a real site, each on real storage


@memoize(timeout=3600)
def price(product: int, currency: str = "EUR") -> float:
    return product * 1.5


@memoize(timeout=3600)
def stock(product: int) -> int:
    return product


shop_page = cached_view("shop:{slug}", vary_on=("GET:page",))


def test_memoized_keys_are_found_by_argument_and_invalidated(live_server: Any) -> None:
    user = SuperuserFactory(username="ada")
    cache = caches["default"]
    for product in (7, 42, 1042):
        price(product)
        stock(product)
    base = live_server.url

    with browser_page() as page:
        log_in(page, base, user.username)
        page.goto(f"{base}/admin/diskcache_admin/cache/default/keys/")
        page.fill("#id_q", "product=42")
        page.select_option("#id_match", "substring")
        page.click("#dca-search input[type=submit]")
        page.wait_for_url("**q=product%3D42**")
        keys = page.locator("#result_list .dca-key").all_inner_texts()
        assert len(keys) == 2  # price(42) and stock(42); not 1042 ("product=1042")
        families = page.locator("#result_list td a[href^='?family=']").all_inner_texts()
        assert sorted(families) == [f"dca.memo:{__name__}.price", f"dca.memo:{__name__}.stock"]

        page.click(f"#result_list a:text-matches('^dca.memo:{__name__}.price')")
        page.wait_for_selector(".dca-invalidate-link")
        assert page.locator("h1").inner_text().startswith(f"dca.memo:{__name__}.price(product=42")
        assert "Invalidate this function" in page.text_content(".dca-invalidate-link")
        page.click(".dca-invalidate-link")
        page.wait_for_selector(".dca-statement")
        assert "3 entries" in page.inner_text(".dca-statement")
        shoot(page, "invalidate-function")
        page.click("input.dca-confirm-button")
        page.wait_for_selector(".messagelist")
        assert "Invalidated the function" in page.inner_text(".messagelist")
        # Back to the function's keys: none left.
        assert "q=dca.memo" in page.url
        assert page.locator("#result_list .dca-key").count() == 0

    assert [cache.get(price.cache_key(p)) for p in (7, 42, 1042)] == [None] * 3
    assert all(cache.get(stock.cache_key(p)) is not None for p in (7, 42, 1042))
    record = AuditEntry.objects.get(action="invalidate")
    assert f"function “{__name__}.price”" in record.summary


def test_delete_matching_returns_to_the_search(live_server: Any) -> None:
    user = SuperuserFactory(username="grace")
    cache = caches["default"]
    for n in range(5):
        cache.set(f"tmp:{n}", n)
        cache.set(f"keep:{n}", n)
    base = live_server.url

    with browser_page(javascript=False) as page:
        log_in(page, base, user.username)
        page.goto(f"{base}/admin/diskcache_admin/cache/default/keys/?q=tmp%3A&per_page=25")
        page.click("text=Delete all matching…")
        page.wait_for_selector(".dca-statement")
        page.click("input.dca-confirm-button")
        page.wait_for_selector(".messagelist")
        assert "q=tmp%3A" in page.url
        assert "per_page=25" in page.url
        assert page.input_value("#id_q") == "tmp:"
        assert page.locator("#result_list .dca-key").count() == 0

    assert cache.get("keep:0") == 0


def test_a_deleted_key_shows_as_a_change_of_the_cache(live_server: Any) -> None:
    user = SuperuserFactory(username="ada")
    caches["default"].set("basket:<b>red</b>", 1)
    caches["default"].set("user:1", 1)
    base = live_server.url

    with browser_page() as page:
        log_in(page, base, user.username)
        page.goto(f"{base}/admin/diskcache_admin/cache/default/keys/?q=basket")
        page.check("input[name=k]")
        page.click("button[name=delete_selected]")
        page.wait_for_selector(".dca-statement")
        page.click("input.dca-confirm-button")
        page.wait_for_selector(".messagelist")
        page.goto(f"{base}/admin/")
        recent = page.locator("#recent-actions-module")
        assert recent.locator(".deletelink").count() == 0
        link = recent.locator("li.changelink a").first
        assert link.inner_text() == "cache 'default'"
        link.click()
        page.wait_for_selector(".dca-stats")
        assert page.url.endswith("/admin/diskcache_admin/cache/default/")

    entry = LogEntry.objects.get()
    assert entry.action_flag == CHANGE
    assert entry.change_message == "delete: Deleted key “basket:<b>red</b>”"


def test_pages_read_well_at_1280_pixels(live_server: Any) -> None:
    user = SuperuserFactory(username="ada")
    seed_demo(caches["default"])
    base = live_server.url

    with browser_page() as page:
        log_in(page, base, user.username)
        page.goto(f"{base}/admin/diskcache_admin/cache/default/keys/")
        boxes = _boxes(page, ".dca-filters .dca-filter")
        middles = [box["y"] + box["height"] / 2 for box in boxes]
        assert len(boxes) >= 5
        assert max(middles) - min(middles) < 4, "the filter row wraps"
        crumbs = " ".join(page.inner_text(".breadcrumbs").split())
        assert crumbs == "Home \u203a Caches \u203a default \u203a Keys"

        page.goto(f"{base}/admin/diskcache_admin/cache/default/")
        labels = page.locator(".dca-stats th").all_inner_texts()
        values = page.locator(".dca-stats td").all_inner_texts()
        assert "Statistics since" in labels
        assert not [label for label in labels if "_" in label]
        for raw in ("True", "False", "None", "['"):
            assert not [value for value in values if raw in value]
        page.click("a.dca-audit-link")
        page.wait_for_selector("#changelist-filter")
        assert "alias__exact=default" in page.url


def test_the_audit_trail_lists_and_filters(live_server: Any) -> None:
    from diskcache_admin import audit

    user = SuperuserFactory(username="ada")
    audit.record(alias="default", action="clear", summary="Cleared 12 entries", user=user)
    audit.record(alias="fragments", action="delete", summary="Deleted key “user:1”", user=user)
    audit.record(alias="default", action="expire", summary="3 entries", via="cli", os_user="cron")
    base = live_server.url

    with browser_page() as page:
        log_in(page, base, user.username)
        page.goto(f"{base}/admin/diskcache_admin/auditentry/")
        assert page.locator("#result_list tbody tr").count() == 3
        shoot(page, "audit-trail")
        page.click("#changelist-filter a:text-is('command line')")
        page.wait_for_url("**via__exact=cli**")
        assert page.locator("#result_list tbody tr").count() == 1
        page.goto(f"{base}/admin/diskcache_admin/auditentry/?q=user%3A1")
        rows = page.locator("#result_list tbody tr")
        assert rows.count() == 1
        assert "fragments" in rows.inner_text()
        assert (
            page.locator("#content-main").locator("a.addlink, .deletelink, .actions").count() == 0
        )


def _boxes(page: Any, selector: str) -> list[dict[str, float]]:
    return [element.bounding_box() for element in page.locator(selector).all()]
