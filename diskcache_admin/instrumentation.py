"""One recording layer for every cache call: what ``cache_calls`` and the debug-toolbar panel read.

DiskCache reports each public call itself (exactly: a cached value equal to the default is still
a hit). Any other backend is observed by :func:`instrument`, which shadows the public methods of
one backend *instance* with wrappers that pass the caller's arguments through unchanged and
report the same :class:`CacheCall` records. Either way:

* each public call is recorded once, as itself (``get_or_set`` is one ``get_or_set``, ``decr`` a
  ``decr``, ``get_many`` one call with a hit or miss per key); the calls a backend makes to
  itself to implement it run :func:`muted` and are not recorded again;
* calls a library makes for its own bookkeeping (the stampede lock of ``memoize``, the
  generation token of ``cached_view``) run inside :func:`internal_calls` and carry
  ``internal=True``, so recorders can leave them out;
* nothing is done, beyond one context-variable read, when nobody listens.

Observers subscribe for their own context (:func:`observe`: one request, one task) or for every
thread of the process (``observe(..., every_thread=True)``: a test that drives a live server).
"""

from __future__ import annotations

import contextlib
import functools
import threading
import time
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "CacheCall",
    "Observer",
    "alias_of",
    "in_internal_call",
    "install_connection_hook",
    "instrument",
    "internal_calls",
    "muted",
    "observe",
    "observers",
    "subscribe",
]

_internal: ContextVar[bool] = ContextVar("diskcache_admin_internal_calls", default=False)


def in_internal_call() -> bool:
    """True inside :func:`internal_calls` (in this thread or task)."""
    return _internal.get()


@contextmanager
def internal_calls() -> Iterator[None]:
    """Mark the cache calls made in this block as the library's own bookkeeping.

    ``cache_calls`` leaves them out of its counts unless asked (``cache_calls(...,
    internal=True)``) and the panel labels them; they are still made and still reach the cache.
    """
    token = _internal.set(True)
    try:
        yield
    finally:
        _internal.reset(token)


@dataclass(frozen=True)
class CacheCall:
    """One public call on a cache backend, as the backend (or its wrapper) saw it."""

    backend: Any
    operation: str
    keys: tuple[str, ...]
    # Per key: True hit, False miss, None where hit/miss has no meaning (set, delete...).
    hits: tuple[bool | None, ...]
    duration: float
    # Reads: the values of the keys that were hits, in the order of ``keys``; writes: the
    # values written, in the order of ``keys``. Use :meth:`value_of` to pair them with keys.
    values: tuple[Any, ...] = field(default=(), repr=False)
    # Read when the record is built, that is inside the call it describes.
    internal: bool = field(default_factory=in_internal_call)
    # The alias, when the recorder knows it (wrapped backends); see :func:`alias_of`.
    alias: str | None = None
    # True when hit/miss could not be known exactly (a backend we cannot ask twice).
    inferred: bool = False

    def value_of(self) -> dict[int, Any]:
        """Index in :attr:`keys` -> value, for the keys that have one (matched by key)."""
        if self.operation in ("get", "get_many"):
            found = [index for index, hit in enumerate(self.hits) if hit]
            return dict(zip(found, self.values, strict=False))
        return dict(enumerate(self.values))


Observer = Callable[[CacheCall], None]

_observers: ContextVar[tuple[Observer, ...]] = ContextVar("diskcache_admin_observers", default=())
_muted: ContextVar[bool] = ContextVar("diskcache_admin_muted", default=False)
_everywhere: tuple[Observer, ...] = ()
_everywhere_lock = threading.Lock()


def observers() -> tuple[Observer, ...]:
    """Who listens to calls made here and now; empty inside :func:`muted`."""
    local = _observers.get()
    if not (local or _everywhere):
        return ()  # nobody listens (every call of every cache asks): one context-variable read
    if _muted.get():
        return ()
    return local + _everywhere if _everywhere else local


