"""The policy half of ``cached_view``: keys, what may be cached, and the stored payload.

Nothing here runs a view, so every rule can be tested with ``RequestFactory`` alone.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

from django.core.cache import caches
from django.core.cache.backends.base import BaseCache
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.template.response import SimpleTemplateResponse
from django.utils.translation import get_language

from ..instrumentation import internal_calls
from .keys import VIEW, labelled_key
from .stampede import Barrier, StampedeGuard

__all__ = ["CachePolicy", "VaryPart"]

KeyFunc = Callable[..., "str | None"]
VaryKind = Literal["user", "language", "GET", "header"]

PAYLOAD_VERSION = 1
# Splits a comma-separated header (Cache-Control, Vary), ignoring the spaces around each comma.
# Our own: Django's equivalent (django.utils.cache.cc_delim_re) was private and is gone in 6.1.
HEADER_LIST_SEPARATOR = re.compile(r"\s*,\s*")
REFUSED_CACHE_CONTROL = frozenset({"private", "no-store", "no-cache"})
# Never stored: they describe one connection or one client, not the page.
UNSTORED_HEADERS = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "set-cookie",
        "date",
        "age",
    }
)


@dataclass(frozen=True)
class VaryPart:
    """One ``vary_on`` entry: ``"user"``, ``"language"``, ``"GET:<param>"``, ``"header:<Name>"``."""

    kind: VaryKind
    name: str = ""

    @classmethod
    def parse(cls, spec: str) -> VaryPart:
        if spec == "user":
            return cls("user")
        if spec == "language":
            return cls("language")
        kind, sep, name = spec.partition(":")
        if sep and name and kind == "GET":
            return cls("GET", name)
        if sep and name and kind.lower() == "header":
            return cls("header", name.lower())
        raise ValueError(
            f"Unknown vary_on entry {spec!r}: use 'user', 'language', 'GET:<param>' or"
            " 'header:<Name>'."
        )

    def render(self, request: HttpRequest) -> str:
        # Values are %-quoted, so no value can forge a separator; an absent parameter or header
        # has no "=" at all, so it never shares a key with an empty one.
        if self.kind == "user":
            user = getattr(request, "user", None)
            if user is not None and user.is_authenticated:
                return f"user={quote(str(user.pk), safe='')}"
            return "user=anonymous"
        if self.kind == "language":
            language = getattr(request, "LANGUAGE_CODE", None) or get_language() or ""
            return f"language={quote(language, safe='')}"
        if self.kind == "GET":
            values = request.GET.getlist(self.name) if self.name in request.GET else None
            label = f"GET:{self.name}"
        else:
            value = request.headers.get(self.name)
            values = None if value is None else [value]
            label = f"header:{self.name}"
        if values is None:
            return label
        return label + "=" + ",".join(quote(v, safe="") for v in values)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _new_generation() -> str:
    return secrets.token_hex(8)


@dataclass(frozen=True)
class _GenerationRead:
    """A varied key waits for its generation: read (or create) the token at ``generation_key``."""

    base: str
    generation_key: str


class CachePolicy:
    """What ``cached_view`` caches, under which key, and what it refuses to cache."""

    def __init__(
        self,
        key: str | KeyFunc,
        *,
        timeout: float | None,
        cache: str,
        vary_on: Iterable[str],
        per_user: bool | None,
        barrier: Barrier | None,
        beta: float,
        stale_while_revalidate: float | None,
        max_age: int | None,
        name: str = "",
    ) -> None:
        if not (isinstance(key, str) or callable(key)):
            raise TypeError("key must be a format string or a callable returning str | None.")
        parts = [VaryPart.parse(spec) for spec in vary_on]
        if per_user and VaryPart("user") not in parts:
            parts.append(VaryPart("user"))
        if max_age is not None and max_age < 0:
            raise ValueError("max_age must be None (send nothing) or 0 or more seconds.")
        self.key = key
        self.vary_on: tuple[VaryPart, ...] = tuple(parts)
        self.per_user = per_user
        self.max_age = max_age
        self.name = name
        self.guard = StampedeGuard(cache, timeout, barrier, beta, stale_while_revalidate)

    @property
    def alias(self) -> str:
        return self.guard.alias

    @property
    def timeout(self) -> float | None:
        return self.guard.timeout

    @property
    def cache(self) -> BaseCache:
        return caches[self.guard.alias]

    # -- keys -----------------------------------------------------------------------------------

    def base_key(self, request: HttpRequest | None, *args: Any, **kwargs: Any) -> str | None:
        """The key before the ``vary_on`` parts: the format string filled in, or the callable's."""
        if isinstance(self.key, str):
            try:
                return self.key.format(*args, **kwargs)
            except (IndexError, KeyError) as exc:
                raise TypeError(
                    f"cached_view key {self.key!r} needs the view argument {exc}; pass it."
                ) from None
        if request is None:
            raise TypeError("This view's key is a callable: pass request= as well.")
        result = self.key(request, *args, **kwargs)
        if result is not None and not isinstance(result, str):
            raise TypeError(f"The key callable returned {type(result).__name__}, not str | None.")
        return result

    def vary_parts(self, request: HttpRequest) -> list[str]:
        return [part.render(request) for part in self.vary_on]

    def key_for(self, request: HttpRequest, *args: Any, **kwargs: Any) -> str | None:
        """The readable key of this request (``None``: not cached), e.g. ``club:chess|user=7``."""
        base = self.base_key(request, *args, **kwargs)
        if base is None:
            return None
        return "|".join([base, *self.vary_parts(request)])

    @property
    def owner(self) -> str:
        """What the keys are labelled with before the brackets: the key pattern, or the dotted
        name of the key callable (``shop:{slug}``, ``shop.keys.product_key``)."""
        if isinstance(self.key, str):
            return self.key
        module = getattr(self.key, "__module__", None) or ""
        name = getattr(self.key, "__qualname__", None) or type(self.key).__qualname__
        return f"{module}.{name}" if module else name

    def _generation_key(self, base: str) -> str:
        # Its own digest: a generation token never shares a key with a stored page.
        digest = _digest(f"generation|{base}")
        return labelled_key(self.cache, VIEW, self.owner, base, digest, generation=True)

    def _plain_key(self, base: str) -> str:
        return labelled_key(self.cache, VIEW, self.owner, base, _digest(base))

    def storage_key(self, request: HttpRequest, *args: Any, **kwargs: Any) -> str | None:
        """The cache key the response is stored under: ``dca.view:<pattern>[<key_for>]:<hash>``.

        The hash covers the readable key and, with ``vary_on`` parts, the key's generation
        (see :mod:`diskcache_admin.decorators.keys`).
        """
        key = self._key_before_generation(request, *args, **kwargs)
        if not isinstance(key, _GenerationRead):
            return key
        cache = self.cache
        with internal_calls():
            generation = cache.get(key.generation_key)
            if generation is None:
                # Stored by us: no need to read it back. Else another caller's: read it.
                fresh = _new_generation()
                if cache.add(key.generation_key, fresh, None):
                    generation = fresh
                else:
                    generation = cache.get(key.generation_key)
        return self._varied_key(key.base, request, generation)

    async def astorage_key(self, request: HttpRequest, *args: Any, **kwargs: Any) -> str | None:
        key = self._key_before_generation(request, *args, **kwargs)
        if not isinstance(key, _GenerationRead):
            return key
        cache = self.cache
        with internal_calls():
            generation = await cache.aget(key.generation_key)
            if generation is None:
                fresh = _new_generation()
                if await cache.aadd(key.generation_key, fresh, None):
                    generation = fresh
                else:
                    generation = await cache.aget(key.generation_key)
        return self._varied_key(key.base, request, generation)

    def _key_before_generation(
        self, request: HttpRequest, *args: Any, **kwargs: Any
    ) -> str | _GenerationRead | None:
        # What storage_key and astorage_key share: the final key (or None: not cached) when no
        # cache read is needed, else which generation token to read (or create) first.
        base = self.base_key(request, *args, **kwargs)
        if base is None:
            return None
        if not self.vary_on:
            return self._plain_key(base)
        # Varied entries cannot be listed, so invalidation replaces the generation they hang on.
        # Reading or creating the generation is bookkeeping, not a call the view's code made.
        return _GenerationRead(base, self._generation_key(base))

    def _varied_key(self, base: str, request: HttpRequest, generation: Any) -> str:
        logical = "|".join([base, *self.vary_parts(request)])
        digest = _digest(f"{logical}|generation={generation}")
        return labelled_key(self.cache, VIEW, self.owner, logical, digest)

    # -- invalidation ---------------------------------------------------------------------------

    def invalidate(self, *args: Any, request: HttpRequest | None = None, **kwargs: Any) -> bool:
        """Forget every cached variant for these view arguments; ``True`` if one was known."""
        base = self.base_key(request, *args, **kwargs)
        return False if base is None else self.invalidate_key(base)

    def invalidate_key(self, base: str) -> bool:
        """Forget every cached variant stored under ``base`` (what :meth:`base_key` returns)."""
        if self.vary_on:
            return bool(self.cache.delete(self._generation_key(base)))
        return bool(self.cache.delete(self._plain_key(base)))

    # -- what may be cached ---------------------------------------------------------------------

    def _names_user(self) -> bool:
        return VaryPart("user") in self.vary_on

    def reads_user(self) -> bool:
        """Whether the key or the rules need ``request.user`` (to vary on it, or to refuse it)."""
        return self.per_user is not False or self._names_user()

    def _names_session(self) -> bool:
        # The session cookie is the only request part that tells two anonymous sessions apart.
        return VaryPart("header", "cookie") in self.vary_on

    def request_refusal(self, request: HttpRequest, *args: Any, **kwargs: Any) -> str | None:
        """Why this request may neither read nor fill the cache, or ``None``."""
        if request.method not in ("GET", "HEAD"):
            return f"{request.method} requests are never cached"
        if self.timeout == 0:
            return "timeout is 0"
        if self.per_user is False or self._names_user():
            return None
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            return "the user is authenticated and the key does not vary on the user"
        if "authorization" in request.headers and VaryPart("header", "authorization") not in (
            self.vary_on
        ):
            return "the request has an Authorization header and the key does not vary on it"
        return None

    def response_refusal(self, request: HttpRequest, response: HttpResponseBase) -> str | None:
        """Why this response may not be stored, or ``None`` (the request rules come first)."""
        # Read before request_refusal, which may load the user and so touch the session itself.
        read_session = session_accessed(request)
        refusal = self.request_refusal(request)
        if refusal is not None:
            return refusal
        if request.method == "HEAD":
            return "HEAD responses are served from the GET entry but never stored"
        if response.status_code != 200:
            return f"status {response.status_code} is not 200"
        if response.streaming:
            return "streaming responses are never cached"
        if response.cookies or "set-cookie" in response.headers:
            return "the response sets cookies"
        for directive in HEADER_LIST_SEPARATOR.split(response.headers.get("Cache-Control", "")):
            name = directive.split("=", 1)[0].strip().lower()
            if name in REFUSED_CACHE_CONTROL:
                return f"the response says Cache-Control: {name}"
        refusal = self._vary_refusal(response)
        if refusal is not None:
            return refusal
        # get_token() sets this flag (Django >= 4.1): the page embeds this visitor's CSRF token.
        if request.META.get("CSRF_COOKIE_NEEDS_UPDATE"):
            return "the response used the CSRF token"
        # What SessionMiddleware turns into "Vary: Cookie" after the decorator has returned: the
        # page may show this visitor's session data (a basket, messages, the logged-in user).
        if read_session and not self._names_session():
            return (
                "the view read the session (or loaded the user from it) and the key does not"
                " vary on header:Cookie"
            )
        return None

    def _vary_refusal(self, response: HttpResponseBase) -> str | None:
        covered = {part.name for part in self.vary_on if part.kind == "header"}
        if self._names_user() or self.per_user is False:
            covered |= {"cookie", "authorization"}
        if VaryPart("language") in self.vary_on:
            covered.add("accept-language")
        for header in HEADER_LIST_SEPARATOR.split(response.headers.get("Vary", "")):
            header = header.strip().lower()
            if header == "*":
                return "the response says Vary: *"
            if header and header not in covered:
                return f"the response varies on {header}, which the key does not"
        return None

    def refusal(self, request: HttpRequest, response: HttpResponseBase | None = None) -> str | None:
        """Why the request (and, if given, the response) may not be cached, or ``None``."""
        if response is None:
            return self.request_refusal(request)
        return self.response_refusal(request, response)

    def is_cacheable(self, request: HttpRequest, response: HttpResponseBase) -> bool:
        """Whether ``response`` to ``request`` would be stored."""
        return self.response_refusal(request, response) is None

    # -- payload --------------------------------------------------------------------------------

    def to_payload(self, response: HttpResponseBase) -> dict[str, Any]:
        """A small dict of plain types (never a pickled response): status, body, safe headers."""
        assert isinstance(response, HttpResponse)
        headers = [
            [name, value]
            for name, value in response.headers.items()
            if name.lower() not in UNSTORED_HEADERS
        ]
        # latin-1 maps every byte to one character, so the body survives a JSON serializer.
        return {
            "version": PAYLOAD_VERSION,
            "status": response.status_code,
            "body": response.content.decode("latin-1"),
            "headers": headers,
        }

    @staticmethod
    def from_payload(payload: Any) -> HttpResponse | None:
        if not isinstance(payload, dict) or payload.get("version") != PAYLOAD_VERSION:
            return None
        response = HttpResponse(payload["body"].encode("latin-1"), status=payload["status"])
        for name, value in payload["headers"]:
            response.headers[name] = value
        return response


def session_accessed(request: HttpRequest) -> bool:
    """Whether ``request.session`` was read or written (Django's ``SessionBase.accessed``)."""
    return bool(getattr(getattr(request, "session", None), "accessed", False))


@contextmanager
def watching_session(request: HttpRequest) -> Iterator[None]:
    """Within the block, ``request.session.accessed`` tells whether the block touched it.

    ``cached_view`` loads the user (which reads the session) before it runs the view, and a
    middleware may have read the session too; neither makes the page depend on the session.
    So the flag is cleared for the block, and afterwards set back to "accessed before or
    during", which is what SessionMiddleware then sees: its ``Vary: Cookie`` is unchanged.
    """
    session = getattr(request, "session", None)
    if session is None or not hasattr(session, "accessed"):
        yield
        return
    before = bool(session.accessed)
    session.accessed = False
    try:
        yield
    finally:
        session.accessed = before or bool(session.accessed)


def render_if_needed(response: HttpResponseBase) -> HttpResponseBase:
    # A TemplateResponse renders after the view returns; its content is needed now.
    if isinstance(response, SimpleTemplateResponse) and not response.is_rendered:
        response.render()
    return response
