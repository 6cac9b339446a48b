"""DiskCache, the Django backend: the whole cache API and what it adds to Django's contract."""

from __future__ import annotations

import asyncio
import pickle
import sqlite3
import threading
import time
import warnings
from collections.abc import Callable
from contextlib import closing
from decimal import Decimal
from typing import Any
from unittest import mock

import pytest
from django.core.cache import CacheKeyWarning, caches, close_caches
from django.core.cache.backends.base import InvalidCacheKey
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from diskcache_admin.backend import DiskCache, signing_keys

# -- the synchronous API ----------------------------------------------------------------------


def test_set_get_and_default(cache: DiskCache) -> None:
    cache.set("k", {"v": 1})

    assert cache.get("k") == {"v": 1}
    assert cache.get("missing") is None
    assert cache.get("missing", "fallback") == "fallback"


def test_none_is_a_value_not_a_miss(cache: DiskCache) -> None:
    cache.set("k", None)

    assert cache.get("k", "default") is None
    assert cache.has_key("k") is True
    assert "k" in cache


def test_add_returns_whether_it_stored(cache: DiskCache) -> None:
    assert cache.add("k", 1) is True
    assert cache.add("k", 2) is False
    assert cache.get("k") == 1


def test_timeout_zero_stores_nothing_readable(cache: DiskCache) -> None:
    cache.set("a", 1, timeout=0)
    assert cache.add("b", 1, timeout=0) is True
    assert cache.set_many({"c": 1}, timeout=0) == []

    assert cache.get_many(["a", "b", "c"]) == {}
    assert cache.add("b", 2) is True  # the expired entry does not block add


def test_timeout_none_never_expires(cache: DiskCache) -> None:
    cache.set("k", 1, timeout=None)

    info = cache.entry("k")
    assert info is not None
    assert info.expire_time is None


def test_default_timeout_is_the_alias_timeout(aliases: Callable[..., Any]) -> None:
    with aliases(default={"TIMEOUT": 60}):
        cache = caches["default"]
        cache.set("k", 1)
        info = cache.entry("k")

    assert info is not None
    assert info.expire_time == pytest.approx(info.store_time + 60, abs=1)


def test_touch(cache: DiskCache) -> None:
    cache.set("k", 1, timeout=10)

    assert cache.touch("k", None) is True
    assert cache.entry("k").expire_time is None  # type: ignore[union-attr]
    assert cache.touch("k", 0) is True
    assert cache.get("k") is None
    assert cache.touch("k") is False
    assert cache.touch("never") is False


def test_delete_and_delete_many(cache: DiskCache) -> None:
    cache.set_many({"a": 1, "b": 2, "c": 3})

    assert cache.delete("a") is True
    assert cache.delete("a") is False
    assert cache.delete_many(["b", "missing"]) is None
    assert cache.get_many(["a", "b", "c"]) == {"c": 3}


def test_incr_and_decr(cache: DiskCache) -> None:
    cache.set("n", 10)

    assert cache.incr("n") == 11
    assert cache.incr("n", 5) == 16
    assert cache.decr("n") == 15
    assert cache.decr("n", 20) == -5
    with pytest.raises(ValueError, match="'missing' not found"):
        cache.incr("missing")
    with pytest.raises(ValueError, match="not found"):
        cache.decr("missing")


def test_incr_keeps_expiry_and_tag(cache: DiskCache) -> None:
    cache.set("n", 1, timeout=1000, tag="t")
    before = cache.entry("n")

    cache.incr("n")

    after = cache.entry("n")
    assert before is not None
    assert after is not None
    assert (after.expire_time, after.tag) == (before.expire_time, "t")


def test_get_many_and_set_many_map_the_callers_keys(cache: DiskCache) -> None:
    assert cache.set_many({"a": 1, "b": [2], 3: "three"}) == []

    assert cache.get_many(["a", "b", 3, "missing"]) == {"a": 1, "b": [2], 3: "three"}


