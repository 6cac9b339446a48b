"""What ``cache_calls`` sees of the decorators: the one get and set the user's code stands for.

The barrier's lock, its release, the re-read after taking the lock and ``cached_view``'s
generation token are bookkeeping (run inside ``instrumentation.internal_calls()``): counted only
with ``internal=True``. Every backend of the decorator suite is checked.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory

from diskcache_admin.decorators import cached_view, memoize
from diskcache_admin.testing.calls import record_cache_calls

from .helpers import run

pytestmark = pytest.mark.usefixtures("backend")

rf = RequestFactory()


def visitor(path: str = "/clubs/chess/?page=2") -> Any:
    request: Any = rf.get(path)
    request.user = SimpleNamespace(is_authenticated=False, pk=None)
    return request


@pytest.fixture(params=["sync", "async"])
def flavour(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def memoized(flavour: str) -> Any:
    if flavour == "sync":

        @memoize(timeout=60)
        def square(x: int) -> int:
            return x * x

        return square

    @memoize(timeout=60)
    async def asquare(x: int) -> int:
        return x * x

    return asquare


def call(flavour: str, result: Any) -> Any:
    return result if flavour == "sync" else run(result)


def test_a_cold_memoized_call_is_one_miss_and_one_set(flavour: str) -> None:
    square = memoized(flavour)
    with record_cache_calls("default", expect={"hits": 0, "misses": 1, "sets": 1}) as calls:
        assert call(flavour, square(3)) == 9
    assert calls.keys == {square.cache_key(3)}


def test_a_warm_memoized_call_is_one_hit(flavour: str) -> None:
    square = memoized(flavour)
    call(flavour, square(3))
    with record_cache_calls("default", expect={"hits": 1, "misses": 0, "sets": 0}) as calls:
        assert call(flavour, square(3)) == 9
    assert calls.keys == {square.cache_key(3)}


def test_the_stampede_lock_is_counted_on_request(flavour: str) -> None:
    square = memoized(flavour)
    with record_cache_calls("default", internal=True) as calls:
        call(flavour, square(4))
    key = square.cache_key(4)
    assert calls.keys >= {key, f"{key}:lock"}
    assert calls["default"].count("add") == 1  # the lock
    assert calls.sets == 2  # the lock and the value


def test_refresh_is_one_set_and_invalidate_one_delete() -> None:
    square = memoized("sync")
    with record_cache_calls("default", expect={"hits": 0, "misses": 0, "sets": 1}):
        square.refresh(5)
    with record_cache_calls("default", expect={"deletes": 1, "sets": 0}) as calls:
        assert square.invalidate(5) is True
    assert calls.keys == {square.cache_key(5)}


def page_view(flavour: str, **options: Any) -> Any:
    if flavour == "sync":

        def page(request: HttpRequest, slug: str) -> HttpResponse:
            return HttpResponse(f"club {slug}")

        return cached_view("club:{slug}", **options)(page)

    async def apage(request: HttpRequest, slug: str) -> HttpResponse:
        return HttpResponse(f"club {slug}")

    return cached_view("club:{slug}", **options)(apage)


@pytest.mark.parametrize("vary_on", [(), ("GET:page",)], ids=["plain", "varied"])
def test_a_cached_view_request_is_one_get_and_at_most_one_set(
    flavour: str, vary_on: tuple[str, ...]
) -> None:
    view = page_view(flavour, vary_on=vary_on)
    key = view.cache_policy.storage_key(visitor(), slug="chess")
    with record_cache_calls("default", expect={"hits": 0, "misses": 1, "sets": 1}) as cold:
        assert call(flavour, view(visitor(), slug="chess"))["X-Cache"] == "miss"
    with record_cache_calls("default", expect={"hits": 1, "misses": 0, "sets": 0}) as warm:
        assert call(flavour, view(visitor(), slug="chess"))["X-Cache"] == "hit"
    assert cold.keys == warm.keys == {key}


def test_the_generation_token_is_internal() -> None:
    view = page_view("sync", vary_on=("GET:page",))
    with record_cache_calls("default", internal=True) as calls:
        view(visitor(), slug="chess")
    generations = {key for key in calls.keys if ":gen:" in key}
    assert len(generations) == 1


def test_a_new_generation_token_is_not_read_back(flavour: str) -> None:
    # The add that stores it says it did: one get (the miss) and one add, no second get.
    view = page_view(flavour, vary_on=("GET:page",))
    with record_cache_calls("default", internal=True) as calls:
        call(flavour, view(visitor(), slug="chess"))
    generation_calls = [c for c in calls["default"].calls if ":gen:" in c.keys[0]]
    assert [c.operation for c in generation_calls] == ["get", "add"]
