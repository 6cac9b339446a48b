"""The cache keys of ``memoize`` and ``cached_view``: a readable label before the hash.

A key reads ``dca.memo:shop.views.price(product=42,currency='EUR'):8cb8…`` or
``dca.view:shop:{slug}[shop:chess|GET:page=2]:6fa9…``: the kind, the *owner* (the memoized
function's dotted name, or the view's key pattern), the label in brackets, then the digest,
which alone keeps keys apart. So the key browser of every backend can search them, show them
and group them (the engine's ``family_of`` ends the family at the bracket: the owner), without
storing anything beside the entry.

Keys stay valid for every Django backend: no space, no control or invisible character (they
are %-escaped, as is ``%`` itself), and at most :data:`MAX_KEY_BYTES` bytes once the cache has
added its ``KEY_PREFIX`` and version and the barrier its ``:lock`` suffix. A label longer than
that is cut and ends with ``…``.
"""

from __future__ import annotations

import datetime
import decimal
import enum
import uuid
from dataclasses import dataclass
from typing import Any, Literal

from django.core.cache.backends.base import BaseCache
from django.db.models import Model

__all__ = [
    "GENERATION",
    "MAX_KEY_BYTES",
    "MEMO",
    "VIEW",
    "Owner",
    "argument_label",
    "escape",
    "labelled_key",
    "owner_of",
]

MEMO = "dca.memo:"
VIEW = "dca.view:"
# Between the label and the digest of a cached view's generation token.
GENERATION = ":gen"
# memcached's limit, the strictest of Django's backends (it counts bytes).
MAX_KEY_BYTES = 250
# Room kept for what is added around our key: ":<version>:" (versions up to 10 digits) and
# the barrier's ":lock".
_AROUND = len(":") + 10 + len(":") + len(":lock")
_DIGEST_LENGTH = 40
# The owner's share of the key: a longer function name or key pattern is cut.
_OWNER_BYTES = 120
_OPENERS = {MEMO: "(", VIEW: "["}
_CLOSERS = {MEMO: ")", VIEW: "]"}
_CUT = "…"
_HEX = "0123456789abcdef"
_NESTING = 3


def escape(text: str, *, extra: str = "") -> str:
    """``text`` with what a key must not hold %-escaped (UTF-8 bytes, like a URL).

    Escaped: ``%``, space, control, format (bidi, zero-width), separator, surrogate and
    unassigned characters, and the characters of ``extra``. Other text, non-ASCII letters
    included, stays as it is, so a key shows what it is about.
    """
    return "".join(
        char if char.isprintable() and char not in " %" and char not in extra else _quote(char)
        for char in text
    )


def _quote(char: str) -> str:
    return "".join(f"%{byte:02X}" for byte in char.encode("utf-8", "surrogatepass"))


def _bounded(text: str, budget: int) -> str:
    # Cut an escaped text at ``budget`` bytes, never inside a %-escape or a character.
    if len(text.encode("utf-8", "surrogatepass")) <= budget:
        return text
    room = budget - len(_CUT.encode("utf-8"))
    out: list[str] = []
    used = 0
    index = 0
    while index < len(text):
        piece = text[index : index + 3] if text[index] == "%" else text[index]
        size = len(piece.encode("utf-8", "surrogatepass"))
        if used + size > room:
            break
        out.append(piece)
        used += size
        index += len(piece)
    return "".join(out) + _CUT if room >= 0 else ""


def labelled_key(
    cache: BaseCache, kind: str, owner: str, label: str, digest: str, *, generation: bool = False
) -> str:
    """``<kind><owner><opener><label><closer>[:gen]:<digest>``, bounded for ``cache``.

    ``owner`` and ``label`` are escaped here; the owner may not hold the opener (nor ``(`` or
    ``[``), so the family (everything before the opener) is the owner exactly.
    """
    tail = (GENERATION if generation else "") + ":" + digest[:_DIGEST_LENGTH]
    head = kind + _bounded(escape(owner, extra="(["), _OWNER_BYTES)
    used = sum(
        len(part.encode("utf-8"))
        for part in (str(cache.key_prefix), head, _OPENERS[kind], _CLOSERS[kind], tail)
    )
    budget = MAX_KEY_BYTES - _AROUND - used
    return f"{head}{_OPENERS[kind]}{_bounded(escape(label), budget)}{_CLOSERS[kind]}{tail}"


_AS_TEXT = (datetime.date, datetime.time, datetime.timedelta, decimal.Decimal, uuid.UUID)


def argument_label(value: Any, depth: int = 0, limit: int = 400) -> str:
    """A short readable text of one argument for a key's label (the digest is the real key).

    It never calls the value's ``repr`` or ``str`` (only those of builtin and standard types),
    and stops at ``limit`` characters and a few levels of nesting.
    """
    if value is None or isinstance(value, (bool, int, float, complex)):
        return repr(value)
    if isinstance(value, str):
        return repr(value[:limit])
    if isinstance(value, bytes):
        return repr(value[:limit])
    if isinstance(value, enum.Enum):
        return f"{type(value).__name__}.{value.name}"
    if isinstance(value, _AS_TEXT):
        return str(value)
    if isinstance(value, Model):
        return f"{value._meta.label_lower}:{value.pk!r}"
    if depth >= _NESTING:
        return "…"
    if isinstance(value, (list, tuple, set, frozenset, dict)):
        # Sets and dicts are sorted: the label, like the digest, must be the same in every
        # process and for equal arguments (a set's order depends on the process's hash salt).
        parts: list[str]
        if isinstance(value, dict):
            opening, closing = "{", "}"
            parts = sorted(
                f"{argument_label(k, depth + 1)}:{argument_label(v, depth + 1)}"
                for k, v in value.items()
            )
        elif isinstance(value, (set, frozenset)):
            opening, closing = "{", "}"
            parts = sorted(argument_label(item, depth + 1) for item in value)
        else:
            opening, closing = ("[", "]") if isinstance(value, list) else ("(", ")")
            parts = []
            length = 0
            for item in value:  # in order, so it can stop early: the text is cut anyway
                if length > limit:
                    parts.append("…")
                    break
                parts.append(argument_label(item, depth + 1))
                length += len(parts[-1]) + 1
        text = opening + ",".join(parts) + closing
        return text if len(text) <= limit else text[: limit - 1] + "…"
    method = getattr(type(value), "__cache_key__", None)
    if callable(method):
        return str(value.__cache_key__())[:limit]
    return type(value).__qualname__


@dataclass(frozen=True)
class Owner:
    """What wrote a key: a memoized function or a cached view (by its key pattern)."""

    kind: Literal["function", "view"]
    name: str  # as it appears in the key (escaped)
    prefix: str  # every key of this owner starts with it (generation tokens included)


def owner_of(user_key: str) -> Owner | None:
    """The function or view a ``memoize``/``cached_view`` key belongs to, or ``None``."""
    for kind, opener in _OPENERS.items():
        if user_key.startswith(kind):
            cut = user_key.find(opener, len(kind))
            digest = user_key.rpartition(":")[2]
            if cut <= len(kind) or len(digest) != _DIGEST_LENGTH or digest.strip(_HEX):
                return None
            name = user_key[len(kind) : cut]
            return Owner("function" if kind == MEMO else "view", name, user_key[: cut + 1])
    return None
