"""``cached_view`` and ``memoize``: caching decorators that are testable and stampede-safe.

Both work on every Django cache backend, for sync and async callables. A cold miss passes a
barrier (one caller computes, the others wait), a warm key is recomputed early by XFetch, and
``bypass_cache()`` turns both off for the code it wraps (for tests of the undecorated logic).
"""

from __future__ import annotations

import functools
import hashlib
import inspect
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from typing import Any, ClassVar, cast, overload

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.dispatch import Signal
from django.http import HttpRequest, HttpResponseBase
from django.utils.cache import patch_cache_control

from ._cachepolicy import CachePolicy, KeyFunc, VaryPart, render_if_needed
from ._stampede import (
    Barrier,
    Computed,
    Engine,
    Outcome,
    StampedeTimeout,
    canonical,
    check_cache_barriers,
    register_checks,
)
from .conf import conf

__all__ = [
    "Barrier",
    "CachePolicy",
    "CachedView",
    "CachedViewMixin",
    "Memoized",
    "StampedeTimeout",
    "VaryPart",
    "bypass_cache",
    "cache_outcome",
    "cached_view",
    "check_cache_barriers",
    "memoize",
    "register_checks",
]

cache_outcome = Signal()
"""Sent after every cached call: ``sender`` (the memoized function or the ``CachedView``), ``key``
(the storage key) and ``outcome``: ``"hit"``, ``"wait"`` (hit after waiting at the barrier),
``"miss"``, ``"refresh"`` (recomputed early or after expiry), ``"stale"`` or ``"bypass"``."""

_EVERYTHING = object()
_bypassed: ContextVar[frozenset[object]] = ContextVar(
    "diskcache_admin_bypassed", default=frozenset()
)


@contextmanager
def _bypass(owner: object) -> Iterator[None]:
    token = _bypassed.set(_bypassed.get() | {owner})
    try:
        yield
    finally:
        _bypassed.reset(token)


def bypass_cache() -> AbstractContextManager[None]:
    """Within this block every ``memoize`` and ``cached_view`` calls straight through."""
    return _bypass(_EVERYTHING)


def _is_bypassed(owner: object) -> bool:
    bypassed = _bypassed.get()
    return bool(bypassed) and (_EVERYTHING in bypassed or owner in bypassed)


def _report(sender: object, key: str, outcome: str) -> None:
    if cache_outcome.receivers:
        cache_outcome.send(sender=sender, key=key, outcome=outcome)


def _barrier(stampede: bool | Barrier) -> Barrier | None:
    if isinstance(stampede, Barrier):
        return stampede
    return Barrier() if stampede else None


# -- memoize ------------------------------------------------------------------------------------


