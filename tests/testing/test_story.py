"""The story, end to end: a developer's caches hold a stale page; the tests must not see it.

A "dev" Redis alias (database 4, a prefix unique to this worker) and a "dev" DiskCache directory
are filled with a stale ``club_page_classes``. Then the story project's suites run, as the
developer would run them, under pytest (with and without xdist) and ``python -m django test``
(with and without ``--parallel``, forked and spawned). The view must see fresh data, and every
dev key must still be there, unchanged, afterwards. A control run with isolation off shows the
bug the suites would otherwise hit.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.testing.project.urls import FRESH, STALE

ROOT = Path(__file__).resolve().parents[2]
PROJECT = Path(__file__).parent / "project"
REDIS_DB = 4

pytestmark = [pytest.mark.redis, pytest.mark.slow]


@dataclass
class DevCaches:
    redis_url: str
    prefix: str
    disk_dir: str
    tmpdir: Path

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "STORY_REDIS_URL": self.redis_url,
            "STORY_PREFIX": self.prefix,
            "STORY_DISK_DIR": self.disk_dir,
            # The suites' temporary stores go here, so we can see they are all removed.
            "TMPDIR": str(self.tmpdir),
            **extra,
        }
        env.pop("PYTEST_XDIST_WORKER", None)
        env.pop("PYTEST_XDIST_TESTRUNUID", None)
        env.pop("DJANGO_SETTINGS_MODULE", None)
        return env

    def snapshot(self) -> dict[str, Any]:
        """Every dev key with its serialized value and TTL, in both stores."""
        import redis

        from diskcache_admin.backend import DiskCache

        client = redis.Redis.from_url(self.redis_url)
        keys = sorted(client.scan_iter(match=f"{self.prefix}:*"))
        disk = DiskCache(self.disk_dir, {})
        return {
            "redis": {key: (client.dump(key), client.ttl(key) > 0) for key in keys},
            "disk": {key: disk.get(key) for key in ("club_page_classes", "member_count")},
            "disk_count": disk.stats().count,
        }

    def leftovers(self) -> list[str]:
        return [name for name in os.listdir(self.tmpdir) if name.startswith("diskcache-admin")]


@pytest.fixture
def dev_caches(redis_server: str, worker_id_suffix: str, tmp_path: Path) -> Iterator[DevCaches]:
    from django.core.cache.backends.redis import RedisCache

    from diskcache_admin.backend import DiskCache
    from diskcache_admin.inspection.redis import redis_client

    url = f"redis://{redis_server}/{REDIS_DB}"
    prefix = f"story-dev-{worker_id_suffix}"
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    dev = DevCaches(url, prefix, str(tmp_path / "dev-disk"), tmpdir)
    # Filled the way the dev server would: through Django's own backends.
    redis_cache = RedisCache(url, {"KEY_PREFIX": prefix, "TIMEOUT": 3600})
    redis_cache.set("club_page_classes", STALE)
    redis_cache.set("member_count", 42)
    disk = DiskCache(dev.disk_dir, {})
    disk.set("club_page_classes", STALE)
    disk.set("member_count", 42)
    yield dev
    client = redis_client(redis_cache, write=True)
    keys = list(client.scan_iter(match=f"{prefix}:*"))
    if keys:
        client.delete(*keys)


def use_env(monkeypatch: pytest.MonkeyPatch, dev: DevCaches) -> None:
    env = dev.env()
    for name in ("DJANGO_SETTINGS_MODULE", "PYTEST_XDIST_WORKER", "PYTEST_XDIST_TESTRUNUID"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)


def run_pytest(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    pytester.makeini(
        "[pytest]\n"
        "DJANGO_SETTINGS_MODULE = tests.testing.project.settings\n"
        "addopts = -p no:randomly -p no:cacheprovider -p no:asyncio\n"
        "filterwarnings = error\n"
    )
    pytester.makepyfile(
        test_story=(PROJECT / "suite_pytest.py").read_text(),
        test_story_kept=(PROJECT / "suite_pytest_kept.py").read_text(),
    )
    return pytester.runpytest_subprocess(*args, timeout=120)


def run_django(dev: DevCaches, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "django", "test", "--settings=tests.testing.project.settings",
         *args],
        cwd=ROOT, env=dev.env(**env), capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


@pytest.mark.parametrize("xdist", [(), ("-n", "2", "--dist", "loadfile")], ids=["serial", "n2"])
def test_pytest_suite_sees_fresh_data_and_leaves_dev_caches_alone(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    dev_caches: DevCaches,
    xdist: tuple[str, ...],
) -> None:
    before = dev_caches.snapshot()
    use_env(monkeypatch, dev_caches)

    result = run_pytest(pytester, *xdist)

    result.assert_outcomes(passed=9)
    result.stdout.fnmatch_lines(
        ["diskcache-admin cache isolation: swap (3 aliases isolated: default, disk, sessions)*"]
    )
    assert dev_caches.snapshot() == before
    assert before["disk"]["club_page_classes"] == STALE
    assert dev_caches.leftovers() == []


def test_without_isolation_the_pytest_suite_reads_the_stale_page(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, dev_caches: DevCaches
) -> None:
    before = dev_caches.snapshot()
    use_env(monkeypatch, dev_caches)

    result = run_pytest(pytester, "--cache-isolation=off", "-k", "fresh_classes")

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*Monday 19:00 boxing*"])
    result.stdout.fnmatch_lines(["diskcache-admin cache isolation: off*"])
    assert dev_caches.snapshot() == before


@pytest.mark.parametrize(
    ("args", "env"),
    [
        ((), {}),
        (("--parallel", "2"), {"STORY_EXPECT_WORKERS": "1", "STORY_START_METHOD": "fork"}),
        (("--parallel", "2"), {"STORY_EXPECT_WORKERS": "1", "STORY_START_METHOD": "spawn"}),
    ],
    ids=["serial", "parallel-fork", "parallel-spawn"],
)
def test_django_suite_sees_fresh_data_and_leaves_dev_caches_alone(
    dev_caches: DevCaches, args: tuple[str, ...], env: dict[str, str]
) -> None:
    before = dev_caches.snapshot()

    result = run_django(dev_caches, "tests.testing.project.suite_django", *args, **env)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "Ran 9 tests" in result.stderr
    assert "Cache isolation: swap (3 aliases isolated: default, disk, sessions)" in result.stdout
    assert dev_caches.snapshot() == before
    assert dev_caches.leftovers() == []


def test_without_isolation_the_django_suite_reads_the_stale_page(dev_caches: DevCaches) -> None:
    before = dev_caches.snapshot()

    result = run_django(
        dev_caches,
        "tests.testing.project.suite_django.ClubPageTests.test_club_page_shows_fresh_classes",
        "--cache-isolation=off",
    )

    assert result.returncode == 1
    assert STALE in result.stderr
    assert FRESH in result.stderr
    assert dev_caches.snapshot() == before


def test_clear_mode_refuses_the_dev_redis_before_any_test_runs(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, dev_caches: DevCaches
) -> None:
    before = dev_caches.snapshot()
    use_env(monkeypatch, dev_caches)
    monkeypatch.setenv("STORY_MODE", "clear")

    result = run_pytest(pytester, "-n", "2")

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    stderr = result.stderr.str()
    assert "ERROR: Cache isolation mode 'clear' refuses CACHES['default'] (" in stderr
    assert "RedisCache at redis://127.0.0.1:6379/4)" in stderr
    assert "DISKCACHE_ADMIN_TEST_CACHES" in stderr
    assert dev_caches.snapshot() == before


def test_the_django_runner_refuses_it_too(dev_caches: DevCaches) -> None:
    before = dev_caches.snapshot()

    result = run_django(dev_caches, "tests.testing.project.suite_django", STORY_MODE="clear")

    assert result.returncode == 1
    assert "UnsafeCacheError: Cache isolation mode 'clear' refuses CACHES['default']" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr  # a clean error, like any CommandError
    assert "Ran " not in result.stderr
    assert dev_caches.snapshot() == before
