"""Early recomputation (XFetch) and stale-while-revalidate, with a fake clock and a fixed draw."""

from __future__ import annotations

import math
from typing import Any

import pytest
from django.core.cache import cache

from diskcache_admin.decorators import memoize, stampede
from diskcache_admin.decorators.stampede import acquire_lock, pack, release_lock

from .helpers import Clock, outcomes, run

pytestmark = pytest.mark.usefixtures("backend")


class Source:
    """A memoized function (sync or async) returning a new version on every computation."""

    def __init__(self, flavour: str, **options: Any) -> None:
        self.flavour = flavour
        self.version = 0

        def fetch() -> int:
            self.version += 1
            return self.version

        async def afetch() -> int:
            return fetch()

        self.func: Any = memoize(**options)(fetch if flavour == "sync" else afetch)

    def __call__(self) -> int:
        result = self.func()
        return int(result if self.flavour == "sync" else run(result))

    def seed(self, value: int, *, delta: float, expires_in: float, now: float) -> None:
        """Store ``value`` as if it had been computed in ``delta`` seconds."""
        cache.set(self.func.cache_key(), pack(value, delta, now + expires_in), 300)


@pytest.fixture(params=["sync", "async"])
def flavour(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return Clock(monkeypatch)


@pytest.fixture
def draw(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """XFetch's uniform draw: 0.5 unless a test changes it (-ln(1 - 0.5) = ln 2)."""
    value = [0.5]
    monkeypatch.setattr(stampede, "_random", lambda: value[0])
    return value


def test_far_from_expiry_the_value_is_served(flavour: str, clock: Clock, draw: list[float]) -> None:
    source = Source(flavour, timeout=60)
    source.seed(100, delta=5, expires_in=10, now=clock.now)
    # now + 5 * 1 * ln 2 = now + 3.47 < expiry (now + 10)
    with outcomes() as seen:
        assert source() == 100
    assert seen == ["hit"]


def test_close_to_expiry_one_caller_recomputes_early(
    flavour: str, clock: Clock, draw: list[float]
) -> None:
    source = Source(flavour, timeout=60)
    source.seed(100, delta=5, expires_in=10, now=clock.now)
    clock.advance(10 - 5 * math.log(2) + 0.01)
    with outcomes() as seen:
        assert source() == 1
        assert source() == 1
    assert seen == ["refresh", "hit"]


def test_a_larger_beta_recomputes_earlier(flavour: str, clock: Clock, draw: list[float]) -> None:
    calm = Source(flavour, timeout=60, beta=1, key_prefix="calm")
    eager = Source(flavour, timeout=60, beta=3, key_prefix="eager")
    for source in (calm, eager):
        source.seed(100, delta=1, expires_in=10, now=clock.now)
    clock.advance(8)  # 8 + ln 2 (beta 1) < 10 <= 8 + 3 ln 2 (beta 3)
    assert calm() == 100
    assert eager() == 1


def test_beta_zero_turns_early_recomputation_off(
    flavour: str, clock: Clock, draw: list[float]
) -> None:
    source = Source(flavour, timeout=60, beta=0)
    source.seed(100, delta=5, expires_in=10, now=clock.now)
    draw[0] = 1 - 1e-12  # the most eager draw there is
    clock.advance(9.99)
    assert source() == 100


def test_while_another_caller_refreshes_the_current_value_is_served(
    flavour: str, clock: Clock, draw: list[float]
) -> None:
    source = Source(flavour, timeout=60)
    source.seed(100, delta=5, expires_in=10, now=clock.now)
    lock = acquire_lock(cache, source.func.cache_key() + ":lock", 30)
    assert lock is not None
    clock.advance(9)
    with outcomes() as seen:
        assert source() == 100
    assert seen == ["hit"]
    release_lock(cache, source.func.cache_key() + ":lock", lock)


def test_the_compute_time_is_stored_with_the_value(flavour: str, clock: Clock) -> None:
    source = Source(flavour, timeout=60)
    source()
    raw = cache.get(source.func.cache_key())
    assert raw["e"] == clock.now + 60
    assert 0 <= raw["d"] < 5


def test_an_expired_value_is_a_miss_without_stale_while_revalidate(
    flavour: str, clock: Clock, draw: list[float]
) -> None:
    source = Source(flavour, timeout=60, beta=0)
    source.seed(100, delta=1, expires_in=10, now=clock.now)
    clock.advance(11)
    with outcomes() as seen:
        assert source() == 1
    assert seen == ["miss"]


def test_stale_while_revalidate_serves_stale_while_one_recomputes(
    flavour: str, clock: Clock, draw: list[float]
) -> None:
    source = Source(flavour, timeout=60, beta=0, stale_while_revalidate=30)
    source.seed(100, delta=1, expires_in=10, now=clock.now)
    clock.advance(20)  # expired, but within the 30 s stale window
    lock = acquire_lock(cache, source.func.cache_key() + ":lock", 30)
    assert lock is not None
    with outcomes() as seen:
        assert source() == 100  # another caller holds the lock: stale, at once
        release_lock(cache, source.func.cache_key() + ":lock", lock)
        assert source() == 1  # the lock is free: this caller recomputes
        assert source() == 1
    assert seen == ["stale", "refresh", "hit"]


def test_past_the_stale_window_it_is_a_miss(flavour: str, clock: Clock, draw: list[float]) -> None:
    source = Source(flavour, timeout=60, beta=0, stale_while_revalidate=30)
    source.seed(100, delta=1, expires_in=10, now=clock.now)
    clock.advance(41)
    with outcomes() as seen:
        assert source() == 1
    assert seen == ["miss"]


def test_stale_while_revalidate_keeps_values_longer_in_the_cache() -> None:
    source = Source("sync", timeout=1, stale_while_revalidate=120)
    source()
    # Physically kept for timeout + stale window; the envelope says when it went stale.
    raw = cache.get(source.func.cache_key())
    assert raw["e"] - stampede._now() <= 1
