"""Helpers the adapters share: cursors, keys, matching, batches, values, locations, messages."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import fnmatch
import json
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Final, TypeVar
from urllib.parse import urlsplit, urlunsplit

from django.core.cache.backends.base import BaseCache, default_key_func

from ..engine import family_of
from .base import Adapter, InspectionError, KeyInfo, KeyPage, KeyQuery, ValuePreview

T = TypeVar("T")

# Values whose stored form is larger than this are not decoded for a preview at all: showing
# 64 KiB of a 500 MiB object is not worth materialising it in the web process.
DECODE_LIMIT: Final = 16 * 1024 * 1024

# Sorts "never expires" after every expiry time, like the DiskCache index does.
NEVER: Final = 1e300


# -- cursors ---------------------------------------------------------------------------------


def encode_cursor(*parts: Any) -> str:
    text = json.dumps(parts, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, length: int) -> list[Any]:
    """The parts of a cursor made by :func:`encode_cursor`; InspectionError if it is not one."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        parts = json.loads(text)
    except (binascii.Error, ValueError) as exc:
        raise InspectionError("The page cursor is not valid; start from the first page.") from exc
    if not isinstance(parts, list) or len(parts) != length:
        raise InspectionError("The page cursor is not valid; start from the first page.")
    return parts


def keyset_after(kind: str, query: KeyQuery) -> tuple[Any, Any] | None:
    """The ``(sort value, position)`` the query's keyset cursor resumes after; None: page 1."""
    if not query.cursor:
        return None
    cursor_kind, order, descending, value, position = decode_cursor(query.cursor, 5)
    if (cursor_kind, order, descending) != (kind, query.order, query.descending):
        raise InspectionError("The page cursor belongs to another listing; start again.")
    return value, position


def keyset_cursor(kind: str, query: KeyQuery, value: Any, position: Any) -> str:
    """The cursor of the page after ``(value, position)`` in this listing's order."""
    return encode_cursor(kind, query.order, query.descending, value, position)


# -- keys ------------------------------------------------------------------------------------


def split_key(cache: BaseCache, raw_key: str) -> tuple[str, str | None, int | None]:
    """``(user key, prefix, version)`` of a made key.

    Only Django's default key function can be reversed; with any other the raw key is shown
    as it is, with prefix and version unknown.
    """
    if cache.key_func is not default_key_func:
        return raw_key, None, None
    prefix = str(cache.key_prefix)
    if not raw_key.startswith(prefix + ":"):
        return raw_key, None, None
    version, separator, user_key = raw_key[len(prefix) + 1 :].partition(":")
    try:
        number = int(version)
    except ValueError:
        return raw_key, None, None
    if not separator:
        return raw_key, None, None
    return user_key, prefix, number


def key_info_for(cache: BaseCache, raw_key: str, **fields: Any) -> KeyInfo:
    user_key, prefix, version = split_key(cache, raw_key)
    return KeyInfo(
        key=user_key,
        raw_key=raw_key,
        prefix=prefix,
        version=version,
        family=family_of(user_key),
        **fields,
    )


def glob_match(pattern: str, text: str) -> bool:
    """Case-sensitive glob: ``*``, ``?``, ``[abc]``, and ``[^abc]`` or ``[!abc]`` to negate."""
    return fnmatch.fnmatchcase(text, pattern.replace("[^", "[!"))


def query_matches(query: KeyQuery, info: KeyInfo, now: float) -> bool:
    """Whether ``info`` passes every condition of ``query`` (for adapters that filter in Python)."""
    key = info.key
    if query.search:
        if query.match == "prefix" and not key.startswith(query.search):
            return False
        if query.match == "glob" and not glob_match(query.search, key):
            return False
        if query.match == "substring" and query.search not in key:
            return False
    if query.family is not None and info.family != query.family:
        return False
    if query.tag is not None and info.tag != query.tag:
        return False
    if query.expired is not None:
        expired = info.expires is not None and info.expires <= now
        if expired != query.expired:
            return False
    return not any(p and key.startswith(p) for p in query.exclude_prefixes)


def sort_value(info: KeyInfo, order: str) -> Any:
    if order == "key":
        return info.key
    if order == "size":
        return -1 if info.size is None else info.size
    if order == "stored":
        return 0.0 if info.stored is None else info.stored
    return NEVER if info.expires is None else info.expires