@contextmanager
def muted() -> Iterator[bool]:
    """Calls a backend makes to itself: not recorded. Yields whether anyone was listening."""
    listening = bool(observers())
    token = _muted.set(True)
    try:
        yield listening
    finally:
        _muted.reset(token)


@contextmanager
def observe(observer: Observer, *, every_thread: bool = False) -> Iterator[None]:
    """Send every cache call made in this context (or, with ``every_thread``, anywhere in the
    process: live-server threads included) to ``observer``."""
    undo = subscribe(observer, every_thread=every_thread)
    try:
        yield
    finally:
        undo()


def subscribe(observer: Observer, *, every_thread: bool = False) -> Callable[[], None]:
    """Like :func:`observe` for code that cannot use a ``with`` block; returns the undo."""
    global _everywhere
    if every_thread:
        with _everywhere_lock:
            _everywhere = (*_everywhere, observer)
            _instrument_new.append(observer)

        def undo_everywhere() -> None:
            global _everywhere
            with _everywhere_lock:
                remaining = list(_everywhere)
                remaining.remove(observer)
                _everywhere = tuple(remaining)
                _instrument_new.remove(observer)

        return undo_everywhere
    token = _observers.set((*_observers.get(), observer))
    _instrument_new.append(observer)

    def undo() -> None:
        # First: a reset from another context (an async hand-off) raises ValueError.
        _instrument_new.remove(observer)
        _observers.reset(token)

    return undo


# -- which alias a backend instance serves ---------------------------------------------------

ALIAS_ATTRIBUTE = "_diskcache_admin_alias"
# Non-empty while someone records: cache objects the handler creates meanwhile (a new thread's,
# such as each live-server request's) are instrumented at birth.
_instrument_new: list[Observer] = []
_hook_lock = threading.Lock()


def install_connection_hook() -> None:
    """Tag every cache object Django's handler creates with its alias (once per process), and
    instrument it while anyone records."""
    from django.core.cache import CacheHandler

    with _hook_lock:
        if getattr(CacheHandler, "_diskcache_admin_hooked", False):
            return
        original = CacheHandler.create_connection

        @functools.wraps(original)
        def create_connection(self: Any, alias: str) -> Any:
            cache = original(self, alias)
            try:
                setattr(cache, ALIAS_ATTRIBUTE, alias)
            except AttributeError:  # a backend with __slots__: found by alias_of() instead
                return cache
            if _instrument_new:
                instrument(cache, alias)
            return cache

        CacheHandler.create_connection = create_connection  # type: ignore[method-assign]
        CacheHandler._diskcache_admin_hooked = True  # type: ignore[attr-defined]


def alias_of(backend: Any) -> str | None:
    """The alias ``backend`` serves: its tag, else the alias whose object in this thread it is
    (or, for DiskCache, whose store directory it opens)."""
    alias = getattr(backend, ALIAS_ATTRIBUTE, None)
    if alias is not None:
        return str(alias)
    from django.conf import settings
    from django.core.cache import caches

    location = getattr(backend, "location", None)
    for name in settings.CACHES:
        cache = caches[name]
        same_store = type(cache) is type(backend) and getattr(cache, "location", None) == location
        if cache is backend or (location and same_store):
            with contextlib.suppress(AttributeError):
                setattr(backend, ALIAS_ATTRIBUTE, name)  # found once, not on every call
            return str(name)
    return None


# -- observing backends other than DiskCache -------------------------------------------------

