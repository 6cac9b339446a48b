"""``cached_view`` and ``memoize``: caching decorators that are testable and stampede-safe.

Both work on every Django cache backend, for sync and async callables. A cold miss passes a
barrier (one caller computes, the others wait), a warm key is recomputed early by XFetch, and
``bypass_cache()`` turns both off for the code it wraps (for tests of the undecorated logic).

The modules of this package: ``view_caching`` (``cached_view``), ``policy`` (what a cached view
stores, under which key), ``memoization`` (``memoize``), ``stampede`` (the barrier, XFetch and
stale-while-revalidate shared by both), ``bypass`` and ``signals``. Import from here: these
names are the public API; the modules' other names may change.
"""

from __future__ import annotations

from .bypass import bypass_cache
from .memoization import Memoized, memoize
from .policy import CachePolicy
from .signals import cache_outcome
from .stampede import Barrier, StampedeTimeout
from .view_caching import CachedView, CachedViewMixin, cached_view

__all__ = [
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
