"""Hostile keys, values and arguments: escaped on a terminal, refused cleanly, never a traceback.

A cached value or a key is data someone else may control: printed raw, ``ESC ]0;...`` retitles
the terminal, ``ESC [2J`` clears it, a C1 ``CSI`` does the same on many terminals, and a bidi
override shows text in another order than it is.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tracemalloc
import warnings
from typing import Any

import pytest
from django.core.cache import caches
from django.core.cache.backends.base import CacheKeyWarning
from django.core.management import CommandError, call_command
from django.test import override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from diskcache_admin.management.cli import render
from tests.cli.conftest import backend_config, fail, run
from tests.cli.test_subprocess import Cli, environment

pytestmark = pytest.mark.django_db

HOSTILE = "\x1b]0;pwned\x07\x1b[2J\x9b31m\u202etxt.exe\u2066\u200b\u2028\x00end"


class TtyStringIO(io.StringIO):
    def isatty(self) -> bool:
        return True


def raw_controls(text: str, keep: str = "\n") -> list[str]:
    """The characters of ``text`` a terminal could act on (line breaks in ``keep`` allowed)."""
    return [char for char in text if not char.isprintable() and char not in keep]


def on_terminal(*args: str, **options: Any) -> tuple[str, str, int]:
    """``cache ARGS`` with a terminal on stdout and stderr: ``(out, err, exit status)``."""
    out, err = TtyStringIO(), TtyStringIO()
    status = 0
    try:
        call_command("cache", *args, stdout=out, stderr=err, no_color=True, **options)
    except CommandError as exc:
        status = exc.returncode
        err.write(f"CommandError: {exc}\n")  # what run_from_argv would print
    return out.getvalue(), err.getvalue(), status


# -- the one escaping function -------------------------------------------------------------------


def test_escape_writes_every_dangerous_character_as_an_escape() -> None:
    escaped = render.escape(HOSTILE)

    assert raw_controls(escaped, keep="") == []
    assert escaped == (
        "\\x1b]0;pwned\\x07\\x1b[2J\\x9b31m\\u202etxt.exe\\u2066\\u200b\\u2028\\x00end"
    )
    assert render.escape("ok: é ü 東京 🙂") == "ok: é ü 東京 🙂"
    assert render.escape("a\nb\tc", keep="\n") == "a\nb\\tc"
    assert render.escape("\udcff") == "\\udcff"
    assert render.quote("it\x1bs") == "'it\\x1bs'"


@settings(max_examples=50, deadline=None)
@given(st.recursive(st.none() | st.text() | st.integers(), lambda inner: st.lists(inner)))
def test_json_text_is_safe_and_parses_back_to_the_same_data(document: Any) -> None:
    for indent in (None, 2):
        text = render.json_text(document, indent=indent)

        assert raw_controls(text) == []
        assert json.loads(text) == document


# -- get, keys, messages ---------------------------------------------------------------------------


def test_get_escapes_a_value_on_a_terminal_and_keeps_its_lines(disk_store: str) -> None:
    caches["default"].set("k", "line one\n" + HOSTILE)

    out, err, status = on_terminal("get", "k")

    assert status == 0
    assert raw_controls(out) == []
    assert out.startswith("line one\n\\x1b]0;pwned")
    assert err == ""


def test_get_writes_the_value_as_is_to_a_pipe(disk_store: str) -> None:
    # A pipe or file gets the exact value (cache get k | tool); only terminals are protected.
    caches["default"].set("k", HOSTILE)

    assert run("get", "k").out == HOSTILE + "\n"


def test_get_of_text_no_encoding_can_write_is_escaped_not_a_traceback(disk_store: str) -> None:
    caches["default"].set("k", "lone \ud800 surrogate")  # pickle keeps it; UTF-8 cannot

    assert run("get", "k").out == "lone \\ud800 surrogate\n"
    assert on_terminal("get", "k")[0] == "lone \\ud800 surrogate\n"


def test_get_shows_bytes_escaped_on_a_terminal(disk_store: str) -> None:
    caches["default"].set("blob", b"\x1b[2J\x00\xff\xfe ok")

    out, err, status = on_terminal("get", "blob")

    assert status == 0
    assert out == "\\x1b[2J\\x00\\xff\\xfe ok\n"
    assert "shown escaped; redirect the output" in err


def test_json_output_escapes_and_keeps_the_exact_value(disk_store: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CacheKeyWarning)
        caches["default"].set(HOSTILE[:-4], {"v": HOSTILE})
        got = run("get", HOSTILE[:-4], "--json").out
        listed = run("keys", "--json").out

    assert raw_controls(got) == raw_controls(listed) == []
    assert json.loads(got)["value"] == {"v": HOSTILE}
    assert json.loads(got)["key"] == HOSTILE[:-4]
    assert json.loads(listed)["key"] == HOSTILE[:-4]


def test_messages_quoting_a_key_or_tag_are_escaped(disk_store: str) -> None:
    missing = fail("get", "\x1b[2Jgone", code=1)
    stored = run("set", "\u202ek", "v", "--tag", "\x9bt").out
    unknown = fail("get", "k", "--alias", "\x1b]0;x", code=2)

    assert missing == "Key '\\x1b[2Jgone' not found in cache 'default' (DiskCache)."
    assert stored.startswith("Stored '\\u202ek' (a str, tag '\\x9bt') in cache 'default'")
    assert unknown.startswith("Unknown cache alias '\\x1b]0;x'")


def test_argument_errors_quote_the_argument_escaped() -> None:
    assert fail("get", "k", "--\x1b[2J", code=2).endswith("unrecognized arguments: --\\x1b[2J")
    assert "invalid choice: '\\x1b[2J'" in fail("\x1b[2J", code=2)


# -- text arguments that are not text -----------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "name"),
    [
        (("get", "\udcff\udcfe"), "KEY"),
        (("set", "k\udcff", "v"), "KEY"),
        (("set", "k", "v\udcff"), "VALUE"),
        (("set", "k", "v", "--tag", "\udc80"), "TAG"),
        (("delete", "fine", "bad\udcff"), "KEY"),
        (("keys", "user:\udcff*"), "PATTERN"),
        (("evict", "\udcff"), "TAG"),
    ],
    ids=["get", "set-key", "set-value", "set-tag", "delete", "keys", "evict"],
)
def test_surrogate_escaped_arguments_are_refused_with_status_2(
    disk_store: str, args: tuple[str, ...], name: str
) -> None:
    message = fail(*args, code=2)

    assert message.startswith(f"{name} '")
    assert "is not valid UTF-8 text" in message
    assert raw_controls(message, keep="") == []


def test_non_utf8_bytes_on_a_real_command_line(cli: Cli) -> None:
    completed = cli("get", os.fsdecode(b"\xff\xfekey"))
    stored = cli("set", os.fsdecode(b"k\xff"), "v")

    assert completed.returncode == stored.returncode == 2
    assert b"Traceback" not in completed.stderr + stored.stderr
    assert completed.stderr == (
        b"CommandError: KEY '\\udcff\\udcfekey' is not valid UTF-8 text (the command line held "
        b"bytes that are not UTF-8); cache keys, tags and values given here are text. "
        b"Use 'store' to store bytes.\n"
    )


@pytest.fixture
def cli(tmp_path: Any, tmp_cache_dir: str) -> Cli:
    caches_setting = {"default": backend_config("diskcache", tmp_cache_dir, "")}

    def run_cli(*args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [sys.executable, "-m", "django", "cache", *(os.fsencode(arg) for arg in args)],
            env=environment(str(tmp_path / "db.sqlite3"), caches_setting),
            capture_output=True,
            timeout=60,
            check=False,
        )

    return run_cli


def surrogate_key(key: str, key_prefix: str, version: int) -> str:
    return f"{key}\udcff"


def test_a_key_the_backend_refuses_is_a_command_error(tmp_cache_dir: str) -> None:
    config = backend_config("diskcache", tmp_cache_dir, "")
    config["KEY_FUNCTION"] = f"{__name__}.surrogate_key"
    with override_settings(CACHES={"default": config}):
        message = fail("set", "k", "v", code=2)

    assert message.startswith("Cache key 'k\\udcff' contains a lone surrogate")


# -- values that would not end ----------------------------------------------------------------


class LoopingRepr:
    def __repr__(self) -> str:
        while True:
            pass


class ExitingRepr:
    def __repr__(self) -> str:
        raise SystemExit(3)


def shared_lists(depth: int) -> list[Any]:
    """A few hundred bytes pickled; written out in full, 2**depth leaves."""
    value: list[Any] = [0]
    for _ in range(depth):
        value = [value, value]
    return value


@pytest.mark.parametrize(
    "value",
    [LoopingRepr(), ExitingRepr(), shared_lists(40)],
    ids=["looping-repr", "exiting-repr", "shared-lists"],
)
def test_get_of_a_hostile_value_ends_quickly(disk_store: str, value: Any) -> None:
    caches["default"].set("evil", value)

    document = json.loads(run("get", "evil", "--json").out)
    text = run("get", "evil")

    assert document["encoding"] == "repr"
    assert text.out
    if isinstance(value, list):
        assert document["truncated"] is True
        assert text.err.startswith("The value is shown as a preview, cut at its size limit")


# -- anything at all ---------------------------------------------------------------------------

keys = st.text(max_size=20) | st.binary(max_size=20).map(os.fsdecode)
values = st.text(max_size=60) | st.binary(max_size=60)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(key=keys, value=values, tag=keys)
def test_no_raw_control_character_and_no_traceback(
    disk_store: str, key: str, value: str | bytes, tag: str
) -> None:
    write = ("store", key, "-") if isinstance(value, bytes) else ("set", key, value)
    commands = [
        (*write, "--tag", tag),
        ("get", key),
        ("get", key, "--json"),
        ("keys",),
        ("keys", "--json"),
        ("delete", key),
        ("get", key),
    ]
    with warnings.catch_warnings():
        # Django's portability warning for keys memcached would refuse; DiskCache takes them.
        warnings.simplefilter("ignore", CacheKeyWarning)
        for args in commands:
            stdin = io.BytesIO(value if isinstance(value, bytes) else b"")
            out, err, status = on_terminal(*args, stdin=stdin)

            assert status in (0, 1, 2), args
            assert raw_controls(out) == [], (args, out)
            assert raw_controls(err) == [], (args, err)
    caches["default"].clear()


class Mapping(dict[str, int]):
    pass


def nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("value", "fits"),
    [
        (list(range(10_000)), True),
        ({"a": [1, 2.5, None, True, "x"], "b": (1, 2)}, True),
        (nested(render.JSON_DEPTH_LIMIT), True),
        (nested(render.JSON_DEPTH_LIMIT + 1), False),
        (shared_lists(25), False),  # 33 million leaves from 26 lists
        ({1: "int keys would come back as strings"}, False),
        (Mapping(a=1), False),  # a subclass may run code of its own
        (float("nan"), False),
        (10**5000, False),  # more digits than Python turns into text
    ],
    ids=["long-list", "plain", "deep", "too-deep", "shared", "int-keys", "subclass", "nan", "huge"],
)
def test_only_plain_data_within_the_budget_is_written_as_json(value: Any, fits: bool) -> None:
    tracemalloc.start()
    try:
        assert render.fits_json(value) is fits
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20 * 1024 * 1024  # the budget, not the size of the value, bounds the work