def test_set_many_returns_the_keys_that_failed(aliases: Callable[..., Any]) -> None:
    with aliases(default={"OPTIONS": {"SIZE_LIMIT": 1000}}):
        cache = caches["default"]

        failed = cache.set_many({"small": 1, "huge": b"x" * 5000})

        assert failed == ["huge"]
        assert cache.get_many(["small", "huge"]) == {"small": 1}


def test_set_many_is_one_transaction(cache: DiskCache) -> None:
    statements: list[str] = []
    cache.store.db.connection().set_trace_callback(statements.append)

    cache.set_many({f"k{i}": i for i in range(20)})

    assert [s for s in statements if s.startswith("BEGIN")] == ["BEGIN IMMEDIATE"]


def test_get_or_set(cache: DiskCache) -> None:
    assert cache.get_or_set("k", lambda: "computed") == "computed"
    assert cache.get_or_set("k", "ignored") == "computed"


def test_incr_version_and_decr_version_move_the_entry(cache: DiskCache) -> None:
    cache.set("k", "v", timeout=500, tag="t")

    assert cache.incr_version("k") == 2
    assert cache.get("k") is None
    assert cache.get("k", version=2) == "v"
    moved = cache.entry("k", version=2)
    assert moved is not None
    assert (moved.version, moved.tag) == (2, "t")
    assert cache.decr_version("k", version=2) == 1
    assert cache.get("k") == "v"
    with pytest.raises(ValueError, match="not found"):
        cache.incr_version("missing")


def test_clear_empties_the_store(cache: DiskCache) -> None:
    cache.set_many({"a": 1, "b": 2})

    cache.clear()

    assert cache.get_many(["a", "b"]) == {}
    assert cache.stats().count == 0


def test_entries_keep_user_key_prefix_and_version_apart(aliases: Callable[..., Any]) -> None:
    with aliases(default={"KEY_PREFIX": "site", "VERSION": 3}):
        cache = caches["default"]
        cache.set("user:42", "x")
        info = cache.entry("user:42")

    assert info is not None
    assert (info.key, info.user_key, info.prefix, info.version) == (
        "site:3:user:42",
        "user:42",
        "site",
        3,
    )
    assert info.family == "user"


# -- the async API ----------------------------------------------------------------------------


def test_every_async_method_does_what_its_sync_twin_does(cache: DiskCache) -> None:
    async def scenario() -> dict[str, Any]:
        seen: dict[str, Any] = {}
        seen["aadd"] = await cache.aadd("a", 1)
        seen["aadd again"] = await cache.aadd("a", 2)
        await cache.aset("b", "bee", timeout=100)
        seen["aget"] = await cache.aget("b")
        seen["aget default"] = await cache.aget("missing", "d")
        seen["atouch"] = await cache.atouch("b", None)
        seen["ahas_key"] = await cache.ahas_key("b")
        seen["aset_many"] = await cache.aset_many({"c": 3, "d": 4})
        seen["aget_many"] = await cache.aget_many(["a", "c", "d", "missing"])
        seen["aincr"] = await cache.aincr("c", 10)
        seen["adecr"] = await cache.adecr("d", 5)
        seen["aget_or_set"] = await cache.aget_or_set("e", "made")
        seen["adelete"] = await cache.adelete("e")
        await cache.adelete_many(["c", "d"])
        seen["after adelete_many"] = await cache.aget_many(["c", "d"])
        seen["aincr_version"] = await cache.aincr_version("b")
        seen["adecr_version"] = await cache.adecr_version("b", version=2)
        await cache.aclear()
        seen["after aclear"] = await cache.aget_many(["a", "b"])
        await cache.aclose()
        return seen

    assert asyncio.run(scenario()) == {
        "aadd": True,
        "aadd again": False,
        "aget": "bee",
        "aget default": "d",
        "atouch": True,
        "ahas_key": True,
        "aset_many": [],
        "aget_many": {"a": 1, "c": 3, "d": 4},
        "aincr": 13,
        "adecr": -1,
        "aget_or_set": "made",
        "adelete": True,
        "after adelete_many": {},
        "aincr_version": 2,
        "adecr_version": 1,
        "after aclear": {},
    }


