"""``get``, ``keys``, ``stats`` and ``path`` on every backend: their output and exit codes."""

from __future__ import annotations

import base64
import io
import json
import re
from decimal import Decimal

import pytest
from django.core.cache import caches
from django.core.cache.backends.base import CacheKeyWarning
from django.core.management import call_command
from django.test import override_settings
from hypothesis import given
from hypothesis import strategies as st

from diskcache_admin.inspection import Stats, get_adapter
from diskcache_admin.management.cli import render
from tests.cli.conftest import backend_config, fail, run


class Opaque:
    def __repr__(self) -> str:
        return "<Opaque thing>"


def test_get_prints_text_as_is(backend: str) -> None:
    caches["default"].set("greeting", "héllo\nworld")

    assert run("get", "greeting").out == "héllo\nworld\n"


def test_get_prints_objects_as_json(backend: str) -> None:
    caches["default"].set("profile", {"name": "Ada", "langs": ["en", "fr"], "age": 36})

    assert json.loads(run("get", "profile").out) == {
        "name": "Ada",
        "langs": ["en", "fr"],
        "age": 36,
    }


def test_get_falls_back_to_repr(backend: str) -> None:
    caches["default"].set("price", Decimal("9.99"))

    assert run("get", "price").out == "Decimal('9.99')\n"


def test_get_writes_bytes_raw_to_the_binary_stream(backend: str) -> None:
    payload = bytes(range(256))
    caches["default"].set("blob", payload)
    buffer = io.BytesIO()
    stdout = io.TextIOWrapper(buffer, encoding="utf-8")

    call_command("cache", "get", "blob", stdout=stdout, stderr=io.StringIO())

    stdout.flush()
    assert buffer.getvalue() == payload


def test_get_missing_key_exits_1(backend: str) -> None:
    message = fail("get", "nowhere", code=1)

    assert "'nowhere' not found" in message


def test_get_reads_the_given_version(backend: str) -> None:
    caches["default"].set("k", "one", version=1)
    caches["default"].set("k", "two", version=2)

    assert run("get", "k", "--version", "2").out == "two\n"
    assert run("get", "k").out == "one\n"


def test_get_json_documents(backend: str) -> None:
    caches["default"].set("obj", {"a": [1, 2]})
    caches["default"].set("raw", b"\x00\xff")
    caches["default"].set("odd", Opaque())

    assert json.loads(run("get", "obj", "--json").out) == {
        "alias": "default",
        "key": "obj",
        "version": None,
        "found": True,
        "type": "dict",
        "encoding": "json",
        "value": {"a": [1, 2]},
    }
    raw = json.loads(run("get", "raw", "--json").out)
    assert (raw["type"], raw["encoding"]) == ("bytes", "base64")
    assert base64.b64decode(raw["value"]) == b"\x00\xff"
    odd = json.loads(run("get", "odd", "--json").out)
    # The preview never runs a stored class's own __repr__ (arbitrary code): it names the class.
    assert (odd["type"], odd["encoding"], odd["value"], odd["truncated"]) == (
        "tests.cli.test_read.Opaque",
        "repr",
        "<tests.cli.test_read.Opaque object>",
        False,
    )


def test_get_json_for_a_missing_key_says_so_and_exits_1(backend: str) -> None:
    out = io.StringIO()

    with pytest.raises(Exception, match="not found") as info:
        call_command("cache", "get", "gone", "--json", stdout=out, stderr=io.StringIO())

    assert getattr(info.value, "returncode", None) == 1
    assert json.loads(out.getvalue()) == {
        "alias": "default",
        "key": "gone",
        "version": None,
        "found": False,
    }


def test_get_does_not_change_the_entry(backend: str) -> None:
    caches["default"].set("still", "here", timeout=600)

    run("get", "still")
    run("get", "still", "--json")

    assert caches["default"].get("still") == "here"


def test_keys_lists_and_filters_with_a_glob(backend: str) -> None:
    cache = caches["default"]
    for key in ("user:1", "user:2", "order:1"):
        cache.set(key, 1)

    assert sorted(run("keys").out.splitlines()) == ["order:1", "user:1", "user:2"]
    assert sorted(run("keys", "user:*").out.splitlines()) == ["user:1", "user:2"]


