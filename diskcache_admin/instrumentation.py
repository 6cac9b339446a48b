"""A hook through which DiskCache reports every call, exactly, to whoever is listening.

The debug-toolbar panel and the test helpers subscribe with :func:`observe`; the backend checks
one context variable per call, so the hook costs nothing when nobody listens.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class CacheCall:
    """One operation on a DiskCache, as the backend itself saw it."""

    backend: Any
    operation: str
    keys: tuple[str, ...]
    # Per key: True hit, False miss, None where hit/miss has no meaning (set, delete...).
    hits: tuple[bool | None, ...]
    duration: float
    values: tuple[Any, ...] = field(default=(), repr=False)


Observer = Callable[[CacheCall], None]

_observers: ContextVar[tuple[Observer, ...]] = ContextVar("diskcache_admin_observers", default=())


def observers() -> tuple[Observer, ...]:
    return _observers.get()


@contextmanager
def observe(observer: Observer) -> Iterator[None]:
    """Send every DiskCache call made in this context (thread or task) to ``observer``."""
    token = _observers.set((*_observers.get(), observer))
    try:
        yield
    finally:
        _observers.reset(token)


def subscribe(observer: Observer) -> Callable[[], None]:
    """Like :func:`observe` for code that cannot use a ``with`` block; returns the undo."""
    token = _observers.set((*_observers.get(), observer))
    return lambda: _observers.reset(token)
