"""OPTIONS that Django's own backends accept are accepted alike (issue 12, item 9)."""

from __future__ import annotations

import math
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.cache.backends.locmem import LocMemCache
from django.test import override_settings
from hypothesis import example, given
from hypothesis import strategies as st

from diskcache_admin import checks
from diskcache_admin.backend import DiskCache
from diskcache_admin.backend_options import OptionError, parse_options

# What a settings file might hold for an integer option.
option_values = st.one_of(
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**6), max_value=10**6).map(str),
    st.text(max_size=8),
    st.booleans(),
    st.none(),
    st.decimals(allow_nan=False, allow_infinity=False, places=2, max_value=10**6),
)


def djangos_int(value: Any) -> int | None:
    """What Django's BaseCache makes of the value, or None where it falls back to its default."""
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return None


def parsed(option: str, value: Any) -> Any:
    attribute = {"MAX_ENTRIES": "max_entries", "CULL_FREQUENCY": "cull_frequency"}.get(
        option, option.lower()
    )
    return getattr(parse_options({option: value}), attribute)


def expect(option: str, value: Any, accepted: bool, number: int | None) -> None:
    if accepted:
        assert parsed(option, value) == number
    else:
        with pytest.raises(OptionError, match=option):
            parsed(option, value)


@given(value=option_values)
@example(10e9)
@example(1000.0)
@example("1000")
@example(1000.5)
@example(" 42 ")
@example(float("inf"))
@example(True)
def test_max_entries_is_read_as_django_reads_it(value: Any) -> None:
    if value is None:
        assert parsed("MAX_ENTRIES", None) is None  # no limit: DiskCache's own extension
        return
    number = djangos_int(value)
    accepted = number is not None and number >= 1 and not isinstance(value, bool)

    expect("MAX_ENTRIES", value, accepted, number)
    if accepted:  # ... exactly what LocMemCache, Django's own backend, makes of it
        assert LocMemCache("t", {"OPTIONS": {"MAX_ENTRIES": value}})._max_entries == number


@given(value=option_values)
@example("3")
@example(3.0)
@example("0")
def test_cull_frequency_is_read_as_django_reads_it(value: Any) -> None:
    number = djangos_int(value)
    accepted = number is not None and number >= 0 and not isinstance(value, bool)

    expect("CULL_FREQUENCY", value, accepted, number)
    if accepted:
        assert LocMemCache("t", {"OPTIONS": {"CULL_FREQUENCY": value}})._cull_frequency == number


@pytest.mark.parametrize("option", ["SIZE_LIMIT", "FILE_THRESHOLD"])
@given(value=option_values)
@example(1e9)
@example("1048576")
@example(1.5)
def test_our_byte_options_take_whole_numbers_only(option: str, value: Any) -> None:
    if value is None:
        expect(option, value, option == "SIZE_LIMIT", None)
        return
    number = djangos_int(value)
    whole = number is not None and (isinstance(value, str) or number == value)
    accepted = whole and number is not None and number >= 1 and not isinstance(value, bool)

    expect(option, value, accepted, number)


@pytest.mark.parametrize(
    "options",
    [
        {"MAX_ENTRIES": 10e9},  # django-cachalot's own test settings
        {"MAX_ENTRIES": 1000.0},
        {"MAX_ENTRIES": "1000"},
        {"CULL_FREQUENCY": "3"},
        {"SIZE_LIMIT": 1e9, "FILE_THRESHOLD": "65536"},
    ],
)
def test_django_style_values_pass_the_checks_and_work(
    options: dict[str, Any], tmp_path: Path
) -> None:
    config = {
        "BACKEND": "diskcache_admin.backend.DiskCache",
        "LOCATION": str(tmp_path / "cache"),
        "OPTIONS": options,
    }
    with override_settings(CACHES={"default": config}):
        assert [m for m in checks.check_caches() if m.id == "diskcache_admin.E005"] == []
    cache = DiskCache(str(tmp_path / "cache"), {"OPTIONS": options})
    cache.set("k", "v")

    assert cache.get("k") == "v"
    if "MAX_ENTRIES" in options:
        assert cache.store.max_entries == int(options["MAX_ENTRIES"])
        assert isinstance(cache.store.max_entries, int)
    if "CULL_FREQUENCY" in options:
        assert cache.store.cull_frequency == 3


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("MAX_ENTRIES", "many"),  # Django silently uses 300; we say so
        ("MAX_ENTRIES", float("nan")),
        ("MAX_ENTRIES", math.inf),  # Django raises OverflowError on it
        ("MAX_ENTRIES", True),
        ("MAX_ENTRIES", "0"),
        ("CULL_FREQUENCY", "-1"),
        ("SIZE_LIMIT", Decimal("1.5")),
    ],
)
def test_what_django_would_not_read_is_still_reported(
    option: str, value: Any, tmp_path: Path
) -> None:
    config = {
        "BACKEND": "diskcache_admin.backend.DiskCache",
        "LOCATION": str(tmp_path / "cache"),
        "OPTIONS": {option: value},
    }
    with override_settings(CACHES={"default": config}):
        assert [m.id for m in checks.check_caches() if m.id == "diskcache_admin.E005"] == [
            "diskcache_admin.E005"
        ]
