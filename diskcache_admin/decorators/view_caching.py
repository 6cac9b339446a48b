"""``cached_view``: cache a view's responses under a key you name; the policy is testable alone.

Cache calls, as ``cache_calls`` and the debug-toolbar panel count them: a request is one ``get``
of the storage key (``cache_policy.storage_key(request, ...)``) and, when the view ran and its
response may be stored, one ``set`` of that key. Internal (see
:func:`diskcache_admin.instrumentation.internal_calls`): the generation token of a key with
``vary_on`` parts (a ``get``, and an ``add`` the first time, plus a ``get`` if another request
added it first), the barrier's lock and its release, the re-read after taking the lock, the
polls while waiting, and the "compute on your own" marker left by a response that may not be
stored.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from typing import Any, ClassVar, cast

from asgiref.sync import iscoroutinefunction, sync_to_async
from django.http import HttpRequest, HttpResponseBase
from django.utils.cache import patch_cache_control

from ..conf import conf
from .bypass import bypassing, is_bypassed
from .policy import CachePolicy, KeyFunc, render_if_needed, watching_session
from .signals import report
from .stampede import Barrier, Computed, Outcome, barrier_for

__all__ = ["CachedView", "CachedViewMixin", "cached_view"]

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
        return bypassing(self)

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
        return is_bypassed(self) or self.cache_policy.request_refusal(request) is not None

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
            report(self, "", "bypass")
            return self._finish(view(request, *args, **kwargs), "bypass")
        stored: list[bool] = []

        def compute() -> Computed:
            # Watched so that is_cacheable sees whether the view (or its template) read the
            # session, not whether the decorator did when it loaded the user.
            with watching_session(request):
                return self._computed(request, view(request, *args, **kwargs), stored)

        served = self._served(key, policy.guard.run(key, compute), stored)
        if served is None:  # written by an incompatible version: serve it fresh
            served = self._finish(view(request, *args, **kwargs), "bypass")
        return served

    async def _aserve(
        self,
        view: Callable[..., Any],
        request: HttpRequest,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> HttpResponseBase:
        policy = self.cache_policy
        if policy.reads_user() and hasattr(request, "user"):
            # AuthenticationMiddleware's request.user loads lazily, from the session and the
            # database: not allowed in an async context. Load it once in a thread; the checks
            # below then read the loaded object.
            await sync_to_async(_load_user)(request)
        key = None
        if not self._skip(request):
            key = await policy.astorage_key(request, *args, **kwargs)
        if key is None:
            report(self, "", "bypass")
            return self._finish(await view(request, *args, **kwargs), "bypass")
        stored: list[bool] = []

        async def compute() -> Computed:
            with watching_session(request):
                return self._computed(request, await view(request, *args, **kwargs), stored)

        served = self._served(key, await policy.guard.arun(key, compute), stored)
        if served is None:
            served = self._finish(await view(request, *args, **kwargs), "bypass")
        return served

    # What _serve and _aserve share around the view call, which only they make (sync or not).

    def _computed(
        self, request: HttpRequest, response: HttpResponseBase, stored: list[bool]
    ) -> Computed:
        # Called within watching_session: rendering may read the session, and is_cacheable
        # must see that it did.
        policy = self.cache_policy
        response = render_if_needed(response)
        storable = policy.is_cacheable(request, response)
        stored.append(storable)
        return Computed(response, policy.to_payload(response) if storable else None, storable)

    def _served(
        self, key: str, run: tuple[Outcome, Any, bool], stored: list[bool]
    ) -> HttpResponseBase | None:
        """The reported response of the guard's ``run``; ``None``: the view must run after all.

        ``stored`` says whether each computed response could be stored (``_computed`` appends
        to it); ``None`` means the stored payload was written by an incompatible version.
        """
        outcome, value, computed = run
        report(self, key, outcome if not computed or stored[-1] else "bypass")
        if computed:
            return self._finish(value, _HEADER_VALUES[outcome] if stored[-1] else "bypass")
        response = self.cache_policy.from_payload(value)
        if response is None:
            return None
        return self._finish(response, _HEADER_VALUES[outcome])


def _load_user(request: HttpRequest) -> None:
    request.user.is_authenticated  # noqa: B018 - evaluating the lazy user is the point


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
        barrier=barrier_for(stampede),
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
