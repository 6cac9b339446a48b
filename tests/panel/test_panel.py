from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from debug_toolbar.toolbar import DebugToolbar
from django.core.cache import cache, caches
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory
from django.test.utils import modify_settings, override_settings

from diskcache_admin.panels import DiskCachePanel

PANELS = ["diskcache_admin.panels.DiskCachePanel", "debug_toolbar.panels.cache.CachePanel"]
TOOLBAR = {"SHOW_TOOLBAR_CALLBACK": "tests.panel.test_panel.always", "IS_RUNNING_TESTS": False}

pytestmark = pytest.mark.django_db


def always(request: HttpRequest) -> bool:
    return True


@pytest.fixture(autouse=True)
def toolbar_settings() -> Iterator[None]:
    with (
        modify_settings(INSTALLED_APPS={"append": "debug_toolbar"}),
        override_settings(DEBUG_TOOLBAR_PANELS=PANELS, DEBUG_TOOLBAR_CONFIG=TOOLBAR),
    ):
        cache.clear()
        caches["locmem"].clear()
        yield


def make_toolbar() -> tuple[DebugToolbar, DiskCachePanel, Any]:
    request = RequestFactory().get("/")
    toolbar = DebugToolbar(request, lambda request: HttpResponse("ok"))
    ours = toolbar.get_panel_by_id("DiskCachePanel")
    theirs = toolbar.get_panel_by_id("CachePanel")
    assert isinstance(ours, DiskCachePanel)
    return toolbar, ours, theirs


def finish(panel: Any) -> dict[str, Any]:
    panel.disable_instrumentation()
    panel.generate_stats(panel.toolbar.request, HttpResponse("ok"))
    stats: dict[str, Any] = panel.get_stats()
    return stats


def test_a_cached_value_equal_to_the_default_is_a_hit() -> None:
    cache.set("nothing", None)
    _, panel, _ = make_toolbar()
    panel.enable_instrumentation()
    assert cache.get("nothing") is None
    assert cache.get("absent") is None
    stats = finish(panel)
    assert [(c["key"], c["hit"], c["inferred"]) for c in stats["calls"]] == [
        ("nothing", True, False),
        ("absent", False, False),
    ]
    assert (stats["hits"], stats["misses"]) == (1, 1)


def test_calls_record_alias_operation_size_preview_and_call_site() -> None:
    _, panel, _ = make_toolbar()
    panel.enable_instrumentation()
    cache.set("club:1", {"name": "Rowing"}, tag="clubs")
    cache.get_many(["club:1", "club:2"])
    stats = finish(panel)
    operations = [(c["alias"], c["operation"], c["key"], c["hit"]) for c in stats["calls"]]
    assert operations == [
        ("default", "set", "club:1", None),
        ("default", "get_many", "", None),  # one call; its keys are detail rows
    ]
    assert [(row["key"], row["hit"]) for row in stats["calls"][1]["keys"]] == [
        ("club:1", True),
        ("club:2", False),
    ]
    first = stats["calls"][0]
    assert first["size"] > 0
    assert first["preview"] == '{\n  "name": "Rowing"\n}'
    assert first["site"].startswith("tests/panel/test_panel.py:")
    assert stats["totals"] == [
        {
            "alias": "default",
            "calls": 2,
            "ms": pytest.approx(stats["total_ms"], abs=0.01),
            "hits": 1,
            "misses": 1,
            "operations": {"set": 1, "get_many": 1},
        }
    ]


def test_other_backends_are_observed_and_get_is_exact() -> None:
    locmem = caches["locmem"]
    locmem.set("present", 0)
    _, panel, _ = make_toolbar()
    panel.enable_instrumentation()
    assert locmem.get("present", 0) == 0
    assert locmem.get("absent", "fallback") == "fallback"
    assert locmem.get_or_set("made", lambda: 5) == 5
    stats = finish(panel)
    calls = [
        (c["alias"], c["operation"], c["key"], c["hit"], c["inferred"]) for c in stats["calls"]
    ]
    # get_or_set calls get() and add() inside LocMemCache: only the user's call is recorded,
    # and the hit or miss of that inner get() is its exact answer.
    assert calls == [
        ("locmem", "get", "present", True, False),
        ("locmem", "get", "absent", False, False),
        ("locmem", "get_or_set", "made", False, False),
    ]


def test_both_panels_together_neither_double_counts() -> None:
    _, ours, theirs = make_toolbar()
    theirs.enable_instrumentation()
    ours.enable_instrumentation()
    cache.set("both", 1)
    cache.get("both")
    caches["locmem"].set("both", 2)
    caches["locmem"].get("both")
    theirs.disable_instrumentation()
    stats = finish(ours)
    theirs.generate_stats(theirs.toolbar.request, HttpResponse("ok"))
    assert stats["total_calls"] == 4
    assert theirs.get_stats()["total_calls"] == 4
    assert theirs.get_stats()["hits"] == 2


