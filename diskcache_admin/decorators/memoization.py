"""``memoize``: cache a function's or method's results, sync or async, stampede-safe.

Cache calls, as ``cache_calls`` and the debug-toolbar panel count them: a call is one ``get`` of
``f.cache_key(...)`` (a hit or a miss) and, when it computed, one ``set`` of that key. The lock
of the barrier (``add`` of ``<key>:lock`` and its release), the re-read after taking the lock,
the polls while waiting and the "compute on your own" marker are internal (see
:func:`diskcache_admin.instrumentation.internal_calls`).
"""

from __future__ import annotations

import datetime
import decimal
import enum
import functools
import hashlib
import inspect
import uuid
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from typing import Any, overload

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.db.models import Model

from .bypass import bypassing, is_bypassed
from .keys import MEMO, argument_label, labelled_key
from .signals import report
from .stampede import Barrier, Computed, StampedeGuard, barrier_for

__all__ = ["Memoized", "memoize"]

_REPR_STABLE = (
    datetime.date,
    datetime.time,
    datetime.timedelta,
    decimal.Decimal,
    uuid.UUID,
    enum.Enum,
)


def canonical(value: Any) -> str:
    # Text equal across processes for equal arguments (hash() is salted per process).
    if value is None or isinstance(value, (bool, int, float, complex, str, bytes)):
        return f"{type(value).__name__}:{value!r}"
    if isinstance(value, (list, tuple)):
        inner = ",".join(canonical(item) for item in value)
        return f"{type(value).__name__}[{inner}]"
    if isinstance(value, dict):
        items = sorted(f"{canonical(k)}={canonical(v)}" for k, v in value.items())
        return "dict{" + ",".join(items) + "}"
    if isinstance(value, (set, frozenset)):
        return f"{type(value).__name__}{{" + ",".join(sorted(map(canonical, value))) + "}"
    if isinstance(value, Model):
        return f"model:{value._meta.label_lower}:{value.pk!r}"
    method = getattr(value, "__cache_key__", None)
    if callable(method):
        return f"{type(value).__qualname__}:{method()}"
    if isinstance(value, _REPR_STABLE):
        return repr(value)
    text = repr(value)
    if " at 0x" in text:
        raise TypeError(
            f"A {type(value).__qualname__} cannot be part of a memoize key: its repr changes"
            " from process to process. Give it a __cache_key__() method, or name the argument"
            " in memoize(ignore=...)."
        )
    return f"{type(value).__qualname__}:{text}"


# -- memoize ------------------------------------------------------------------------------------


class Memoized:
    """A function wrapped by :func:`memoize` (see there); also works as a method."""

    __name__: str
    __qualname__: str

    def __init__(
        self, func: Callable[..., Any], guard: StampedeGuard, prefix: str, ignore: frozenset[str]
    ) -> None:
        functools.update_wrapper(self, func)
        self.__wrapped__ = func
        self.guard = guard
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
        arguments = [(n, v) for n, v in bound.arguments.items() if n not in self.ignore]
        text = ";".join(f"{name}={canonical(value)}" for name, value in arguments)
        digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
        # The label only makes the key readable in the admin; the digest keeps keys apart.
        label = ",".join(f"{name}={argument_label(value)}" for name, value in arguments)
        return labelled_key(self.guard.cache, MEMO, self.prefix, label, digest)

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
        return bool(self.guard.cache.delete(self.cache_key(*args, **kwargs)))

    async def ainvalidate(self, *args: Any, **kwargs: Any) -> bool:
        return bool(await self.guard.cache.adelete(self.cache_key(*args, **kwargs)))

    def cache_bypassed(self) -> AbstractContextManager[None]:
        """Within this block this function calls straight through to the original."""
        return bypassing(self)

    def _key_unless_bypassed(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
        # None: within cache_bypassed(), the call goes straight to the function (reported).
        if is_bypassed(self):
            report(self, "", "bypass")
            return None
        return self.cache_key(*args, **kwargs)

    def _call(self, args: tuple[Any, ...], kwargs: dict[str, Any], *, force: bool) -> Any:
        func = self.__wrapped__
        key = self._key_unless_bypassed(args, kwargs)
        if key is None:
            return func(*args, **kwargs)

        def compute() -> Computed:
            value = func(*args, **kwargs)
            return Computed(value, value, True)

        outcome, value, _ = self.guard.run(key, compute, force=force)
        report(self, key, outcome)
        return value

    async def _acall(self, args: tuple[Any, ...], kwargs: dict[str, Any], *, force: bool) -> Any:
        func = self.__wrapped__
        key = self._key_unless_bypassed(args, kwargs)
        if key is None:
            return await func(*args, **kwargs)

        async def compute() -> Computed:
            value = await func(*args, **kwargs)
            return Computed(value, value, True)

        outcome, value, _ = await self.guard.arun(key, compute, force=force)
        report(self, key, outcome)
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
    guard = StampedeGuard(cache, timeout, barrier_for(stampede), beta, stale_while_revalidate)

    def decorate(func: Callable[..., Any]) -> Memoized:
        prefix = key_prefix or f"{func.__module__}.{func.__qualname__}"
        return Memoized(func, guard, prefix, ignored)

    return decorate
