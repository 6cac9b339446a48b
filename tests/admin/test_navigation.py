"""Breadcrumbs, page titles, where a confirmed action leads, and the "Recent actions" entry."""

from __future__ import annotations

import datetime
import re
from typing import Any

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.test import Client
from django.utils import timezone
from django.utils.http import urlencode

from diskcache_admin.models import AuditEntry

from .conftest import Target

pytestmark = pytest.mark.django_db


def crumbs(body: str) -> list[str]:
    block = re.search(r'<div class="breadcrumbs">(.*?)</div>', body, re.S)
    assert block is not None
    text = re.sub(r"<[^>]+>", "", block.group(1))
    return [part.strip() for part in text.replace("&rsaquo;", "\u203a").split("\u203a")]


def test_the_breadcrumbs_name_each_level_once(admin_client: Client, disk: Target) -> None:
    disk.cache.set("user:1", 1)
    assert crumbs(admin_client.get("/admin/diskcache_admin/cache/").content.decode()) == [
        "Home",
        "Caches",
    ]
    detail = admin_client.get(disk.url("detail")).content.decode()
    assert crumbs(detail) == ["Home", "Caches", "default"]
    key = admin_client.get(disk.key_url("user:1")).content.decode()
    assert crumbs(key) == ["Home", "Caches", "default", "Keys", "user:1"]


def test_the_key_page_is_titled_with_the_escaped_key(admin_client: Client, disk: Target) -> None:
    key = "<script>alert(1)</script>\u202e"
    disk.cache.set(key, 1)
    body = admin_client.get(disk.key_url(key)).content.decode()
    title = re.search(r"<h1>(.*?)</h1>", body, re.S)
    assert title is not None
    assert title.group(1) == "&lt;script&gt;alert(1)&lt;/script&gt;\\u202e"
    assert "<script>alert(1)" not in body


def test_delete_matching_leads_back_to_the_search(admin_client: Client, disk: Target) -> None:
    for n in range(3):
        disk.cache.set(f"tmp:{n}", n)
    url = disk.url("delete_matching") + "?q=tmp%3A&match=prefix&per_page=25"
    response = admin_client.post(url, {"confirm": "yes"})
    assert response.status_code == 302
    assert response["Location"] == disk.url("keys") + "?q=tmp%3A&match=prefix&per_page=25"


def test_delete_matching_never_leads_off_site(admin_client: Client, disk: Target) -> None:
    disk.cache.set("tmp:1", 1)
    url = disk.url("delete_matching") + "?q=tmp&next=https%3A%2F%2Fevil.example%2F"
    response = admin_client.post(url, {"confirm": "yes", "next": "https://evil.example/"})
    assert response["Location"].startswith(disk.url("keys") + "?")


def test_a_single_key_delete_is_a_change_of_the_cache(
    admin_client: Client, disk: Target, superuser: Any
) -> None:
    key = "basket:<b>" + "x" * 200
    disk.cache.set(key, 1)
    admin_client.post(disk.url("delete_keys"), {"k": disk.token(key), "confirm": "yes"})
    entry = LogEntry.objects.get()
    assert entry.action_flag == CHANGE
    assert entry.object_repr == "cache 'default'"
    assert entry.get_admin_url() == disk.url("detail")
    assert entry.change_message.startswith("delete: Deleted key “basket:<b>xxx")
    assert len(entry.change_message) < 250  # the key is cut
    assert AuditEntry.objects.get().summary == entry.change_message.removeprefix("delete: ")
    index = admin_client.get("/admin/").content.decode()
    assert "basket:&lt;b&gt;" not in index  # the list shows the cache, linked
    assert f'<a href="{disk.url("detail")}">cache &#x27;default&#x27;</a>' in index


def test_the_cache_page_links_to_its_audit_trail(admin_client: Client, disk: Target) -> None:
    body = admin_client.get(disk.url("detail")).content.decode()
    assert "/admin/diskcache_admin/auditentry/?alias__exact=default" in body


def test_the_audit_trail_is_read_only_even_for_superusers(
    admin_client: Client, superuser: Any
) -> None:
    from diskcache_admin import audit

    entry = audit.record(alias="default", action="clear", summary="x", user=superuser)
    assert entry is not None
    assert admin_client.get("/admin/diskcache_admin/auditentry/add/").status_code == 403
    url = f"/admin/diskcache_admin/auditentry/{entry.pk}/delete/"
    assert admin_client.post(url, {"post": "yes"}).status_code == 403
    change = admin_client.get(f"/admin/diskcache_admin/auditentry/{entry.pk}/change/")
    assert change.status_code == 200
    assert 'name="_save"' not in change.content.decode()
    assert AuditEntry.objects.count() == 1


def test_the_audit_trail_filters_and_searches(admin_client: Client, superuser: Any) -> None:
    from diskcache_admin import audit

    audit.record(alias="default", action="delete", summary="Deleted key “user:1”", user=superuser)
    audit.record(alias="other", action="clear", summary="Cleared", via="cli", os_user="cron")
    listing = "/admin/diskcache_admin/auditentry/"

    def rows(query: str) -> int:
        response = admin_client.get(listing + query)
        assert response.status_code == 200
        return int(response.context["cl"].result_count)

    assert rows("") == 2
    assert rows("?alias__exact=other") == 1
    assert rows("?via__exact=cli") == 1
    assert rows("?action__exact=delete") == 1
    assert rows("?q=user%3A1") == 1
    assert rows(f"?q={superuser.username}") == 1
    since = urlencode({"when__gte": (timezone.now() - datetime.timedelta(days=1)).isoformat()})
    assert rows(f"?{since}") == 2


def test_the_audit_trail_shows_an_account_by_its_username_escaped(
    admin_client: Client, superuser: Any, django_user_model: Any
) -> None:
    from diskcache_admin import audit

    planted = django_user_model.objects.create_user(username="mallory\u202e\x1b[31m", password="x")
    audit.record(alias="default", action="clear", summary="x", user=planted)

    body = admin_client.get("/admin/diskcache_admin/auditentry/").content.decode()

    assert "\u202e" not in body
    assert "\x1b" not in body
    assert "mallory\\u202e\\x1b[31m" in body