def test_stats_are_json_safe_and_show_the_store_before_and_after() -> None:
    cache.set("old", "x")
    _, panel, _ = make_toolbar()
    panel.enable_instrumentation()
    cache.set("new", object.__new__(type("Local", (), {"__reduce__": lambda self: (str, ())})))
    stats = finish(panel)
    json.dumps(stats)
    (store,) = stats["stores"]
    assert store["alias"] == "default"
    assert (store["before"]["entries"], store["after"]["entries"]) == (1, 2)


def test_the_preview_is_escaped_and_can_be_turned_off() -> None:
    _, panel, _ = make_toolbar()
    panel.enable_instrumentation()
    cache.set("xss", "<script>alert(1)</script>")
    finish(panel)
    html = panel.content
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html

    with override_settings(DISKCACHE_ADMIN_PANEL_PREVIEW=False):
        _, quiet, _ = make_toolbar()
        quiet.enable_instrumentation()
        cache.set("secret", "hunter2")
        stats = finish(quiet)
        assert stats["calls"][0]["preview"] is None
        assert "hunter2" not in quiet.content


def test_nav_subtitle_comes_from_the_stats() -> None:
    _, panel, _ = make_toolbar()
    panel.enable_instrumentation()
    cache.get("a")
    finish(panel)
    assert panel.nav_subtitle.startswith("1 call, 0 hits, 1 misses in ")


def test_instrumentation_is_off_after_disable() -> None:
    _, panel, _ = make_toolbar()
    panel.enable_instrumentation()
    panel.disable_instrumentation()
    cache.get("after")
    caches["locmem"].get("after")
    assert panel.calls == []


async def test_async_calls_are_recorded_exactly() -> None:
    _, panel, _ = make_toolbar()
    panel.enable_instrumentation()
    await cache.aset("counter", 1, timeout=1000)
    assert await cache.aincr("counter") == 2
    await cache.aget("missing")
    panel.disable_instrumentation()
    assert [(c["operation"], c["hit"]) for c in panel.calls] == [
        ("set", None),
        ("incr", True),
        ("get", False),
    ]


@override_settings(
    ROOT_URLCONF="tests.panel.urls",
    DEBUG=True,
    MIDDLEWARE=["debug_toolbar.middleware.DebugToolbarMiddleware"],
)
def test_the_toolbar_renders_the_panel_for_a_wsgi_request(client: Any) -> None:
    response = client.get("/page/")
    assert response.status_code == 200
    content = response.content.decode()
    assert 'id="djDebug"' in content
    assert "DiskCachePanel" in content
    request_id = _request_id(content)
    stored = DebugToolbar.fetch(request_id)
    assert stored is not None
    stats = stored.get_panel_by_id("DiskCachePanel").get_stats()
    assert [(c["alias"], c["operation"], c["hit"]) for c in stats["calls"]] == [
        ("default", "set", None),
        ("default", "get", True),
        ("locmem", "get", False),
    ]


@override_settings(
    ROOT_URLCONF="tests.panel.urls",
    DEBUG=True,
    MIDDLEWARE=["debug_toolbar.middleware.DebugToolbarMiddleware"],
)
async def test_the_toolbar_renders_the_panel_for_an_asgi_request(async_client: Any) -> None:
    response = await async_client.get("/async/")
    assert response.status_code == 200
    content = response.content.decode()
    stored = DebugToolbar.fetch(_request_id(content))
    assert stored is not None
    stats = stored.get_panel_by_id("DiskCachePanel").get_stats()
    assert [(c["operation"], c["hit"]) for c in stats["calls"]] == [
        ("set", None),
        ("incr", True),
        ("get", False),
    ]


def test_run_checks_notes_when_no_alias_uses_diskcache() -> None:
    assert DiskCachePanel.run_checks() == []
    only_locmem = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    with override_settings(CACHES=only_locmem):
        (message,) = DiskCachePanel.run_checks()
    assert message.id == "diskcache_admin.I001"


def _request_id(content: str) -> str:
    marker = 'data-request-id="'
    start = content.index(marker) + len(marker)
    return content[start : content.index('"', start)]


