"""Cache isolation for tests: a Django runner mixin, a TestCase mixin and a pytest plugin.

Names are imported on first use, so that loading the pytest plugin (in every pytest run of a
project that installs this package) never imports Django before pytest-django configures it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .calls import AliasCalls as AliasCalls
    from .calls import CacheCalls as CacheCalls
    from .calls import record_cache_calls as record_cache_calls
    from .isolation import Isolation as Isolation
    from .isolation import UnsafeCacheError as UnsafeCacheError
    from .isolation import cache_isolation as cache_isolation
    from .runner import CacheCallsAssertionsMixin as CacheCallsAssertionsMixin
    from .runner import CacheIsolationMixin as CacheIsolationMixin
    from .runner import CacheIsolationTestCase as CacheIsolationTestCase
    from .runner import IsolatedCacheRunner as IsolatedCacheRunner

_EXPORTS = {
    "AliasCalls": "calls",
    "CacheCalls": "calls",
    "record_cache_calls": "calls",
    "Isolation": "isolation",
    "UnsafeCacheError": "isolation",
    "cache_isolation": "isolation",
    "CacheCallsAssertionsMixin": "runner",
    "CacheIsolationMixin": "runner",
    "CacheIsolationTestCase": "runner",
    "IsolatedCacheRunner": "runner",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
