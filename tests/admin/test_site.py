"""The admin on a custom AdminSite, its index entry, and links other faces use."""

from __future__ import annotations

import pytest
from django.test import Client

from diskcache_admin.admin.helpers import encode_key
from diskcache_admin.admin.links import key_url

from .conftest import Target

pytestmark = pytest.mark.django_db


@pytest.mark.urls("tests.admin.urls_custom")
def test_pages_work_on_a_custom_admin_site(admin_client: Client, disk: Target) -> None:
    disk.cache.set("user:1", {"a": 1})
    token = encode_key(disk.cache.make_key("user:1"))

    listing = admin_client.get("/ops/diskcache_admin/cache/")
    detail = admin_client.get("/ops/diskcache_admin/cache/default/")
    keys = admin_client.get("/ops/diskcache_admin/cache/default/keys/")
    key = admin_client.get(f"/ops/diskcache_admin/cache/default/key/{token}/")

    for response in (listing, detail, keys, key):
        assert response.status_code == 200
        body = response.content.decode()
        assert "Operations" in body
        assert 'href="/ops/"' in body
        assert 'href="/admin/' not in body
    assert f'href="/ops/diskcache_admin/cache/default/key/{token}/"' in keys.content.decode()


@pytest.mark.urls("tests.admin.urls_custom")
def test_actions_redirect_within_the_custom_site(admin_client: Client, disk: Target) -> None:
    disk.cache.set("k", 1)

    response = admin_client.post(
        "/ops/diskcache_admin/cache/default/do/clear/", {"confirm": "yes", "typed": "default"}
    )

    assert response.status_code == 302
    assert response["Location"] == "/ops/diskcache_admin/cache/default/"
    assert disk.cache.get("k") is None


def test_key_url_links_the_key_page(disk: Target) -> None:
    assert key_url("default", "user:1") == disk.key_url("user:1")
    assert key_url("nope", "user:1") is None


def test_key_url_is_none_for_hidden_keys(disk: Target, settings: object) -> None:
    settings.DISKCACHE_ADMIN_HIDDEN_PREFIXES = ["secret:"]  # type: ignore[attr-defined]

    assert key_url("default", "secret:1") is None


def test_delete_without_selection_changes_nothing(admin_client: Client, disk: Target) -> None:
    disk.cache.set("k", 1)

    response = admin_client.post(disk.url("delete_keys"), {"confirm": "yes"}, follow=True)

    assert "No keys were selected" in response.content.decode()
    assert disk.cache.get("k") == 1