def page_in_memory(kind: str, infos: Iterable[KeyInfo], query: KeyQuery, now: float) -> KeyPage:
    """Keyset-paginate keys held in memory: ordered by ``(sort value, raw key)``."""
    selected = [info for info in infos if query_matches(query, info, now)]

    def pair(info: KeyInfo) -> tuple[Any, str]:
        return sort_value(info, query.order), info.raw_key

    selected.sort(key=pair, reverse=query.descending)
    after = keyset_after(kind, query)
    if after is not None:
        if query.descending:
            selected = [info for info in selected if pair(info) < after]
        else:
            selected = [info for info in selected if pair(info) > after]
    keys = selected[: query.limit]
    more = len(selected) > query.limit
    cursor = None
    if more and keys:
        cursor = keyset_cursor(kind, query, *pair(keys[-1]))
    return KeyPage(keys, cursor)


def iter_pages(fetch: Any, query: KeyQuery) -> Iterator[KeyInfo]:
    """Every key of a paginated listing, one page at a time (``fetch`` is ``adapter.keys``)."""
    while True:
        page: KeyPage = fetch(query)
        yield from page.keys
        if page.next_cursor is None:
            return
        query = dataclasses.replace(query, cursor=page.next_cursor)


def chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """``items`` in lists of at most ``size``, drawn lazily (a scan can feed deletes as it goes)."""
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


# -- values ----------------------------------------------------------------------------------


def type_name(value: object) -> str:
    cls = type(value)
    if cls.__module__ == "builtins":
        return cls.__qualname__
    return f"{cls.__module__}.{cls.__qualname__}"


def render_value(value: object) -> str:
    """Pretty JSON when the value survives a JSON round trip unchanged, else its ``repr``."""
    try:
        text = json.dumps(value, indent=2, ensure_ascii=False, allow_nan=False)
        if json.loads(text) == value and not isinstance(value, str):
            return text
    except (TypeError, ValueError, RecursionError):
        pass
    try:
        return repr(value)
    except Exception as exc:  # a value's own __repr__ may raise anything
        return f"<{type_name(value)} object; its repr() failed: {exc!r}>"


def preview_of(value: object, limit: int, size: int | None) -> ValuePreview:
    text = render_value(value)
    truncated = len(text) > limit
    return ValuePreview(
        found=True,
        type_name=type_name(value),
        text=text[:limit] if truncated else text,
        truncated=truncated,
        size=size,
    )


def preview_error(message: str, size: int | None, type_name: str = "") -> ValuePreview:
    return ValuePreview(found=True, type_name=type_name, size=size, error=message)


def too_large(size: int) -> InspectionError:
    return InspectionError(
        f"The value is {size:,} bytes, above the {DECODE_LIMIT:,}-byte preview limit;"
        " it was not decoded."
    )


def check_size(size: int | None) -> None:
    """Refuse to decode a value whose stored form is above :data:`DECODE_LIMIT` bytes."""
    if size is not None and size > DECODE_LIMIT:
        raise too_large(size)


def unpickle_error(exc: BaseException) -> str:
    return f"The value cannot be unpickled here ({type(exc).__name__}: {exc})."


def unpickle(loads: Callable[[bytes], Any], payload: bytes) -> Any:
    """``loads(payload)``, or an InspectionError saying why the value cannot be rebuilt here."""
    try:
        return loads(payload)
    # Unpickling runs the stored classes' own code and can raise anything at all.
    except Exception as exc:
        raise InspectionError(unpickle_error(exc)) from exc


# -- locations -------------------------------------------------------------------------------


_QUERY_SECRET = re.compile(r"(?i)([?&](?:password|passwd|pwd|token)=)[^&#]*")


def mask_url(url: str) -> str:
    """``scheme://user:***@host/...``: passwords in the netloc or the query string masked."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if not parts.scheme:
        return url
    if parts.password is not None:
        userinfo, _, hostinfo = parts.netloc.rpartition("@")
        user = userinfo.partition(":")[0]
        parts = parts._replace(netloc=f"{user}:***@{hostinfo}")
    return _QUERY_SECRET.sub(r"\1***", urlunsplit(parts))


def mask_location(location: Any) -> str:
    if isinstance(location, (list, tuple)):
        return ", ".join(mask_url(str(item)) for item in location)
    text = str(location or "")
    if ";" in text or "," in text:
        separator = ";" if ";" in text else ","
        return separator.join(mask_url(item) for item in text.split(separator))
    return mask_url(text)


# -- errors ----------------------------------------------------------------------------------


def no_answer(adapter: Adapter, exc: BaseException) -> str:
    """The message for a cache server that failed to answer (down, refused, timeout, auth)."""
    where = f"{adapter._label()} at {adapter.location()}"
    return f"Cache {adapter.alias!r} ({where}) did not answer: {exc}"