def test_keys_link_to_the_admin_only_for_users_who_may_view_keys(
    admin_user: Any, django_user_model: Any
) -> None:
    def panel_for(user: Any) -> DiskCachePanel:
        request = RequestFactory().get("/")
        request.user = user
        panel = DebugToolbar(request, lambda r: HttpResponse("ok")).get_panel_by_id(
            "DiskCachePanel"
        )
        panel.enable_instrumentation()
        cache.get("club:7")
        panel.disable_instrumentation()
        panel.generate_stats(request, HttpResponse("ok"))
        return panel

    staff = django_user_model.objects.create_user("staff", is_staff=True)
    linked = panel_for(admin_user)
    (url,) = linked.get_stats()["key_urls"].values()
    assert url.startswith("/admin/diskcache_admin/cache/")
    assert f'href="{url}"' in linked.content
    assert panel_for(staff).get_stats()["key_urls"] == {}


# -- both panels on a real request: ours must not change what the toolbar's own records -------

OURS, THEIRS = "diskcache_admin.panels.DiskCachePanel", "debug_toolbar.panels.cache.CachePanel"


def _request_both(client: Any, panels: list[str], order: str) -> DebugToolbar:
    with override_settings(
        ROOT_URLCONF="tests.panel.urls",
        DEBUG=True,
        MIDDLEWARE=["debug_toolbar.middleware.DebugToolbarMiddleware"],
        DEBUG_TOOLBAR_PANELS=panels,
    ):
        cache.clear()
        caches["locmem"].clear()
        response = client.get(f"/many/{order}/")
        assert response.status_code == 200
        stored = DebugToolbar.fetch(_request_id(response.content.decode()))
    assert stored is not None
    return stored


def _theirs(toolbar: DebugToolbar) -> tuple[list[Any], int, int, dict[str, int]]:
    stats = toolbar.get_panel_by_id("CachePanel").get_stats()
    calls = [(call["name"], call["args"], call["kwargs"]) for call in stats["calls"]]
    return calls, stats["hits"], stats["misses"], stats["counts"]


@pytest.mark.parametrize("order", ["ab", "ba"])
@pytest.mark.parametrize("panels", [[OURS, THEIRS], [THEIRS, OURS]], ids=["ours-first", "last"])
def test_both_panels_on_a_real_request_record_the_same_calls(
    client: Any, order: str, panels: list[str]
) -> None:
    alone = _request_both(client, [THEIRS], order)
    both = _request_both(client, panels, order)

    # The toolbar's own panel records the same arguments and counts with ours or without it.
    assert _theirs(both) == _theirs(alone)
    calls, hits, misses, counts = _theirs(both)
    assert len(calls) == 6
    assert (hits, misses) == (3, 3)
    assert "object at 0x" not in repr(calls)  # no private default of ours leaked into them
    assert counts["get_many"] == 2

    ours = both.get_panel_by_id("DiskCachePanel").get_stats()
    assert ours["total_calls"] == 6  # a call is a call, as in the toolbar's panel
    assert (ours["hits"], ours["misses"]) == (3, 3)
    many = [c for c in ours["calls"] if c["operation"] == "get_many"]
    assert [c["alias"] for c in many] == ["default", "locmem"]
    for call in many:
        rows = {row["key"]: row for row in call["keys"]}
        assert [row["key"] for row in call["keys"]] == list(order)
        # Values and sizes against the right key, whatever the order (matched by key).
        assert (rows["a"]["hit"], rows["a"]["preview"]) == (True, "'value-a'")
        assert rows["a"]["size"] > 0
        assert (rows["b"]["hit"], rows["b"]["preview"], rows["b"]["size"]) == (False, None, None)
        assert (call["hits"], call["misses"]) == (1, 1)
    totals = {total["alias"]: total for total in ours["totals"]}
    assert totals["locmem"]["operations"] == {"set": 1, "get_many": 1, "get": 2}
    assert totals["default"]["calls"] == 2


def test_the_panel_formats_like_the_admin_and_shows_detail_rows(client: Any) -> None:
    toolbar = _request_both(client, [OURS], "ba")
    html = toolbar.get_panel_by_id("DiskCachePanel").content

    assert "2 keys" in html
    assert "1 hit, 1 miss" in html
    assert "bytes" in html  # sizes through filesizeformat, as in the admin
    assert "Hit ratio of this request: 50.0%" in html


def test_ours_records_every_method_the_toolbars_panel_records() -> None:
    from debug_toolbar.panels.cache import WRAPPED_CACHE_METHODS

    from diskcache_admin import instrumentation

    assert set(instrumentation.METHODS) == set(WRAPPED_CACHE_METHODS)


def test_the_panel_preview_never_runs_a_stored_objects_repr() -> None:
    from diskcache_admin.panels import PREVIEW_CHARS, _preview

    class Hostile:
        def __repr__(self) -> str:
            raise SystemExit("a __repr__ must not end the request")

    big = list(range(1_000_000))

    assert "Hostile" in _preview(Hostile())
    assert len(_preview(big)) <= PREVIEW_CHARS
