"""A per-process store (LocMem) cannot be reached from the command's process: say so."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.cache import caches
from django.core.management import call_command
from django.test import override_settings

from tests.cli.conftest import AuditSpy, backend_config, fail
from tests.cli.test_subprocess import Cli, make_cli

pytestmark = pytest.mark.django_db

PER_PROCESS = "keeps its entries in the memory of each process that uses it"

WRITES = [
    ("set", "k", "new"),
    ("set", "k", "[1]", "--json"),
    ("store", "k", "-"),
    ("delete", "k"),
    ("clear", "--yes"),
    ("expire",),
]


@pytest.fixture
def locmem() -> Iterator[None]:
    with override_settings(CACHES={"default": backend_config("locmem", "", "")}):
        caches["default"].set("k", "old")
        yield


@pytest.mark.parametrize("args", WRITES, ids=lambda args: "-".join(args))
def test_changes_are_refused_and_change_nothing(
    locmem: None, audit_spy: AuditSpy, args: tuple[str, ...]
) -> None:
    message = fail(*args, code=2, stdin=io.BytesIO(b"bytes"))

    assert message.startswith(f"Cache 'default' (LocMemCache) {PER_PROCESS}: another process")
    assert message.endswith("Nothing was changed.")
    assert caches["default"].get("k") == "old"
    assert audit_spy.records == []


@pytest.mark.parametrize(
    "args",
    [("get", "k"), ("keys",), ("stats",), ("path",), ("clear", "--dry-run")],
    ids=lambda args: "-".join(args),
)
def test_reads_work_with_a_warning_on_stderr(locmem: None, args: tuple[str, ...]) -> None:
    out, err = io.StringIO(), io.StringIO()

    call_command("cache", *args, stdout=out, stderr=err)

    assert out.getvalue()
    assert err.getvalue().startswith(f"Warning: cache 'default' (LocMemCache) {PER_PROCESS}.")
    assert "not the one your server processes use" in err.getvalue()


def test_shared_backends_get_no_warning(disk_store: str) -> None:
    caches["default"].set("k", "v")
    err = io.StringIO()

    call_command("cache", "get", "k", stdout=io.StringIO(), stderr=err)

    assert err.getvalue() == ""


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    # An unmigrated database: the refusal comes before the audit is even looked at.
    return make_cli(str(tmp_path / "db.sqlite3"), {"default": backend_config("locmem", "", "")})


def test_a_real_process_refuses_instead_of_reporting_a_clear_that_did_nothing(cli: Cli) -> None:
    cleared = cli("clear", "--yes")
    stored = cli("set", "k", "v")
    read = cli("get", "k")

    assert cleared.returncode == 2
    assert b"removed 0 entries" not in cleared.stdout
    assert b"cannot reach the store your server processes use" in cleared.stderr
    assert stored.returncode == 2
    assert stored.stdout == b""
    assert read.returncode == 1
    assert b"Warning: cache 'default' (LocMemCache)" in read.stderr
