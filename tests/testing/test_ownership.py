"""clear mode empties only what the run can prove to be its own: a location is not proof.

The story of issue 13: a developer's DiskCache and FileBasedCache live under the system
temporary directory, filled. ``manage.py test`` and ``pytest`` in clear mode must refuse to
start (cleanly: no traceback) and every dev key must still be there afterwards.
"""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.core.cache.backends.filebased import FileBasedCache
from django.test import override_settings

from diskcache_admin.backend import DiskCache
from diskcache_admin.testing.isolation import (
    FILEBASED_MARKER,
    Isolation,
    UnsafeCacheError,
    clear_plan,
    declared_caches,
)

ROOT = Path(__file__).resolve().parents[2]
DISK = "diskcache_admin.backend.DiskCache"
FILEBASED = "django.core.cache.backends.filebased.FileBasedCache"
DEV_KEYS = {"club_page_classes": "Monday 19:00 boxing", "member_count": 42}


def disk(location: str | Path) -> dict[str, Any]:
    return {"BACKEND": DISK, "LOCATION": str(location)}


def files(location: str | Path) -> dict[str, Any]:
    return {"BACKEND": FILEBASED, "LOCATION": str(location)}


# -- the rule, alias by alias ----------------------------------------------------------------


@pytest.mark.parametrize("config", [disk, files], ids=["diskcache", "filebased"])
def test_a_filled_directory_is_refused_wherever_it_is(
    config: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Under the system temporary directory, which used to count as proof.
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    location = tmp_path / "dev"
    backend = DiskCache if config is disk else FileBasedCache
    backend(str(location), {}).set("k", 1)

    with pytest.raises(UnsafeCacheError, match="holds 1 entry and no test run marked it"):
        clear_plan("dev", config(location), {})


@pytest.mark.parametrize("config", [disk, files], ids=["diskcache", "filebased"])
def test_a_missing_or_empty_directory_is_the_runs_own(config: Any, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()

    assert clear_plan("a", config(tmp_path / "missing"), {}) == "clear"
    assert clear_plan("a", config(tmp_path / "empty"), {}) == "clear"


@pytest.mark.parametrize(
    ("location", "reason"),
    [("relative/cache", "LOCATION is relative"), ("", "it has no LOCATION")],
)
def test_a_relative_location_proves_nothing(location: str, reason: str) -> None:
    with pytest.raises(UnsafeCacheError, match=reason):
        clear_plan("a", disk(location), {})


def test_a_symbolic_link_is_refused(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")

    with pytest.raises(UnsafeCacheError, match="symbolic link"):
        clear_plan("a", files(tmp_path / "link"), {})


@pytest.mark.parametrize("config", [disk, files], ids=["diskcache", "filebased"])
def test_declared_directories_are_accepted_and_kept_aliases_left_alone(
    config: Any, tmp_path: Path
) -> None:
    backend = DiskCache if config is disk else FileBasedCache
    backend(str(tmp_path), {}).set("k", 1)

    assert clear_plan("a", config(tmp_path), {"a": "directory"}) == "clear"
    assert clear_plan("a", config(tmp_path), {"a": "keep"}) == "nothing"


@pytest.mark.parametrize("config", [disk, files], ids=["diskcache", "filebased"])
def test_the_run_marks_what_it_clears_and_removes_what_it_created(
    config: Any, tmp_path: Path
) -> None:
    location = tmp_path / "tests-cache"
    caches = {"a": config(location)}
    first = Isolation("clear", original_caches=caches).start()
    backend = DiskCache if config is disk else FileBasedCache
    backend(str(location), {}).set("left-by-a-crashed-run", 1)
    # A second run (the first one crashed) finds its own marker: accepted although not empty.
    second = Isolation("clear", original_caches=caches).start()
    second.reset()
    assert backend(str(location), {}).get("left-by-a-crashed-run") is None
    second.stop()
    first.stop()

    assert not location.exists()


def test_the_marker_is_written_through_the_backend(tmp_path: Path) -> None:
    cache = DiskCache(str(tmp_path / "store"), {})
    assert not cache.is_test_store()

    cache.mark_as_test_store("run-1")
    cache.set("k", 1)
    cache.clear()

    assert cache.is_test_store()  # clear() empties entries, never the marker
    assert (tmp_path / "store" / DiskCache.TEST_MARKER).is_file()


def test_every_refused_alias_is_named_at_once(tmp_path: Path) -> None:
    DiskCache(str(tmp_path / "d"), {}).set("k", 1)
    FileBasedCache(str(tmp_path / "f"), {}).set("k", 1)
    caches = {"disk": disk(tmp_path / "d"), "files": files(tmp_path / "f")}

    with pytest.raises(UnsafeCacheError) as caught:
        Isolation("clear", original_caches=caches).start()

    assert "CACHES['disk']" in str(caught.value)
    assert "CACHES['files']" in str(caught.value)
    assert not (tmp_path / "f" / FILEBASED_MARKER).exists()


def test_the_old_setting_name_still_works_with_a_deprecation_warning() -> None:
    with (
        override_settings(DISKCACHE_ADMIN_TEST_SAFE_CACHES={"a": "database"}),
        pytest.warns(DeprecationWarning, match="DISKCACHE_ADMIN_TEST_CACHES"),
    ):
        assert declared_caches() == {"a": "database"}
    with override_settings(DISKCACHE_ADMIN_TEST_CACHES={"a": "prefix"}), warnings.catch_warnings():
        warnings.simplefilter("error")
        assert declared_caches() == {"a": "prefix"}


def test_an_unknown_declaration_is_refused() -> None:
    with (
        override_settings(DISKCACHE_ADMIN_TEST_CACHES={"a": "everything"}),
        pytest.raises(Exception, match="must be one of 'database', 'prefix', 'directory'"),
    ):
        declared_caches()


# -- the story: manage.py test and pytest against dev caches under the temp directory --------


@dataclass
class TempDevCaches:
    tmpdir: Path
    disk_dir: Path
    file_dir: Path

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "TMPDIR": str(self.tmpdir),
            "STORY_DISK_DIR": str(self.disk_dir),
            "STORY_FILE_DIR": str(self.file_dir),
            "STORY_MODE": "clear",
            **extra,
        }
        for name in (
            "PYTEST_XDIST_WORKER",
            "PYTEST_XDIST_TESTRUNUID",
            "DJANGO_SETTINGS_MODULE",
            "STORY_REDIS_URL",
        ):
            env.pop(name, None)
        return env

    def snapshot(self) -> dict[str, Any]:
        return {
            "disk": {k: DiskCache(str(self.disk_dir), {}).get(k) for k in DEV_KEYS},
            "files": {k: FileBasedCache(str(self.file_dir), {}).get(k) for k in DEV_KEYS},
        }


@pytest.fixture
def temp_dev_caches(tmp_path: Path) -> TempDevCaches:
    # The system temporary directory of the runs below is tmp_path/tmp: the dev caches live in
    # it, as in a tutorial that puts its cache in /tmp.
    tmpdir = tmp_path / "tmp"
    dev = TempDevCaches(tmpdir, tmpdir / "dev-disk", tmpdir / "dev-files")
    tmpdir.mkdir()
    DiskCache(str(dev.disk_dir), {}).set_many(DEV_KEYS)
    FileBasedCache(str(dev.file_dir), {}).set_many(DEV_KEYS)
    return dev


@pytest.mark.slow
def test_manage_py_test_in_clear_mode_refuses_and_keeps_every_dev_key(
    temp_dev_caches: TempDevCaches,
) -> None:
    before = temp_dev_caches.snapshot()

    result = subprocess.run(
        [sys.executable, "-m", "django", "test", "--settings=tests.testing.project.settings",
         "tests.testing.project.suite_django"],
        cwd=ROOT, env=temp_dev_caches.env(), capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip

    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert "UnsafeCacheError: Cache isolation mode 'clear' refuses CACHES['disk']" in result.stderr
    assert "refuses CACHES['files']" in result.stderr
    assert "Ran " not in result.stderr
    assert temp_dev_caches.snapshot() == before == {"disk": DEV_KEYS, "files": DEV_KEYS}


@pytest.mark.slow
def test_pytest_in_clear_mode_refuses_and_keeps_every_dev_key(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, temp_dev_caches: TempDevCaches
) -> None:
    before = temp_dev_caches.snapshot()
    for name in (
        "PYTEST_XDIST_WORKER",
        "PYTEST_XDIST_TESTRUNUID",
        "STORY_REDIS_URL",
        "DJANGO_SETTINGS_MODULE",
    ):
        monkeypatch.delenv(name, raising=False)
    for name, value in temp_dev_caches.env().items():
        monkeypatch.setenv(name, value)
    pytester.makeini(
        "[pytest]\nDJANGO_SETTINGS_MODULE = tests.testing.project.settings\n"
        "addopts = -p no:randomly -p no:cacheprovider -p no:asyncio\nfilterwarnings = error\n"
    )
    pytester.makepyfile(test_story=(ROOT / "tests/testing/project/suite_pytest.py").read_text())

    result = pytester.runpytest_subprocess(timeout=120)

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    stderr = result.stderr.str()
    assert "ERROR: Cache isolation mode 'clear' refuses CACHES['disk']" in stderr
    assert "refuses CACHES['files']" in stderr
    assert "Traceback" not in stderr
    assert temp_dev_caches.snapshot() == before == {"disk": DEV_KEYS, "files": DEV_KEYS}


@pytest.mark.slow
@pytest.mark.parametrize("xdist", [(), ("-n", "2", "--dist", "loadfile")], ids=["serial", "n2"])
def test_pytest_in_clear_mode_uses_and_then_removes_directories_it_created(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    xdist: tuple[str, ...],
) -> None:
    fresh = TempDevCaches(tmp_path, tmp_path / "tests-disk", tmp_path / "tests-files")
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_TESTRUNUID", "DJANGO_SETTINGS_MODULE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in fresh.env().items():
        monkeypatch.setenv(name, value)
    pytester.makeini(
        "[pytest]\nDJANGO_SETTINGS_MODULE = tests.testing.project.settings\n"
        "addopts = -p no:randomly -p no:cacheprovider -p no:asyncio\nfilterwarnings = error\n"
    )
    pytester.makepyfile(
        """
        from django.core.cache import caches

        def test_1_writes(cache_isolation):
            assert cache_isolation.mode == "clear"
            caches["disk"].set("k", 1)
            caches["files"].set("k", 1)

        def test_2_starts_empty():
            assert caches["disk"].get("k") is None
            assert caches["files"].get("k") is None
        """
    )

    result = pytester.runpytest_subprocess(*xdist, timeout=120)

    result.assert_outcomes(passed=2)
    assert not fresh.disk_dir.exists()
    assert not fresh.file_dir.exists()
