"""Django's own cache conformance suite, run against DiskCache.

``python -m tests.conformance`` downloads the source distribution of the installed Django version
from the package index (with this interpreter's pip) into a temporary directory, extracts only
``tests/cache/`` from it, and runs the ``BaseCacheTests`` of ``tests/cache/tests.py`` against
:class:`diskcache_admin.backend.DiskCache`, exactly as Django's ``FileBasedCacheTests`` runs them
against FileBasedCache. It then runs the same file's tests of the cache middleware, ``cache_page``,
the cache utilities and template responses (``MIDDLEWARE_CASES``), which Django writes against
LocMemCache, with every alias turned into a DiskCache. Nothing of Django's test code is kept in
this repository.

The archive is kept in ``~/.cache/django-diskcache-admin/django-sdists/`` (``$XDG_CACHE_HOME``
if set) and reused by later runs. Set ``DISKCACHE_ADMIN_DJANGO_SDIST`` to a downloaded
``django-<version>.tar.gz`` to run offline (only the installed version's archive is accepted).
Without network the run is skipped (exit status 0) on a developer machine and fails under
``CI=true``. Any failure or error exits with status 1.

Tests skipped on purpose, and why (the runner skips exactly these, and nothing else):
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import unittest
from pathlib import Path
from typing import Any

# BaseCacheTests name -> the reason it is skipped. Kept empty on purpose: every test of the
# suite applies to a disk cache and passes. A reason added here must say why the behaviour the
# test pins does not apply to DiskCache, not merely that it fails.
SKIPPED: dict[str, str] = {}

BACKEND = "diskcache_admin.backend.DiskCache"
SDIST_ENV = "DISKCACHE_ADMIN_DJANGO_SDIST"
DOWNLOAD_TIMEOUT = 300


class Unavailable(Exception):
    """Django's source distribution could not be obtained (no network, no such version...)."""


def _in_ci() -> bool:
    return bool(os.environ.get("CI"))


def kept_sdists() -> Path:
    """Where downloaded source distributions are kept between runs, one file per version."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base, "django-diskcache-admin", "django-sdists")


def download_sdist(version: str, into: Path) -> Path:
    """``django==version``'s source distribution: given, kept from an earlier run, or downloaded.

    A release's files never change on the package index, so a kept copy is reused as it is
    (``make test`` runs this once for each supported Django, every time).
    """
    given = os.environ.get(SDIST_ENV)
    if given:
        if not os.path.isfile(given):
            raise Unavailable(f"{SDIST_ENV}={given!r} is not a file")
        # make test runs this with several Djangos: each must run its own version's tests.
        if os.path.basename(given).lower() != f"django-{version}.tar.gz":
            raise Unavailable(f"{SDIST_ENV}={given!r} is not django-{version}.tar.gz")
        return Path(given)
    kept = kept_sdists() / f"django-{version}.tar.gz"
    if kept.is_file():
        return kept
    archive = _download(version, into)
    try:
        kept.parent.mkdir(parents=True, exist_ok=True)
        partial = kept.with_name(f"{kept.name}.{os.getpid()}.part")
        shutil.copyfile(archive, partial)
        os.replace(partial, kept)  # whole or not at all, even with runs side by side
    except OSError:
        pass  # a read-only home: the next run downloads it again
    return archive


def _download(version: str, into: Path) -> Path:
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--quiet",
        "--no-deps",
        "--no-binary",
        ":all:",
        f"django=={version}",
        "--dest",
        str(into),
    ]
    try:
        completed = subprocess.run(
            command, capture_output=True, text=True, timeout=DOWNLOAD_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise Unavailable(f"pip download timed out after {DOWNLOAD_TIMEOUT} s") from exc
    archives = sorted(into.glob("[Dd]jango-*.tar.gz"))
    if completed.returncode != 0 or not archives:
        output = (completed.stderr or completed.stdout).strip().splitlines()
        raise Unavailable("pip download failed: " + (output[-1] if output else "no output"))
    return archives[0]


def extract_cache_tests(archive: Path, into: Path) -> Path:
    """Extract ``<sdist>/tests/cache/`` into ``into/cache`` and return ``into``."""
    with tarfile.open(archive) as tar:
        members = []
        for member in tar.getmembers():
            parts = Path(member.name).parts
            if parts[1:3] == ("tests", "cache") and member.isreg() and ".." not in parts:
                member.name = str(Path(*parts[2:]))
                members.append(member)
        if not members:
            raise Unavailable(f"{archive.name} has no tests/cache/ directory")
        if hasattr(tarfile, "data_filter"):
            tar.extractall(into, members=members, filter="data")
        else:  # Python < 3.10.12 has no extraction filters; the members are plain files
            tar.extractall(into, members=members)
    return into


def configure_django(location: str) -> None:
    from django.conf import settings

    settings.configure(
        DEBUG=False,
        SECRET_KEY="diskcache-admin-conformance-not-secret",
        USE_TZ=False,  # as Django's own tests/test_sqlite.py and runtests.py set them
        LANGUAGE_CODE="en",
        INSTALLED_APPS=[
            "django.contrib.contenttypes",
            "django.contrib.auth",
            "django.contrib.sessions",
            "cache",  # Django's cache test app (its Poll model)
        ],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        CACHES={"default": {"BACKEND": BACKEND, "LOCATION": os.path.join(location, "default")}},
        MIDDLEWARE=[],
        TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates"}],
        ROOT_URLCONF=[],
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
    )
    import django

    django.setup()


def build_test_case(location: str) -> type[unittest.TestCase]:
    """``BaseCacheTests`` mixed into a TestCase whose every alias is DiskCache on ``location``.

    All the aliases of Django's test settings (prefix, v2, custom key functions, cull, zero_cull)
    share one LOCATION, which is how DiskCache is meant to be used: one store, several aliases.
    """
    from cache.tests import (  # type: ignore[import-not-found]
        BaseCacheTests,
        caches_setting_for_tests,
    )
    from django.test import TestCase, override_settings

    caches = caches_setting_for_tests(BACKEND=BACKEND, LOCATION=location)
    attributes: dict[str, Any] = {"__module__": __name__}
    for name, reason in SKIPPED.items():
        attributes[name] = unittest.skip(reason)(getattr(BaseCacheTests, name))
    test_case = type("DiskCacheConformanceTests", (BaseCacheTests, TestCase), attributes)
    return override_settings(CACHES=caches)(test_case)  # type: ignore[no-any-return]


# Django's tests of the cache middleware, cache_page, the cache utilities and template responses
# are written against LocMemCache; they run here with each of their aliases turned into a
# DiskCache in a directory of its own (the aliases stay apart, as LocMemCache's LOCATIONs do).
MIDDLEWARE_CASES = (
    "CacheUtils",
    "PrefixedCacheUtils",
    "CacheHEADTest",
    "CacheI18nTest",
    "PrefixedCacheI18nTest",
    "CacheMiddlewareTest",
    "TestWithTemplateResponse",
)


def build_middleware_cases(location: str) -> list[type[unittest.TestCase]]:
    """Django's middleware-level cache tests, every alias of each turned into a DiskCache."""
    from cache import tests
    from django.test import override_settings

    cases = []
    for name in MIDDLEWARE_CASES:
        original = getattr(tests, name)
        caches = {
            alias: {
                **config,
                "BACKEND": BACKEND,
                "LOCATION": os.path.join(location, name, config.get("LOCATION") or alias),
            }
            for alias, config in original._overridden_settings["CACHES"].items()
        }
        case = type(f"DiskCache{name}", (original,), {"__module__": __name__})
        cases.append(override_settings(CACHES=caches)(case))
    return cases


