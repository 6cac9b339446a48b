"""pytest plugin (``pytest11`` entry point): cache isolation for every test of a Django project.

It is loaded in every pytest run once the package is installed, so it imports Django only
when a session starts with Django settings available. It acts only for projects that asked for
it: ``diskcache_admin`` in ``INSTALLED_APPS``, ``DISKCACHE_ADMIN_TEST_ISOLATION`` in the
settings, or ``--cache-isolation`` on the command line; otherwise its header line says
``inactive`` and why. ``-p no:diskcache_admin`` does not load it at all. In ``off`` mode it does
nothing but print its header line; the per-test fixture is registered only when a mode is
active.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .calls import CacheCalls
    from .isolation import Isolation

MODES = ("swap", "clear", "off")
HEADER = "diskcache-admin cache isolation"


class _State:
    def __init__(self) -> None:
        self.isolation: Isolation | None = None
        self.source = ""
        self.reason = ""


_STATE = pytest.StashKey[_State]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("diskcache_admin", "cache isolation (django-diskcache-admin)")
    group.addoption(
        "--cache-isolation",
        action="store",
        choices=MODES,
        default=None,
        dest="cache_isolation",
        help="How caches are isolated in this run: swap (private stores), clear (empty the "
        "configured ones when provably test-only) or off. Overrides "
        "DISKCACHE_ADMIN_TEST_ISOLATION.",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "cache_isolation(mode): 'off' leaves the cache stores as the previous test left them "
        "instead of emptying them before this test; 'on' (the default) empties them.",
    )
    config.stash[_STATE] = _State()


def _django_settings_available() -> bool:
    if "django" not in sys.modules and not os.environ.get("DJANGO_SETTINGS_MODULE"):
        return False
    try:
        from django.conf import settings
    except ImportError:
        return False
    if settings.configured:
        return True
    if not os.environ.get("DJANGO_SETTINGS_MODULE"):
        return False
    from django.core.exceptions import ImproperlyConfigured

    try:
        settings.CACHES  # noqa: B018 - loads the settings module, as Django itself would
    except (ImportError, ImproperlyConfigured):
        return False
    return True


def _installed() -> bool:
    from django.conf import settings

    return any(
        app == "diskcache_admin" or str(app).startswith("diskcache_admin.apps.")
        for app in settings.INSTALLED_APPS
    )


def pytest_sessionstart(session: pytest.Session) -> None:
    config = session.config
    state = config.stash[_STATE]
    if not _django_settings_available():
        state.reason = "inactive (Django settings are not configured)"
        return
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    from diskcache_admin.conf import conf

    from . import isolation

    option = config.getoption("cache_isolation", None)
    explicit = hasattr(settings, "DISKCACHE_ADMIN_TEST_ISOLATION")
    if not (option or explicit or _installed()):
        # A project that only uses the backend did not ask for its caches to be swapped.
        state.reason = (
            "inactive (diskcache_admin is not in INSTALLED_APPS and "
            "DISKCACHE_ADMIN_TEST_ISOLATION is not set)"
        )
        return
    mode = option or conf.TEST_ISOLATION
    state.source = "--cache-isolation" if option else "DISKCACHE_ADMIN_TEST_ISOLATION"
    workerinput: dict[str, Any] | None = getattr(config, "workerinput", None)
    run_id = str(workerinput["testrunuid"]) if workerinput else uuid.uuid4().hex[:12]
    worker = str(workerinput["workerid"]) if workerinput else "main"
    try:
        isolation.check_mode(mode, state.source)
        state.isolation = isolation.Isolation(
            mode, run_id=run_id, worker=worker, shared=workerinput is not None
        )
        # Refuse before any test, and before xdist starts its workers.
        state.isolation.check()
    except ImproperlyConfigured as exc:
        raise pytest.UsageError(str(exc)) from exc
    is_controller = config.pluginmanager.hasplugin("dsession")
    if mode == "off" or is_controller:
        return
    state.isolation.start()
    isolation.activate(state.isolation)
    config.pluginmanager.register(_PerTest(state.isolation), "diskcache_admin_per_test")


def pytest_report_header(config: pytest.Config) -> str:
    state = config.stash.get(_STATE, None)
    if state is None or state.isolation is None:
        return f"{HEADER}: {(state and state.reason) or 'inactive'}"
    return f"{HEADER}: {state.isolation.describe()} [{state.source}]"


def pytest_sessionfinish(session: pytest.Session) -> None:
    state = session.config.stash.get(_STATE, None)
    if state is None or state.isolation is None:
        return
    if session.config.pluginmanager.hasplugin("dsession"):
        # The xdist controller: its workers are done with the directories they created.
        state.isolation.remove_created_by_workers()
        return
    if not state.isolation.active:
        return
    from . import isolation

    state.isolation.stop()
    isolation.activate(None)


class _PerTest:
    """Registered only while a mode is active, so ``off`` adds no fixture to any test."""

    def __init__(self, isolation: Isolation) -> None:
        self.isolation = isolation
        self.needs_db = any(entry.how == "database" for entry in isolation.aliases.values())

    @pytest.fixture(autouse=True)
    def _diskcache_admin_empty_caches(self, request: pytest.FixtureRequest) -> None:
        marker = request.node.get_closest_marker("cache_isolation")
        if marker is not None:
            value = marker.args[0] if marker.args else None
            if value not in ("on", "off"):
                pytest.fail(
                    f"@pytest.mark.cache_isolation takes 'on' or 'off', not {value!r}",
                    pytrace=False,
                )
            if value == "off":
                return
        unblock: Callable[[], AbstractContextManager[Any]] | None = None
        if self.needs_db and request.config.pluginmanager.hasplugin("django"):
            # pytest-django blocks database access outside db tests; the check in reset()
            # still refuses anything but the test database.
            unblock = request.getfixturevalue("django_db_blocker").unblock
        self.isolation.reset(unblock)


@pytest.fixture
def cache_isolation(pytestconfig: pytest.Config) -> Isolation | None:
    """The active isolation: ``.mode``, ``.aliases`` (what each alias is now), ``.root``.

    ``None`` when Django settings are not configured.
    """
    return pytestconfig.stash[_STATE].isolation


@pytest.fixture
def cache_calls() -> Callable[..., AbstractContextManager[CacheCalls]]:
    """Record cache operations per alias in a block; optionally assert the counts on exit.

    ``with cache_calls("default", hits=1, misses=0) as calls: ...`` then
    ``calls.sets``, ``calls["default"].keys``...
    """
    from .calls import assert_cache_calls

    return assert_cache_calls
