"""memoize: keys, None results, invalidate/refresh/bypass, methods; sync and async, 3 backends."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from django.core.cache import cache, caches
from django.core.checks import Tags
from django.core.checks.registry import registry
from django.test import override_settings

import diskcache_admin.decorators
from diskcache_admin.checks import check_cache_barriers
from diskcache_admin.decorators import Barrier, Memoized, bypass_cache, memoize

from .helpers import Clock, outcomes, run

pytestmark = pytest.mark.usefixtures("backend")


class Counted:
    """A memoized function, sync or async, that counts how often its body runs."""

    def __init__(self, flavour: str, result: Callable[..., Any] = lambda x, y: x + y, **opts: Any):
        self.flavour = flavour
        self.calls: list[tuple[Any, ...]] = []

        if flavour == "sync":

            def add(x: int, y: int = 10) -> Any:
                self.calls.append((x, y))
                return result(x, y)

            self.func: Memoized = memoize(**opts)(add)
        else:

            async def add_async(x: int, y: int = 10) -> Any:
                self.calls.append((x, y))
                return result(x, y)

            self.func = memoize(**opts)(add_async)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.flavour == "sync":
            return self.func(*args, **kwargs)
        return run(self.func(*args, **kwargs))

    def refresh(self, *args: Any, **kwargs: Any) -> Any:
        if self.flavour == "sync":
            return self.func.refresh(*args, **kwargs)
        return run(self.func.refresh(*args, **kwargs))


@pytest.fixture(params=["sync", "async"])
def flavour(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_second_call_is_served_from_the_cache(flavour: str) -> None:
    f = Counted(flavour)
    assert f(1) == 11
    assert f(1) == 11
    assert f.calls == [(1, 10)]


def test_positional_keyword_and_default_arguments_share_one_key(flavour: str) -> None:
    f = Counted(flavour)
    f(1)
    f(x=1)
    f(1, 10)
    f(y=10, x=1)
    assert f.calls == [(1, 10)]
    assert f.func.cache_key(1) == f.func.cache_key(x=1, y=10)


def test_different_arguments_get_different_keys(flavour: str) -> None:
    f = Counted(flavour)
    assert f(1) == 11
    assert f(2) == 12
    assert f(1, 1) == 2
    assert f.func.cache_key(1) != f.func.cache_key(True)  # 1 == True, but not the same call
    assert len(f.calls) == 3


def test_none_results_are_cached(flavour: str) -> None:
    f = Counted(flavour, result=lambda x, y: None)
    assert f(1) is None
    assert f(1) is None
    assert f.calls == [(1, 10)]


def test_the_stored_value_is_a_small_envelope_dict(flavour: str) -> None:
    f = Counted(flavour, timeout=60)
    f(1)
    raw = cache.get(f.func.cache_key(1))
    assert raw["v"] == 11
    assert raw["d"] >= 0
    assert isinstance(raw["e"], float)


def test_invalidate_forgets_one_call(flavour: str) -> None:
    f = Counted(flavour)
    f(1)
    f(2)
    assert f.func.invalidate(x=1) is True
    assert f.func.invalidate(x=1) is False
    f(1)
    f(2)
    assert f.calls == [(1, 10), (2, 10), (1, 10)]


def test_async_invalidate(flavour: str) -> None:
    f = Counted(flavour)
    f(1)
    assert run(f.func.ainvalidate(1)) is True
    f(1)
    assert len(f.calls) == 2


def test_refresh_recomputes_and_stores(flavour: str) -> None:
    state = {"n": 0}

    def result(x: int, y: int) -> int:
        state["n"] += 1
        return state["n"]

    f = Counted(flavour, result=result)
    assert f(1) == 1
    assert f.refresh(1) == 2
    assert f(1) == 2


def test_wrapped_is_the_original_function(flavour: str) -> None:
    f = Counted(flavour)
    original = f.func.__wrapped__
    value = original(1) if flavour == "sync" else run(original(1))
    assert value == 11
    assert f.func.__name__ in ("add", "add_async")


def test_bypass_cache_calls_through(flavour: str) -> None:
    f = Counted(flavour)
    f(1)
    with bypass_cache():
        f(1)
        f(1)
    with f.func.cache_bypassed():
        f(1)
    f(1)
    assert len(f.calls) == 4


def test_timeout_expires_the_value(flavour: str, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock(monkeypatch)
    f = Counted(flavour, timeout=30, beta=0)
    f(1)
    clock.advance(29)
    f(1)
    clock.advance(2)
    f(1)
    assert len(f.calls) == 2


def test_timeout_zero_never_caches(flavour: str) -> None:
    f = Counted(flavour, timeout=0)
    f(1)
    f(1)
    assert len(f.calls) == 2
    assert cache.get(f.func.cache_key(1)) is None


def test_timeout_none_never_expires(flavour: str, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock(monkeypatch)
    f = Counted(flavour, timeout=None)
    f(1)
    clock.advance(10**7)
    f(1)
    assert len(f.calls) == 1


def test_outcomes_are_signalled(flavour: str) -> None:
    f = Counted(flavour)
    with outcomes() as seen:
        f(1)
        f(1)
        f.refresh(1)
        with bypass_cache():
            f(1)
    assert seen == ["miss", "hit", "miss", "bypass"]


def test_exceptions_are_not_cached_and_free_the_lock(flavour: str) -> None:
    attempts: list[int] = []

    def result(x: int, y: int) -> int:
        attempts.append(x)
        if len(attempts) == 1:
            raise RuntimeError("database down")
        return x

    f = Counted(flavour, result=result)
    with pytest.raises(RuntimeError, match="database down"):
        f(1)
    assert cache.get(f.func.cache_key(1) + ":lock") is None
    assert f(1) == 1


def test_unstable_reprs_are_refused_with_advice() -> None:
    @memoize()
    def describe(thing: object) -> str:
        return "x"

    with pytest.raises(TypeError, match="__cache_key__"):
        describe(object())


def test_cache_key_method_and_ignore() -> None:
    class Thing:
        def __init__(self, ident: int) -> None:
            self.ident = ident

        def __cache_key__(self) -> str:
            return str(self.ident)

    @memoize(ignore=["verbose"])
    def describe(thing: Thing, verbose: bool = False) -> int:
        return thing.ident

    assert describe.cache_key(Thing(1)) == describe.cache_key(Thing(1), verbose=True)
    assert describe.cache_key(Thing(1)) != describe.cache_key(Thing(2))
    with pytest.raises(TypeError, match="names no parameter"):
        memoize(ignore=["nope"])(lambda x: x)


def test_bare_decorator_uses_the_defaults() -> None:
    calls: list[int] = []

    @memoize
    def square(x: int) -> int:
        calls.append(x)
        return x * x

    assert isinstance(square, Memoized)
    assert square(3) == square(x=3) == 9
    assert calls == [3]
    assert square.guard.timeout == 60


def test_key_prefix_names_the_key() -> None:
    @memoize(key_prefix="clubs.count")
    def count() -> int:
        return 3

    assert count.cache_key().startswith("dca.memo:clubs.count(")


def test_methods_include_the_instance_and_expose_the_api(flavour: str) -> None:
    calls: list[int] = []

    class Club:
        def __init__(self, pk: int) -> None:
            self.pk = pk

        def __cache_key__(self) -> str:
            return f"club:{self.pk}"

        if flavour == "sync":

            @memoize()
            def members(self, active: bool = True) -> int:
                calls.append(self.pk)
                return self.pk * 10

        else:

            @memoize()
            async def members(self, active: bool = True) -> int:
                calls.append(self.pk)
                return self.pk * 10

    def call(result: Any) -> Any:
        return result if flavour == "sync" else run(result)

    one, two = Club(1), Club(2)
    assert call(one.members()) == 10
    assert call(one.members(active=True)) == 10
    assert call(two.members()) == 20
    assert call(Club.members(one)) == 10
    assert calls == [1, 2]
    assert one.members.cache_key() == Club.members.cache_key(one)
    assert one.members.invalidate() is True
    assert call(one.members.refresh()) == 10
    assert calls == [1, 2, 1]


def test_dummy_and_filebased_backends_are_warned_about(
    tmp_path: Any, caplog: pytest.LogCaptureFixture
) -> None:
    @memoize(cache="files")
    def on_files() -> int:
        return 1

    @memoize(cache="dummy")
    def on_dummy() -> int:
        return 1

    @memoize(cache="quiet", stampede=False)
    def without_barrier() -> int:
        return 1

    caches_config = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "files": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(tmp_path),
        },
        "dummy": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"},
        "quiet": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"},
    }
    with override_settings(CACHES=caches_config):
        ids = {message.id: message.msg for message in check_cache_barriers()}
        with caplog.at_level(logging.WARNING, logger="diskcache_admin.decorators"):
            on_files()
            on_files()
            without_barrier()
        caches["files"].clear()
    assert set(ids) >= {"diskcache_admin.W101", "diskcache_admin.W102"}
    assert "'files'" in ids["diskcache_admin.W101"]
    assert "'quiet'" not in " ".join(ids.values())
    assert [r.getMessage()[:20] for r in caplog.records] == ["diskcache_admin.W101"]


def test_the_app_registers_the_barrier_check_with_the_caches_tag() -> None:
    assert check_cache_barriers in registry.registered_checks
    assert Tags.caches in getattr(check_cache_barriers, "tags", ())


def test_the_package_exports_the_documented_api_only() -> None:
    assert sorted(diskcache_admin.decorators.__all__) == [
        "Barrier",
        "CachePolicy",
        "CachedView",
        "CachedViewMixin",
        "Memoized",
        "StampedeTimeout",
        "bypass_cache",
        "cache_outcome",
        "cached_view",
        "memoize",
    ]
    for name in ("check_cache_barriers", "register_checks", "VaryPart", "Engine"):
        assert not hasattr(diskcache_admin.decorators, name)


def test_good_backends_pass_the_check(backend: str) -> None:
    memoize(cache="default")(lambda: 1)
    assert [m for m in check_cache_barriers() if "'default'" in m.msg] == []


def test_invalid_options_are_refused() -> None:
    with pytest.raises(ValueError, match="beta"):
        memoize(beta=-1)
    with pytest.raises(ValueError, match="timeout"):
        memoize(timeout=-1)
    with pytest.raises(ValueError, match="on_timeout"):
        Barrier(on_timeout="ignore")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="lock_timeout"):
        Barrier(lock_timeout=0)
