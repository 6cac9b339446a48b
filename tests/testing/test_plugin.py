"""The pytest plugin as a user meets it: header, option, marker, and harmlessness when off."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow

INI = (
    "[pytest]\naddopts = -p no:randomly -p no:cacheprovider -p no:asyncio\nfilterwarnings = error\n"
)


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A pytester directory on the story settings, with no "dev" Redis and a temp DiskCache."""
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_TESTRUNUID", "STORY_REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "tests.testing.project.settings")
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    pytester.makeini(INI)
    return pytester


def test_off_prints_its_header_and_adds_nothing_to_tests(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STORY_MODE", "off")
    project.makepyfile(
        """
        def test_no_fixture_of_ours(request, cache_isolation):
            assert not any("diskcache_admin" in name for name in request.fixturenames)
            assert cache_isolation.mode == "off" and not cache_isolation.active
        """
    )

    result = project.runpytest_subprocess()

    result.assert_outcomes(passed=1)
    assert (
        "\ndiskcache-admin cache isolation: off (no alias isolated) "
        "[DISKCACHE_ADMIN_TEST_ISOLATION]\n"
    ) in result.stdout.str()


def test_the_option_overrides_the_setting_and_tests_start_empty(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STORY_MODE", "off")
    project.makepyfile(
        """
        import pytest
        from django.core.cache import caches

        def test_1_writes(cache_isolation):
            assert cache_isolation.mode == "swap"
            for alias in ("default", "disk", "sessions"):
                caches[alias].set("k", alias)

        def test_2_starts_empty():
            assert [caches[a].get("k") for a in ("default", "disk", "sessions")] == [None] * 3

        @pytest.mark.cache_isolation("sometimes")
        def test_3_bad_marker():
            pass
        """
    )

    result = project.runpytest_subprocess("--cache-isolation=swap")

    result.assert_outcomes(passed=2, errors=1)
    assert (
        "\ndiskcache-admin cache isolation: swap (3 aliases isolated: default, disk, sessions) "
        "[--cache-isolation]\n"
    ) in result.stdout.str()
    result.stdout.fnmatch_lines(["*cache_isolation takes 'on' or 'off', not 'sometimes'*"])


def test_without_django_settings_the_plugin_is_inactive_and_harmless(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DJANGO_SETTINGS_MODULE")
    project.makepyfile("def test_plain():\n    assert 1 + 1 == 2\n")

    result = project.runpytest_subprocess("-p", "no:django")

    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        ["diskcache-admin cache isolation: inactive (Django settings are not configured)"]
    )


def test_an_unknown_mode_in_the_settings_stops_the_run(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STORY_MODE", "flush")
    project.makepyfile("def test_never_runs():\n    pass\n")

    result = project.runpytest_subprocess()

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: DISKCACHE_ADMIN_TEST_ISOLATION must be one of 'swap', 'clear', 'off', not*"]
    )


def test_the_marker_and_option_are_registered_with_help(pytestconfig: pytest.Config) -> None:
    markers = pytestconfig.getini("markers")

    assert any(m.startswith("cache_isolation(mode): 'off' leaves the cache") for m in markers)
    assert pytestconfig.getoption("cache_isolation") is None


def test_a_project_that_did_not_ask_is_left_alone_and_told_why(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The backend may be in use, but the app is not installed and the setting is not set.
    monkeypatch.setenv("STORY_MODE", "unset")
    project.makepyfile(
        """
        from django.core.cache import caches

        def test_the_configured_caches_are_in_use(request):
            assert not any("diskcache_admin" in name for name in request.fixturenames)
            # The configured directory (tempfile.mkdtemp(prefix="story-disk-")), not a swap.
            assert "story-disk-" in caches["disk"].location
        """
    )

    result = project.runpytest_subprocess()

    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "diskcache-admin cache isolation: inactive (diskcache_admin is not in INSTALLED_APPS"
            " and DISKCACHE_ADMIN_TEST_ISOLATION is not set)"
        ]
    )


@pytest.mark.parametrize(
    ("env", "args"),
    [({"STORY_APP": "1"}, ()), ({}, ("--cache-isolation=swap",))],
    ids=["installed-app", "option"],
)
def test_the_app_in_installed_apps_or_the_option_activates_it(
    project: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    env: dict[str, str],
    args: tuple[str, ...],
) -> None:
    monkeypatch.setenv("STORY_MODE", "unset")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    project.makepyfile("def test_swapped(cache_isolation):\n    assert cache_isolation.active\n")

    result = project.runpytest_subprocess(*args)

    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["diskcache-admin cache isolation: swap (3 aliases isolated*"])


def test_p_no_diskcache_admin_does_not_load_the_plugin(project: pytest.Pytester) -> None:
    project.makepyfile("def test_plain():\n    pass\n")

    result = project.runpytest_subprocess("-p", "no:diskcache_admin")

    result.assert_outcomes(passed=1)
    assert "diskcache-admin cache isolation" not in result.stdout.str()
