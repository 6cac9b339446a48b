"""Django's global options work after the subcommand too, as on every other manage.py command."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.cache import caches
from django.core.management import call_command

from tests.cli.conftest import backend_config, run
from tests.cli.test_subprocess import ROOT, environment

pytestmark = pytest.mark.django_db

ANSI = "\x1b["


def test_color_options_after_the_subcommand_take_effect(disk_store: str) -> None:
    forced = run("set", "k", "v", "--force-color").out
    plain = run("set", "k", "v", "--no-color").out

    assert forced.startswith(ANSI)
    assert ANSI not in plain
    assert "Stored 'k'" in plain


def test_every_global_option_is_accepted_after_the_subcommand(disk_store: str) -> None:
    out = io.StringIO()

    call_command(
        "cache",
        "set",
        "k",
        "v",
        "--settings=tests.settings",
        "--pythonpath=.",
        "-v",
        "2",
        "--traceback",
        "--no-color",
        "--skip-checks",
        stdout=out,
        stderr=io.StringIO(),
    )

    assert "Stored 'k'" in out.getvalue()
    assert caches["default"].get("k") == "v"


def test_an_option_given_before_the_subcommand_is_kept(disk_store: str) -> None:
    # The subparsers have no default for these options, so they do not reset it.
    assert run("--force-color", "set", "k", "v").out.startswith(ANSI)
    assert run("--skip-checks", "get", "k").out == "v\n"


def test_nested_subcommands_take_them_too() -> None:
    assert (
        "Would remove 0 audit records"
        in run("audit", "prune", "--older-than", "1", "--dry-run", "--no-color", "-v", "0").out
    )


def test_settings_and_traceback_after_the_subcommand_in_a_real_process(
    tmp_path: Path, tmp_cache_dir: str
) -> None:
    env = environment(
        str(tmp_path / "db.sqlite3"), {"default": backend_config("diskcache", tmp_cache_dir, "")}
    )
    del env["DJANGO_SETTINGS_MODULE"]  # only --settings, after the subcommand, names them

    def manage(*args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), "cache", *args],
            env=env,
            capture_output=True,
            timeout=60,
            check=False,
        )

    path = manage("path", "--settings=tests.cli.subprocess_settings", "--pythonpath", str(ROOT))
    missing = manage("get", "nope", "--settings=tests.cli.subprocess_settings", "--traceback")

    assert (path.returncode, path.stdout.decode().strip()) == (0, tmp_cache_dir), path.stderr
    assert missing.returncode == 1
    assert b"Traceback" in missing.stderr  # --traceback was honoured
    assert b"CommandError: Key 'nope' not found" in missing.stderr
