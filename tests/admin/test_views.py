"""Every admin page and action, against a real alias of each backend kind."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.admin.models import LogEntry
from django.test import Client, override_settings

from diskcache_admin.admin import actions
from diskcache_admin.inspection import get_adapter
from diskcache_admin.inspection.base import Adapter, Capability
from diskcache_admin.models import AuditEntry

from .conftest import Target, diskcache_config

pytestmark = pytest.mark.django_db

USERS = {"user:1": {"name": "Ada", "langs": ["py", "c"]}, "user:2": {"name": "Bob"}}


def seed(target: Target) -> None:
    cache = target.cache
    for key, value in USERS.items():
        cache.set(key, value, 600)
    cache.set("page:home", "<p>home</p>", None)
    cache.set("page:about", "about", 600)


def adapter(target: Target) -> Adapter:
    return get_adapter(target.alias)


def text(response: Any) -> str:
    return str(response.content.decode())


def audit_actions() -> list[str]:
    return [entry.change_message for entry in LogEntry.objects.order_by("action_time")]


def test_caches_list_shows_every_alias(admin_client: Client, target: Target) -> None:
    seed(target)

    response = admin_client.get("/admin/diskcache_admin/cache/")

    assert response.status_code == 200
    body = text(response)
    assert ">target<" in body
    assert ">default<" in body
    assert adapter(target).backend_name in body
    if adapter(target).can(Capability.STATS):
        stats = adapter(target).stats()
        if stats.entries is not None:
            assert f">{stats.entries:,}<" in body


def test_cache_detail_shows_stats(admin_client: Client, target: Target) -> None:
    seed(target)

    response = admin_client.get(target.url("detail"))

    assert response.status_code == 200
    body = text(response)
    assert "Statistics" in body
    assert adapter(target).backend_name in body
    if adapter(target).can(Capability.HISTOGRAMS):
        assert "<svg" in body


def test_key_browser_lists_and_searches(admin_client: Client, target: Target) -> None:
    seed(target)
    can = adapter(target).can

    response = admin_client.get(target.url("keys"), {"q": "user:", "match": "prefix"})

    assert response.status_code == 200
    body = text(response)
    if not can(Capability.LIST_KEYS):
        assert "cannot list its keys" in body
        return
    assert "user:1" in body
    assert "user:2" in body
    if can(Capability.SEARCH):
        assert "page:home" not in body


def test_key_browser_glob_and_substring(admin_client: Client, target: Target) -> None:
    seed(target)
    if not adapter(target).can(Capability.SEARCH):
        page = text(admin_client.get(target.url("keys"), {"q": "page:*e", "match": "glob"}))
        assert "page:home" not in page
        assert "cannot list its keys" in page
        return

    glob = text(admin_client.get(target.url("keys"), {"q": "page:*e", "match": "glob"}))
    substring = text(admin_client.get(target.url("keys"), {"q": "bou", "match": "substring"}))

    assert "page:home" in glob
    assert "page:about" not in glob
    assert "page:about" in substring
    assert "page:home" not in substring


def test_lookup_opens_a_key_by_name(admin_client: Client, target: Target) -> None:
    seed(target)

    response = admin_client.get(target.url("keys"), {"key": "user:1"})

    assert response.status_code == 302
    assert response["Location"] == target.key_url("user:1")


def test_key_detail_shows_pretty_json(admin_client: Client, target: Target) -> None:
    seed(target)

    response = admin_client.get(target.key_url("user:1"))

    assert response.status_code == 200
    body = text(response)
    assert "user:1" in body
    if adapter(target).can(Capability.PEEK):
        assert "&quot;name&quot;: &quot;Ada&quot;" in body
        assert '\n  "langs"' in response.context["preview_text"]


def test_key_detail_of_a_vanished_key_says_so(admin_client: Client, target: Target) -> None:
    seed(target)
    url = target.key_url("user:1")
    target.cache.delete("user:1")

    response = admin_client.get(url)

    assert response.status_code == 404
    assert "no longer exists" in text(response)


def test_delete_one_key_through_confirmation(admin_client: Client, target: Target) -> None:
    seed(target)
    url = target.url("delete_keys")
    token = target.token("user:1")

    confirm = admin_client.post(url, {"k": [token]})
    assert confirm.status_code == 200
    assert "This deletes 1 entry" in text(confirm)
    assert target.cache.get("user:1") is not None

    done = admin_client.post(url, {"k": [token], "confirm": "yes"})

    assert done.status_code == 302
    assert target.cache.get("user:1") is None
    assert target.cache.get("user:2") is not None
    assert any("user:1" in message for message in audit_actions())


def test_bulk_delete_of_selected_keys(admin_client: Client, target: Target) -> None:
    seed(target)
    tokens = [target.token("user:1"), target.token("page:home")]

    response = admin_client.post(target.url("delete_keys"), {"k": tokens, "confirm": "yes"})

    assert response.status_code == 302
    assert target.cache.get("user:1") is None
    assert target.cache.get("page:home") is None
    assert target.cache.get("user:2") == USERS["user:2"]


def test_delete_all_matching_previews_then_deletes(admin_client: Client, target: Target) -> None:
    seed(target)
    url = target.url("delete_matching") + "?q=user%3A&match=prefix"

    preview = admin_client.get(url)
    body = text(preview)
    if not adapter(target).can(Capability.SEARCH):
        assert "cannot" in body
        return
    assert "2 entries" in body
    assert "currently match" in body
    assert "user:1" in body
    assert "user:2" in body
    assert target.cache.get("user:1") is not None

    done = admin_client.post(url, {"confirm": "yes"})

    assert done.status_code == 302
    assert target.cache.get("user:1") is None
    assert target.cache.get("user:2") is None
    assert target.cache.get("page:home") is not None
    assert any("user:" in message for message in audit_actions())


def test_delete_matching_needs_a_filter(admin_client: Client, target: Target) -> None:
    seed(target)

    response = admin_client.post(target.url("delete_matching"), {"confirm": "yes"})

    assert response.status_code == 200
    assert target.cache.get("page:home") is not None


def test_touch_changes_expiry(admin_client: Client, target: Target) -> None:
    seed(target)
    url = target.url("touch", target.token("user:1"))

    form = admin_client.get(url)
    if not adapter(target).can(Capability.TOUCH):
        assert "cannot" in text(form)
        return
    assert form.status_code == 200

    done = admin_client.post(url, {"timeout": "0"})

    assert done.status_code == 302
    assert target.cache.get("user:1") is None
    assert target.cache.get("user:2") is not None


def test_touch_never_expire(admin_client: Client, target: Target) -> None:
    seed(target)
    if not adapter(target).can(Capability.TOUCH):
        refused = admin_client.post(target.url("touch", target.token("user:1")), {"never": "on"})
        assert "cannot" in text(refused)
        assert not audit_actions()
        return

    done = admin_client.post(target.url("touch", target.token("user:1")), {"never": "on"})

    assert done.status_code == 302
    assert target.cache.get("user:1") == USERS["user:1"]
    if adapter(target).can(Capability.KEY_INFO):
        info = adapter(target).key_info(target.cache.make_key("user:1"))
        assert info is not None
        assert info.expires is None


def test_clear_needs_the_alias_typed(admin_client: Client, target: Target) -> None:
    seed(target)
    url = target.url("action", "clear")

    page = admin_client.get(url)
    assert page.status_code == 200
    assert "This deletes" in text(page)
    assert "Type the alias name" in text(page)

    wrong = admin_client.post(url, {"confirm": "yes", "typed": "default"})
    assert wrong.status_code == 200
    assert target.cache.get("user:1") is not None

    done = admin_client.post(url, {"confirm": "yes", "typed": "target"})

    assert done.status_code == 302
    assert target.cache.get("user:1") is None
    assert target.cache.get("page:home") is None
    assert any("Cleared" in message for message in audit_actions())


@pytest.mark.parametrize("slug", ["expire", "cull", "reset-stats"])
def test_maintenance_action(admin_client: Client, target: Target, slug: str) -> None:
    seed(target)
    target.cache.set("old", "x", 0.001)
    capability = {
        "expire": Capability.EXPIRE,
        "cull": Capability.CULL,
        "reset-stats": Capability.RESET_STATS,
    }[slug]
    url = target.url("action", slug)

    page = admin_client.get(url)
    body = text(page)
    assert page.status_code == 200
    if not adapter(target).can(capability):
        assert "cannot" in body
        assert admin_client.post(url, {"confirm": "yes"}).status_code == 200
        return
    assert "Yes," in body

    done = admin_client.post(url, {"confirm": "yes"})

    assert done.status_code == 302
    assert target.cache.get("user:1") == USERS["user:1"]
    assert len(audit_actions()) == 1


def test_evict_tag(admin_client: Client, disk: Target) -> None:
    disk.cache.set("a", 1, tag="red")  # type: ignore[call-arg]
    disk.cache.set("b", 2, tag="red")  # type: ignore[call-arg]
    disk.cache.set("c", 3, tag="blue")  # type: ignore[call-arg]
    url = disk.url("action", "evict")

    ask = admin_client.get(url)
    assert 'name="tag"' in text(ask)
    preview = admin_client.get(url, {"tag": "red"})
    assert "2 entries" in text(preview)

    done = admin_client.post(url, {"tag": "red", "confirm": "yes"})

    assert done.status_code == 302
    assert disk.cache.get("a") is None
    assert disk.cache.get("b") is None
    assert disk.cache.get("c") == 3


def test_expire_states_what_goes(admin_client: Client, disk: Target) -> None:
    disk.cache.set("gone", "x" * 100, 0.001)
    disk.cache.set("kept", "y", None)
    import time

    time.sleep(0.01)

    page = text(admin_client.get(disk.url("action", "expire")))

    assert "1 entry" in page
    admin_client.post(disk.url("action", "expire"), {"confirm": "yes"})
    assert disk.cache.get("kept") == "y"
    assert adapter(disk).stats().entries == 1


def test_detail_draws_svg_charts(admin_client: Client, disk: Target) -> None:
    for n in range(30):
        disk.cache.set(f"family{n % 3}:{n}", "v" * n, None if n % 2 else 30)

    body = text(admin_client.get(disk.url("detail")))

    assert body.count("<svg") >= 3
    assert "family0" in body
    content = body[body.index('id="content-main"') :]
    assert "<script" not in content.split("</main>")[0]


def test_pagination_follows_the_cursor(admin_client: Client, disk: Target) -> None:
    for n in range(60):
        disk.cache.set(f"k{n:03d}", n)

    first = admin_client.get(disk.url("keys"), {"per_page": "25"})
    rows = first.context["rows"]
    assert [row["info"].key for row in rows] == [f"k{n:03d}" for n in range(25)]
    next_url = first.context["next_url"]

    second = admin_client.get(disk.url("keys") + next_url)

    assert [row["info"].key for row in second.context["rows"]] == [
        f"k{n:03d}" for n in range(25, 50)
    ]


def test_sort_by_size_descending(admin_client: Client, disk: Target) -> None:
    for n in range(5):
        disk.cache.set(f"s{n}", "x" * (n * 100))

    response = admin_client.get(disk.url("keys"), {"o": "size", "desc": "on"})

    assert next(row["info"].key for row in response.context["rows"]) == "s4"


def test_filter_by_family_and_expired(admin_client: Client, disk: Target) -> None:
    disk.cache.set("a:1", 1)
    disk.cache.set("b:1", 1)
    disk.cache.set("b:2", 1, 0.001)
    import time

    time.sleep(0.01)

    family = admin_client.get(disk.url("keys"), {"family": "b"}).context["rows"]
    expired = admin_client.get(disk.url("keys"), {"expired": "yes"}).context["rows"]

    assert sorted(row["info"].key for row in family) == ["b:1", "b:2"]
    assert [row["info"].key for row in expired] == ["b:2"]


def test_hidden_prefixes_are_never_listed_or_opened(
    admin_client: Client, target: Target, settings: Any
) -> None:
    seed(target)
    target.cache.set("session:abc", "secret", 600)
    settings.DISKCACHE_ADMIN_HIDDEN_PREFIXES = ["session:"]

    listing = text(admin_client.get(target.url("keys")))
    detail = admin_client.get(target.key_url("session:abc"))
    lookup = admin_client.get(target.url("keys"), {"key": "session:abc"})

    assert "session:abc" not in listing.replace("<code>session:</code>", "")
    assert detail.status_code == 404
    assert admin_client.get(lookup["Location"]).status_code == 404
    touch = admin_client.post(target.url("touch", target.token("session:abc")), {"never": "on"})
    assert touch.status_code == 404


def test_delete_matching_spares_hidden_keys(
    admin_client: Client, disk: Target, settings: Any
) -> None:
    disk.cache.set("s:1", 1)
    disk.cache.set("s:secret", 2)
    settings.DISKCACHE_ADMIN_HIDDEN_PREFIXES = ["s:secret"]
    url = disk.url("delete_matching") + "?q=s%3A"

    assert "1 entry" in text(admin_client.get(url))
    admin_client.post(url, {"confirm": "yes"})

    assert disk.cache.get("s:1") is None
    assert disk.cache.get("s:secret") == 2


def test_value_that_cannot_be_unpickled(admin_client: Client, target: Target) -> None:
    assert adapter(target).can(Capability.PEEK)
    target.cache.set("broken", Unloadable(), 600)

    response = admin_client.get(target.key_url("broken"))

    assert response.status_code == 200
    assert "The value cannot be shown" in text(response)


class Unloadable:
    """Pickles fine; loading it calls a function that fails."""

    def __reduce__(self) -> tuple[Any, tuple[()]]:
        return (_fail_on_load, ())


def _fail_on_load() -> None:
    raise RuntimeError("cannot rebuild this value")


def test_every_page_renders_for_a_dummy_cache(admin_client: Client, settings: Any) -> None:
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"},
    }

    listing = text(admin_client.get("/admin/diskcache_admin/cache/"))
    detail = admin_client.get("/admin/diskcache_admin/cache/default/")
    keys = admin_client.get("/admin/diskcache_admin/cache/default/keys/")
    clear = admin_client.get("/admin/diskcache_admin/cache/default/do/clear/")

    assert "No inspection available" in listing
    assert detail.status_code == keys.status_code == clear.status_code == 200
    assert "cannot" in text(clear)


def test_a_redis_that_is_down_shows_an_error(admin_client: Client, settings: Any) -> None:
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        }
    }

    listing = admin_client.get("/admin/diskcache_admin/cache/")
    detail = admin_client.get("/admin/diskcache_admin/cache/default/")
    keys = admin_client.get("/admin/diskcache_admin/cache/default/keys/")

    assert listing.status_code == detail.status_code == keys.status_code == 200
    for page in (listing, detail, keys):
        assert re.search(r'class="[^"]*(dca-error|dca-row-error)', text(page))


def test_unknown_alias_is_404(admin_client: Client, disk: Target) -> None:
    assert admin_client.get("/admin/diskcache_admin/cache/nope/").status_code == 404
    assert admin_client.get("/admin/diskcache_admin/cache/nope/keys/").status_code == 404


def test_admin_index_lists_caches(admin_client: Client, disk: Target) -> None:
    body = text(admin_client.get("/admin/"))

    assert 'href="/admin/diskcache_admin/cache/"' in body
    assert ">Caches<" in body
    app_index = admin_client.get("/admin/diskcache_admin/")
    assert app_index.status_code == 200
    assert 'href="/admin/diskcache_admin/cache/"' in app_index.content.decode()


def test_log_entry_links_to_the_cache_page(admin_client: Client, disk: Target) -> None:
    disk.cache.set("a", 1)
    admin_client.post(disk.url("action", "clear"), {"confirm": "yes", "typed": "default"})

    entry = LogEntry.objects.get()

    assert entry.get_admin_url() == disk.url("detail")


@pytest.mark.redis
def test_flush_db_states_the_blast_radius_and_flushes(
    admin_client: Client, redis_server: str, worker_id_suffix: str
) -> None:
    import fcntl

    import redis
    from django.test import override_settings

    from .conftest import REDIS_DB, REDIS_LOCK

    prefix = f"dca-admin-flush-{worker_id_suffix}"
    caches = {
        "target": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:6379/{REDIS_DB}",
            "KEY_PREFIX": prefix,
        }
    }
    client = redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB)
    with open(REDIS_LOCK, "a") as lock, override_settings(CACHES=caches):
        fcntl.flock(lock, fcntl.LOCK_EX)  # no other test uses database 2 meanwhile
        try:
            target = Target("redis", "target", caches)
            target.cache.set("mine", 1)
            client.set(f"{prefix}-other-app", "theirs")
            url = target.url("action", "flush-db")
            if not adapter(target).can(Capability.FLUSH_DB):
                pytest.fail("the Redis adapter should offer a whole-database flush")

            page = text(admin_client.get(url))
            assert "EVERY key in the database" in page
            assert "Other cache aliases and any other application" in page
            assert client.get(f"{prefix}-other-app") == b"theirs"

            done = admin_client.post(url, {"confirm": "yes", "typed": "target"})

            assert done.status_code == 302
            assert client.get(f"{prefix}-other-app") is None
            assert target.cache.get("mine") is None
            assert any("Flushed" in message for message in audit_actions())
        finally:
            client.delete(f"{prefix}-other-app")
            client.close()


def test_hit_ratio_chart_from_snapshots(admin_client: Client, disk: Target) -> None:
    disk.cache.set("a", 1)
    snapshots = adapter(disk)
    snapshots.take_snapshot()
    disk.cache.get("a")
    disk.cache.get("missing")
    disk.cache.get("a")
    disk.cache.close()  # flushes the batched counters when due; stats() adds pending ones
    snapshots.take_snapshot()

    body = text(admin_client.get(disk.url("detail")))

    assert "Hit ratio over time" in body
    assert "66.7%" in body


def test_browsing_changes_no_statistics(admin_client: Client, target: Target) -> None:
    seed(target)
    before = adapter(target).stats() if adapter(target).can(Capability.STATS) else None

    admin_client.get("/admin/diskcache_admin/cache/")
    admin_client.get(target.url("keys"))
    admin_client.get(target.key_url("user:1"))
    admin_client.get(target.key_url("user:2"))

    after = adapter(target).stats() if adapter(target).can(Capability.STATS) else None
    if before is None or after is None:
        assert target.cache.get("user:1") == USERS["user:1"]
        return
    assert after.entries == before.entries
    if target.kind != "redis":  # Redis INFO counters are server-wide: other clients move them
        assert (after.hits, after.misses) == (before.hits, before.misses)


def memcached_available() -> bool:
    try:
        from pymemcache.client.base import Client as Memcached
        from pymemcache.exceptions import MemcacheError
    except ImportError:
        return False
    client = Memcached(("127.0.0.1", 11211), connect_timeout=1, timeout=1)
    try:
        return bool(client.version())
    except (OSError, MemcacheError):
        return False
    finally:
        client.close()


def test_memcached_lookup_delete_and_flush_warning(
    admin_client: Client, worker_id_suffix: str
) -> None:
    from django.test import override_settings

    from tests.conftest import skip_or_fail_unless

    skip_or_fail_unless(memcached_available(), "memcached is not reachable on 127.0.0.1:11211")
    caches = {
        "mc": {
            "BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache",
            "LOCATION": "127.0.0.1:11211",
            "KEY_PREFIX": f"dca-admin-{worker_id_suffix}",
        }
    }
    with override_settings(CACHES=caches):
        target = Target("memcached", "mc", caches)
        target.cache.set("user:1", {"name": "Ada"}, 60)

        listing = text(admin_client.get("/admin/diskcache_admin/cache/"))
        lookup = admin_client.get(target.url("keys"), {"key": "user:1"})
        detail = text(admin_client.get(lookup["Location"]))
        flush = text(admin_client.get(target.url("action", "flush-db")))
        deleted = admin_client.post(
            target.url("delete_keys"), {"k": [target.token("user:1")], "confirm": "yes"}
        )

        assert "PyMemcacheCache" in listing
        assert "&quot;name&quot;: &quot;Ada&quot;" in detail
        assert "Other cache aliases and any other application" in flush
        assert deleted.status_code == 302
        assert target.cache.get("user:1") is None


def test_key_detail_reads_the_metadata_once(
    admin_client: Client, disk: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(disk)
    backend = type(adapter(disk))
    real = backend.key_info
    calls: list[str] = []

    def counted(self: Adapter, raw_key: str) -> Any:
        calls.append(raw_key)
        return real(self, raw_key)

    monkeypatch.setattr(backend, "key_info", counted)

    response = admin_client.get(disk.key_url("user:1"))

    assert response.status_code == 200
    assert "user:1" in text(response)
    assert len(calls) == 1


def test_touch_audit_names_the_key_as_written(admin_client: Client, disk: Target) -> None:
    seed(disk)

    done = admin_client.post(disk.url("touch", disk.token("user:1")), {"never": "on"})

    assert done.status_code == 302
    summary = AuditEntry.objects.get(action="touch").summary
    assert "“user:1”" in summary
    assert disk.cache.make_key("user:1") not in summary


@pytest.fixture
def roomy(tmp_path: Any, db: None) -> Iterator[Target]:
    """A DiskCache ``default`` that holds 2,500 entries (Django's MAX_ENTRIES is 300)."""
    config = {"default": diskcache_config(str(tmp_path / "roomy"), MAX_ENTRIES=10_000)}
    with override_settings(CACHES=config):
        target = Target("diskcache", "default", config)
        target.cache.set_many({f"k{n}": n for n in range(2500)})
        yield target


def test_a_clear_that_outlasts_its_time_stops_between_batches_and_says_so(
    admin_client: Client, roomy: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(actions, "CLEAR_SECONDS", 0.0)  # every batch is past the deadline

    done = admin_client.post(
        roomy.url("action", "clear"), {"confirm": "yes", "typed": roomy.alias}, follow=True
    )

    message = text(done)
    left = sum(roomy.cache.get(f"k{n}") is not None for n in range(2500))
    assert 0 < left < 2500  # a first batch went, the rest is intact and readable
    assert f"{2500 - left:,} of 2,500 entries removed" in message
    assert f"manage.py cache clear --alias {roomy.alias}" in message
    assert any("Stopped after" in summary for summary in audit_actions())
    assert get_adapter(roomy.alias).check() == []
    assert get_adapter(roomy.alias).stats().entries == left


def test_a_clear_within_its_time_clears_everything(admin_client: Client, roomy: Target) -> None:
    admin_client.post(roomy.url("action", "clear"), {"confirm": "yes", "typed": roomy.alias})

    assert get_adapter(roomy.alias).stats().entries == 0
    assert any("Cleared" in summary for summary in audit_actions())
