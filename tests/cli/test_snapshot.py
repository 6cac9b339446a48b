"""``cache snapshot``: the statistics snapshots behind the admin's hit-ratio chart, for cron."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.cache import caches
from django.test import override_settings

from diskcache_admin.inspection import get_adapter
from tests.cli.conftest import backend_config, fail, run
from tests.cli.test_subprocess import environment


@pytest.fixture
def two_stores(tmp_path: Path) -> Iterator[None]:
    """Two DiskCache aliases and a LocMem one (which keeps no snapshots)."""
    setting = {
        "default": backend_config("diskcache", str(tmp_path / "a"), ""),
        "pages": backend_config("diskcache", str(tmp_path / "b"), ""),
        "local": backend_config("locmem", "", ""),
    }
    with override_settings(CACHES=setting):
        caches["pages"].set("page", 1)  # the stores exist
        caches["default"].set("first", 1)
        yield


def snapshots(alias: str) -> int:
    return len(get_adapter(alias).snapshots())


def test_without_aliases_every_alias_that_keeps_snapshots_gets_one(two_stores: None) -> None:
    caches["default"].set("second", 2)

    lines = run("snapshot").out.splitlines()

    assert len(lines) == 2  # LocMem keeps no snapshots: not named, not an error
    assert lines[0].startswith("Took a snapshot of cache 'default' (DiskCache): 2 entries, ")
    assert lines[1].startswith("Took a snapshot of cache 'pages' (DiskCache): 1 entry, ")
    assert (snapshots("default"), snapshots("pages")) == (1, 1)
    assert get_adapter("default").latest_snapshot().entries == 2  # type: ignore[union-attr]


def test_named_aliases_only(two_stores: None) -> None:
    run("snapshot", "pages")

    assert (snapshots("default"), snapshots("pages")) == (0, 1)


def test_min_interval_skips_a_recent_snapshot(two_stores: None) -> None:
    run("snapshot", "default")

    skipped = run("snapshot", "default", "--min-interval", "300").out
    taken = run("snapshot", "default", "--min-interval", "0").out

    assert skipped.startswith("Skipped cache 'default' (DiskCache): its newest snapshot is ")
    assert taken.startswith("Took a snapshot")
    assert snapshots("default") == 2


def test_an_alias_without_snapshots_exits_2(two_stores: None) -> None:
    message = fail("snapshot", "local", code=2)

    assert message == "Cache 'local' (LocMemCache) cannot keep statistics snapshots."
    assert "Unknown cache alias 'nope'" in fail("snapshot", "nope", code=2)
    assert "negative" in fail("snapshot", "--min-interval", "-1", code=2)


def test_a_store_that_does_not_exist_yet_is_not_created(tmp_path: Path) -> None:
    location = tmp_path / "not-yet"
    with override_settings(CACHES={"default": backend_config("diskcache", str(location), "")}):
        out = run("snapshot").out

    assert (
        out == "Nothing to record for cache 'default' (DiskCache): its store does not exist yet.\n"
    )
    assert not location.exists()


def test_no_alias_keeps_snapshots() -> None:
    with override_settings(CACHES={"default": backend_config("locmem", "", "")}):
        message = fail("snapshot", code=2)

    assert message == "No cache in CACHES keeps statistics snapshots (DiskCache does)."


def test_cron_runs_it_as_a_real_process(tmp_path: Path, tmp_cache_dir: str) -> None:
    caches_setting = {"default": backend_config("diskcache", tmp_cache_dir, "")}
    with override_settings(CACHES=caches_setting):
        caches["default"].set("k", 1)
    completed = subprocess.run(
        [sys.executable, "-m", "django", "cache", "snapshot"],
        env=environment(str(tmp_path / "db.sqlite3"), caches_setting),
        capture_output=True,
        timeout=60,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.startswith(b"Took a snapshot of cache 'default' (DiskCache)")
    with override_settings(CACHES=caches_setting):
        assert snapshots("default") == 1