def test_keys_limit_stops_early(backend: str) -> None:
    caches["default"].set_many({f"k{number}": number for number in range(30)})

    assert len(run("keys", "--limit", "7").out.splitlines()) == 7


def test_keys_json_lines_parse_back(backend: str) -> None:
    caches["default"].set("one", "x")
    caches["default"].set("two", "y")

    lines = [json.loads(line) for line in run("keys", "--json").out.splitlines()]

    assert sorted(line["key"] for line in lines) == ["one", "two"]
    assert set(lines[0]) == {
        "key",
        "raw_key",
        "prefix",
        "version",
        "family",
        "size",
        "stored",
        "expires",
        "has_expiry",
        "tag",
        "expired",
    }
    assert all(line["version"] == 1 for line in lines)


def test_keys_escapes_control_characters_in_text_output(disk_store: str) -> None:
    # DiskCache takes such keys, with Django's portability warning.
    with pytest.warns(CacheKeyWarning):
        caches["default"].set("two\nlines", 1)

    assert run("keys").out == "two\\nlines\n"
    assert json.loads(run("keys", "--json").out)["key"] == "two\nlines"


def test_stats_json_parses_back(backend: str) -> None:
    caches["default"].set_many({"a": 1, "b": 2, "c": 3})

    document = json.loads(run("stats", "--json").out)

    assert document["alias"] == "default"
    assert "stats" in document["capabilities"]
    assert document["error"] is None
    assert document["stats"]["entries"] == 3
    assert set(document["stats"]) >= {"entries", "size", "hits", "misses", "hit_ratio", "extra"}


def test_stats_text_shows_the_entry_count(backend: str) -> None:
    caches["default"].set_many({f"k{number}": number for number in range(1234)})

    out = run("stats").out

    assert "Cache 'default'" in out
    assert "entries" in out
    assert "1,234" in out


def test_stats_text_says_every_value_in_words(backend: str) -> None:
    cache = caches["default"]
    cache.set("seen", 1)
    cache.get("seen")
    cache.get("absent")
    cache.close()  # statistics are written in batches; closing writes this one

    out = run("stats").out

    for python_spelling in ("True", "False", "None", "[", "{"):
        assert python_spelling not in out, (python_spelling, out)


def test_stats_text_words_the_diskcache_fields(tmp_cache_dir: str) -> None:
    with override_settings(CACHES={"default": backend_config("diskcache", tmp_cache_dir, "")}):
        before = run("stats").out
        get_adapter("default").reset_stats()  # dates the statistics from now
        after = run("stats").out

    assert "hit statistics recorded  yes" in before
    assert "statistics since         nothing recorded yet" in before
    assert "culling removes          1/3 of the entries when full" in before
    assert "values in files from     128.0 KB" in before
    assert re.search(r"statistics since +\d{4}-\d\d-\d\d \d\d:\d\d UTC", after), after


@given(
    st.recursive(
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False, max_value=1e30, min_value=-1e30)
        | st.text(max_size=5)
        | st.frozensets(st.integers(), max_size=3),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
        max_leaves=6,
    )
)
def test_an_extra_value_never_shows_its_python_spelling(value: object) -> None:
    text = render.stats_lines(Stats(extra={"some_field": value}))[-1][1]

    for spelling in ("True", "False", "None", "[", "{", "'"):
        assert spelling not in text or spelling in repr_of_strings(value), (value, text)


def repr_of_strings(value: object) -> str:
    """The text the value's strings bring themselves (they are shown as they are)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return "".join(repr_of_strings(k) + repr_of_strings(v) for k, v in value.items())
    if isinstance(value, list):
        return "".join(repr_of_strings(item) for item in value)
    return ""


def test_stats_all_covers_every_alias(backend: str) -> None:
    document = json.loads(run("stats", "--all", "--json").out)

    assert [cache["alias"] for cache in document["caches"]] == ["default", "spare"]
    assert run("stats", "--all").out.count("Cache '") == 2


def test_path_prints_the_storage_location(backend: str, tmp_cache_dir: str) -> None:
    out = run("path").out.strip()

    if backend == "diskcache":
        assert out == tmp_cache_dir
    elif backend == "redis":
        assert out.startswith("redis://127.0.0.1:6379/3")
    else:
        assert out
