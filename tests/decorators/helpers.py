from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import pytest
from django.dispatch import receiver

from diskcache_admin.decorators import cache_outcome, stampede

T = TypeVar("T")


class Clock:
    """Stands in for the wall clock the decorators read expiry times with."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, start: float = 1_000_000.0) -> None:
        self.now = start
        monkeypatch.setattr(stampede, "_now", self)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


@contextmanager
def outcomes() -> Iterator[list[str]]:
    """Collect the ``cache_outcome`` of every cached call made inside the block."""
    seen: list[str] = []

    @receiver(cache_outcome, weak=False)
    def record(sender: object, key: str, outcome: str, **kwargs: Any) -> None:
        seen.append(outcome)

    try:
        yield seen
    finally:
        cache_outcome.disconnect(record)
