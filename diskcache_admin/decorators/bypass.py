"""``bypass_cache()`` and the per-decorator ``cache_bypassed()``: run the code uncached."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar

__all__ = ["bypass_cache"]

_EVERYTHING = object()
# A context variable, so a bypass follows the code into async_to_sync and sync_to_async.
_bypassed: ContextVar[frozenset[object]] = ContextVar(
    "diskcache_admin_bypassed", default=frozenset()
)


@contextmanager
def bypassing(owner: object) -> Iterator[None]:
    """Within this block ``owner`` (a decorated function or view) calls straight through."""
    token = _bypassed.set(_bypassed.get() | {owner})
    try:
        yield
    finally:
        _bypassed.reset(token)


def bypass_cache() -> AbstractContextManager[None]:
    """Within this block every ``memoize`` and ``cached_view`` calls straight through."""
    return bypassing(_EVERYTHING)


def is_bypassed(owner: object) -> bool:
    bypassed = _bypassed.get()
    return bool(bypassed) and (_EVERYTHING in bypassed or owner in bypassed)
