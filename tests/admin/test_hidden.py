"""A hidden key is invisible and untouchable on every page and action (issue 12, item 10).

The stores use ``KEY_PREFIX="site:prod"``: a prefix with a colon, which the old "delete
selected" guessed wrong (it split the stored key at its first two colons). Each test compares
a hidden key that exists with one that does not: every answer must be the same, so not even
its existence shows.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import caches
from django.core.management import call_command
from django.test import Client, override_settings

from diskcache_admin.admin.helpers import encode_key
from diskcache_admin.inspection import get_adapter
from diskcache_admin.inspection.base import Capability

from .conftest import Target, config_for

pytestmark = pytest.mark.django_db

PREFIX = "site:prod"
HIDDEN = ["secret:", "otp"]
SECRET = "secret:alpha"  # exists
ABSENT = "secret:omega"  # never stored
OTP = "otp123456"  # a key without separator: its family is the key itself
KINDS = ("diskcache", "locmem", "filebased", "database")


@pytest.fixture(params=KINDS)
def prefixed(
    request: pytest.FixtureRequest, tmp_path: Any, worker_id_suffix: str, settings: Any
) -> Iterator[Target]:
    """An alias of each kind with ``KEY_PREFIX="site:prod"``, a hidden key and visible ones."""
    kind: str = request.param
    config = {**config_for(kind, str(tmp_path), worker_id_suffix), "KEY_PREFIX": PREFIX}
    if kind == "diskcache":
        config["LOCATION"] = os.path.join(str(tmp_path), "prefixed")
    settings_caches = {"default": config}
    with override_settings(CACHES=settings_caches):
        if kind == "database":
            call_command("createcachetable", "admin_cache", verbosity=0)
        settings.DISKCACHE_ADMIN_HIDDEN_PREFIXES = HIDDEN
        cache = caches["default"]
        tagged: dict[str, Any] = {"tag": "t"} if kind == "diskcache" else {}
        cache.set(SECRET, "the secret", 600, **tagged)
        cache.set(OTP, "123456", 600, **tagged)
        cache.set("user:1", "visible", 600, **tagged)
        cache.set("user:2", "visible", 600)
        try:
            yield Target(kind, "default", settings_caches)
        finally:
            cache.close()


def body(response: Any) -> str:
    return str(response.content.decode())


def without(text: str, *names: str) -> str:
    """The page with the names a request itself carried taken out (an echo reveals nothing)."""
    for name in names:
        text = text.replace(name, "<name>").replace(encode_key(name), "<token>")
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", text)


def alive(target: Target) -> bool:
    return bool(target.cache.get(SECRET) == "the secret" and target.cache.get(OTP) == "123456")


def test_listing_charts_and_counts_never_show_a_hidden_key(
    admin_client: Client, prefixed: Target
) -> None:
    pages = [
        admin_client.get(prefixed.url("keys")),
        admin_client.get(prefixed.url("keys"), {"q": "secret", "match": "prefix"}),
        admin_client.get(prefixed.url("keys"), {"q": "*", "match": "glob"}),
        admin_client.get(prefixed.url("keys"), {"q": "otp", "match": "substring"}),
        admin_client.get(prefixed.url("detail")),
        admin_client.get("/admin/diskcache_admin/cache/"),
    ]

    for response in pages:
        assert response.status_code in (200, 400)
        shown = body(response).replace("<code>secret:</code>", "").replace("<code>otp</code>", "")
        assert "secret:alpha" not in shown
        assert "otp123" not in shown  # the "Top key families" chart named it in full


def test_every_key_page_answers_for_a_hidden_key_as_for_an_absent_one(
    admin_client: Client, prefixed: Target
) -> None:
    def answers(key: str) -> list[tuple[int, str]]:
        token = prefixed.token(key)
        requests = [
            admin_client.get(prefixed.url("key", token)),
            admin_client.get(prefixed.url("keys"), {"key": key}),
            admin_client.get(prefixed.url("touch", token)),
            admin_client.post(prefixed.url("touch", token), {"never": "on"}),
            admin_client.post(prefixed.url("touch", token), {"timeout": "0"}),
            admin_client.get(prefixed.url("delete_keys"), {"k": [token]}),
            admin_client.post(prefixed.url("delete_keys"), {"k": [token]}),
            # Followed, so its message shows here and not on the next request.
            admin_client.post(
                prefixed.url("delete_keys"), {"k": [token], "confirm": "yes"}, follow=True
            ),
        ]
        return [(r.status_code, without(body(r), key)) for r in requests]

    assert answers(SECRET) == answers(ABSENT)
    assert alive(prefixed)


def test_delete_selected_with_more_than_500_keys_spares_hidden_ones(
    admin_client: Client, prefixed: Target
) -> None:
    filler = [prefixed.token(f"user:x{i}") for i in range(600)]

    def delete(*keys: str) -> tuple[int, list[str]]:
        tokens = [*filler, *(prefixed.token(key) for key in keys)]
        response = admin_client.post(
            prefixed.url("delete_keys"), {"k": tokens, "confirm": "yes"}, follow=True
        )
        return response.status_code, [str(m) for m in response.context["messages"]]

    with_secret = delete(SECRET, OTP, "user:1")
    prefixed.cache.set("user:1", "visible", 600)
    with_absent = delete(ABSENT, "otp000", "user:1")

    assert with_secret == with_absent == (200, ["Deleted 1 key from “default”."])
    assert alive(prefixed)
    assert prefixed.cache.get("user:1") is None


def test_delete_matching_and_evict_spare_hidden_keys(
    admin_client: Client, prefixed: Target
) -> None:
    adapter = get_adapter("default")
    if adapter.can(Capability.SEARCH):
        for query in ({"q": "", "match": "prefix", "expired": "no"}, {"q": "*", "match": "glob"}):
            preview = admin_client.get(prefixed.url("delete_matching"), query)
            assert "secret:alpha" not in body(preview)
            admin_client.post(
                prefixed.url("delete_matching") + "?q=*&match=glob", {"confirm": "yes"}
            )
    if adapter.can(Capability.EVICT_TAG):
        prefixed.cache.set("user:1", "visible", 600, tag="t")  # type: ignore[call-arg]
        statement = admin_client.get(prefixed.url("action", "evict"), {"tag": "t"})
        assert "1 entry" in body(statement)
        done = admin_client.post(prefixed.url("action", "evict"), {"tag": "t", "confirm": "yes"})
        assert done.status_code == 302
        assert prefixed.cache.get("user:1") is None

    assert alive(prefixed)


def test_a_custom_made_key_under_a_hidden_prefix_stays_hidden_even_unlisted(
    admin_client: Client, prefixed: Target
) -> None:
    """The stored-key check needs no metadata: it holds on backends that cannot describe keys."""
    raw = prefixed.cache.make_key(SECRET)
    assert get_adapter("default").user_key(raw) == SECRET

    response = admin_client.get(prefixed.url("key", encode_key(raw)))

    assert response.status_code == 404
    assert "the secret" not in body(response)


@pytest.mark.parametrize("prefixed", ["diskcache"], indirect=True)  # the one with these charts
def test_charts_count_families_and_tags_without_hidden_keys(
    admin_client: Client, prefixed: Target
) -> None:
    prefixed.cache.set("secret", "a visible key whose family is a hidden prefix's start", 600)

    charts = dict(admin_client.get(prefixed.url("detail")).context["charts"])
    families = str(charts["Top key families"])
    tags = str(charts["Top tags"])

    assert ">user<" in families
    assert ">secret<" in families  # recounted: the one visible key, not the hidden one
    assert "otp" not in families
    assert re.search(r">t</text>.*?>1</text>", tags)  # user:1 only; two hidden keys carry t too
