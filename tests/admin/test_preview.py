"""Value previews are bounded in time, memory and output, and run no code of the value's classes.

``inspection._common.preview_of`` belongs to the admin room (the CLI's ``cache get`` uses it
too); these tests pin its budgets.
"""

from __future__ import annotations

import collections
import datetime
import decimal
import enum
import json
import pickle
import tracemalloc
from typing import Any

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from diskcache_admin.inspection._common import (
    PREVIEW_DEPTH,
    PREVIEW_PARTS,
    bounded_text,
    preview_of,
)

from .conftest import Target

LIMIT = 64 * 1024


def shared_lists(depth: int) -> list[Any]:
    """``depth`` levels of a list holding the level below twice: 2**depth leaves, tiny pickle."""
    value: list[Any] = [1]
    for _ in range(depth):
        value = [value, value]
    return value


def test_the_issue_value_is_small_but_expands_to_millions_of_parts() -> None:
    value = shared_lists(40)
    assert len(pickle.dumps(value, pickle.HIGHEST_PROTOCOL)) < 300

    tracemalloc.start()
    try:
        preview = preview_of(value, LIMIT, 136)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    # Work, not wall time, is the bound (the old walker took 236 MB and 9 s at depth 20).
    assert peak < 20 * 1024 * 1024
    assert preview.truncated
    assert preview.stopped == "size"
    assert len(preview.text) == LIMIT


def test_a_huge_limit_still_stops_after_the_parts_budget() -> None:
    preview = preview_of(shared_lists(40), 10**9, None)

    assert preview.truncated
    assert preview.stopped == "parts"
    assert len(preview.text) < PREVIEW_PARTS * 4 * (PREVIEW_DEPTH + 4)  # two indented lines each


def test_deep_nesting_is_cut_with_a_marker() -> None:
    value: Any = []
    for _ in range(PREVIEW_DEPTH * 3):
        value = [value]

    preview = preview_of(value, LIMIT, None)

    assert preview.truncated
    assert preview.stopped == "depth"
    assert "[…]" in preview.text


def test_a_cycle_is_written_as_python_does() -> None:
    value: list[Any] = [1]
    value.append(value)

    assert preview_of(value, LIMIT, None).text == "[1, [...]]"


class LoopingRepr:
    def __init__(self) -> None:
        self.name = "loop"

    def __repr__(self) -> str:
        while True:
            pass


class ExitingRepr:
    def __repr__(self) -> str:
        raise SystemExit(3)

    def __str__(self) -> str:
        raise SystemExit(3)


class GeneratorExitRepr:
    def __repr__(self) -> str:
        raise GeneratorExit


class Sneaky:
    """Every hook a walker could trip over runs code that must not run."""

    ran: list[str] = []

    @property  # type: ignore[misc]
    def __dict__(self) -> dict[str, Any]:  # type: ignore[override]
        Sneaky.ran.append("__dict__")
        raise SystemExit(1)

    def __iter__(self) -> Any:
        Sneaky.ran.append("__iter__")
        raise SystemExit(1)

    def __len__(self) -> int:
        Sneaky.ran.append("__len__")
        raise SystemExit(1)


class SneakyList(list[int]):
    def __iter__(self) -> Any:
        raise SystemExit(1)

    def __repr__(self) -> str:
        raise SystemExit(1)


class SneakyDict(dict[str, int]):
    def items(self) -> Any:
        raise SystemExit(1)

    def __iter__(self) -> Any:
        raise SystemExit(1)


def test_a_looping_repr_is_never_called() -> None:
    preview = preview_of(LoopingRepr(), LIMIT, None)

    assert preview.text == f"{__name__}.LoopingRepr(name='loop')"
    assert preview.type_name == f"{__name__}.LoopingRepr"


@pytest.mark.parametrize(
    "value", [ExitingRepr(), GeneratorExitRepr(), [ExitingRepr()]], ids=["exit", "genexit", "list"]
)
def test_system_exit_and_generator_exit_in_a_repr_do_not_escape(value: object) -> None:
    preview = preview_of(value, LIMIT, None)

    assert preview.found
    assert "ExitingRepr object>" in preview.text or "GeneratorExitRepr object>" in preview.text


