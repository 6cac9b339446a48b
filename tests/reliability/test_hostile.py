"""Hostile keys and values, property-based: DiskCache does what LocMemCache does with any key
(same warnings, a round trip), round-trips every picklable builtin value, and refuses an
unpicklable value with a clear error, leaving nothing behind."""

from __future__ import annotations

import io
import pickle
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import caches
from django.core.cache.backends.base import CacheKeyWarning, InvalidCacheKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from diskcache_admin.backend import DiskCache
from diskcache_admin.engine import UnserializableValue
from diskcache_admin.engine.files import VALUES_DIR

# The fixtures are per test, not per example: each example writes keys of its own.
EXAMPLES = settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

keys = st.one_of(
    st.text(),  # every code point but lone surrogates: control characters, spaces, NUL, emoji
    st.text(st.characters(codec="ascii"), min_size=200, max_size=400),  # past memcached's 250
    st.binary(),  # Django formats bytes keys with str(): "b'...'"
    st.integers(),
)


def outcome(cache: Any, key: Any, value: Any) -> tuple[Any, list[tuple[type[Warning], str]]]:
    """What set() then get() return, and the warnings they raise, however they end."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            cache.set(key, value)
            result = cache.get(key, "<missing>")
        except Exception as exc:  # compared, whatever it is, with what LocMemCache does
            result = (type(exc), str(exc))
    return result, [(w.category, str(w.message)) for w in caught]


@EXAMPLES
@given(key=keys)
def test_any_key_behaves_as_with_locmemcache(cache: DiskCache, key: Any) -> None:
    assert outcome(cache, key, ["v", key]) == outcome(caches["locmem"], key, ["v", key])


@EXAMPLES
@given(key_list=st.lists(keys, min_size=2, max_size=6, unique_by=str))
def test_distinct_keys_never_share_an_entry(cache: DiskCache, key_list: list[Any]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the CacheKeyWarnings are pinned by the test above
        for index, key in enumerate(key_list):
            cache.set(key, index)
        assert [cache.get(key) for key in key_list] == list(range(len(key_list)))


@EXAMPLES
@given(
    key=st.text(st.characters(categories=["Cs"]), min_size=1).flatmap(
        lambda surrogates: st.builds(lambda a, b: a + surrogates + b, st.text(), st.text())
    )
)
def test_a_key_with_a_lone_surrogate_is_refused_clearly(cache: DiskCache, key: str) -> None:
    # SQLite text is UTF-8 and a lone surrogate has no UTF-8 form; LocMemCache would take it.
    warnings.simplefilter("ignore", CacheKeyWarning)  # for control characters around it
    with pytest.raises(InvalidCacheKey, match="lone surrogate"):
        cache.set(key, 1)
    with pytest.raises(InvalidCacheKey, match="lone surrogate"):
        cache.get(key)


hashable = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text()
    | st.binary()
    | st.decimals(allow_nan=False)
    | st.fractions()
    | st.datetimes()
    | st.uuids(),
    lambda inner: st.tuples(inner, inner) | st.frozensets(inner, max_size=4),
    max_leaves=8,
)
scalars = (
    hashable
    | st.complex_numbers(allow_nan=False)
    | st.dates()
    | st.times()
    | st.timedeltas()
    | st.just(Ellipsis)
    | st.just(NotImplemented)
    | st.builds(bytearray, st.binary())
    | st.builds(range, st.integers(-50, 50), st.integers(-50, 50), st.integers(1, 5))
    | st.integers(min_value=2**63)  # past SQLite's integers: pickled, not native
    | st.binary(min_size=1024, max_size=5000)  # value files
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.tuples(inner, inner)
        | st.dictionaries(hashable, inner, max_size=5)
        | st.sets(hashable, max_size=5)
    ),
    max_leaves=25,
)


@EXAMPLES
@given(value=values)
def test_every_picklable_builtin_value_round_trips(cache: DiskCache, value: Any) -> None:
    cache.set("value", value)
    got = cache.get("value", "<missing>")
    assert got == value
    assert type(got) is type(value)


def generator() -> Iterator[int]:
    yield 1


class Local:
    pass


class RefusesToPickle:
    def __reduce__(self) -> tuple[Any, ...]:
        raise pickle.PicklingError("not today")


def nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


UNPICKLABLE = [
    pytest.param(lambda: None, id="lambda"),
    pytest.param(generator(), id="generator"),
    pytest.param(threading.Lock(), id="lock"),
    pytest.param(io.BytesIO(b"x").getbuffer(), id="memoryview"),
    pytest.param(type("Local", (), {})(), id="class-without-a-module-name"),
    pytest.param(RefusesToPickle(), id="reduce-raises"),
    pytest.param({"ok": [1, 2, lambda: None]}, id="lambda-inside-a-dict"),
    pytest.param(nested(100_000), id="too-deep"),
]


@pytest.mark.parametrize("value", UNPICKLABLE)
def test_an_unpicklable_value_fails_clearly_and_leaves_nothing(
    cache: DiskCache, value: Any
) -> None:
    cache.set("kept", b"k" * 5000)
    before = cache.stats().count

    with pytest.raises(UnserializableValue, match=r"Cannot store the value for key ':1:fresh'"):
        cache.set("fresh", value)
    with pytest.raises(UnserializableValue):
        cache.add("added", value)
    with pytest.raises(UnserializableValue):
        cache.set_many({"batch1": 1, "batch2": value})
    with pytest.raises(UnserializableValue):
        cache.set("kept", value)

    assert [cache.entry(key) for key in ("fresh", "added", "batch1", "batch2")] == [None] * 4
    assert cache.stats().count == before
    assert cache.get("kept") == b"k" * 5000  # a failed overwrite leaves the old value
    files = list(Path(cache.location, VALUES_DIR).rglob("*.val"))
    assert len(files) == 1
    assert cache.check() == []