def test_aincr_and_adecr_are_atomic_and_keep_expiry_and_tag(cache: DiskCache) -> None:
    cache.set("n", 0, timeout=1000, tag="counters")
    before = cache.entry("n")

    async def hammer() -> None:
        await asyncio.gather(
            *[cache.aincr("n", 3) for _ in range(40)], *[cache.adecr("n") for _ in range(20)]
        )

    asyncio.run(hammer())

    after = cache.entry("n")
    assert cache.get("n") == 40 * 3 - 20
    assert before is not None
    assert after is not None
    assert (after.expire_time, after.tag) == (before.expire_time, "counters")


def test_aincr_of_a_missing_key_raises_value_error(cache: DiskCache) -> None:
    with pytest.raises(ValueError, match="not found"):
        asyncio.run(cache.aincr("missing"))


# -- key validation, exactly like Django's other backends ---------------------------------------


def warnings_of(call: Callable[[], Any]) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        call()
    return [str(w.message) for w in caught if issubclass(w.category, CacheKeyWarning)]


def _incr_existing(cache: Any, key: str) -> None:
    cache.set(key, 1)
    cache.incr(key)
    cache.decr(key)


def _move_version(cache: Any, key: str) -> None:
    cache.set(key, 1)
    cache.incr_version(key)


KEY_OPERATIONS: dict[str, Callable[[Any, str], Any]] = {
    "get": lambda cache, key: cache.get(key),
    "set": lambda cache, key: cache.set(key, 1),
    "add": lambda cache, key: cache.add(key, 1),
    "touch": lambda cache, key: cache.touch(key),
    "delete": lambda cache, key: cache.delete(key),
    "has_key": lambda cache, key: cache.has_key(key),
    "get_or_set": lambda cache, key: cache.get_or_set(key, 1),
    "incr and decr": _incr_existing,
    "incr_version": _move_version,
    "get_many": lambda cache, key: cache.get_many([key, "ok"]),
    "set_many": lambda cache, key: cache.set_many({key: 1, "ok": 2}),
    "delete_many": lambda cache, key: cache.delete_many([key, "ok"]),
}


@pytest.mark.parametrize("key", ["a" * 251, "key with spaces", "tab\there", "bell\x07"])
@pytest.mark.parametrize("operation", KEY_OPERATIONS)
def test_bad_keys_warn_exactly_as_locmem_does(cache: DiskCache, key: str, operation: str) -> None:
    call = KEY_OPERATIONS[operation]
    with override_settings(
        CACHES={
            "default": {
                "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                "LOCATION": "key-warnings",
            }
        }
    ):
        expected = warnings_of(lambda: call(caches["default"], key))

    got = warnings_of(lambda: call(cache, key))

    assert expected  # the operation does warn, with Django's own wording
    if operation == "incr_version":
        # BaseCache's incr_version validates the old key twice (get, then delete); DiskCache
        # moves the entry in one step: the same warnings, the old key's once.
        assert list(dict.fromkeys(got)) == list(dict.fromkeys(expected))
    else:
        assert got == expected


def test_a_good_key_warns_nothing(cache: DiskCache) -> None:
    assert warnings_of(lambda: cache.set("fine:key-1", 1)) == []


# -- serialization ----------------------------------------------------------------------------


def test_an_unpicklable_value_raises_a_clear_pickling_error(cache: DiskCache) -> None:
    with pytest.raises(pickle.PicklingError, match=r":1:lock'.*cannot pickle"):
        cache.set("lock", threading.Lock())
    with pytest.raises(pickle.PicklingError):
        cache.add("lock", threading.Lock())

    assert cache.has_key("lock") is False
    assert cache.stats().count == 0


def test_set_many_with_an_unpicklable_value_stores_nothing(cache: DiskCache) -> None:
    with pytest.raises(pickle.PicklingError):
        cache.set_many({"a": 1, "b": threading.Lock(), "c": 3})

    assert cache.get_many(["a", "b", "c"]) == {}


