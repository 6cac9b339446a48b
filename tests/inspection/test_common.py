"""Small shared helpers: masking, key splitting, previews, cursors."""

from __future__ import annotations

import pytest

from diskcache_admin.inspection import InspectionError
from diskcache_admin.inspection._common import (
    decode_cursor,
    encode_cursor,
    glob_match,
    mask_location,
    mask_url,
    preview_of,
    render_value,
)


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("redis://user:secret@host:6379/1", "redis://user:***@host:6379/1"),
        ("rediss://:secret@host/0", "rediss://:***@host/0"),
        ("redis://host:6379/1", "redis://host:6379/1"),
        ("redis://host/0?password=secret&db=1", "redis://host/0?password=***&db=1"),
        ("127.0.0.1:11211", "127.0.0.1:11211"),
        ("/var/tmp/cache", "/var/tmp/cache"),
    ],
)
def test_mask_url(url: str, masked: str) -> None:
    assert mask_url(url) == masked


def test_mask_location_handles_lists_and_separators() -> None:
    assert mask_location(["redis://:a@h1", "redis://:b@h2"]) == "redis://:***@h1, redis://:***@h2"
    assert mask_location("redis://:a@h1;redis://h2") == "redis://:***@h1;redis://h2"


def test_render_value_uses_json_only_when_it_round_trips() -> None:
    assert render_value({"a": 1}) == '{\n  "a": 1\n}'
    assert render_value({1: "a"}) == "{1: 'a'}"  # JSON would turn the key into "1"
    assert render_value((1, 2)) == "(1, 2)"
    assert render_value(b"\x00") == "b'\\x00'"
    assert render_value("text") == "'text'"


def test_a_value_whose_repr_raises_is_still_shown() -> None:
    class Hostile:
        def __repr__(self) -> str:
            raise RuntimeError("no")

    preview = preview_of(Hostile(), 200, 10)
    assert preview.text.endswith("Hostile object>")  # shown by class: its __repr__ never runs
    assert preview.type_name.endswith("Hostile")


def test_cursors_round_trip_and_reject_garbage() -> None:
    assert decode_cursor(encode_cursor("k", 1.5, "x"), 3) == ["k", 1.5, "x"]
    with pytest.raises(InspectionError):
        decode_cursor(encode_cursor("k"), 3)
    with pytest.raises(InspectionError):
        decode_cursor("!!!", 1)


def test_glob_match_accepts_both_negations() -> None:
    assert glob_match("a[^b]c", "axc")
    assert glob_match("a[!b]c", "axc")
    assert not glob_match("a[^b]c", "abc")
    assert not glob_match("A*", "abc")
