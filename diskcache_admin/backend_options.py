"""The OPTIONS a DiskCache alias accepts, parsed once and shared by the backend and the checks.

Integer options follow Django's own backends, which convert ``MAX_ENTRIES`` and
``CULL_FREQUENCY`` with ``int()``: ``10e9``, ``1000.0`` and ``"1000"`` are accepted, so a project
can switch ``BACKEND`` and nothing else. Where Django silently falls back to its default (a value
``int()`` refuses, such as ``"many"``), DiskCache reports the option instead (system check
``diskcache_admin.E005``, or ``ImproperlyConfigured`` on first use); so it does for ``True`` and
``False``, which ``int()`` would take as 1 and 0.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .engine import DEFAULT_FILE_THRESHOLD, POLICIES
from .engine.codec import SERIALIZERS
from .engine.insight import DEFAULT_SAMPLE_RATE, DEFAULT_TOP, InsightOptions

DEFAULT_SIZE_LIMIT = 2**30
# Insight is on by default (one read in 16; engine/insight.py).
DEFAULT_INSIGHT = InsightOptions()


@dataclass(frozen=True)
class DiskCacheOptions:
    max_entries: int | None = 300
    cull_frequency: int = 3
    size_limit: int | None = DEFAULT_SIZE_LIMIT
    eviction_policy: str = "least-recently-stored"
    statistics: bool = True
    serializer: str = "pickle"
    file_threshold: int = DEFAULT_FILE_THRESHOLD
    busy_timeout: float = 5.0
    # None: insight is off (OPTIONS["INSIGHT"] = False).
    insight: InsightOptions | None = DEFAULT_INSIGHT


# SQLite takes the busy timeout in milliseconds as a C int: a larger one silently becomes 0 (no
# wait at all), and an infinite or NaN one cannot be converted.
MAX_BUSY_TIMEOUT = (2**31 - 1) // 1000

# OPTIONS key -> (attribute, description of the accepted values)
KNOWN: dict[str, tuple[str, str]] = {
    "MAX_ENTRIES": ("max_entries", "a positive integer, or None for no limit"),
    "CULL_FREQUENCY": ("cull_frequency", "an integer >= 0 (0 empties the cache when full)"),
    "SIZE_LIMIT": ("size_limit", "a positive whole number of bytes, or None for no limit"),
    "EVICTION_POLICY": ("eviction_policy", " or ".join(repr(p) for p in POLICIES)),
    "STATISTICS": ("statistics", "True or False"),
    "SERIALIZER": ("serializer", " or ".join(repr(s) for s in SERIALIZERS)),
    "FILE_THRESHOLD": ("file_threshold", "a positive whole number of bytes"),
    "BUSY_TIMEOUT": ("busy_timeout", f"a positive number of seconds, at most {MAX_BUSY_TIMEOUT:,}"),
    "INSIGHT": (
        "insight",
        "True, False, or a dict with SAMPLE_RATE (an integer from 1 to 1,000,000) and TOP"
        " (an integer from 1 to 100,000)",
    ),
}

# OPTIONS["INSIGHT"] keys -> (attribute, smallest, largest, default).
INSIGHT_KEYS: dict[str, tuple[str, int, int, int]] = {
    "SAMPLE_RATE": ("sample_rate", 1, 1_000_000, DEFAULT_SAMPLE_RATE),
    "TOP": ("top", 1, 100_000, DEFAULT_TOP),
}


class OptionError(ValueError):
    def __init__(self, option: str, message: str) -> None:
        super().__init__(message)
        self.option = option


def unknown_options(options: Mapping[str, Any]) -> list[tuple[str, str | None]]:
    """Unknown keys with the closest known one, if any (``MAX_ENTRY`` -> ``MAX_ENTRIES``)."""
    unknown = []
    for name in options:
        if name not in KNOWN:
            close = difflib.get_close_matches(str(name).upper(), KNOWN, n=1, cutoff=0.6)
            unknown.append((name, close[0] if close else None))
    return unknown


# Django's own options: converted as Django's BaseCache converts them, with int() (1000.5 is
# 1000 there, so it is here). Our own byte counts take only whole numbers: 1.5 bytes is a typo.
DJANGO_INT_OPTIONS = frozenset({"MAX_ENTRIES", "CULL_FREQUENCY"})


def as_int(name: str, value: Any) -> int | None:
    """``value`` as the integer option ``name`` takes it, or None when it is not one.

    ``int(value)`` as Django does, except for booleans; for options Django does not have, only
    when nothing is lost (``1e9`` and ``"1000"`` yes, ``1.5`` no).
    """
    if isinstance(value, bool):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: int(float("inf"))
        return None
    if name not in DJANGO_INT_OPTIONS and not isinstance(value, (str, bytes)) and number != value:
        return None
    return number


def _positive_int(name: str, value: Any, allow_none: bool, minimum: int = 1) -> int | None:
    if value is None and allow_none:
        return None
    number = as_int(name, value)
    if number is None or number < minimum:
        raise OptionError(name, f"{name} must be {KNOWN[name][1]}, not {value!r}.")
    return number


def parse_insight(value: Any) -> InsightOptions | None:
    """``OPTIONS["INSIGHT"]``: ``True`` (the defaults), ``False`` (off) or a dict of
    :data:`INSIGHT_KEYS`; raise :class:`OptionError` (option ``"INSIGHT"``) naming what is wrong.
    Checked by the system check ``diskcache_admin.E030``."""
    if value is True:
        return InsightOptions()
    if value is False:
        return None
    if not isinstance(value, Mapping):
        raise OptionError(
            "INSIGHT", f"INSIGHT must be True, False or a dict, not {type(value).__name__}."
        )
    fields: dict[str, int] = {}
    for name, given in value.items():
        if name not in INSIGHT_KEYS:
            close = difflib.get_close_matches(str(name).upper(), INSIGHT_KEYS, n=1, cutoff=0.6)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            known = " and ".join(INSIGHT_KEYS)
            raise OptionError(
                "INSIGHT", f"INSIGHT has an unknown key {name!r} (it takes {known}).{hint}"
            )
        attribute, smallest, largest, _default = INSIGHT_KEYS[name]
        number = as_int(name, given)
        if number is None or not smallest <= number <= largest:
            raise OptionError(
                "INSIGHT",
                f"INSIGHT[{name!r}] must be an integer from {smallest:,} to {largest:,},"
                f" not {given!r}.",
            )
        fields[attribute] = number
    return InsightOptions(**fields)


def parse_options(options: Mapping[str, Any]) -> DiskCacheOptions:
    """Validate known OPTIONS; raise :class:`OptionError` naming the first bad one."""
    if not isinstance(options, Mapping):
        raise OptionError("OPTIONS", f"OPTIONS must be a dict, not {type(options).__name__}.")
    values: dict[str, Any] = {}
    for name, value in options.items():
        if name not in KNOWN:
            continue
        attribute, accepted = KNOWN[name]
        if name in ("MAX_ENTRIES", "SIZE_LIMIT"):
            values[attribute] = _positive_int(name, value, allow_none=True)
        elif name == "CULL_FREQUENCY":
            values[attribute] = _positive_int(name, value, allow_none=False, minimum=0)
        elif name == "FILE_THRESHOLD":
            values[attribute] = _positive_int(name, value, allow_none=False)
        elif name == "BUSY_TIMEOUT":
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not 0 < value <= MAX_BUSY_TIMEOUT  # also refuses NaN
            ):
                raise OptionError(name, f"{name} must be {accepted}, not {value!r}.")
            values[attribute] = float(value)
        elif name == "INSIGHT":
            values[attribute] = parse_insight(value)
        elif name == "STATISTICS":
            if not isinstance(value, bool):
                raise OptionError(name, f"{name} must be {accepted}, not {value!r}.")
            values[attribute] = value
        else:
            allowed = POLICIES if name == "EVICTION_POLICY" else SERIALIZERS
            if value not in allowed:
                raise OptionError(name, f"{name} must be {accepted}, not {value!r}.")
            values[attribute] = value
    return DiskCacheOptions(**values)
