"""Bad input, unknown aliases, unsupported operations, failures, Ctrl-C and the progress bar."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.core.cache import caches
from django.core.management import CommandError, call_command
from django.test import override_settings

from diskcache_admin.inspection.base import Problem
from diskcache_admin.management.commands import cache as command_module
from tests.cli.conftest import AuditSpy, backend_config, fail, run
from tests.cli.fakes import BrokenAdapter, FakeAdapter, SilentAdapter

pytestmark = pytest.mark.django_db

SUBCOMMANDS = [
    ("get", "k"),
    ("set", "k", "v"),
    ("store", "k", "-"),
    ("delete", "k"),
    ("expire",),
    ("evict", "t"),
    ("clear", "--yes"),
    ("path",),
    ("check",),
    ("stats",),
    ("keys",),
]


class TtyStringIO(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeAdapter:
    adapter = FakeAdapter(entries=95)
    monkeypatch.setattr(command_module, "get_adapter", lambda alias: adapter)
    return adapter


@pytest.mark.parametrize("args", SUBCOMMANDS, ids=[args[0] for args in SUBCOMMANDS])
def test_unknown_alias_names_the_known_ones(args: tuple[str, ...]) -> None:
    with override_settings(CACHES={"default": {}, "sessions": {}}):
        message = fail(*args, "--alias", "nope", code=2)

    assert (
        message == "Unknown cache alias 'nope'; the aliases in CACHES are: 'default', 'sessions'."
    )


@pytest.mark.parametrize(
    ("args", "verb"),
    [
        (("get", "k"), "read a value without side effects"),
        (("set", "k", "v"), "store values"),
        (("store", "k", "-"), "store values"),
        (("delete", "k"), "delete keys"),
        (("expire",), "purge expired entries"),
        (("evict", "t"), "evict entries by tag"),
        (("clear", "--yes"), "clear its entries"),
        (("clear", "--yes", "--flush-db"), "flush its whole database"),
        (("check",), "check its integrity"),
        (("stats",), "report statistics"),
        (("keys",), "list keys"),
    ],
    ids=lambda value: value[0] if isinstance(value, tuple) else None,
)
def test_unsupported_operation_exits_2_naming_alias_backend_and_operation(
    args: tuple[str, ...], verb: str
) -> None:
    dummy = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
    with override_settings(CACHES=dummy):
        message = fail(*args, code=2, stdin=io.BytesIO(b""))

    assert message == f"Cache 'default' (DummyCache) cannot {verb}."


def test_flush_db_is_refused_by_diskcache_and_removes_nothing(
    disk_store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    caches["default"].set("kept", 1)
    monkeypatch.setattr("builtins.input", lambda prompt: "yes")

    assert "cannot flush its whole database" in fail("clear", "--flush-db", code=2)
    assert caches["default"].get("kept") == 1


def test_argument_errors_are_command_errors_with_status_2() -> None:
    # The same status as from the shell, where argparse exits with 2.
    assert "--limit" in fail("keys", "--limit", "0", code=2)
    assert "invalid choice" in fail("frobnicate", code=2)
    assert "unrecognized arguments: --frob" in fail("get", "k", "--frob", code=2)


def test_a_backend_that_is_down_gives_a_clear_message_and_status_1(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(command_module, "get_adapter", lambda alias: BrokenAdapter())

    assert fail("stats", code=1) == "Cache 'default': Connection refused (127.0.0.1:1)"


def test_an_alias_whose_backend_cannot_be_built_is_reported() -> None:
    broken = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "bad": {"BACKEND": "no.such.Backend"},
    }
    with override_settings(CACHES=broken):
        message = fail("keys", "--alias", "bad", code=1)
        everything = fail("stats", "--all", code=1)

    assert message.startswith("Cache 'bad' cannot be inspected: ")
    assert "could not be set up" in message
    assert everything == "No statistics from 'bad'."


def test_stats_all_reports_a_failing_alias_and_goes_on(monkeypatch: pytest.MonkeyPatch) -> None:
    broken, fine = BrokenAdapter(), FakeAdapter("locmem", entries=3)
    monkeypatch.setattr(command_module, "all_adapters", lambda: [broken, fine])
    out = io.StringIO()

    with pytest.raises(CommandError) as info:
        call_command("cache", "stats", "--all", "--json", stdout=out, stderr=io.StringIO())

    assert info.value.returncode == 1
    document = json.loads(out.getvalue())
    assert [cache["error"] for cache in document["caches"]] == [
        "Connection refused (127.0.0.1:1)",
        None,
    ]
    assert document["caches"][1]["stats"]["entries"] == 3


def test_bytes_on_a_text_only_stream_suggest_json(fake: FakeAdapter) -> None:
    fake.data[":1:blob"] = b"\x00\x01"

    assert "use --json" in fail("get", "blob", code=2)


def test_clear_asks_and_yes_clears(
    fake: FakeAdapter, monkeypatch: pytest.MonkeyPatch, audit_spy: AuditSpy
) -> None:
    prompts: list[str] = []

    def answer(prompt: str) -> str:
        prompts.append(prompt)
        return "yes"

    monkeypatch.setattr("builtins.input", answer)

    out = run("clear").out

    assert "This removes 95 entries from cache 'default' (FakeCache)" in out
    assert prompts == ["Type 'yes' to continue, or 'no' to cancel: "]
    assert fake.data == {}
    assert audit_spy.actions() == ["clear"]


@pytest.mark.parametrize("reply", ["no", "", "y", EOFError()])
def test_clear_without_yes_removes_nothing(
    fake: FakeAdapter, monkeypatch: pytest.MonkeyPatch, audit_spy: AuditSpy, reply: Any
) -> None:
    def answer(prompt: str) -> str:
        if isinstance(reply, BaseException):
            raise reply
        return str(reply)

    monkeypatch.setattr("builtins.input", answer)

    message = fail("clear", code=1)

    assert message.startswith("Clear cancelled; nothing was removed")
    assert len(fake.data) == 95
    assert audit_spy.records == []


def test_clear_dry_run_says_what_would_go_and_removes_nothing(
    fake: FakeAdapter, audit_spy: AuditSpy
) -> None:
    out = run("clear", "--dry-run", "--yes").out

    assert out.startswith("Would remove 95 entries from cache 'default' (FakeCache)")
    assert len(fake.data) == 95
    assert audit_spy.records == []


def test_flush_db_warns_about_other_data_and_needs_confirmation(
    fake: FakeAdapter, monkeypatch: pytest.MonkeyPatch, audit_spy: AuditSpy
) -> None:
    monkeypatch.setattr("builtins.input", lambda prompt: "no")

    assert "Flush cancelled" in fail("clear", "--flush-db", code=1)
    assert (
        "other aliases' and other applications' data" in run("clear", "--flush-db", "--dry-run").out
    )
    assert not fake.flushed

    run("clear", "--flush-db", "--noinput")

    assert fake.flushed
    assert audit_spy.actions() == ["flush_db"]


def test_interrupted_clear_says_how_far_it_got_and_exits_130(
    fake: FakeAdapter, audit_spy: AuditSpy
) -> None:
    fake.interrupt_after = 3  # batches of 10

    message = fail("clear", "--yes", code=130)

    assert message.startswith("Interrupted: 30 of 95 entries removed in ")
    assert "The store is consistent: what was removed stays removed" in message
    assert len(fake.data) == 65
    assert audit_spy.actions() == ["clear"]
    assert "interrupted: 30 of 95 entries removed in " in audit_spy.records[0]["summary"]


def test_interrupted_clear_without_progress_reports_says_it_cannot_tell(
    monkeypatch: pytest.MonkeyPatch, audit_spy: AuditSpy
) -> None:
    silent = SilentAdapter(entries=50)
    silent.interrupt_after = 2
    monkeypatch.setattr(command_module, "get_adapter", lambda alias: silent)

    message = fail("clear", "--yes", code=130)

    assert "how many entries went is unknown" in message
    assert len(silent.data) == 30
    assert "interrupted: how many entries went is unknown" in audit_spy.records[0]["summary"]


def test_interrupted_expire_exits_130(fake: FakeAdapter, audit_spy: AuditSpy) -> None:
    fake.interrupt_after = 0

    message = fail("expire", code=130)

    assert message.startswith("Interrupted: nothing removed.")
    assert len(fake.data) == 95


def test_interrupted_keys_exits_130(fake: FakeAdapter, monkeypatch: pytest.MonkeyPatch) -> None:
    def keys(pattern: str | None = None) -> Any:
        yield from FakeAdapter.iter_keys(fake, pattern)
        raise KeyboardInterrupt

    monkeypatch.setattr(fake, "iter_keys", keys)

    assert fail("keys", code=130) == "Interrupted after 95 keys."


def test_progress_bar_on_a_terminal(fake: FakeAdapter) -> None:
    err = TtyStringIO()

    call_command("cache", "clear", "--yes", stdout=io.StringIO(), stderr=err)

    assert "Clearing default" in err.getvalue()
    assert "/95 " in err.getvalue()  # the total comes from clear_preview()


def test_no_progress_bar_when_piped(fake: FakeAdapter) -> None:
    result = run("clear", "--yes")

    assert result.err == ""
    assert result.out == "Cleared cache 'default' (FakeCache): removed 95 entries.\n"


def test_keys_bar_only_when_the_keys_go_elsewhere(fake: FakeAdapter) -> None:
    to_file, to_terminal = TtyStringIO(), TtyStringIO()

    call_command("cache", "keys", stdout=io.StringIO(), stderr=to_file)
    call_command("cache", "keys", stdout=TtyStringIO(), stderr=to_terminal)

    assert "Listing keys" in to_file.getvalue()
    assert to_terminal.getvalue() == ""


def test_check_problems_exit_1_until_fixed(fake: FakeAdapter, audit_spy: AuditSpy) -> None:
    fake.problems = [Problem("orphan-file", "ab/abc.val belongs to no entry")]

    message = fail("check", code=1)
    result = run("check", "--fix")

    assert "1 problem left" in message
    assert "Run with --fix" in message
    assert "fixed: orphan-file: ab/abc.val belongs to no entry" in result.out
    assert audit_spy.actions() == ["check"]


def test_check_unfixable_problem_still_exits_1(fake: FakeAdapter) -> None:
    fake.problems = [Problem("database", "row 3 missing from index")]

    assert "1 problem left" in fail("check", "--fix", code=1)


def test_audit_failure_is_reported(fake: FakeAdapter, monkeypatch: pytest.MonkeyPatch) -> None:
    from django.db import OperationalError

    from diskcache_admin import audit

    def broken(**kwargs: Any) -> None:
        raise OperationalError("no such table: django_admin_log")

    monkeypatch.setattr(audit, "record", broken)

    message = fail("delete", "k1", code=1)

    assert message.startswith("Deleted 1 of 1 key from")
    assert "audit record could not be written" in message


HUGE = "9" * 20  # past SQLite's 64-bit integers and sys.maxsize
COUNT_OPTIONS = [("keys", "--limit"), ("top", "--limit")]
BATCH_OPTIONS = [("clear", "--yes", "--batch-size"), ("check", "--batch-size")]


@pytest.mark.parametrize(
    ("args", "too_big", "maximum"),
    [
        *((args, big, "1,000,000,000") for args in COUNT_OPTIONS for big in ("1000000001", HUGE)),
        *((args, big, "1,000,000") for args in BATCH_OPTIONS for big in ("1000001", HUGE)),
        (("audit", "prune", "--older-than"), "36501", "36,500"),
        (("audit", "prune", "--older-than"), HUGE, "36,500"),
    ],
)
def test_a_whole_number_past_its_bound_is_a_usage_error(
    args: tuple[str, ...], too_big: str, maximum: str
) -> None:
    message = fail(*args, too_big, code=2)

    assert f"is more than {maximum}" in message


def test_a_cache_version_sqlite_cannot_hold_is_refused(tmp_cache_dir: str) -> None:
    with override_settings(CACHES={"default": backend_config("diskcache", tmp_cache_dir, "")}):
        message = fail("set", "k", "v", "--version", "99999999999999999999", code=2)

    assert "whole numbers from -2**63" in message
