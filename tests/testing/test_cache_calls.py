"""cache_calls counts exactly, and the same for DiskCache (its hook) and LocMem (wrapped)."""

from __future__ import annotations

import threading
import unittest
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import hypothesis
import pytest
from django.core.cache import BaseCache, caches
from django.test import SimpleTestCase, override_settings
from hypothesis import strategies as st

from diskcache_admin.instrumentation import internal_calls
from diskcache_admin.testing import CacheCallsAssertionsMixin, record_cache_calls
from diskcache_admin.testing.calls import CacheCalls, Call

Recorder = Callable[..., AbstractContextManager[CacheCalls]]


@pytest.fixture
def two_caches(tmp_cache_dir: str) -> Iterator[None]:
    config = {
        "disk": {"BACKEND": "diskcache_admin.backend.DiskCache", "LOCATION": tmp_cache_dir},
        "mem": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "calls"},
    }
    with override_settings(CACHES=config):
        yield
        caches["mem"].clear()


def workload(cache: BaseCache) -> None:
    cache.get("a")  # miss
    cache.set("a", 1)
    cache.get("a")  # hit
    cache.get_or_set("b", 2)  # miss, add, hit
    cache.get_many(["a", "b", "c"])  # hit, hit, miss
    cache.set_many({"c": 3, "d": 4})
    cache.add("a", 9)  # an add that stores nothing still counts as a set attempt
    cache.has_key("d")
    cache.incr("c")
    cache.decr("c")
    cache.touch("a")
    cache.delete("d")
    cache.delete_many(["a", "b"])


EXPECTED = [
    Call("get", ("a",), (False,)),
    Call("set", ("a",), (None,)),
    Call("get", ("a",), (True,)),
    Call("get_or_set", ("b",), (False,)),
    Call("get_many", ("a", "b", "c"), (True, True, False)),
    Call("set_many", ("c", "d"), (None, None)),
    Call("add", ("a",), (None,)),
    Call("has_key", ("d",), (True,)),
    Call("incr", ("c",), (True,)),
    Call("decr", ("c",), (True,)),
    Call("touch", ("a",), (True,)),
    Call("delete", ("d",), (True,)),
    Call("delete_many", ("a", "b"), (None, None)),
]


@pytest.mark.usefixtures("two_caches")
@pytest.mark.parametrize("alias", ["disk", "mem"])
def test_every_public_call_is_recorded_once_as_itself(alias: str, cache_calls: Recorder) -> None:
    with cache_calls(alias) as calls:
        workload(caches[alias])

    assert calls[alias].calls == EXPECTED
    # get_many counts per key; the cold get_or_set is a miss that stored.
    assert (calls.hits, calls.misses, calls.sets, calls.deletes) == (3, 3, 5, 3)
    assert calls.keys == {"a", "b", "c", "d"}
    assert (calls[alias].count("get_many"), calls[alias].count("get")) == (1, 2)


@pytest.mark.usefixtures("two_caches")
@pytest.mark.parametrize("alias", ["disk", "mem"])
def test_versions_are_recorded(alias: str, cache_calls: Recorder) -> None:
    cache = caches[alias]
    cache.set("v", 1)
    with cache_calls(alias) as calls:
        cache.incr_version("v")
        cache.decr_version("v", version=2)

    assert [(c.operation, c.keys) for c in calls[alias].calls] == [
        ("incr_version", ("v",)),
        ("decr_version", ("v",)),
    ]


@pytest.mark.usefixtures("two_caches")
@pytest.mark.parametrize("alias", ["disk", "mem"])
def test_a_stored_value_equal_to_the_default_is_a_hit(alias: str, cache_calls: Recorder) -> None:
    caches[alias].set("none", None)
    with cache_calls(alias, hits=1, misses=1):
        assert caches[alias].get("none") is None
        assert caches[alias].get("absent") is None


@pytest.mark.usefixtures("two_caches")
@pytest.mark.parametrize("alias", ["disk", "mem"])
def test_get_or_set_default_callable_calls_are_the_users(alias: str, cache_calls: Recorder) -> None:
    cache = caches[alias]
    cache.set("warm", 1)
    with cache_calls(alias) as calls:
        cache.get_or_set("cold", lambda: cache.get("warm"))
        cache.get_or_set("cold", 5)

    if alias == "disk":
        expected = [("get_or_set", False), ("get", True), ("get_or_set", True)]
        # DiskCache runs the callable unmuted: the call it makes is recorded, before the outer
        # get_or_set (which is reported when it returns).
        assert [(c.operation, c.hits[0]) for c in calls["disk"].calls] == [
            expected[1],
            expected[0],
            expected[2],
        ]
    else:
        # Other backends run the callable inside their own get_or_set: only that one is seen.
        assert [(c.operation, c.hits[0]) for c in calls["mem"].calls] == [
            ("get_or_set", False),
            ("get_or_set", True),
        ]


