"""Cache isolation for Django's test runner, and a TestCase mixin for projects that can't use it.

The runner starts isolation in ``setup_test_environment`` (before test modules are imported, so
objects captured at import time are already the private ones) and empties the stores in the
result's ``startTest``, which runs before ``setUp``. It wraps whichever result class the runner
chose (``--debug-sql``, ``--pdb``), and under ``--parallel`` every worker, forked or spawned,
builds its own stores in a sub-directory of the run's, so the run removes them all at the end.
"""

from __future__ import annotations

import argparse
import unittest
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.test import runner as django_runner
from django.test.runner import DiscoverRunner, ParallelTestSuite, RemoteTestResult, RemoteTestRunner

from diskcache_admin.conf import conf

from . import isolation
from .calls import CacheCalls, assert_cache_calls, record_cache_calls


class _ResetBeforeEachTest:
    """Mixed into a result class: empty the stores before each test's setUp."""

    def startTest(self, test: unittest.TestCase) -> None:
        current = isolation.active()
        if current is not None and current.per_test and isolation.wants_reset(test):
            current.reset()
        super().startTest(test)  # type: ignore[misc]


class IsolatingRemoteTestResult(_ResetBeforeEachTest, RemoteTestResult):
    pass


class IsolatingRemoteTestRunner(RemoteTestRunner):
    resultclass = IsolatingRemoteTestResult


def _init_isolated_worker(
    counter: Any,
    initial_settings: Any = None,
    serialized_contents: Any = None,
    process_setup: Any = None,
    process_setup_args: Any = None,
    debug_mode: Any = None,
    used_aliases: Any = None,
) -> None:
    """Pool initializer: Django's own, then this worker's private stores (fork and spawn)."""
    ours, *theirs = process_setup_args
    # Private in Django, and pinned by tests/testing: the stock initializer sets up the worker's
    # databases (and, when spawned, Django itself) and numbers the worker.
    django_runner._init_worker(  # type: ignore[attr-defined]
        counter,
        initial_settings,
        serialized_contents,
        process_setup,
        tuple(theirs),
        debug_mode,
        used_aliases,
    )
    mode, run_id, root = ours
    inherited = isolation.active()  # set when forked: the parent's swap is still in force
    worker = isolation.Isolation(
        mode,
        run_id=run_id,
        worker=f"w{getattr(django_runner, '_worker_id', 0)}",
        root_parent=root,
        original_caches=inherited.original_caches if inherited is not None else None,
    )
    worker.start()
    isolation.activate(worker)


def _isolating_result(base: type[unittest.TextTestResult]) -> type[unittest.TextTestResult]:
    if issubclass(base, _ResetBeforeEachTest):
        return base
    return type(f"CacheIsolating{base.__name__}", (_ResetBeforeEachTest, base), {})