class Memoized:
    """A function wrapped by :func:`memoize` (see there); also works as a method."""

    __name__: str
    __qualname__: str

    def __init__(
        self, func: Callable[..., Any], engine: Engine, prefix: str, ignore: frozenset[str]
    ) -> None:
        functools.update_wrapper(self, func)
        self.__wrapped__ = func
        self.engine = engine
        self.prefix = prefix
        self.ignore = ignore
        self.is_async = iscoroutinefunction(func)
        self._signature = inspect.signature(func)
        unknown = ignore - set(self._signature.parameters)
        if unknown:
            raise TypeError(f"memoize(ignore=...) names no parameter of {prefix}: {unknown}")
        if self.is_async:
            markcoroutinefunction(self)

    def cache_key(self, *args: Any, **kwargs: Any) -> str:
        """The cache key of this call: ``f(1)`` and ``f(x=1)`` share it."""
        bound = self._signature.bind(*args, **kwargs)
        bound.apply_defaults()
        text = ";".join(
            f"{name}={canonical(value)}"
            for name, value in bound.arguments.items()
            if name not in self.ignore
        )
        digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:40]
        return f"dca.memo:{self.prefix}:{digest}"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.is_async:
            return self._acall(args, kwargs, force=False)
        return self._call(args, kwargs, force=False)

    def refresh(self, *args: Any, **kwargs: Any) -> Any:
        """Recompute, store and return the value now (awaitable for async functions)."""
        if self.is_async:
            return self._acall(args, kwargs, force=True)
        return self._call(args, kwargs, force=True)

    def invalidate(self, *args: Any, **kwargs: Any) -> bool:
        """Forget the cached value of this call; ``True`` if there was one."""
        return bool(self.engine.cache.delete(self.cache_key(*args, **kwargs)))

    async def ainvalidate(self, *args: Any, **kwargs: Any) -> bool:
        return bool(await self.engine.cache.adelete(self.cache_key(*args, **kwargs)))

    def cache_bypassed(self) -> AbstractContextManager[None]:
        """Within this block this function calls straight through to the original."""
        return _bypass(self)

    def _call(self, args: tuple[Any, ...], kwargs: dict[str, Any], *, force: bool) -> Any:
        func = self.__wrapped__
        if _is_bypassed(self):
            _report(self, "", "bypass")
            return func(*args, **kwargs)
        key = self.cache_key(*args, **kwargs)

        def compute() -> Computed:
            value = func(*args, **kwargs)
            return Computed(value, value, True)

        outcome, value, _ = self.engine.run(key, compute, force=force)
        _report(self, key, outcome)
        return value

    async def _acall(self, args: tuple[Any, ...], kwargs: dict[str, Any], *, force: bool) -> Any:
        func = self.__wrapped__
        if _is_bypassed(self):
            _report(self, "", "bypass")
            return await func(*args, **kwargs)
        key = self.cache_key(*args, **kwargs)

        async def compute() -> Computed:
            value = await func(*args, **kwargs)
            return Computed(value, value, True)

        outcome, value, _ = await self.engine.arun(key, compute, force=force)
        _report(self, key, outcome)
        return value

    def __get__(self, instance: Any, owner: type[Any] | None = None) -> Any:
        if instance is None:
            return self
        return _BoundMemoized(self, instance)

    def __repr__(self) -> str:
        return f"<memoized {self.prefix}>"


class _BoundMemoized:
    # ``obj.method`` for a memoized method: the same API with ``self`` filled in.

    __name__: str

    def __init__(self, memoized: Memoized, instance: Any) -> None:
        self._memoized = memoized
        self._instance = instance
        self.__wrapped__ = memoized.__wrapped__.__get__(instance)
        self.__name__ = memoized.__name__
        if memoized.is_async:
            markcoroutinefunction(self)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._memoized(self._instance, *args, **kwargs)

    def cache_key(self, *args: Any, **kwargs: Any) -> str:
        return self._memoized.cache_key(self._instance, *args, **kwargs)

    def refresh(self, *args: Any, **kwargs: Any) -> Any:
        return self._memoized.refresh(self._instance, *args, **kwargs)

    def invalidate(self, *args: Any, **kwargs: Any) -> bool:
        return self._memoized.invalidate(self._instance, *args, **kwargs)

    async def ainvalidate(self, *args: Any, **kwargs: Any) -> bool:
        return await self._memoized.ainvalidate(self._instance, *args, **kwargs)

    def cache_bypassed(self) -> AbstractContextManager[None]:
        return self._memoized.cache_bypassed()


@overload
def memoize(timeout: Callable[..., Any], /) -> Memoized: ...


@overload
def memoize(
    timeout: float | None = 60,
    cache: str = "default",
    key_prefix: str | None = None,
    *,
    stampede: bool | Barrier = True,
    beta: float = 1.0,
    stale_while_revalidate: float | None = None,
    ignore: Iterable[str] = (),
) -> Callable[[Callable[..., Any]], Memoized]: ...


