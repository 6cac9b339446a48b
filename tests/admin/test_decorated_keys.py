"""Keys written by memoize and cached_view: readable in the key browser, invalidated per owner."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.test import Client, RequestFactory, override_settings

from diskcache_admin.decorators import cached_view, memoize
from diskcache_admin.models import AuditEntry

from .conftest import Target

pytestmark = pytest.mark.django_db
# The backends that list keys (FileBasedCache cannot, so it offers no invalidation).
LISTING = pytest.mark.parametrize(
    "target",
    ["diskcache", "locmem", "database", pytest.param("redis", marks=pytest.mark.redis)],
    indirect=True,
)


@memoize(timeout=600, cache="target")
def price(product: int) -> float:
    return product * 1.5


@memoize(timeout=600, cache="target")
def price_history(product: int) -> list[float]:
    return [product * 1.0]


shop = cached_view("shop:{slug}", cache="target", vary_on=("GET:page",))


def fill(target: Target) -> None:
    for product in (1, 2, 42):
        price(product)
        price_history(product)


def test_the_key_page_names_the_function_and_links_to_invalidation(
    admin_client: Client, target: Target
) -> None:
    fill(target)
    body = admin_client.get(target.key_url(price.cache_key(42))).content.decode()
    assert f"<code>{__name__}.price</code>" in body
    if target.kind == "filebased":  # no listing, so nothing to invalidate a function with
        assert "dca-invalidate-link" not in body
    else:
        assert target.url("invalidate", target.token(price.cache_key(42))) in body


@LISTING
def test_invalidating_a_function_deletes_its_entries_only(
    admin_client: Client, target: Target
) -> None:
    fill(target)
    url = target.url("invalidate", target.token(price.cache_key(42)))
    preview = admin_client.get(url)
    assert "3 entries" in preview.content.decode()
    assert price.cache_key(1) in preview.content.decode()  # the sample

    response = admin_client.post(url, {"confirm": "yes"})

    assert response.status_code == 302
    assert response["Location"].endswith("?q=dca.memo%3Atests.admin.test_decorated_keys.price%28")
    assert [target.cache.get(price.cache_key(p)) for p in (1, 2, 42)] == [None] * 3
    assert all(target.cache.get(price_history.cache_key(p)) is not None for p in (1, 2, 42))
    record = AuditEntry.objects.get()
    assert record.action == "invalidate"
    assert record.summary.startswith(f"Invalidated the function “{__name__}.price”: deleted 3")
    assert LogEntry.objects.get().action_flag == CHANGE


@LISTING
def test_invalidation_needs_a_post_with_a_token(target: Target, superuser: Any) -> None:
    fill(target)
    client = Client(enforce_csrf_checks=True)
    client.force_login(superuser)
    url = target.url("invalidate", target.token(price.cache_key(42)))
    assert client.post(url, {"confirm": "yes"}).status_code == 403
    assert client.get(url, {"confirm": "yes"}).status_code == 200  # GET only asks
    assert target.cache.get(price.cache_key(42)) is not None


@LISTING
def test_invalidating_a_view_drops_its_pages_and_generation_tokens(
    admin_client: Client, target: Target
) -> None:
    rf = RequestFactory()
    keys = []
    for slug, page in (("chess", 1), ("chess", 2), ("go", 1)):
        key = shop.cache_policy.storage_key(rf.get(f"/?page={page}"), slug=slug)
        assert key is not None
        target.cache.set(key, {"status": 200})
        keys.append(key)
    target.cache.set("user:1", 1)
    url = target.url("invalidate", target.token(keys[0]))
    body = admin_client.get(url).content.decode()
    assert "view “shop:{slug}”" in body
    assert "5 entries" in body  # three pages and two generation tokens
    admin_client.post(url, {"confirm": "yes"})
    assert [target.cache.get(key) for key in keys] == [None] * 3
    assert target.cache.get("user:1") == 1
    # New requests get a new generation, so a page stored before cannot come back.
    fresh = shop.cache_policy.storage_key(rf.get("/?page=1"), slug="chess")
    assert fresh != keys[0]


@override_settings(
    DISKCACHE_ADMIN_HIDDEN_PREFIXES=["dca.memo:tests.admin.test_decorated_keys.price(product=2"]
)
def test_invalidation_spares_hidden_keys_and_hides_their_page(
    admin_client: Client, disk: Target
) -> None:
    with override_settings(CACHES={**disk.caches, "target": disk.caches["default"]}):
        fill(disk)
        hidden = disk.token(price.cache_key(2))
        assert admin_client.get(disk.url("invalidate", hidden)).status_code == 404
        url = disk.url("invalidate", disk.token(price.cache_key(1)))
        assert "2 entries" in admin_client.get(url).content.decode()
        admin_client.post(url, {"confirm": "yes"})
        assert disk.cache.get(price.cache_key(2)) is not None
        assert disk.cache.get(price.cache_key(1)) is None


def test_a_key_of_no_function_has_no_invalidation(admin_client: Client, disk: Target) -> None:
    disk.cache.set("user:1", 1)
    response = admin_client.get(disk.url("invalidate", disk.token("user:1")))
    assert response.status_code == 404
    assert "dca-invalidate-link" not in admin_client.get(disk.key_url("user:1")).content.decode()


def test_the_family_filter_groups_a_function(admin_client: Client, disk: Target) -> None:
    with override_settings(CACHES={**disk.caches, "target": disk.caches["default"]}):
        fill(disk)
        disk.cache.set("user:1", 1)
        family = f"dca.memo:{__name__}.price"
        body = admin_client.get(disk.url("keys"), {"family": family}).content.decode()
        assert body.count('class="dca-key"') == 3
        assert body.count(f">{family}(product=") == 3
        assert "price_history(" not in body
        detail = admin_client.get(disk.url("detail")).content.decode()
        assert family in detail  # the "Top key families" chart