def test_json_serializer_option(aliases: Callable[..., Any]) -> None:
    with aliases(default={"OPTIONS": {"SERIALIZER": "json"}}):
        cache = caches["default"]
        cache.set("doc", {"n": [1, 2]})

        assert cache.get("doc") == {"n": [1, 2]}
        with pytest.raises(pickle.PicklingError, match="json"):
            cache.set("obj", object())


# -- signing keys and SECRET_KEY rotation -------------------------------------------------------


def test_signing_keys_derive_from_secret_key_and_fallbacks() -> None:
    with override_settings(SECRET_KEY="new", SECRET_KEY_FALLBACKS=["old"]):
        keys = signing_keys()
    with override_settings(SECRET_KEY="old", SECRET_KEY_FALLBACKS=[]):
        old_keys = signing_keys()

    assert len(keys) == 2
    assert keys[1] == old_keys[0]
    assert b"new" not in keys[0]  # derived, never the secret itself


def fresh(location: str) -> DiskCache:
    return DiskCache(location, {})


def test_a_value_signed_with_an_old_secret_reads_while_it_is_a_fallback(location: str) -> None:
    with override_settings(SECRET_KEY="old-secret", SECRET_KEY_FALLBACKS=[]):
        fresh(location).set("k", "signed with the old key")

    with override_settings(SECRET_KEY="new-secret", SECRET_KEY_FALLBACKS=["old-secret"]):
        assert fresh(location).get("k") == "signed with the old key"
        fresh(location).set("k2", "signed with the new key")

    with override_settings(SECRET_KEY="new-secret", SECRET_KEY_FALLBACKS=[]):
        rotated = fresh(location)
        assert rotated.get("k2") == "signed with the new key"
        assert rotated.get("k", "miss") == "miss"
        assert rotated.entry("k") is None  # removed, not kept as a miss forever


# -- several aliases, one store ---------------------------------------------------------------


def test_aliases_on_one_location_share_one_store(aliases: Callable[..., Any]) -> None:
    with aliases(default={}, prefixed={"KEY_PREFIX": "p"}, v2={"VERSION": 2}):
        default, prefixed, v2 = caches["default"], caches["prefixed"], caches["v2"]
        default.set("k", "default")
        prefixed.set("k", "prefixed")
        v2.set("k", "v2")

        assert [c.get("k") for c in (default, prefixed, v2)] == ["default", "prefixed", "v2"]
        assert default.store.db is prefixed.store.db is v2.store.db
        assert default.stats().count == 3
        assert v2.get("k", version=1) == "default"


def test_aliases_keep_their_own_limits_on_a_shared_store(aliases: Callable[..., Any]) -> None:
    with aliases(default={}, small={"OPTIONS": {"MAX_ENTRIES": 5, "CULL_FREQUENCY": 0}}):
        for i in range(10):
            caches["default"].set(f"k{i}", i)
        assert caches["default"].stats().count == 10

        caches["small"].set("one-more", 1)

        assert caches["default"].stats().count == 1


# -- culling through the backend --------------------------------------------------------------


@pytest.mark.parametrize(("cull_frequency", "left"), [(3, 29), (0, 19), (4, 28)])
def test_max_entries_and_cull_frequency_as_django_documents(
    aliases: Callable[..., Any], cull_frequency: int, left: int
) -> None:
    options = {"MAX_ENTRIES": 30, "CULL_FREQUENCY": cull_frequency}
    with aliases(default={"OPTIONS": options}):
        cache = caches["default"]
        for i in range(1, 50):
            cache.set(f"cull{i}", "value", 1000)

        assert sum(cache.has_key(f"cull{i}") for i in range(1, 50)) == left


# -- connections and close() ------------------------------------------------------------------


def test_close_keeps_the_connection_for_the_next_request(cache: DiskCache) -> None:
    cache.set("k", 1)
    connection = cache.store.db.connection()

    cache.close()
    close_caches()  # Django's request_finished receiver, run after every request

    assert cache.store.db.connection() is connection
    assert cache.get("k") == 1