def memoize(
    timeout: float | Callable[..., Any] | None = 60,
    cache: str = "default",
    key_prefix: str | None = None,
    *,
    stampede: bool | Barrier = True,
    beta: float = 1.0,
    stale_while_revalidate: float | None = None,
    ignore: Iterable[str] = (),
) -> Callable[[Callable[..., Any]], Memoized] | Memoized:
    """Cache a function's (or method's, sync or async) results in the ``cache`` alias.

    ``timeout``: seconds (``None`` never expires, ``0`` never caches). ``key_prefix``: defaults
    to the function's module and qualified name. ``stampede``: ``True`` (a default
    :class:`Barrier`), ``False`` (no barrier: every caller of a cold key computes), or a
    :class:`Barrier`. ``beta``: XFetch's early-recomputation factor (``0`` turns it off).
    ``stale_while_revalidate``: seconds a value is kept past ``timeout``, served while one caller
    recomputes. ``ignore``: parameter names left out of the key (e.g. ``"self"``).

    ``@memoize`` without arguments uses the defaults. The result has ``cache_key(...)``,
    ``invalidate(...)``, ``refresh(...)``, ``cache_bypassed()`` and ``__wrapped__``.
    """
    if callable(timeout):  # used bare: @memoize
        return memoize()(timeout)
    ignored = frozenset(ignore)
    # Built now, so that bad options fail where they are written; it holds options only.
    engine = Engine(cache, timeout, _barrier(stampede), beta, stale_while_revalidate)

    def decorate(func: Callable[..., Any]) -> Memoized:
        prefix = key_prefix or f"{func.__module__}.{func.__qualname__}"
        return Memoized(func, engine, prefix, ignored)

    return decorate


# -- cached_view --------------------------------------------------------------------------------

_HEADER_VALUES: dict[Outcome, str] = {
    "hit": "hit",
    "wait": "hit",
    "miss": "miss",
    "refresh": "miss",
    "stale": "stale",
}