INSTRUMENTED_ATTRIBUTE = "_diskcache_admin_instrumented"
METHODS = (
    "add",
    "get",
    "set",
    "get_or_set",
    "touch",
    "delete",
    "clear",
    "get_many",
    "set_many",
    "delete_many",
    "has_key",
    "incr",
    "decr",
    "incr_version",
    "decr_version",
)
# BaseCache builds these coroutines from other calls (aget_or_set from aget, aadd and aget):
# recorded once, under the name of their synchronous twin, as the toolbar names every call.
# The other a* methods run their synchronous twin in a thread, which is recorded.
ASYNC_METHODS = {
    # Django 5.2 builds these from aget() per key and 6.1 from the sync twin: wrapped, each is
    # recorded once as itself on every supported Django.
    "aget_many": "get_many",
    "ahas_key": "has_key",
    "aget_or_set": "get_or_set",
    "adecr": "decr",
    "aincr_version": "incr_version",
    "adecr_version": "decr_version",
}
_NO_VALUE = object()
# Set while a wrapped get_or_set runs: the hit/miss of the first get it makes to itself.
_probe: ContextVar[list[bool] | None] = ContextVar("diskcache_admin_probe", default=None)
# Backends whose class-level get() reads the store and nothing else, so asking it a second time
# with our own default tells a stored value equal to the caller's default from a miss.
_PROBE_SAFE = {"locmem", "filebased", "redis", "django_redis", "memcached", "dummy"}


def instrument(cache: Any, alias: str) -> None:
    """Wrap ``cache``'s public methods (once) so that they report to observers.

    The wrappers pass the caller's arguments and the backend's result through unchanged, so
    another recorder layered below or above (the toolbar's CachePanel) sees the same call.
    DiskCache reports itself and is left alone.
    """
    from .inspection.kinds import Kind, kind_of

    kind = kind_of(cache)
    if kind is Kind.DISKCACHE or getattr(cache, INSTRUMENTED_ATTRIBUTE, False):
        return
    probe_safe = kind.value in _PROBE_SAFE
    for name in METHODS:
        original = getattr(cache, name, None)
        if original is not None:
            setattr(cache, name, _wrapper(cache, alias, name, original, probe_safe))
    for async_name, name in ASYNC_METHODS.items():
        original = getattr(cache, async_name, None)
        if original is not None:
            setattr(cache, async_name, _async_wrapper(cache, alias, name, original, probe_safe))
    setattr(cache, INSTRUMENTED_ATTRIBUTE, True)
    setattr(cache, ALIAS_ATTRIBUTE, alias)


def _argument(args: tuple[Any, ...], kwargs: dict[str, Any], index: int, name: str) -> Any:
    if len(args) > index:
        return args[index]
    return kwargs.get(name, _NO_VALUE)


def _wrapper(
    cache: Any, alias: str, name: str, original: Callable[..., Any], probe_safe: bool
) -> Callable[..., Any]:
    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not observers():
            probe = _probe.get()
            if probe is None or name != "get" or probe:
                return original(*args, **kwargs)
            # The first get a get_or_set makes to itself: its answer is the hit or miss.
            default = _argument(args, kwargs, 1, "default")
            result = original(*args, **kwargs)
            probe.append(result is not default)
            return result
        if name in ("get_many", "delete_many"):
            keys = _argument(args, kwargs, 0, "keys")
            if keys is not _NO_VALUE and not isinstance(keys, (list, tuple)):
                keys = list(keys)  # an iterator is read once: by the backend, from our copy
                args = (keys, *args[1:]) if args else args
                kwargs = kwargs if args else {**kwargs, "keys": keys}
        describe = functools.partial(_describe, cache, alias, name, args, kwargs, probe_safe)
        with _recorded(name, describe) as outcome:
            outcome.result = original(*args, **kwargs)
        return outcome.result

    return _as_method(cache, wrapper)


def _as_method(cache: Any, wrapper: Callable[..., Any]) -> Callable[..., Any]:
    """``wrapper`` bound to ``cache``, so that it is a method as the one it shadows was.

    Django (6.1's ``aget_or_set``, ``aget_many``, ``ahas_key``) asks
    ``self.get_or_set.__func__ is BaseCache.get_or_set`` to choose its code path: a plain
    function there raises AttributeError. A method of our own answers (Django then takes the
    path it takes for any backend that overrides the method: the same results). Setting
    ``__func__`` on a function instead is not safe: ``functools.wraps`` copies it, and asgiref's
    ``markcoroutinefunction`` follows it and would mark the backend class's own function.
    """

    def method(_cache: Any, /, *args: Any, **kwargs: Any) -> Any:
        return wrapper(*args, **kwargs)

    functools.update_wrapper(method, wrapper)
    return types.MethodType(method, cache)


