"""cache_calls counts exactly, and the same for DiskCache (its hook) and LocMem (wrapped)."""

from __future__ import annotations

import threading
import unittest
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import pytest
from django.core.cache import BaseCache, caches
from django.test import SimpleTestCase, override_settings

from diskcache_admin.testing import CacheCallsAssertionsMixin, record_cache_calls
from diskcache_admin.testing.calls import CacheCalls, Event

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
    Event("get", "a", False),
    Event("set", "a", None),
    Event("get", "a", True),
    Event("get", "b", False),
    Event("add", "b", None),
    Event("get", "b", True),
    Event("get", "a", True),
    Event("get", "b", True),
    Event("get", "c", False),
    Event("set", "c", None),
    Event("set", "d", None),
    Event("add", "a", None),
    Event("has_key", "d", True),
    Event("incr", "c", True),
    Event("incr", "c", True),
    Event("touch", "a", True),
    Event("delete", "d", True),
    Event("delete", "a", None),
    Event("delete", "b", None),
]


@pytest.mark.usefixtures("two_caches")
@pytest.mark.parametrize("alias", ["disk", "mem"])
def test_every_operation_is_recorded_once_per_key(alias: str, cache_calls: Recorder) -> None:
    with cache_calls(alias) as calls:
        workload(caches[alias])

    assert calls[alias].events == EXPECTED
    assert (calls.hits, calls.misses, calls.sets, calls.deletes) == (4, 3, 5, 3)
    assert calls.keys == {"a", "b", "c", "d"}


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
def test_nothing_is_recorded_outside_the_block_nor_from_other_threads(
    cache_calls: Recorder,
) -> None:
    with cache_calls() as calls:
        thread = threading.Thread(target=lambda: caches["mem"].get("elsewhere"))
        thread.start()
        thread.join()
    caches["mem"].get("after")
    caches["disk"].get("after")

    assert calls.events == []
    assert "get" not in vars(caches["mem"])


@pytest.mark.usefixtures("two_caches")
def test_unittest_cases_get_the_same_assertions() -> None:
    class Case(CacheCallsAssertionsMixin, SimpleTestCase):
        def test_cold_then_warm(self) -> None:
            with self.assertCacheCalls("disk", "mem", misses=2, sets=2, hits=2):
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
