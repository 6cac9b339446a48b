"""The words a maintenance page says and records, pinned one by one.

The removal actions share one ``perform`` and the delete-matching pages one confirmation flow;
these tests hold each page's own message, audit summary and confirmation words, so that a
shared helper cannot mix them up. They also pin that neither admin offers add, change or delete.
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.messages import get_messages
from django.test import Client, RequestFactory

from diskcache_admin.admin import AuditEntryAdmin, CacheAdmin
from diskcache_admin.decorators import memoize
from diskcache_admin.models import AuditEntry, Cache

from .conftest import Target

pytestmark = pytest.mark.django_db

SIZE = r"\d[\d.,]*\s(bytes|KB)"  # filesizeformat puts a no-break space in


def said(response: Any) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def last_record() -> AuditEntry:
    entry = AuditEntry.objects.order_by("-pk").first()
    assert entry is not None
    return entry


@pytest.mark.parametrize(
    ("slug", "data", "action", "done"),
    [
        ("clear", {"typed": "default"}, "clear", rf"Cleared: 3 entries, {SIZE} removed\."),
        ("expire", {}, "expire", rf"Purged 1 entry, {SIZE} \(expired\)\."),
        ("evict", {"tag": "red"}, "evict", rf"Evicted tag “red”: 2 entries, {SIZE} removed\."),
        ("cull", {}, "cull", rf"Culled: 1 entry, {SIZE} removed\."),
    ],
)
def test_each_removal_action_says_and_records_its_own_words(
    admin_client: Client, disk: Target, slug: str, data: dict[str, str], action: str, done: str
) -> None:
    disk.cache.set("a", 1, tag="red")  # type: ignore[call-arg]
    disk.cache.set("b", 2, tag="red")  # type: ignore[call-arg]
    disk.cache.set("gone", 3, 0.001)
    time.sleep(0.01)

    response = admin_client.post(disk.url("action", slug), {"confirm": "yes", **data})

    assert response.status_code == 302
    entry = last_record()
    assert entry.action == action
    assert entry.alias == "default"
    assert re.fullmatch(done, entry.summary), entry.summary
    assert said(response) == [f"default: {entry.summary}"]


def test_delete_matching_says_and_records_its_own_words(admin_client: Client, disk: Target) -> None:
    disk.cache.set("user:1", "x")
    disk.cache.set("user:2", "y")
    disk.cache.set("page:1", "z")
    url = disk.url("delete_matching") + "?q=user%3A&match=prefix"

    preview = admin_client.get(url).content.decode()
    assert re.search(
        rf"2 entries, {SIZE} currently match keys starting with “user:” in cache “default”\."
        " All of them will be deleted.",
        preview,
    )
    assert "Yes, delete all matching keys" in preview
    response = admin_client.post(url, {"confirm": "yes"})

    assert response.status_code == 302
    entry = last_record()
    assert entry.action == "delete_matching"
    assert re.fullmatch(
        rf"Deleted 2 entries, {SIZE} matching keys starting with “user:”", entry.summary
    )
    assert len(said(response)) == 1
    assert re.fullmatch(rf"Deleted 2 entries, {SIZE} from “default”\.", said(response)[0])
    assert disk.cache.get("page:1") == "z"


@memoize(None)
def square(n: int) -> int:
    return n * n


def test_invalidate_says_and_records_its_own_words(admin_client: Client, disk: Target) -> None:
    square(2)
    square(3)
    key = square.cache_key(2)
    url = disk.url("invalidate", disk.token(key))
    what = f"function “{__name__}.square”"

    preview = admin_client.get(url).content.decode()
    assert re.search(
        rf"2 entries, {SIZE} of the {what} are in cache “default”\. All of them will be"
        " deleted; the next calls compute their values again.",
        preview,
    )
    assert "Yes, invalidate" in preview
    response = admin_client.post(url, {"confirm": "yes"})

    assert response.status_code == 302
    entry = last_record()
    assert entry.action == "invalidate"
    assert re.fullmatch(rf"Invalidated the {what}: deleted 2 entries, {SIZE}", entry.summary)
    assert len(said(response)) == 1
    assert re.fullmatch(
        rf"Invalidated the {what}: deleted 2 entries, {SIZE} from “default”\.",
        said(response)[0],
    )


@pytest.mark.parametrize(
    ("admin_class", "model"), [(CacheAdmin, Cache), (AuditEntryAdmin, AuditEntry)]
)
def test_no_admin_adds_changes_or_deletes_even_for_a_superuser(
    superuser: Any, admin_class: Any, model: Any
) -> None:
    request = RequestFactory().get("/admin/")
    request.user = superuser
    model_admin = admin_class(model, admin.site)

    assert model_admin.has_add_permission(request) is False
    assert model_admin.has_change_permission(request) is False
    assert model_admin.has_delete_permission(request) is False
    assert model_admin.has_view_permission(request) is True


def test_the_admin_index_offers_no_add_link(admin_client: Client, disk: Target) -> None:
    body = admin_client.get("/admin/").content.decode()

    assert "/admin/diskcache_admin/cache/" in body
    assert "/admin/diskcache_admin/cache/add/" not in body
    assert "/admin/diskcache_admin/auditentry/add/" not in body
