"""The cache page's key activity: Hot keys, Most-missed keys, Families, and "Reset key activity"."""

from __future__ import annotations

import html
import os
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.core.cache import caches
from django.test import Client, override_settings

from diskcache_admin.admin.helpers import VIEW_KEYS, VIEW_STATS, encode_key
from diskcache_admin.engine import statistics
from diskcache_admin.models import AuditEntry

from .conftest import Target, diskcache_config
from .factories import StaffFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def insight(tmp_path: Any, db: None) -> Iterator[Target]:
    """A DiskCache alias that records every read, with reads recorded; a LocMem alias beside."""
    location = os.path.join(str(tmp_path), "insight")
    settings_caches = {
        "default": diskcache_config(location, INSIGHT={"SAMPLE_RATE": 1}),
        "local": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "ins"},
    }
    with override_settings(CACHES=settings_caches):
        cache = caches["default"]
        cache.set("article:1", "x" * 300)
        cache.set("article:2", "y")
        cache.set("otp:alice", "123456")
        for _ in range(5):
            cache.get("article:1")
        for _ in range(3):
            cache.get("article:2")
            cache.get("article:404")
            cache.get("<script>alert(1)</script>")
        cache.get("otp:alice")  # recorded: otp: is hidden only in some tests below
        cache.store.flush()
        yield Target("diskcache", "default", settings_caches)
    statistics.forget(location)


def body(response: Any) -> str:
    return str(response.content.decode())


def section(page: str, title: str) -> str:
    start = page.index(f"<h2>{title}</h2>")
    return page[start : page.index("</table>", start)]


def test_the_cache_page_shows_the_three_tables(admin_client: Client, insight: Target) -> None:
    page = body(admin_client.get(insight.url("detail")))

    hot = section(page, "Hot keys")
    assert "Estimated counts: sampled reads: 1 in 1" in hot
    assert hot.index("article:1") < hot.index("article:2")
    assert f'href="{insight.key_url("article:1")}"' in hot
    assert ">~5<" in hot
    missed = section(page, "Most-missed keys")
    assert "article:404" in missed
    assert "no entry" in missed
    assert f'href="{insight.key_url("article:404")}"' not in missed  # nothing to open
    families = section(page, "Families")
    assert f'href="{insight.url("keys")}?family=article"' in families
    assert ">2<" in families  # entries of the family now: article:1 and :2 (404 has none)


def test_key_names_are_escaped(admin_client: Client, insight: Target) -> None:
    page = body(admin_client.get(insight.url("detail")))

    assert "<script>alert(1)</script>" not in page
    assert html.escape("<script>alert(1)</script>") in section(page, "Most-missed keys")


def test_hidden_prefixes_never_show(admin_client: Client, insight: Target) -> None:
    with override_settings(DISKCACHE_ADMIN_HIDDEN_PREFIXES=["otp:"]):
        page = body(admin_client.get(insight.url("detail")))

    assert "otp:alice" not in page
    assert ">otp<" not in section(page, "Families")


def test_key_tables_need_the_key_permission(client: Client, insight: Target) -> None:
    client.force_login(StaffFactory(permissions=[VIEW_STATS]))
    page = body(client.get(insight.url("detail")))

    assert "Key names need the view_cache_keys permission." in page
    assert "article:404" not in page
    client.force_login(StaffFactory(permissions=[VIEW_STATS, VIEW_KEYS]))
    assert "article:404" in body(client.get(insight.url("detail")))


def test_a_backend_without_insight_says_why(admin_client: Client, insight: Target) -> None:
    url = insight.url("detail").replace("/default/", "/local/")
    page = body(admin_client.get(url))

    assert "Key activity is not available" in page
    assert "keeps no count of reads per key" in page


def test_reset_key_activity_is_confirmed_audited_and_permitted(
    admin_client: Client, client: Client, insight: Target
) -> None:
    url = insight.url("action", "reset-insight")
    detail = body(admin_client.get(insight.url("detail")))
    assert f'href="{url}"' in detail

    client.force_login(StaffFactory(permissions=[VIEW_STATS]))
    assert client.post(url, {"confirm": "yes"}).status_code == 403
    ask = body(admin_client.get(url))
    assert "forgets the recorded key activity" in ask

    done = admin_client.post(url, {"confirm": "yes"})

    assert done.status_code == 302
    page = body(admin_client.get(insight.url("detail")))
    assert "article:1" not in section(page, "Hot keys")
    assert caches["default"].get("article:1") == "x" * 300  # no entry removed
    entry = AuditEntry.objects.get()
    assert (entry.alias, entry.action) == ("default", "reset_insight")
    assert LogEntry.objects.get().action_flag == CHANGE


def test_a_family_link_opens_the_filtered_key_browser(
    admin_client: Client, insight: Target
) -> None:
    page = body(admin_client.get(f"{insight.url('keys')}?family={quote('article')}"))

    assert "article:1" in page
    assert "otp:alice" not in page
    assert encode_key(caches["default"].make_key("article:2")) in page