def test_no_hook_of_the_value_runs() -> None:
    Sneaky.ran.clear()

    texts = [
        preview_of(v, LIMIT, None).text for v in (Sneaky(), SneakyList([1, 2]), SneakyDict(a=1))
    ]

    assert Sneaky.ran == []
    assert texts == [
        f"<{__name__}.Sneaky object>",
        f"{__name__}.SneakyList([1, 2])",
        f"{__name__}.SneakyDict({{'a': 1}})",
    ]


class Colour(enum.Enum):
    RED = 1


Point = collections.namedtuple("Point", "x y")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ({"a": 1}, '{\n  "a": 1\n}'),
        ([], "[]"),
        ({1: "a"}, "{1: 'a'}"),
        ((1,), "(1,)"),
        ((1, 2), "(1, 2)"),
        (set(), "set()"),
        (frozenset({1}), "frozenset({1})"),
        ("text", "'text'"),
        (b"\x00", "b'\\x00'"),
        (bytearray(b"a"), "bytearray(b'a')"),
        (True, "true"),
        ([float("nan")], "[nan]"),
        (datetime.date(2026, 1, 2), "datetime.date(2026, 1, 2)"),
        (decimal.Decimal("1.50"), "Decimal('1.50')"),
        (Colour.RED, f"<{__name__}.Colour.RED: 1>"),
        (Point(1, [2]), f"{__name__}.Point(x=1, y=[2])"),
        (collections.deque([1]), "collections.deque([1])"),
        pytest.param(10**5000, "<int of 16,610 bits>", id="huge-int"),
    ],
)
def test_the_shapes_shown(value: object, text: str) -> None:
    assert bounded_text(value, LIMIT)[0] == text


json_data = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=40,
)


@settings(max_examples=100, deadline=None)
@given(json_data)
def test_plain_json_data_is_shown_as_json_dumps_shows_it(value: Any) -> None:
    text, stopped = bounded_text(value, 10**6)

    assert not stopped
    if isinstance(value, str):
        assert text == repr(value)
    else:
        assert text == json.dumps(value, indent=2, ensure_ascii=False)


@st.composite
def shared_structures(draw: st.DrawFn) -> object:
    """Containers that hold the same containers many times over, some of them cyclic."""
    pool: list[Any] = [draw(st.integers()), draw(st.text(max_size=5))]
    for _ in range(draw(st.integers(1, 30))):
        picks = draw(st.lists(st.sampled_from(range(len(pool))), min_size=1, max_size=4))
        kind = draw(st.sampled_from(["list", "tuple", "dict", "set"]))
        items = [pool[i] for i in picks]
        node: Any
        if kind == "list":
            node = list(items)
            if draw(st.booleans()):
                node.append(node)  # a cycle
        elif kind == "tuple":
            node = tuple(items)
        elif kind == "dict":
            node = {f"k{i}": item for i, item in enumerate(items)}
        else:
            node = {i for i in items if isinstance(i, (int, str))}
        pool.append(node)
    return pool[-1]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shared_structures(), st.integers(0, 4096))
def test_any_shared_structure_previews_within_its_budget(value: object, limit: int) -> None:
    tracemalloc.start()
    try:
        preview = preview_of(value, limit, None)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert peak < 20 * 1024 * 1024
    assert len(preview.text) <= limit
    assert preview.truncated == bool(preview.stopped)
    if not preview.truncated:
        pickle.loads(pickle.dumps(value))  # nothing was cut: the value was small for real


@pytest.mark.django_db
def test_the_key_page_escapes_bidi_and_control_characters_of_a_json_value(
    admin_client: Client, disk: Target
) -> None:
    disk.cache.set("doc", {"name": "\u202eevil\x1b[2J", "emoji": "👨\u200d👩"})

    response = admin_client.get(disk.key_url("doc"))

    page = response.content.decode()
    assert "\u202e" not in page
    assert "\x1b" not in page
    assert "\\u202eevil\\u001b[2J" in page  # JSON spells the ESC itself
    assert "👨\u200d👩" in page  # a joiner is data, not a control


@pytest.mark.django_db
def test_the_key_page_of_the_issue_value_answers_quickly_and_says_it_is_cut(
    admin_client: Client, disk: Target
) -> None:
    disk.cache.set("shared", shared_lists(30))

    response = admin_client.get(disk.key_url("shared"))

    assert response.status_code == 200
    assert "The preview is cut" in response.content.decode()