@pytest.mark.usefixtures("two_caches")
@pytest.mark.parametrize("alias", ["disk", "mem"])
def test_internal_calls_are_left_out_unless_asked(alias: str, cache_calls: Recorder) -> None:
    cache = caches[alias]
    with cache_calls(alias, misses=1, sets=0) as users, cache_calls(alias, internal=True) as every:
        with internal_calls():
            cache.add("lock", 1)
            cache.delete("lock")
        cache.get("value")

    assert [c.operation for c in users[alias].calls] == ["get"]
    assert [(c.operation, c.internal) for c in every[alias].calls] == [
        ("add", True),
        ("delete", True),
        ("get", False),
    ]
    assert "add('lock') [internal]" in every.describe()


@pytest.mark.usefixtures("two_caches")
def test_calls_are_kept_per_alias_and_summed(cache_calls: Recorder) -> None:
    with cache_calls() as calls:
        caches["disk"].get("x")
        caches["mem"].set("y", 1)
        caches["mem"].clear()

    assert calls["disk"].misses == 1
    assert calls["mem"].sets == 1
    assert calls["mem"].count("clear") == 1
    assert (calls.misses, calls.sets) == (1, 1)


@pytest.mark.usefixtures("two_caches")
def test_expected_counts_fail_the_block_with_every_call_listed(cache_calls: Recorder) -> None:
    def view() -> None:
        caches["mem"].get("club_page_classes")
        caches["mem"].set("club_page_classes", "fresh")

    with pytest.raises(AssertionError) as caught, cache_calls("mem", hits=1, sets=0):
        view()

    message = str(caught.value)
    assert "hits: expected 1, got 0" in message
    assert "sets: expected 0, got 1" in message
    assert "get('club_page_classes') -> miss" in message


@pytest.mark.usefixtures("two_caches")
@pytest.mark.parametrize("alias", ["disk", "mem"])
def test_other_threads_are_recorded_but_nothing_outside_the_block(
    alias: str, cache_calls: Recorder
) -> None:
    def elsewhere() -> None:
        caches[alias].get("elsewhere")  # this thread's own cache object, created here

    with cache_calls(alias, misses=1) as calls:
        thread = threading.Thread(target=elsewhere)
        thread.start()
        thread.join()
    caches[alias].get("after")
    late = threading.Thread(target=elsewhere)
    late.start()
    # Joined: left running, its read could land in the next test's recording block.
    late.join()

    assert calls.keys == {"elsewhere"}


@pytest.mark.usefixtures("two_caches")
def test_unittest_cases_get_the_same_assertions() -> None:
    class Case(CacheCallsAssertionsMixin, SimpleTestCase):
        def test_cold_then_warm(self) -> None:
            with self.assertCacheCalls("disk", "mem", misses=2, sets=2, hits=0):
                for alias in ("disk", "mem"):
                    caches[alias].get_or_set("k", 1)
            with self.assertCacheCalls(hits=2, misses=0, keys={"k"}):
                for alias in ("disk", "mem"):
                    caches[alias].get("k")

        def test_wrong(self) -> None:
            with self.assertCacheCalls("mem", hits=1):
                caches["mem"].get("missing")

    result = unittest.TestResult()
    unittest.defaultTestLoader.loadTestsFromTestCase(Case).run(result)

    assert result.testsRun == 2
    assert result.errors == []
    # The method name, not str(test): unittest's str() format differs between Python versions.
    assert [test._testMethodName for test, _ in result.failures] == ["test_wrong"]
    assert "hits: expected 1, got 0" in result.failures[0][1]


@pytest.mark.usefixtures("two_caches")
def test_the_context_manager_can_be_used_directly() -> None:
    with record_cache_calls("mem") as calls:
        caches["mem"].set("k", 1)
    values: dict[str, Any] = {"sets": calls.sets, "keys": calls.keys}

    assert values == {"sets": 1, "keys": {"k"}}


# -- the counts a user would write around our own decorators ---------------------------------