class CacheIsolationMixin:
    """Mix into any ``DiscoverRunner`` subclass to isolate every cache alias in tests.

    The mode comes from ``DISKCACHE_ADMIN_TEST_ISOLATION`` or ``--cache-isolation``.
    """

    cache_isolation_mode: str | None = None

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        super().add_arguments(parser)  # type: ignore[misc]
        parser.add_argument(
            "--cache-isolation",
            choices=isolation.MODES,
            dest="cache_isolation_mode",
            help="Override DISKCACHE_ADMIN_TEST_ISOLATION for this run.",
        )

    def __init__(self, *args: Any, cache_isolation_mode: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.cache_isolation_mode = cache_isolation_mode or self.cache_isolation_mode
        self.cache_isolation: isolation.Isolation | None = None

    def setup_test_environment(self, **kwargs: Any) -> None:
        super().setup_test_environment(**kwargs)  # type: ignore[misc]
        mode = self.cache_isolation_mode or conf.TEST_ISOLATION
        isolation.check_mode(mode, "DISKCACHE_ADMIN_TEST_ISOLATION")
        self.cache_isolation = isolation.Isolation(mode).start()
        isolation.activate(self.cache_isolation)
        self.log(f"Cache isolation: {self.cache_isolation.describe()}")  # type: ignore[attr-defined]
        runner: Any = self
        runner.parallel_test_suite = self._isolating_suite(runner.parallel_test_suite)

    def teardown_test_environment(self, **kwargs: Any) -> None:
        try:
            if self.cache_isolation is not None:
                self.cache_isolation.stop()
                isolation.activate(None)
        finally:
            super().teardown_test_environment(**kwargs)  # type: ignore[misc]

    def _isolating_suite(self, base: type[ParallelTestSuite]) -> type[ParallelTestSuite]:
        current = self.cache_isolation
        if current is None or current.mode == "off":
            return base
        # Workers find the run's mode, id and directory in the first process_setup argument.
        ours = (current.mode, current.run_id, current.root or None)
        attributes = {
            "init_worker": _init_isolated_worker,
            "runner_class": IsolatingRemoteTestRunner,
            "process_setup_args": (ours, *getattr(base, "process_setup_args", ())),
        }
        return type(f"CacheIsolating{base.__name__}", (base,), attributes)

    def run_suite(self, suite: unittest.TestSuite, **kwargs: Any) -> Any:
        current = self.cache_isolation
        if current is not None and isinstance(suite, ParallelTestSuite):
            # The parent only replays the workers' results: emptying here would race them.
            current.per_test = False
        return super().run_suite(suite, **kwargs)  # type: ignore[misc]

    def get_resultclass(self) -> type[unittest.TextTestResult] | None:
        base: type[unittest.TextTestResult] | None = super().get_resultclass()  # type: ignore[misc]
        return _isolating_result(base or unittest.TextTestResult)


class IsolatedCacheRunner(CacheIsolationMixin, DiscoverRunner):
    """``TEST_RUNNER = "diskcache_admin.testing.IsolatedCacheRunner"``."""


class CacheCallsAssertionsMixin:
    """``assertCacheCalls`` and ``recordCacheCalls`` for any unittest TestCase."""

    @contextmanager
    def recordCacheCalls(self, *aliases: str, internal: bool = False) -> Iterator[CacheCalls]:
        """Record the cache calls of the block (see :func:`record_cache_calls`)."""
        with record_cache_calls(*aliases, internal=internal) as calls:
            yield calls

    # Fail unless the block made exactly these cache calls (``None`` = not checked).
    assertCacheCalls = staticmethod(assert_cache_calls)


class CacheIsolationTestCase(CacheCallsAssertionsMixin):
    """Mix into a test case class when the project cannot change its test runner.

    The class swaps (or checks, in ``clear`` mode) the caches for its own duration and empties
    them before each test. Under a runner that already isolates, it only adds the assertions.
    """

    #: The mode for this class; ``None`` reads DISKCACHE_ADMIN_TEST_ISOLATION.
    cache_isolation_mode: str | None = None
    _cache_isolation_owned: isolation.Isolation | None = None

    @classmethod
    def setUpClass(cls) -> None:
        if isolation.active() is None:
            mode = cls.cache_isolation_mode or conf.TEST_ISOLATION
            owned = isolation.Isolation(mode).start()
            isolation.activate(owned)
            cls._cache_isolation_owned = owned
        try:
            super().setUpClass()  # type: ignore[misc]
        except BaseException:
            cls._release_isolation()
            raise

    @classmethod
    def tearDownClass(cls) -> None:
        try:
            super().tearDownClass()  # type: ignore[misc]
        finally:
            cls._release_isolation()

    @classmethod
    def _release_isolation(cls) -> None:
        owned = cls._cache_isolation_owned
        if owned is not None:
            owned.stop()
            isolation.activate(None)
            cls._cache_isolation_owned = None

    def run(self, result: unittest.TestResult | None = None) -> unittest.TestResult | None:
        current = isolation.active()
        # A runner with the mixin already emptied the stores in startTest.
        if (
            current is not None
            and current is self._cache_isolation_owned
            and isolation.wants_reset(self)
        ):
            current.reset()
        return super().run(result)  # type: ignore[misc,no-any-return]


__all__ = [
    "CacheIsolationMixin",
    "CacheIsolationTestCase",
    "IsolatedCacheRunner",
]
