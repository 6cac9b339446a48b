"""The audit trail of the command: checked before a change, switchable per face, and pruned."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import pytest
from django.contrib.admin.models import LogEntry
from django.core.cache import caches
from django.test import override_settings
from django.utils import timezone

from diskcache_admin import audit
from diskcache_admin.backend import DiskCache
from diskcache_admin.models import AuditEntry
from tests.cli.conftest import backend_config, fail, run
from tests.cli.test_subprocess import Cli, make_cli

# -- before migrate ---------------------------------------------------------------------------


@pytest.fixture
def unmigrated(tmp_path: Path, tmp_cache_dir: str) -> Cli:
    """The command in a real process whose database has no tables yet."""
    return make_cli(
        str(tmp_path / "empty.sqlite3"),
        {"default": backend_config("diskcache", tmp_cache_dir, "")},
    )


@pytest.mark.parametrize(
    "args",
    [("set", "k", "new"), ("delete", "k"), ("clear", "--yes"), ("expire",)],
    ids=lambda args: args[0],
)
def test_before_migrate_a_change_is_refused_and_nothing_changes(
    unmigrated: Cli, tmp_cache_dir: str, args: tuple[str, ...]
) -> None:
    store = DiskCache(tmp_cache_dir, {})
    store.set("k", "old")

    completed = unmigrated(*args)

    assert completed.returncode == 1
    assert completed.stdout == b""
    assert b"run 'manage.py migrate' first" in completed.stderr
    assert completed.stderr.rstrip().endswith(b"Nothing was changed.")
    assert b"Traceback" not in completed.stderr
    assert store.get("k") == "old"


def test_before_migrate_reads_and_dry_runs_still_work(unmigrated: Cli, tmp_cache_dir: str) -> None:
    DiskCache(tmp_cache_dir, {}).set("k", "v")

    assert unmigrated("get", "k").stdout == b"v\n"
    assert unmigrated("clear", "--dry-run").returncode == 0


def test_prune_before_migrate_says_so(unmigrated: Cli) -> None:
    completed = unmigrated("audit", "prune", "--older-than", "30")

    assert completed.returncode == 1
    assert completed.stderr.startswith(b"CommandError: The audit records cannot be read")


# -- the switch ---------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("setting", [{"cli": False}, {"admin": True, "cli": False}, False])
def test_the_cli_audit_can_be_switched_off(disk_store: str, setting: Any) -> None:
    with override_settings(DISKCACHE_ADMIN_AUDIT=setting):
        assert audit.unavailable("cli") is None
        run("set", "k", "v")
        run("delete", "k")

    assert not AuditEntry.objects.exists()


@pytest.mark.django_db
def test_the_admin_audit_switch_keeps_djangos_own_history(
    django_user_model: Any,
) -> None:
    user = django_user_model.objects.create_user("ada", password="x")

    with override_settings(DISKCACHE_ADMIN_AUDIT={"admin": False}):
        off = audit.record(alias="default", action="clear", summary="s", user=user, via="admin")
        cli = audit.record(alias="default", action="clear", summary="s", via="cli")

    assert off is None
    assert cli is not None
    assert list(AuditEntry.objects.values_list("via", flat=True)) == ["cli"]
    assert LogEntry.objects.filter(user=user).count() == 1  # "Recent actions" is Django's


@pytest.mark.django_db
def test_the_audit_is_on_by_default(disk_store: str) -> None:
    run("set", "k", "v")

    assert list(AuditEntry.objects.values_list("via", "action")) == [("cli", "set")]


# -- retention ----------------------------------------------------------------------------------


def make_records(ages_in_days: list[float]) -> None:
    now = timezone.now()
    for number, age in enumerate(ages_in_days):
        entry = AuditEntry.objects.create(
            who="ops", via="cli", alias="default", action="set", summary=f"record {number}"
        )
        AuditEntry.objects.filter(pk=entry.pk).update(when=now - datetime.timedelta(days=age))


@pytest.mark.django_db
def test_prune_dry_run_counts_and_keeps() -> None:
    make_records([40, 31, 29, 1])

    out = run("audit", "prune", "--older-than", "30", "--dry-run").out

    assert out.startswith("Would remove 2 audit records older than 30 days (before ")
    assert AuditEntry.objects.count() == 4


@pytest.mark.django_db
def test_prune_removes_only_the_old_records_and_records_itself(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(audit, "PRUNE_BATCH", 2)  # several batches
    make_records([400, 90, 40, 31, 29, 1])

    out = run("audit", "prune", "--older-than", "30").out

    assert out.startswith("Removed 4 audit records older than 30 days (before ")
    summaries = list(AuditEntry.objects.order_by("pk").values_list("summary", flat=True))
    assert summaries[:2] == ["record 4", "record 5"]
    assert summaries[2] == out.strip()
    assert AuditEntry.objects.get(summary=out.strip()).action == "prune_audit"


@pytest.mark.django_db
def test_prune_needs_a_positive_number_of_days() -> None:
    assert "--older-than" in fail("audit", "prune", code=2)
    assert "not a positive number" in fail("audit", "prune", "--older-than", "0", code=2)
    assert "1 day " in run("audit", "prune", "--older-than", "1", "--dry-run").out


@pytest.mark.django_db
def test_caches_are_untouched_by_a_prune(disk_store: str) -> None:
    caches["default"].set("k", "v")
    make_records([100])

    run("audit", "prune", "--older-than", "1")

    assert caches["default"].get("k") == "v"