def run(workdir: Path) -> int:
    import django

    version = django.get_version()
    try:
        archive = download_sdist(version, workdir)
        extract_cache_tests(archive, workdir / "django-tests")
    except Unavailable as exc:
        message = f"Django conformance: cannot get Django {version}'s source distribution: {exc}"
        if _in_ci():
            print(f"{message} (required because CI is set)", file=sys.stderr)
            return 1
        print(f"{message}; SKIPPED (set CI=true to make this a failure)", file=sys.stderr)
        return 0

    sys.path.insert(0, str(workdir / "django-tests"))
    location = str(workdir / "caches")
    configure_django(location)
    test_case = build_test_case(location)

    from django.test.runner import DiscoverRunner

    loader = unittest.TestLoader()
    suite = unittest.TestSuite(
        [
            loader.loadTestsFromTestCase(case)
            for case in (test_case, *build_middleware_cases(os.path.join(location, "middleware")))
        ]
    )
    runner = DiscoverRunner(verbosity=1, interactive=False)
    runner.setup_test_environment()
    old_config = runner.setup_databases()
    try:
        result = runner.run_suite(suite)
    finally:
        runner.teardown_databases(old_config)
        runner.teardown_test_environment()

    # A failing subTest is reported once per subtest; count each test method once.
    failed_ids = {_test_id(test) for test, _ in (*result.failures, *result.errors)} | {
        _test_id(test) for test in result.unexpectedSuccesses
    }
    failed = len(failed_ids)
    skipped = len(result.skipped)
    passed = result.testsRun - failed - skipped - len(result.expectedFailures)
    if not os.path.isfile(os.path.join(location, "cache.db")):
        print(f"Django conformance: no store was created in {location}", file=sys.stderr)
        return 1
    for test, reason in result.skipped:
        print(f"skipped {test.id()}: {reason}")
    base = loader.loadTestsFromTestCase(test_case).countTestCases()
    print(
        f"Django {version} tests/cache/tests.py against {BACKEND}: {base} BaseCacheTests,"
        f" {result.testsRun - base} in {len(MIDDLEWARE_CASES)} middleware and utility classes"
    )
    # Alone on its line, in the plain "N passed, N failed" form that CI logs are read for.
    print(f"conformance: {passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed or not result.testsRun else 0


def _test_id(test: Any) -> str:
    # unittest's _SubTest wraps the test method it belongs to in ``test_case``.
    return str(getattr(test, "test_case", test).id())


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="diskcache-admin-conformance-") as workdir:
        return run(Path(workdir))


if __doc__ is not None:
    __doc__ += "".join(f"\n- ``{name}``: {reason}" for name, reason in SKIPPED.items()) or (
        "\n(none: every test of BaseCacheTests runs and passes)\n"
    )

if __name__ == "__main__":
    sys.exit(main())
