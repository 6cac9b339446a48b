"""``clear`` and ``check`` on a real store in batches: progress lines, ``--batch-size``, Ctrl-C."""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import caches

from diskcache_admin.backend import DiskCache
from diskcache_admin.management.cli.progress import Progress
from diskcache_admin.management.commands import cache as command_module
from tests.cli.conftest import AuditSpy, backend_config, fail, run
from tests.cli.fakes import FakeAdapter
from tests.cli.test_subprocess import database, environment

__all__ = ["database"]  # the subprocess test's migrated database, a fixture

pytestmark = pytest.mark.django_db

SUMMARY = "Cleared cache 'default' (DiskCache): removed 35 entries"


def fill(count: int) -> dict[str, Any]:
    values: dict[str, Any] = {
        f"k{number}": (os.urandom(200_000) if number % 10 == 0 else number)
        for number in range(count)
    }
    caches["default"].set_many(values, timeout=None)
    return values


@pytest.fixture
def ctrl_c_after_first_batch(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A real SIGINT to this process as the first batch is reported, as a Ctrl-C there."""
    real_report = Progress.report
    sent = False

    def report(self: Progress, done: int, total: int | None = None) -> None:
        nonlocal sent
        if not sent:
            sent = True
            os.kill(os.getpid(), signal.SIGINT)
        real_report(self, done, total)

    monkeypatch.setattr(Progress, "report", report)
    yield
    assert sent


def test_clear_with_progress_writes_plain_lines_to_stderr_only(
    disk_store: str, audit_spy: AuditSpy
) -> None:
    fill(35)

    result = run("clear", "--yes", "--batch-size", "10", "--progress")

    lines = result.err.splitlines()
    # The first batch at once, then at most a line every 2 s, and the last state at the end.
    assert re.fullmatch(r"Clearing default: 10 of 35 entries \(28%\), [\d,]+ entries/s", lines[0])
    assert lines[-1].startswith("Clearing default: 35 of 35 entries (100%), ")
    assert result.out.startswith(SUMMARY)
    assert caches["default"].get("k1") is None


def test_clear_shows_no_progress_off_a_terminal_without_the_flag(disk_store: str) -> None:
    fill(35)

    result = run("clear", "--yes", "--batch-size", "10")

    assert result.err == ""
    assert result.out.startswith(SUMMARY)


def test_check_with_progress_keeps_its_output(disk_store: str) -> None:
    fill(35)

    result = run("check", "--batch-size", "10", "--progress")

    assert result.out == "Checked cache 'default' (DiskCache): no problems found.\n"
    assert result.err.splitlines()[-1].startswith("Checking default: 35 of 35 entries (100%)")


def test_ctrl_c_stops_a_clear_after_its_batch_and_exits_130(
    disk_store: str, audit_spy: AuditSpy, ctrl_c_after_first_batch: None
) -> None:
    values = fill(35)

    message = fail("clear", "--yes", "--batch-size", "10", code=130)

    assert message.startswith("Interrupted: 10 of 35 entries removed in ")
    assert "The store is consistent: what was removed stays removed" in message
    assert "'cache check --alias default' verifies the store." in message
    left = caches["default"].get_many(list(values))
    assert left == {key: values[key] for key in list(values)[10:]}
    assert "no problems found" in run("check").out
    assert audit_spy.actions() == ["clear"]
    assert "interrupted: 10 of 35 entries removed" in audit_spy.records[0]["summary"]


def test_ctrl_c_stops_a_check_and_exits_130(
    disk_store: str, audit_spy: AuditSpy, ctrl_c_after_first_batch: None
) -> None:
    fill(35)

    message = fail("check", "--fix", "--batch-size", "10", code=130)

    assert message.startswith("Interrupted: the check stopped after verifying 0 of 35 entries;")
    assert "(repairs already made are kept). Run it again to check everything." in message
    assert audit_spy.actions() == ["check"]  # --fix: the cut-short run is on the trail


def test_batch_size_is_refused_where_the_backend_does_not_batch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = FakeAdapter(entries=5)  # its check and clear take no batch size
    monkeypatch.setattr(command_module, "get_adapter", lambda alias: fake)

    for args in (("check",), ("clear", "--yes")):
        message = fail(*args, "--batch-size", "10", code=2)

        assert "(FakeCache) does not work in batches; leave out --batch-size." in message
    assert len(fake.data) == 5


def test_sigint_to_a_running_clear_stops_it_between_batches(
    database: str, tmp_cache_dir: str
) -> None:
    store = DiskCache(tmp_cache_dir, {"OPTIONS": {"MAX_ENTRIES": None}})
    values = {f"key:{number}": number for number in range(20_000)}
    store.set_many(values, timeout=None)
    caches = {"default": backend_config("diskcache", tmp_cache_dir, "")}
    command = ["cache", "clear", "--yes", "--batch-size", "1", "--progress"]
    process = subprocess.Popen(
        [sys.executable, "-m", "django", *command],
        env=environment(database, caches),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stderr is not None
    # The first line comes after the first one-entry batch; the other 19,999 batches would take
    # far longer (each is followed by a pause of 2 ms) than the signal takes to arrive.
    first = process.stderr.readline()
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)

    assert first.startswith(b"Clearing default: 1 of 20,000 entries (0%), ")
    assert process.returncode == 130, err
    assert out == b""  # nothing on standard output: no summary, no progress
    found = re.search(rb"CommandError: Interrupted: ([\d,]+) of 20,000 entries removed in ", err)
    assert found is not None, err
    removed = int(found.group(1).replace(b",", b""))
    assert 1 <= removed < 20_000
    assert b"The store is consistent" in err
    assert b"Traceback" not in err
    left = store.get_many(list(values))
    assert left == {key: values[key] for key in list(values)[removed:]}
    assert store.check() == []


def test_plain_progress_lines_come_at_most_every_two_seconds() -> None:
    now = [100.0]
    stream = io.StringIO()
    progress = Progress(stream, "Clearing default", total=400, plain=True, clock=lambda: now[0])
    for done in (100, 200, 300, 400):
        now[0] += 1.0
        progress.report(done, 400)
    progress.close()

    assert stream.getvalue().splitlines() == [
        "Clearing default: 100 of 400 entries (25%), 100 entries/s",  # the first batch at once
        "Clearing default: 300 of 400 entries (75%), 100 entries/s",  # 2 s later
        "Clearing default: 400 of 400 entries (100%), 100 entries/s",  # the last state, at close
    ]


def test_a_sigint_the_process_ignores_stays_ignored() -> None:
    progress = Progress(None, "Clearing default")
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # nohup, a script's background job
    try:
        with progress.stopping():
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)


def deliver_sigint() -> None:
    os.kill(os.getpid(), signal.SIGINT)
    handled()  # a Python call: the pending handler runs before its first instruction


def handled() -> None:
    return None


def test_a_second_ctrl_c_interrupts_at_once() -> None:
    progress = Progress(None, "Clearing default")

    with progress.stopping():
        deliver_sigint()  # the first only asks for a stop
        assert progress.stop_requested
        with pytest.raises(KeyboardInterrupt):
            deliver_sigint()

    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
