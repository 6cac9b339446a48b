"""Views for the decorator tests, sync and async, built per test so no state is shared."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseBase

from diskcache_admin.decorators import cached_view

from .helpers import run

Respond = Callable[[HttpRequest], HttpResponseBase]


def ok(request: HttpRequest) -> HttpResponseBase:
    return HttpResponse(f"page of {request.path}")


class Page:
    """A cached view (sync or async) that counts how often its body runs."""

    def __init__(
        self, flavour: str, respond: Respond = ok, key: Any = "page:{slug}", **options: Any
    ) -> None:
        self.flavour = flavour
        self.calls = 0

        def body(request: HttpRequest, slug: str = "chess") -> HttpResponseBase:
            self.calls += 1
            return respond(request)

        async def abody(request: HttpRequest, slug: str = "chess") -> HttpResponseBase:
            return body(request, slug)

        self.view: Any = cached_view(key, **options)(body if flavour == "sync" else abody)

    def __call__(self, request: HttpRequest, slug: str = "chess") -> HttpResponse:
        response = self.view(request, slug=slug)
        return response if self.flavour == "sync" else run(response)  # type: ignore[no-any-return]
