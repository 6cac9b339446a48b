"""The Django runner pieces in this process: result classes, the TestCase mixin, DatabaseCache."""

from __future__ import annotations

import argparse
import io
import json
import unittest
import urllib.request
from typing import Any

import pytest
from django.core.cache import caches
from django.core.management import call_command
from django.db import connection
from django.test import LiveServerTestCase, override_settings
from django.test.runner import DebugSQLTextTestResult, DiscoverRunner, PDBDebugResult

from diskcache_admin.testing import (
    CacheIsolationMixin,
    CacheIsolationTestCase,
    IsolatedCacheRunner,
    isolation,
)
from diskcache_admin.testing.isolation import Isolation
from diskcache_admin.testing.runner import _ResetBeforeEachTest


@pytest.mark.parametrize(
    ("options", "base"),
    [({}, unittest.TextTestResult), ({"debug_sql": True}, DebugSQLTextTestResult),
     ({"pdb": True}, PDBDebugResult)],
)  # fmt: skip
def test_the_runner_wraps_whichever_result_class_was_chosen(
    options: dict[str, Any], base: type
) -> None:
    resultclass = IsolatedCacheRunner(verbosity=0, **options).get_resultclass()

    assert resultclass is not None
    assert issubclass(resultclass, base)
    assert issubclass(resultclass, _ResetBeforeEachTest)


def test_the_mixin_composes_with_another_runner_and_takes_the_option() -> None:
    class ProjectRunner(DiscoverRunner):
        pass

    class Runner(CacheIsolationMixin, ProjectRunner):
        pass

    parser = argparse.ArgumentParser()
    Runner.add_arguments(parser)
    options = vars(parser.parse_args(["--cache-isolation", "clear"]))

    assert Runner(verbosity=0, **options).cache_isolation_mode == "clear"


def test_the_result_empties_the_stores_before_each_test_unless_marked_off(
    tmp_cache_dir: str,
) -> None:
    config = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    seen: list[Any] = []

    class Case(unittest.TestCase):
        def test_1(self) -> None:
            seen.append(caches["default"].get("k"))
            caches["default"].set("k", "written by test_1")

        def test_2(self) -> None:
            seen.append(caches["default"].get("k"))
            caches["default"].set("k", "written by test_2")

        @isolation.cache_isolation("off")
        def test_3(self) -> None:
            seen.append(caches["default"].get("k"))

    resultclass = IsolatedCacheRunner(verbosity=0).get_resultclass()
    assert resultclass is not None
    with override_settings(CACHES=config):
        current = Isolation("swap").start()
        isolation.activate(current)
        try:
            runner = unittest.TextTestRunner(stream=io.StringIO(), resultclass=resultclass)
            result = runner.run(unittest.defaultTestLoader.loadTestsFromTestCase(Case))
        finally:
            isolation.activate(None)
            current.stop()

    assert result.wasSuccessful()
    assert seen == [None, None, "written by test_2"]


@pytest.mark.django_db
def test_clear_mode_empties_a_database_cache_only_in_the_test_database(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    backend = "django.core.cache.backends.db.DatabaseCache"
    config = {"default": {"BACKEND": backend, "LOCATION": "t_cache"}}
    with override_settings(CACHES=config):
        call_command("createcachetable", verbosity=0)
        current = Isolation("clear").start()
        caches["default"].set("k", 1)

        current.reset()
        assert caches["default"].get("k") is None

        caches["default"].set("k", 1)
        monkeypatch.setattr(connection.creation, "_get_test_db_name", lambda: "the-real-one")
        current.reset()
        assert caches["default"].get("k") == 1


@override_settings(
    ROOT_URLCONF="tests.testing.project.urls",
    SESSION_ENGINE="django.contrib.sessions.backends.cache",
    SESSION_CACHE_ALIAS="locmem",
)
class LiveServerWithTheMixinTests(CacheIsolationTestCase, LiveServerTestCase):
    """A project that cannot change its runner mixes the class in instead."""

    cache_isolation_mode = "swap"
    configured_default = ""

    @classmethod
    def setUpClass(cls) -> None:
        from django.conf import settings

        cls.configured_default = settings.CACHES["default"]["LOCATION"]
        super().setUpClass()

    def test_the_live_server_thread_sees_the_swapped_cache(self) -> None:
        assert caches["default"].location != self.configured_default
        caches["default"].set("greeting", "set by the test thread")
        with urllib.request.urlopen(f"{self.live_server_url}/peek/default/greeting/") as response:
            assert json.load(response) == {"value": "set by the test thread"}

    def test_cache_backed_sessions_keep_working(self) -> None:
        assert self.client.get("/visits/").json() == {"visits": 1}
        assert self.client.get("/visits/").json() == {"visits": 2}
        assert caches["locmem"].get("greeting") is None

    def test_each_test_starts_empty(self) -> None:
        assert caches["default"].get("greeting") is None
        assert not any(caches["locmem"]._cache)  # type: ignore[attr-defined]


def test_the_private_django_names_the_runner_relies_on_are_still_there() -> None:
    import inspect

    from django.test import runner as django_runner
    from django.test import signals

    assert isinstance(django_runner._worker_id, int)  # type: ignore[attr-defined]
    assert list(inspect.signature(django_runner._init_worker).parameters) == [  # type: ignore[attr-defined]
        "counter",
        "initial_settings",
        "serialized_contents",
        "process_setup",
        "process_setup_args",
        "debug_mode",
        "used_aliases",
    ]
    # The receiver that makes a CACHES override visible to every thread.
    assert "caches._connections = Local()" in inspect.getsource(signals.clear_cache_handlers)
