"""The command as a shell sees it: real exit statuses, raw bytes on stdout, stdin, stderr."""

from __future__ import annotations

import getpass
import json
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from diskcache_admin.backend import DiskCache
from tests.cli.conftest import backend_config, redis_client

ROOT = Path(__file__).resolve().parents[2]

Cli = Callable[..., subprocess.CompletedProcess[bytes]]


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated file database, so that the audit records of the runs below have a table."""
    path = str(tmp_path_factory.mktemp("cli-db") / "db.sqlite3")
    completed = subprocess.run(
        [sys.executable, "-m", "django", "migrate", "--noinput", "-v", "0"],
        env=environment(path, None),
        capture_output=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr.decode()
    return path


def environment(database: str, caches: dict[str, Any] | None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        PYTHONPATH=str(ROOT),
        DJANGO_SETTINGS_MODULE="tests.cli.subprocess_settings",
        DISKCACHE_ADMIN_CLI_DB=database,
    )
    env.pop("DISKCACHE_ADMIN_CLI_CACHES", None)
    if caches is not None:
        env["DISKCACHE_ADMIN_CLI_CACHES"] = json.dumps(caches)
    return env


def make_cli(database: str, caches: dict[str, Any]) -> Cli:
    def cli(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [sys.executable, "-m", "django", "cache", *args],
            env=environment(database, caches),
            input=stdin,
            capture_output=True,
            timeout=60,
            check=False,
        )

    return cli


@pytest.fixture
def cli(database: str, tmp_cache_dir: str) -> Cli:
    return make_cli(
        database,
        {
            "default": backend_config("diskcache", tmp_cache_dir, ""),
            "locmem": backend_config("locmem", "", ""),
        },
    )


def test_bytes_round_trip_through_stdin_and_stdout(cli: Cli, database: str) -> None:
    payload = bytes(range(256)) * 3 + b"\r\n\x00"

    stored = cli("store", "blob", "-", stdin=payload)
    got = cli("get", "blob")

    assert stored.returncode == 0, stored.stderr
    assert (got.returncode, got.stdout, got.stderr) == (0, payload, b"")
    with closing(sqlite3.connect(database)) as db, db:
        records = db.execute(
            "SELECT who, via, alias, action FROM diskcache_admin_auditentry WHERE summary LIKE ?",
            ("Stored 'blob'%",),
        ).fetchall()
    assert records == [(getpass.getuser(), "cli", "default", "store")]


def test_missing_key_exits_1_with_nothing_on_stdout(cli: Cli) -> None:
    completed = cli("get", "absent")

    assert (completed.returncode, completed.stdout) == (1, b"")
    assert b"'absent' not found" in completed.stderr


@pytest.mark.parametrize(
    ("args", "status", "message"),
    [
        (("get", "k", "--alias", "nope"), 2, b"Unknown cache alias 'nope'"),
        (("keys", "--limit", "0"), 2, b"argument --limit: '0' is not a positive number"),
        (("store", "k", "/nonexistent/file"), 2, b"Cannot read '/nonexistent/file'"),
    ],
    ids=["unknown-alias", "bad-argument", "unreadable-file"],
)
def test_bad_input_gives_a_clear_message_and_status(
    cli: Cli, args: tuple[str, ...], status: int, message: bytes
) -> None:
    completed = cli(*args)

    assert completed.returncode == status
    assert message in completed.stderr
    assert b"Traceback" not in completed.stderr


def test_clear_without_an_answer_is_cancelled(cli: Cli, tmp_cache_dir: str) -> None:
    store = DiskCache(tmp_cache_dir, {})
    store.set("k", "v")

    refused = cli("clear")  # standard input is empty: no 'yes'

    assert refused.returncode == 1
    assert b"Clear cancelled; nothing was removed" in refused.stderr
    assert store.get("k") == "v"


def test_ctrl_c_exits_130_and_leaves_the_store_sound(database: str, tmp_cache_dir: str) -> None:
    store = DiskCache(tmp_cache_dir, {"OPTIONS": {"MAX_ENTRIES": None}})
    store.set_many({f"key:{number}": number for number in range(3000)}, timeout=None)
    caches = {"default": backend_config("diskcache", tmp_cache_dir, "")}
    process = subprocess.Popen(
        [sys.executable, "-m", "django", "cache", "keys", "--json"],
        env=environment(database, caches),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    # The listing (about 600 KB) outgrows the pipe while nothing reads it, so it is surely
    # still running when Ctrl-C arrives.
    first = process.stdout.readline()
    process.send_signal(signal.SIGINT)
    rest, err = process.communicate(timeout=60)

    assert json.loads(first)["key"].startswith("key:")
    assert process.returncode == 130
    assert err.startswith(b"CommandError: Interrupted after ")
    assert len(rest.splitlines()) < 3000 - 1
    assert store.get_many([f"key:{number}" for number in range(3000)]) == {
        f"key:{number}": number for number in range(3000)
    }
    assert store.check() == []


def test_redis_round_trip(database: str, redis_server: str, redis_prefix: str) -> None:
    cli = make_cli(database, {"default": backend_config("redis", "", redis_prefix)})

    assert cli("store", "greeting", "-", stdin=b"\x00hello\xff").returncode == 0
    got = cli("get", "greeting")
    cleared = cli("clear", "--yes")

    assert (got.returncode, got.stdout) == (0, b"\x00hello\xff")
    assert cleared.returncode == 0, cleared.stderr
    assert redis_client().exists(f"{redis_prefix}:1:greeting") == 0


@pytest.mark.parametrize("args", [("stats",), ("stats", "--json"), ("path",), ("keys",)])
def test_a_reader_that_is_gone_gets_no_traceback(
    database: str, tmp_cache_dir: str, args: tuple[str, ...]
) -> None:
    """`cache stats | head -1` when head has already left: a quiet stop, as Unix tools do."""
    cache = DiskCache(tmp_cache_dir, {"OPTIONS": {"MAX_ENTRIES": 10_000}})
    cache.set("a-key", "a value")
    cache.close()
    with subprocess.Popen(
        [sys.executable, "-m", "django", "cache", *args],
        env=environment(database, {"default": backend_config("diskcache", tmp_cache_dir, "")}),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as process:
        assert process.stdout is not None
        assert process.stderr is not None
        process.stdout.close()  # before the command has written anything
        stderr = process.stderr.read()
        status = process.wait(timeout=60)

    assert b"Traceback" not in stderr, stderr
    assert b"BrokenPipe" not in stderr, stderr
    assert status == 0, stderr
