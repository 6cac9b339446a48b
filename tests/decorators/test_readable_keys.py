"""memoize and cached_view keys carry a readable label: searchable and grouped in every backend."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.cache import caches
from django.core.cache.backends.base import memcache_key_warnings
from django.test import RequestFactory, override_settings
from hypothesis import given, settings
from hypothesis import strategies as st

from diskcache_admin.decorators import cached_view, memoize
from diskcache_admin.decorators.keys import MAX_KEY_BYTES, argument_label, escape, owner_of
from diskcache_admin.engine import family_of
from diskcache_admin.inspection import KeyQuery, get_adapter

from .test_memcached import memcached  # noqa: F401 - the fixture


@memoize(timeout=60)
def price(product: int, currency: str = "EUR") -> float:
    return product * 1.5


shop_page = cached_view("shop:{slug}", vary_on=("GET:page",))
plain_page = cached_view("plain:{slug}")


def _found(search: str) -> list[str]:
    page = get_adapter("default").keys(KeyQuery(search=search, match="substring", limit=50))
    return [info.key for info in page.keys]


@pytest.mark.usefixtures("backend")
def test_a_search_for_an_argument_finds_the_memoized_entry() -> None:
    price(42)
    price(7, currency="USD")
    keys = _found("product=42")
    assert len(keys) == 1
    assert keys[0].startswith(f"dca.memo:{__name__}.price(product=42,currency='EUR'):")


@pytest.mark.usefixtures("backend")
def test_the_family_of_a_memoized_entry_is_its_function() -> None:
    price(1)
    price(2)
    (info,) = [
        info
        for info in get_adapter("default").keys(KeyQuery(limit=50)).keys
        if "product=1," in info.key
    ]
    assert info.family == f"dca.memo:{__name__}.price"
    family = get_adapter("default").keys(KeyQuery(family=info.family, limit=50)).keys
    assert len(family) == 2


@pytest.mark.usefixtures("backend")
def test_a_cached_view_entry_shows_its_pattern_and_its_key() -> None:
    request = RequestFactory().get("/shop/chess/?page=2")
    key = shop_page.cache_policy.storage_key(request, slug="chess")
    assert key is not None
    assert key.startswith("dca.view:shop:{slug}[shop:chess|GET:page=2]:")
    caches["default"].set(key, "page")
    assert _found("shop:chess")
    assert key in _found("shop:chess")
    assert family_of(key) == "dca.view:shop:{slug}"
    # The generation token lives under the same prefix, so one prefix covers the whole view.
    owner = owner_of(key)
    assert owner is not None
    assert owner.kind == "view"
    assert all(k.startswith(owner.prefix) for k in _found("shop:chess"))
    assert any(":gen:" in k for k in _found("shop:chess"))


def test_a_plain_view_key_is_the_pattern_filled_in() -> None:
    key = plain_page.cache_policy.storage_key(RequestFactory().get("/"), slug="go")
    assert key is not None
    assert key.startswith("dca.view:plain:{slug}[plain:go]:")


def test_a_key_callable_names_the_view_by_its_dotted_name() -> None:
    def product_key(request: object, pk: int) -> str:
        return f"product:{pk}"

    view = cached_view(product_key)
    key = view.cache_policy.storage_key(RequestFactory().get("/"), pk=42)
    assert key is not None
    owner = owner_of(key)
    assert owner is not None
    assert owner.name.endswith("product_key")
    assert key.startswith(f"dca.view:{owner.name}[product:42]:")


@settings(max_examples=150, deadline=None)
@given(argument=st.one_of(st.text(), st.binary(), st.lists(st.text(max_size=40))))
def test_every_key_is_valid_for_memcached_and_bounded(argument: object) -> None:
    config = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "KEY_PREFIX": "site-" + "p" * 40,
            "VERSION": 1234567,
        }
    }
    with override_settings(CACHES=config):
        key = price.cache_key(argument)  # type: ignore[arg-type]
        made = caches["default"].make_key(key + ":lock")
        assert len(made.encode("utf-8")) <= MAX_KEY_BYTES
        assert list(memcache_key_warnings(made)) == []
        assert owner_of(key) is not None


def test_equal_arguments_share_a_key_however_they_were_built() -> None:
    assert price.cache_key(1, "EUR") == price.cache_key(product=1)
    a = argument_label({"b": 1, "a": frozenset({"y", "x"})})
    b = argument_label({"a": frozenset({"x", "y"}), "b": 1})
    assert a == b == "{'a':{'x','y'},'b':1}"


def test_a_set_argument_gets_the_same_key_in_every_process() -> None:
    # A set's iteration order follows the process's hash salt: the label must not.
    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'tests.settings';"
        " django.setup();"
        " from tests.decorators.test_readable_keys import price;"
        " print(price.cache_key(frozenset({'alpha', 'beta', 'gamma', 'delta'})))"
    )
    root = Path(__file__).resolve().parents[2]
    keys = {
        subprocess.run(
            [sys.executable, "-c", code],
            cwd=root,
            env={**os.environ, "PYTHONHASHSEED": str(seed)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for seed in (1, 2, 3)
    }
    assert len(keys) == 1


def test_escape_hides_nothing_and_keeps_letters() -> None:
    assert escape("a b%c\x1b\u202ed\u00e9") == "a%20b%25c%1B%E2%80%AEd\u00e9"


def test_a_long_label_is_cut_but_the_digest_keeps_keys_apart() -> None:
    long_a = price.cache_key("x" * 2000 + "a")
    long_b = price.cache_key("x" * 2000 + "b")
    assert long_a != long_b
    assert "…" in long_a
    assert long_a.rpartition(":")[0] == long_b.rpartition(":")[0]


def test_an_object_label_never_calls_its_repr() -> None:
    class Loud:
        def __repr__(self) -> str:
            raise AssertionError("repr called")

        def __cache_key__(self) -> str:
            return "loud-1"

    assert argument_label(Loud()) == "loud-1"


def test_other_keys_have_no_owner() -> None:
    assert owner_of("dca.memo:shop.price:" + "a" * 40) is None  # the old, unlabelled layout
    assert owner_of("user:1") is None
    assert owner_of(price.cache_key(1) + ":lock") is None


@pytest.mark.usefixtures("memcached")
def test_a_long_unicode_argument_is_stored_in_memcached() -> None:
    calls: list[str] = []

    @memoize(timeout=60)
    def describe(text: str) -> str:
        calls.append(text)
        return text.upper()

    text = "\u00e9\u4e2d " * 300
    assert describe(text) == text.upper()
    assert describe(text) == text.upper()
    assert calls == [text]