def _async_wrapper(
    cache: Any, alias: str, name: str, original: Callable[..., Any], probe_safe: bool
) -> Callable[..., Any]:
    @functools.wraps(original)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not observers():
            return await original(*args, **kwargs)
        # The probe list is shared with the threads sync_to_async runs the inner calls in
        # (they get a copy of this context, holding the same list).
        describe = functools.partial(_describe, cache, alias, name, args, kwargs, probe_safe)
        with _recorded(name, describe) as outcome:
            outcome.result = await original(*args, **kwargs)
        return outcome.result

    return wrapper


class _Outcome:
    """What a wrapper's block inside :func:`_recorded` got from the backend."""

    result: Any = None


@contextmanager
def _recorded(
    name: str, describe: Callable[[Any, float, list[bool] | None], CacheCall]
) -> Iterator[_Outcome]:
    """Around one call of a wrapper, sync or async: the block stores the backend's answer in
    the yielded outcome; the call is timed, its calls to itself muted, a get_or_set's first
    inner get probed, and, once muting and probe are undone, ``describe(result, duration,
    probe)`` is reported to the observers (not when the block raises: a failed call is not
    recorded)."""
    outcome = _Outcome()
    started = time.perf_counter()
    probe_token = _probe.set([]) if name == "get_or_set" else None
    try:
        with muted():
            yield outcome
    finally:
        seen = _probe.get()
        if probe_token is not None:
            _probe.reset(probe_token)
    duration = time.perf_counter() - started
    call = describe(outcome.result, duration, seen)
    for observer in observers():
        observer(call)


def _describe(
    cache: Any,
    alias: str,
    name: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    probe_safe: bool,
    result: Any,
    duration: float,
    seen: list[bool] | None,
) -> CacheCall:
    key = _argument(args, kwargs, 0, "key")
    inferred = False
    keys: tuple[Any, ...]
    hits: tuple[bool | None, ...]
    values: tuple[Any, ...] = ()
    if name == "get":
        default = _argument(args, kwargs, 1, "default")
        default = None if default is _NO_VALUE else default
        hit = result is not default
        if not hit:
            # A miss returns the caller's default itself; so does a stored value that *is* it.
            if probe_safe:
                version = _argument(args, kwargs, 2, "version")
                with muted():
                    again = type(cache).get(
                        cache, key, _NO_VALUE, version=None if version is _NO_VALUE else version
                    )
                hit = again is not _NO_VALUE
            else:
                inferred = True
        keys, hits, values = (key,), (hit,), ((result,) if hit else ())
    elif name == "get_many":
        keys = tuple(_argument(args, kwargs, 0, "keys"))
        hits = tuple(each in result for each in keys)
        values = tuple(result[each] for each in keys if each in result)
    elif name == "get_or_set":
        if seen:
            hit = seen[0]
        else:
            hit, inferred = result is not None, True
        keys, hits, values = (key,), (hit,), (result,)
    elif name == "set_many":
        data = _argument(args, kwargs, 0, "data")
        keys, values = tuple(data), tuple(data.values())
        hits = (None,) * len(keys)
    elif name == "delete_many":
        keys = tuple(_argument(args, kwargs, 0, "keys"))
        hits = (None,) * len(keys)
    elif name == "clear":
        keys, hits = (), ()
    elif name in ("set", "add"):
        keys, hits, values = (key,), (None,), (_argument(args, kwargs, 1, "value"),)
    elif name in ("touch", "delete", "has_key"):
        keys, hits = (key,), (bool(result),)
    else:  # incr, decr, incr_version, decr_version: they raise on a missing key
        keys, hits = (key,), (True,)
        if name in ("incr", "decr"):
            values = (result,)
    return CacheCall(
        cache,
        name,
        tuple(str(k) for k in keys),
        hits,
        duration,
        values,
        alias=alias,
        inferred=inferred,
    )
