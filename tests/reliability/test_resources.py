"""A full or size-limited disk: writes fail with an error, reads keep working, the store stays
consistent, and writing works again once there is room.

This machine runs the suite as root, for whom chmod protects nothing, so two other faults are
used: RLIMIT_FSIZE in a subprocess (no file may grow past the limit: EFBIG), and, where mount is
permitted, a 1 MiB tmpfs that fills up (ENOSPC).
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import caches
from django.test import override_settings

from diskcache_admin.backend import DiskCache
from tests.conftest import skip_or_fail_unless

from .conftest import forget_store
from .entries import KEEP, kept_value

REPO = Path(__file__).resolve().parents[2]
WRITE_FAILED = ("OSError: [Errno 27] File too large", "sqlite3.OperationalError: disk I/O error")


def store_kept(cache: DiskCache) -> None:
    for key in KEEP:
        cache.set(key, kept_value(key), None)
    cache.set("counter", 5, None)


def assert_kept(cache: DiskCache, counter: int = 5) -> None:
    assert [cache.get(key) == kept_value(key) for key in KEEP] == [True] * len(KEEP)
    assert cache.get("counter") == counter


def test_writes_past_rlimit_fsize_fail_and_reads_go_on(cache: DiskCache) -> None:
    store_kept(cache)
    files = [p for p in Path(cache.location).iterdir() if p.is_file()]
    # Room for a few small transactions in the WAL, none for a value file of twice the limit.
    limit = max(p.stat().st_size for p in files) + 64 * 1024
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env["FAULT_WRITER_SECRET_KEY"] = settings.SECRET_KEY
    run = subprocess.run(
        [sys.executable, "-m", "tests.reliability.fault_writer", cache.location, str(limit)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)

    assert report["large_set"] == "builtins.OSError: [Errno 27] File too large"
    assert report["large_add"] == "builtins.OSError: [Errno 27] File too large"
    assert report["small_failure"].endswith(WRITE_FAILED)
    assert report["small_sets_before_failure"] > 0  # the limit, not a broken store, stopped it
    # A transaction smaller than the one that failed may still fit: then it must have counted.
    assert report["incr"] == "ok: 6" or report["incr"].endswith(WRITE_FAILED)
    assert report["reads"] == [True] * len(KEEP)
    assert report["large_read"] == "ok: None"

    assert cache.check() == []
    assert_kept(cache, 6 if report["incr"] == "ok: 6" else 5)
    assert cache.get("large") is None
    cache.set("after", b"a" * 5000)  # no limit in this process
    assert cache.get("after") == b"a" * 5000
    assert cache.check() == []


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount_point)],
        capture_output=True,
        check=False,
    )
    # Mounting needs root: skipped on a developer's machine, but CI (root) must run it.
    skip_or_fail_unless(
        mounted.returncode == 0, f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}"
    )
    try:
        yield mount_point
    finally:
        forget_store(str(mount_point / "cache"))
        subprocess.run(["umount", "-l", str(mount_point)], check=True)


def test_a_full_disk_fails_writes_keeps_reads_and_recovers(
    tiny_disk: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, "diskcache_admin.backend")
    location = str(tiny_disk / "cache")
    caches_setting = {
        "default": {
            "BACKEND": "diskcache_admin.backend.DiskCache",
            "LOCATION": location,
            "OPTIONS": {"MAX_ENTRIES": None, "FILE_THRESHOLD": 1024},
        }
    }
    with override_settings(CACHES=caches_setting):
        cache = caches["default"]
        assert isinstance(cache, DiskCache)
        store_kept(cache)
        errors: list[BaseException] = []
        stored = 0
        for index in range(100):
            try:
                cache.set(f"fill{index}", bytes([index]) * 100_000, None)
                stored += 1
            except (OSError, sqlite3.Error) as exc:
                errors.append(exc)
                if len(errors) == 3:
                    break
        assert 0 < stored < 100
        assert errors
        for error in errors:
            assert "No space left" in str(error) or "disk is full" in str(error), repr(error)
        logged = [
            r.getMessage() for r in caplog.records if "could not store a write" in r.getMessage()
        ]
        assert 0 < len(logged) <= len({f"{type(e).__name__}: {e}" for e in errors})
        assert all(location in message for message in logged)

        assert_kept(cache)
        assert cache.check() == []
        for index in range(stored):
            assert cache.get(f"fill{index}") == bytes([index]) * 100_000
        cache.delete_many([f"fill{index}" for index in range(stored)])
        cache.set("after", b"a" * 100_000)
        assert cache.get("after") == b"a" * 100_000
        assert cache.check() == []