@pytest.mark.usefixtures("no_timed_flush")
def test_close_flushes_statistics_only_when_a_batch_is_due(cache: DiskCache) -> None:
    cache.get("missing")
    cache.close()

    with closing(sqlite3.connect(cache.store.db.path)) as conn, conn:
        assert conn.execute("SELECT misses FROM counters").fetchone() == (0,)
    assert cache.stats().misses == 1


def test_each_thread_has_its_own_connection(cache: DiskCache) -> None:
    cache.set("k", 1)
    seen: list[Any] = []

    def read() -> None:
        seen.append((cache.get("k"), cache.store.db.connection()))

    thread = threading.Thread(target=read)
    thread.start()
    thread.join()

    assert seen[0][0] == 1
    assert seen[0][1] is not cache.store.db.connection()


# -- the extras -------------------------------------------------------------------------------


def test_hits_and_misses_are_counted(cache: DiskCache) -> None:
    cache.set("k", 1)
    cache.get("k")
    cache.get("k")
    cache.get("missing")
    cache.get_many(["k", "missing"])

    stats = cache.stats()

    assert (stats.hits, stats.misses) == (3, 2)
    assert stats.hit_ratio == pytest.approx(0.6)


def test_expire_evict_and_volume(cache: DiskCache) -> None:
    cache.set("old", 1, timeout=0)
    cache.set("a", 1, tag="t")
    cache.set("b", 2, tag="t")
    cache.set("c", 3)

    assert cache.expire().count == 1
    assert cache.evict("t").count == 2
    assert cache.get_many(["a", "b", "c"]) == {"c": 3}
    assert cache.volume() > 0
    assert cache.check() == []


def test_cull_brings_the_store_within_limits(aliases: Callable[..., Any]) -> None:
    with aliases(default={}, small={"OPTIONS": {"MAX_ENTRIES": 4}}):
        for i in range(10):
            caches["default"].set(f"k{i}", i)

        assert caches["small"].cull().count == 6
        assert caches["default"].stats().count == 4


# -- configuration errors ---------------------------------------------------------------------


def test_missing_location_is_reported_on_first_use_not_at_construction() -> None:
    cache = DiskCache("", {})

    with pytest.raises(ImproperlyConfigured, match="LOCATION"):
        cache.get("k")


def test_an_invalid_option_is_reported_on_first_use(location: str) -> None:
    cache = DiskCache(location, {"OPTIONS": {"MAX_ENTRIES": -1}})

    with pytest.raises(ImproperlyConfigured, match="MAX_ENTRIES"):
        cache.set("k", 1)


def test_expiry_follows_a_patched_time_time(cache: DiskCache) -> None:
    # Django computes expiry times with time.time(); freezegun or mock must move "now" for the
    # store as well, or a frozen test clock sees every entry as expired at once.
    frozen = 1_468_749_600.0
    with mock.patch.object(time, "time", return_value=frozen):
        cache.set("k", "v", timeout=2)
    with mock.patch.object(time, "time", return_value=frozen + 1):
        assert cache.get("k") == "v"
    with mock.patch.object(time, "time", return_value=frozen + 2):
        assert cache.get("k") is None


@given(
    st.one_of(
        st.integers().filter(lambda n: not -(2**63) <= n <= 2**63 - 1),
        st.text(alphabet="abc", max_size=3),  # no space: that is a CacheKeyWarning first
        st.floats(),
        st.booleans(),
        st.just(Decimal(2)),
    )
)
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=40)
def test_a_version_sqlite_cannot_hold_is_an_invalid_key_and_stores_nothing(
    cache: DiskCache, version: object
) -> None:
    for write in (
        lambda: cache.set("k", "v", version=version),  # type: ignore[arg-type]
        lambda: cache.add("k", "v", version=version),  # type: ignore[arg-type]
        lambda: cache.set_many({"k": "v"}, version=version),  # type: ignore[arg-type]
        lambda: asyncio.run(cache.aset("k", "v", version=version)),
    ):
        with pytest.raises(InvalidCacheKey, match="whole numbers from -2\\*\\*63"):
            write()
    assert cache.get("k") is None
    assert cache.get("k", version=1) is None