class CachedView:
    """What ``cached_view(...)`` returns: a view decorator that also holds the policy.

    Keep it in a name to reach the policy when it decorates a class-based view's method.
    """

    def __init__(self, policy: CachePolicy, hit_header: str | bool | None) -> None:
        self.cache_policy = policy
        self._hit_header = hit_header

    @property
    def hit_header(self) -> str | None:
        if self._hit_header is None or self._hit_header is True:
            return conf.CACHE_HEADER or ("X-Cache" if self._hit_header else None)
        return self._hit_header or None

    def invalidate(self, *args: Any, request: HttpRequest | None = None, **kwargs: Any) -> bool:
        """Forget every cached variant for these view arguments (same as the view's)."""
        return self.cache_policy.invalidate(*args, request=request, **kwargs)

    def cache_bypassed(self) -> AbstractContextManager[None]:
        """Within this block the view runs uncached: nothing is read, stored or locked."""
        return _bypass(self)

    def __call__(self, view: Callable[..., Any]) -> Any:
        wrapper: Callable[..., Any]
        if iscoroutinefunction(view):

            async def async_wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
                return await self._aserve(view, request, args, kwargs)

            wrapper = async_wrapper
        else:

            def sync_wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
                return self._serve(view, request, args, kwargs)

            wrapper = sync_wrapper
        functools.update_wrapper(wrapper, view)
        attributes = cast(Any, wrapper)
        attributes.cache_policy = self.cache_policy
        attributes.invalidate = self.invalidate
        attributes.cache_bypassed = self.cache_bypassed
        attributes.uncached = view
        return wrapper

    def _finish(self, response: HttpResponseBase, label: str) -> HttpResponseBase:
        header = self.hit_header
        if header:
            response.headers[header] = label
        if self.cache_policy.max_age is not None:
            patch_cache_control(response, max_age=self.cache_policy.max_age)
        return response

    def _skip(self, request: HttpRequest) -> bool:
        return _is_bypassed(self) or self.cache_policy.request_refusal(request) is not None

    def _serve(
        self,
        view: Callable[..., Any],
        request: HttpRequest,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> HttpResponseBase:
        policy = self.cache_policy
        key = None if self._skip(request) else policy.storage_key(request, *args, **kwargs)
        if key is None:
            _report(self, "", "bypass")
            return self._finish(view(request, *args, **kwargs), "bypass")
        stored: list[bool] = []

        def compute() -> Computed:
            response = render_if_needed(view(request, *args, **kwargs))
            storable = policy.is_cacheable(request, response)
            stored.append(storable)
            return Computed(response, policy.to_payload(response) if storable else None, storable)

        outcome, value, computed = policy.engine.run(key, compute)
        _report(self, key, outcome if not computed or stored[-1] else "bypass")
        if computed:
            return self._finish(value, _HEADER_VALUES[outcome] if stored[-1] else "bypass")
        response = policy.from_payload(value)
        if response is None:  # written by an incompatible version: serve it fresh
            return self._finish(view(request, *args, **kwargs), "bypass")
        return self._finish(response, _HEADER_VALUES[outcome])

    async def _aserve(
        self,
        view: Callable[..., Any],
        request: HttpRequest,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> HttpResponseBase:
        policy = self.cache_policy
        key = None
        if not self._skip(request):
            key = await policy.astorage_key(request, *args, **kwargs)
        if key is None:
            _report(self, "", "bypass")
            return self._finish(await view(request, *args, **kwargs), "bypass")
        stored: list[bool] = []

        async def compute() -> Computed:
            response = render_if_needed(await view(request, *args, **kwargs))
            storable = policy.is_cacheable(request, response)
            stored.append(storable)
            return Computed(response, policy.to_payload(response) if storable else None, storable)

        outcome, value, computed = await policy.engine.arun(key, compute)
        _report(self, key, outcome if not computed or stored[-1] else "bypass")
        if computed:
            return self._finish(value, _HEADER_VALUES[outcome] if stored[-1] else "bypass")
        response = policy.from_payload(value)
        if response is None:
            return self._finish(await view(request, *args, **kwargs), "bypass")
        return self._finish(response, _HEADER_VALUES[outcome])


def cached_view(
    key: str | KeyFunc,
    *,
    timeout: float | None = 300,
    cache: str = "default",
    vary_on: Iterable[str] = (),
    per_user: bool | None = None,
    stampede: bool | Barrier = True,
    beta: float = 1.0,
    stale_while_revalidate: float | None = None,
    hit_header: str | bool | None = None,
    max_age: int | None = None,
) -> CachedView:
    """Cache a view's responses under an explicit key; the policy is testable on its own.

    ``key``: a format string over the view's arguments (``"club:{slug}"``), or a callable
    ``(request, *args, **kwargs) -> str | None`` where ``None`` means "do not cache".
    ``vary_on``: ``"user"``, ``"language"``, ``"GET:<param>"``, ``"header:<Name>"``.
    ``per_user``: ``None`` refuses authenticated requests unless the key varies on the user;
    ``True`` adds ``"user"`` to ``vary_on``; ``False`` shares one page between all users.
    ``hit_header``: ``None`` uses ``DISKCACHE_ADMIN_CACHE_HEADER``, ``False`` sends none, a
    string names the header. ``max_age``: send ``Cache-Control: max-age`` downstream (default:
    nothing). ``stampede``, ``beta`` and ``stale_while_revalidate`` are :func:`memoize`'s.
    """
    name = key if isinstance(key, str) else getattr(key, "__qualname__", repr(key))
    policy = CachePolicy(
        key,
        timeout=timeout,
        cache=cache,
        vary_on=vary_on,
        per_user=per_user,
        barrier=_barrier(stampede),
        beta=beta,
        stale_while_revalidate=stale_while_revalidate,
        max_age=max_age,
        name=name,
    )
    return CachedView(policy, hit_header)


class CachedViewMixin:
    """Caches a class-based view: set ``cache_key`` and, if needed, the other ``cache_*``.

    ``ClubView.get_cache_decorator()`` returns the :class:`CachedView` (policy, invalidate).
    """

    cache_key: ClassVar[str | KeyFunc | None] = None
    cache_timeout: ClassVar[float | None] = 300
    cache_alias: ClassVar[str] = "default"
    cache_vary_on: ClassVar[tuple[str, ...]] = ()
    cache_per_user: ClassVar[bool | None] = None
    cache_options: ClassVar[dict[str, Any]] = {}

    @classmethod
    def get_cache_decorator(cls) -> CachedView:
        existing = cls.__dict__.get("_cached_view")
        if isinstance(existing, CachedView):
            return existing
        if cls.cache_key is None:
            raise TypeError(f"{cls.__qualname__} uses CachedViewMixin but sets no cache_key.")
        decorator = cached_view(
            cls.cache_key,
            timeout=cls.cache_timeout,
            cache=cls.cache_alias,
            vary_on=cls.cache_vary_on,
            per_user=cls.cache_per_user,
            **cls.cache_options,
        )
        cls._cached_view = decorator  # type: ignore[attr-defined]
        return decorator

    @classmethod
    def as_view(cls, **initkwargs: Any) -> Any:
        view = cast(Any, super()).as_view(**initkwargs)
        return cls.get_cache_decorator()(view)
