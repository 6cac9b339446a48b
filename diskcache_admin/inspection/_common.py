"""Helpers the adapters share: cursors, keys, matching, batches, values, locations, messages."""

from __future__ import annotations

import base64
import binascii
import collections
import dataclasses
import enum
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


# A version as Django's default key function writes it: ``str()`` of an int, so no sign on
# zero, no leading zeros, ASCII digits only (``int()`` would also take " 1", "01", "1_0" and
# non-ASCII digits).
VERSION_TEXT: Final = "0|-?[1-9][0-9]*"
_VERSION = re.compile(VERSION_TEXT)


def split_key(cache: BaseCache, raw_key: str) -> tuple[str, str | None, int | None]:
    """``(user key, prefix, version)`` of a made key.

    Only Django's default key function can be reversed; with any other the raw key is shown
    as it is, with prefix and version unknown. So is a key whose version part is not one the
    key function writes (see :data:`VERSION_TEXT`).
    """
    if cache.key_func is not default_key_func:
        return raw_key, None, None
    prefix = str(cache.key_prefix)
    if not raw_key.startswith(prefix + ":"):
        return raw_key, None, None
    version, separator, user_key = raw_key[len(prefix) + 1 :].partition(":")
    if not separator or not _VERSION.fullmatch(version):
        return raw_key, None, None
    return user_key, prefix, int(version)


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


# -- previews --------------------------------------------------------------------------------
#
# A preview is built by a walker of our own, under a budget, and never by ``repr()`` or
# ``json.dumps()`` of the whole value: a value of 136 bytes can hold lists shared 2**20 times,
# which those expand in full. The walker
# - stops at ``limit`` characters of output ("size"), after PREVIEW_PARTS visited parts
#   ("parts"), and shows containers nested deeper than PREVIEW_DEPTH as ``[…]`` ("depth");
# - runs no code of the value's own classes: builtin containers are walked through the base
#   type's C methods, a few standard-library types whose repr is known to be bounded are shown
#   by it, and any other object as its class and its instance attributes (``Class(a=1)``),
#   never by its ``__repr__``, ``__str__`` or properties. A ``__repr__`` that loops cannot be
#   interrupted from inside the thread, so it is not called at all.
# - catches everything a user object could still raise (``Exception``, ``SystemExit``,
#   ``GeneratorExit``); ``KeyboardInterrupt`` is left alone, because it means the operator
#   pressed Ctrl-C (``cache get``) and must stop the command.

PREVIEW_DEPTH: Final = 32
PREVIEW_PARTS: Final = 100_000
# An int of more bits is shown by size: its decimal form is slow to build and Python refuses
# it beyond 4,300 digits anyway.
PREVIEW_INT_BITS: Final = 4096 * 3

_type_qualname = type.__dict__["__qualname__"]
_type_module = type.__dict__["__module__"]
_type_dict = type.__dict__["__dict__"]
_type_mro = type.__dict__["__mro__"]
_GETSET = type(_type_qualname)
# Builtin containers, walked through the base type's own methods (a subclass's overrides
# never run), with the brackets Python's repr uses.
_CONTAINERS: Final[tuple[tuple[Any, str, str], ...]] = (
    (list, "[", "]"),
    (tuple, "(", ")"),
    (dict, "{", "}"),
    (set, "{", "}"),
    (frozenset, "{", "}"),
)


