"""Crafted parameters get a clear 4xx, never a 500 (issue 12, item 12).

Hypothesis throws random and crafted strings at every GET and POST parameter of every view,
and at the path parts (alias, key token, action slug). The test client re-raises any exception
a view lets escape, so "no exception and a status below 500" is the whole assertion.
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any
from urllib.parse import quote

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from diskcache_admin.admin.actions import ACTIONS
from diskcache_admin.admin.helpers import encode_key

from .conftest import Target

pytestmark = pytest.mark.django_db

# Every parameter some view reads.
PARAMETERS = (
    "q",
    "match",
    "family",
    "tag",
    "expired",
    "o",
    "desc",
    "per_page",
    "cursor",
    "key",
    "version",
    "k",
    "next",
    "confirm",
    "typed",
    "timeout",
    "never",
)

# Text an HTTP client can send (a lone surrogate has no UTF-8 form, so no request carries one).
texts = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
numbers = st.sampled_from(
    ["0", "-1", "1e400", "nan", "inf", str(10**400), str(2**63), str(2**80), "1" * 5000, "0x10"]
)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


json_parts = st.one_of(
    st.integers(min_value=-(2**90), max_value=2**90),
    st.floats(),
    texts,
    st.none(),
    st.booleans(),
    st.lists(st.integers(), max_size=2),
)
# Shaped like the keyset cursors the adapters make: (kind, order, descending, value, position).
shaped = st.tuples(
    st.sampled_from(["diskcache", "locmem", "database", "redis"]),
    st.sampled_from(["key", "size", "stored", "expires"]),
    st.booleans(),
    json_parts,
    json_parts,
).map(list)
cursors = st.one_of(
    st.lists(json_parts, max_size=6).map(lambda parts: b64(json.dumps(parts).encode())),
    shaped.map(lambda parts: b64(json.dumps(parts).encode())),
    st.just(b64(b'["key", "key", false, "\\ud800", 1]')),  # JSON spells a lone surrogate
    st.just(b64(b'["key", "key", false, "a", 1e999]')),
    st.just(b64(b"[" * 5000)),
)
tokens = st.one_of(
    texts,
    st.binary(max_size=20).map(b64),  # often not UTF-8
    st.just(b64("\udcff".encode("utf-8", "surrogatepass"))),
    st.just(encode_key(":1:k")),
)
values = st.one_of(texts, numbers, cursors, tokens)
queries = st.dictionaries(
    st.sampled_from(PARAMETERS), st.one_of(values, st.lists(values, max_size=3))
)


@pytest.fixture
def seeded(disk: Target) -> Target:
    for i in range(3):
        disk.cache.set(f"user:{i}", {"i": i}, 600, tag="t")  # type: ignore[call-arg]
    return disk


def paths(target: Target, alias: str, token: str, slug: str) -> list[str]:
    def url(name: str, *args: str) -> str:
        parts = "/".join(quote(arg, safe="") for arg in args)
        return f"/admin/diskcache_admin/cache/{quote(alias, safe='')}/{name}{parts}"

    return [
        "/admin/diskcache_admin/cache/",
        url(""),
        url("keys/"),
        url("keys/delete/"),
        url("keys/delete-matching/"),
        url("key/", token, ""),
        url("key/", token, "/expiry/"),
        url("do/", slug, ""),
    ]


# A few seconds in the suite; a longer run on demand, e.g. ADMIN_FUZZ_EXAMPLES=1000.
FUZZ = settings(
    max_examples=int(os.environ.get("ADMIN_FUZZ_EXAMPLES", "12")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def request(client: Client, method: str, path: str, data: dict[str, Any]) -> int:
    response = client.get(path, data) if method == "get" else client.post(path, data)
    return int(response.status_code)


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("page", range(8))
@FUZZ
@given(data=queries, token=tokens, slug=st.sampled_from([*ACTIONS, "nope"]))
def test_no_parameter_gives_a_500(
    admin_client: Client,
    target: Target,
    method: str,
    page: int,
    data: dict[str, Any],
    token: str,
    slug: str,
) -> None:
    """Every backend kind: each adapter reads cursors, keys and tags its own way."""
    target.cache.set("user:1", {"i": 1}, 600)
    token = token or "x"  # an empty path part is another URL, not this view
    path = paths(target, target.alias, token, slug)[page]

    assert request(admin_client, method, path, data) < 500


@FUZZ
@given(alias=texts.filter(lambda a: a and "/" not in a and a not in (".", "..")))
def test_an_unknown_alias_is_a_404(admin_client: Client, seeded: Target, alias: str) -> None:
    for path in paths(seeded, alias, encode_key(":1:k"), "expire")[1:]:
        assert request(admin_client, "get", path, {}) in (404, 301)


@pytest.mark.parametrize(
    ("url_name", "data", "status"),
    [
        ("keys", {"cursor": b64(b'["key","key",false,"user:1",1208925819614629174706176]')}, 400),
        ("keys", {"cursor": b64(b'["key","key",false,"user:1","not a number"]')}, 200),
        ("keys", {"cursor": b64(b'["key","key",false,"\\ud800",1]')}, 400),
        ("keys", {"cursor": "!!!"}, 400),
        ("keys", {"per_page": "7"}, 400),
        ("keys", {"version": str(10**400), "key": "k"}, 400),
    ],
)
def test_crafted_query_parameters_are_a_clear_4xx_or_an_error_message(
    admin_client: Client, seeded: Target, url_name: str, data: dict[str, Any], status: int
) -> None:
    response = admin_client.get(seeded.url(url_name), data)

    assert response.status_code == status
    if status == 200:  # well-formed but meaningless: the adapter's own message, no listing
        assert "cursor" in response.content.decode()


def test_an_expiry_beyond_any_backend_is_a_400(admin_client: Client, seeded: Target) -> None:
    url = seeded.url("touch", seeded.token("user:1"))

    response = admin_client.post(url, {"timeout": str(10**400)})

    assert response.status_code == 400
    assert "Ensure this value is less than or equal to" in response.content.decode()
    assert seeded.cache.get("user:1") == {"i": 1}


def test_a_token_of_a_lone_surrogate_is_a_404(admin_client: Client, seeded: Target) -> None:
    token = b64("\ud800".encode("utf-8", "surrogatepass"))

    assert admin_client.get(seeded.url("key", token)).status_code == 404
    assert admin_client.get(seeded.url("touch", token)).status_code == 404
    selected = admin_client.post(seeded.url("delete_keys"), {"k": [token], "confirm": "yes"})
    assert selected.status_code == 400