@pytest.mark.usefixtures("two_caches")
@pytest.mark.parametrize("alias", ["disk", "mem"])
def test_a_memoized_call_counts_as_the_one_get_and_set_the_user_thinks_of(
    alias: str, cache_calls: Recorder
) -> None:
    from diskcache_admin.decorators import memoize

    @memoize(60, cache=alias)
    def club_page_classes(club: str) -> str:
        return f"classes of {club}"

    with cache_calls(alias, misses=1, sets=1, hits=0) as cold:
        club_page_classes("tigers")
    with cache_calls(alias, hits=1, misses=0, sets=0):
        club_page_classes("tigers")
    with cache_calls(alias, internal=True) as everything:
        club_page_classes("lions")

    assert cold[alias].keys == {club_page_classes.cache_key("tigers")}
    # The stampede lock is still taken and released: visible on request, marked internal.
    internal = [call for call in everything[alias].calls if call.internal]
    assert internal, everything.describe()
    assert everything[alias].misses >= 1


@pytest.mark.usefixtures("two_caches")
@pytest.mark.parametrize("alias", ["disk", "mem"])
def test_a_cached_view_request_counts_as_the_one_get_and_set_of_its_page(
    alias: str, cache_calls: Recorder
) -> None:
    from django.http import HttpRequest, HttpResponse
    from django.test import RequestFactory

    from diskcache_admin.decorators import cached_view

    @cached_view("club:{slug}", cache=alias, timeout=60)
    def club(request: HttpRequest, slug: str) -> HttpResponse:
        return HttpResponse(f"club {slug}")

    def get(slug: str = "tigers") -> HttpResponse:
        response: HttpResponse = club(RequestFactory().get(f"/clubs/{slug}/"), slug=slug)
        return response

    with cache_calls(alias, misses=1, sets=1, hits=0):
        assert get().content == b"club tigers"
    with cache_calls(alias, hits=1, misses=0, sets=0):
        assert get().content == b"club tigers"
    with cache_calls(alias, internal=True) as everything:
        get("lions")  # cold: the stampede lock is taken and released

    assert any(call.internal for call in everything[alias].calls), everything.describe()


@pytest.mark.usefixtures("two_caches")
@pytest.mark.parametrize("alias", ["disk", "mem"])
@hypothesis.settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture],
)
@hypothesis.given(
    keys=st.lists(st.sampled_from("abcdefgh"), min_size=1, max_size=8, unique=True),
    stored=st.sets(st.sampled_from("abcdefgh")),
)
def test_get_many_values_are_paired_with_their_keys_in_any_order(
    alias: str, keys: list[str], stored: set[str]
) -> None:
    from diskcache_admin import instrumentation

    cache = caches[alias]
    cache.clear()
    cache.set_many({key: f"value of {key}" for key in stored})
    instrumentation.instrument(cache, alias)
    seen: list[instrumentation.CacheCall] = []

    with instrumentation.observe(seen.append):
        cache.get_many(keys)

    (call,) = seen
    assert call.keys == tuple(keys)
    assert call.hits == tuple(key in stored for key in keys)
    paired = {call.keys[index]: value for index, value in call.value_of().items()}
    assert paired == {key: f"value of {key}" for key in keys if key in stored}


@pytest.mark.usefixtures("two_caches")
@pytest.mark.parametrize("alias", ["disk", "mem"])
async def test_async_calls_are_recorded_once_as_their_synchronous_twin(alias: str) -> None:
    cache = caches[alias]
    await cache.aset("n", 5)
    with record_cache_calls(alias) as calls:
        await cache.aget_or_set("cold", 1)
        await cache.aget_or_set("cold", 1)
        await cache.adecr("n")
        await cache.aincr_version("n")
        await cache.aget("absent")

    assert [(c.operation, c.hits) for c in calls[alias].calls] == [
        ("get_or_set", (False,)),
        ("get_or_set", (True,)),
        ("decr", (True,)),
        ("incr_version", (True,)),
        ("get", (False,)),
    ]


def test_recorded_methods_stay_methods_and_leave_the_class_alone() -> None:
    """Django 6.1's ``aget_or_set`` asks ``self.get_or_set.__func__``: it must still answer, and
    nothing may reach the backend class's own functions (asgiref marks through ``__func__``)."""
    import asyncio

    from asgiref.sync import iscoroutinefunction
    from django.core.cache.backends.locmem import LocMemCache

    from diskcache_admin import instrumentation

    cache = LocMemCache("identity-check", {})
    instrumentation.instrument(cache, "identity-check")
    seen: list[instrumentation.CacheCall] = []
    with instrumentation.observe(seen.append):
        assert asyncio.run(cache.aget_or_set("k", 1)) == 1
        assert asyncio.run(cache.aget_many(["k"])) == {"k": 1}
        assert asyncio.run(cache.ahas_key("k"))

    assert cache.get_or_set.__self__ is cache
    assert not iscoroutinefunction(LocMemCache.get)
    assert not iscoroutinefunction(LocMemCache.get_many)
    assert [call.operation for call in seen] == ["get_or_set", "get_many", "has_key"]