class _Stop(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _NotJson(Exception):
    pass


def _safe_type_name(cls: type) -> str:
    """``module.Qualname`` of a class read from ``type``'s own slots (no metaclass code)."""
    try:
        qualname = _type_qualname.__get__(cls)
        module = _type_module.__get__(cls)
    except Exception:
        return "?"
    qualname = qualname if type(qualname) is str else "?"
    if type(module) is not str or module == "builtins":
        return qualname
    return f"{module}.{qualname}"


def _safe_repr_types() -> tuple[type, ...]:
    import datetime
    import decimal
    import fractions
    import ipaddress
    import pathlib
    import uuid

    return (
        datetime.date,
        datetime.datetime,
        datetime.time,
        datetime.timedelta,
        datetime.timezone,
        decimal.Decimal,
        fractions.Fraction,
        uuid.UUID,
        pathlib.PurePosixPath,
        pathlib.PureWindowsPath,
        pathlib.PosixPath,
        pathlib.WindowsPath,
        ipaddress.IPv4Address,
        ipaddress.IPv6Address,
        ipaddress.IPv4Network,
        ipaddress.IPv6Network,
        range,
        slice,
        complex,
        type(Ellipsis),
        type(NotImplemented),
    )


_SAFE_REPR: Final = frozenset(_safe_repr_types())


def _instance_dict(value: object) -> dict[Any, Any] | None:
    """The instance ``__dict__``, only when it is the plain one ``object`` provides."""
    try:
        for klass in _type_mro.__get__(type(value)):
            descriptor = _type_dict.__get__(klass).get("__dict__")
            if descriptor is None:
                continue
            if type(descriptor) is not _GETSET:
                return None  # a class-level __dict__ property: user code, not read
            found = descriptor.__get__(value)
            return found if type(found) is dict else None
    except Exception:
        return None
    return None


class _Walker:
    """Writes one value's preview into ``parts``; raises _Stop at a budget, _NotJson in JSON."""

    def __init__(self, limit: int, json_mode: bool) -> None:
        self.limit = limit
        self.json_mode = json_mode
        self.parts: list[str] = []
        self.length = 0
        self.visited = 0
        self.deepest_cut = False
        self.path: set[int] = set()

    def write(self, text: str) -> None:
        room = self.limit - self.length
        if len(text) > room:
            self.parts.append(text[:room])
            self.length = self.limit
            raise _Stop("size")
        self.parts.append(text)
        self.length += len(text)

    def visit(self) -> None:
        self.visited += 1
        if self.visited > PREVIEW_PARTS:
            raise _Stop("parts")

    def room(self) -> int:
        return self.limit - self.length + 1

    def cut_deep(self, depth: int, elided: str) -> bool:
        """At PREVIEW_DEPTH, write ``elided`` in place of the value's parts and say so."""
        if depth < PREVIEW_DEPTH:
            return False
        self.deepest_cut = True
        self.write(elided)
        return True

    # -- JSON: only exact dict/list/str/int/float/bool/None, like json.dumps(indent=2) -----

    def json(self, value: object, depth: int) -> None:
        self.visit()
        cls = type(value)
        if value is None:
            self.write("null")
        elif cls is bool:
            self.write("true" if value else "false")
        elif cls is int:
            self.write(self.int_text(value))  # type: ignore[arg-type]
        elif cls is float:
            if value != value or value in (float("inf"), float("-inf")):
                raise _NotJson
            self.write(float.__repr__(value))
        elif cls is str:
            self.write(self.json_string(value))  # type: ignore[arg-type]
        elif cls is list or cls is dict:
            self.json_container(value, depth)  # type: ignore[arg-type]
        else:
            raise _NotJson

    def json_string(self, text: str) -> str:
        return json.dumps(text[: self.room()], ensure_ascii=False)

    def json_container(self, value: list[Any] | dict[Any, Any], depth: int) -> None:
        if id(value) in self.path:
            raise _NotJson  # json.dumps refuses cycles
        is_dict = type(value) is dict
        opening, closing = ("{", "}") if is_dict else ("[", "]")
        if not value:
            self.write(opening + closing)
            return
        if self.cut_deep(depth, f"{opening}…{closing}"):
            return
        self.path.add(id(value))
        inner = "\n" + "  " * (depth + 1)
        self.write(opening)
        items: Iterator[Any] = (
            iter(dict.items(value)) if is_dict else iter(list.__iter__(value))  # type: ignore[arg-type]
        )
        first = True
        for item in items:
            self.write(inner if first else "," + inner)
            first = False
            if is_dict:
                key, item_value = item
                if type(key) is not str:
                    raise _NotJson
                self.visit()
                self.write(self.json_string(key) + ": ")
                self.json(item_value, depth + 1)
            else:
                self.json(item, depth + 1)
        self.write("\n" + "  " * depth + closing)
        self.path.discard(id(value))

    # -- repr style --------------------------------------------------------------------------

    @staticmethod
    def int_text(value: int) -> str:
        bits = int.bit_length(value)
        if bits > PREVIEW_INT_BITS:
            return f"<int of {bits:,} bits>"
        return int.__repr__(value)

    def repr(self, value: object, depth: int) -> None:
        self.visit()
        cls = type(value)
        if value is None or cls is bool:
            self.write("True" if value is True else "False" if value is False else "None")
        elif cls is int:
            self.write(self.int_text(value))  # type: ignore[arg-type]
        elif cls is float:
            self.write(float.__repr__(value))
        elif cls is str:
            self.write(str.__repr__(value[: self.room()]))  # type: ignore[index]
        elif cls is bytes:
            self.write(bytes.__repr__(value[: self.room()]))  # type: ignore[index]
        elif cls is bytearray:
            self.write(bytearray.__repr__(value[: self.room()]))  # type: ignore[index]
        elif cls in _SAFE_REPR:
            self.write(repr(value))
        else:
            self.structure(value, cls, depth)

    def structure(self, value: object, cls: type, depth: int) -> None:
        name = _safe_type_name(cls)
        found = next(
            (entry for entry in _CONTAINERS if issubclass(cls, entry[0])),
            None,
        )
        if found is None:
            if issubclass(cls, collections.deque):
                self.wrapped(name, "[", "]", value, collections.deque.__iter__, depth)
            elif issubclass(cls, enum.Enum):
                self.enum(name, value, depth)
            else:
                self.instance(name, value, depth)
            return
        base, opening, closing = found
        if base is tuple:
            fields = self.namedtuple_fields(cls, value)
            if fields is not None:
                self.write(name + "(")
                self.items(
                    zip(fields, tuple.__iter__(value), strict=True),  # type: ignore[arg-type]
                    depth,
                    keyword=True,
                )
                self.write(")")
                return
        plain = cls is base
        if base in (set, frozenset) and not base.__len__(value):
            self.write(f"{name}()")
            return
        if plain and base is not frozenset:
            self.container(opening, closing, value, base, depth)
        else:
            self.write(name + "(")
            self.container(opening, closing, value, base, depth)
            self.write(")")

    @staticmethod
    def namedtuple_fields(cls: type, value: object) -> tuple[str, ...] | None:
        try:
            for klass in _type_mro.__get__(cls):
                fields = _type_dict.__get__(klass).get("_fields")
                if fields is not None:
                    break
            else:
                return None
        except Exception:
            return None
        if (
            type(fields) is tuple
            and all(type(f) is str for f in fields)
            and len(fields) == tuple.__len__(value)  # type: ignore[arg-type]
        ):
            return fields
        return None

    def container(self, opening: str, closing: str, value: Any, base: Any, depth: int) -> None:
        if id(value) in self.path:
            self.write(f"{opening}...{closing}")  # a cycle, written as Python does
            return
        if base.__len__(value) and self.cut_deep(depth, f"{opening}…{closing}"):
            return
        self.path.add(id(value))
        self.write(opening)
        if base is dict:
            self.items(iter(dict.items(value)), depth, keyword=False)
        else:
            count = self.sequence(iter(base.__iter__(value)), depth)
            if base is tuple and count == 1:
                self.write(",")
        self.write(closing)
        self.path.discard(id(value))

    def wrapped(
        self, name: str, opening: str, closing: str, value: Any, iterate: Any, depth: int
    ) -> None:
        self.write(name + "(" + opening)
        if id(value) in self.path:
            self.write("...")
        elif not self.cut_deep(depth, "…"):
            self.path.add(id(value))
            self.sequence(iter(iterate(value)), depth)
            self.path.discard(id(value))
        self.write(closing + ")")

    def sequence(self, items: Iterator[Any], depth: int) -> int:
        count = 0
        for item in items:
            if count:
                self.write(", ")
            self.repr(item, depth + 1)
            count += 1
        return count

    def items(self, pairs: Iterator[tuple[Any, Any]], depth: int, *, keyword: bool) -> None:
        first = True
        for key, item in pairs:
            if not first:
                self.write(", ")
            first = False
            if keyword and type(key) is str and key.isidentifier():
                self.visit()
                self.write(key + "=")
            else:
                self.repr(key, depth + 1)
                self.write(": ")
            self.repr(item, depth + 1)

    def enum(self, name: str, value: object, depth: int) -> None:
        attributes = _instance_dict(value) or {}
        member = attributes.get("_name_")
        self.write(f"<{name}.{member if type(member) is str else '?'}: ")
        self.repr(attributes.get("_value_"), depth + 1)
        self.write(">")

    def instance(self, name: str, value: object, depth: int) -> None:
        attributes = _instance_dict(value)
        if not attributes:
            self.write(f"<{name} object>")
            return
        if id(value) in self.path:
            self.write(f"{name}(...)")
            return
        if self.cut_deep(depth, f"{name}(…)"):
            return
        self.path.add(id(value))
        self.write(name + "(")
        self.items(iter(dict.items(attributes)), depth, keyword=True)
        self.write(")")
        self.path.discard(id(value))


def _walk(value: object, limit: int, json_mode: bool) -> tuple[str, str]:
    walker = _Walker(limit, json_mode)
    stopped = ""
    try:
        if json_mode:
            walker.json(value, 0)
        else:
            walker.repr(value, 0)
    except _Stop as stop:
        stopped = stop.reason
    if not stopped and walker.deepest_cut:
        stopped = "depth"
    return "".join(walker.parts), stopped


def bounded_text(value: object, limit: int) -> tuple[str, str]:
    """``(text, stopped)``: pretty JSON when the value is plain JSON data (and not a string),
    else a repr-style text; ``stopped`` names the budget that cut it ("" when none did).

    The CLI and the admin share it; see the comment above for the budgets and what runs.
    """
    limit = max(limit, 0)
    try:
        if type(value) is not str:
            try:
                return _walk(value, limit, json_mode=True)
            except _NotJson:
                pass
        return _walk(value, limit, json_mode=False)
    # The walker runs no code of the value's classes, but a C-level surprise in a value
    # rebuilt from a store must not escape into the page or the command. KeyboardInterrupt
    # is deliberately not caught (see above).
    except (Exception, SystemExit, GeneratorExit) as exc:
        name = _safe_type_name(type(value))
        return f"<{name} object; no preview ({_safe_type_name(type(exc))})>", ""


def render_value(value: object, limit: int = 64 * 1024) -> str:
    """Pretty JSON when the value is JSON data, else a repr-style text, at most ``limit`` chars."""
    return bounded_text(value, limit)[0]


def preview_of(value: object, limit: int, size: int | None) -> ValuePreview:
    """The preview of a decoded value, built under a budget (see :func:`bounded_text`)."""
    text, stopped = bounded_text(value, limit)
    return ValuePreview(
        found=True,
        type_name=_safe_type_name(type(value)),
        text=text,
        truncated=bool(stopped),
        size=size,
        stopped=stopped,
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
