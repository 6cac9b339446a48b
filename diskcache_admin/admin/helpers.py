"""Formatting, key encoding and permission helpers shared by the admin views."""

from __future__ import annotations

import base64
import binascii
import datetime
import re
import unicodedata

from django.core.exceptions import PermissionDenied
from django.db.models import Model
from django.http import Http404, HttpRequest
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.timesince import timesince, timeuntil
from django.utils.translation import gettext, gettext_lazy, ngettext

from ..inspection import Capability

APP = "diskcache_admin"
VIEW_STATS = "view_cache_stats"
VIEW_KEYS = "view_cache_keys"
VIEW_VALUES = "view_cache_values"
DELETE_KEYS = "delete_cache_keys"
CLEAR = "clear_cache"
MAINTAIN = "maintain_cache"
ALL_PERMISSIONS = (VIEW_STATS, VIEW_KEYS, VIEW_VALUES, DELETE_KEYS, CLEAR, MAINTAIN)

CAPABILITY_LABELS: dict[Capability, Promise] = {
    Capability.STATS: gettext_lazy("stats"),
    Capability.HIT_STATS: gettext_lazy("hits/misses"),
    Capability.LIST_KEYS: gettext_lazy("list keys"),
    Capability.SEARCH: gettext_lazy("search"),
    Capability.KEY_INFO: gettext_lazy("key metadata"),
    Capability.PEEK: gettext_lazy("values"),
    Capability.SET: gettext_lazy("set"),
    Capability.DELETE: gettext_lazy("delete"),
    Capability.TOUCH: gettext_lazy("touch"),
    Capability.CLEAR: gettext_lazy("clear"),
    Capability.FLUSH_DB: gettext_lazy("flush database"),
    Capability.EXPIRE: gettext_lazy("expire"),
    Capability.EVICT_TAG: gettext_lazy("evict tag"),
    Capability.CULL: gettext_lazy("cull"),
    Capability.RESET_STATS: gettext_lazy("reset stats"),
    Capability.CHECK: gettext_lazy("check"),
    Capability.HISTOGRAMS: gettext_lazy("charts"),
    Capability.SNAPSHOTS: gettext_lazy("snapshots"),
    Capability.INSIGHT: gettext_lazy("key activity"),
    Capability.RESET_INSIGHT: gettext_lazy("reset key activity"),
}


class ReadOnlyAdmin:
    """A ``ModelAdmin`` mixin (put it first) under which nobody adds, changes or deletes.

    Superusers included: Django's own checks would let them. The view permission stays the
    ``ModelAdmin``'s own, so each admin says who may look.
    """

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


def has(request: HttpRequest, *codenames: str) -> bool:
    return all(request.user.has_perm(f"{APP}.{codename}") for codename in codenames)


def has_any(request: HttpRequest) -> bool:
    return any(request.user.has_perm(f"{APP}.{codename}") for codename in ALL_PERMISSIONS)


def require_permissions(request: HttpRequest, *codenames: str) -> None:
    """403 unless the user holds every one of ``codenames`` (superusers hold all)."""
    if not has(request, *codenames):
        raise PermissionDenied


# A key of 10 KB (what the key browser must open) is a token of 13,654 characters.
MAX_TOKEN = 20_000
_TOKEN = re.compile(r"[A-Za-z0-9_-]*")


def encode_key(raw_key: str) -> str:
    """A URL-safe token for a stored key: base64url of its UTF-8 bytes, without padding.

    Raises ``UnicodeEncodeError`` for a key with a lone surrogate (only LocMemCache can hold
    one): such a key has no token, so no page opens it (see :func:`token_for`).
    """
    data = raw_key.encode("utf-8")
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def token_for(raw_key: str) -> str | None:
    """The token of ``raw_key``, or None when the key is not valid Unicode text."""
    try:
        return encode_key(raw_key)
    except UnicodeEncodeError:
        return None


def key_from_token(token: str) -> str | None:
    """The stored key a token names, or None when it is not a token :func:`encode_key` makes.

    Strict: only the base64url alphabet, no padding, bytes that are valid UTF-8 (so no lone
    surrogate reaches a backend), and the canonical spelling (one key, one token).
    """
    if len(token) > MAX_TOKEN or not _TOKEN.fullmatch(token):
        return None
    try:
        data = base64.b64decode(token + "=" * (-len(token) % 4), altchars=b"-_", validate=True)
        raw_key = data.decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return raw_key if encode_key(raw_key) == token else None


def decode_key(token: str) -> str:
    """The stored key of a token in a URL path; 404 when it is not a valid token."""
    raw_key = key_from_token(token)
    if raw_key is None:
        raise Http404(gettext("Not a valid key token."))
    return raw_key


def display_key(key: str) -> str:
    """The text with control, bidi and other invisible characters shown as escapes.

    The one escaping function of the admin: keys, families, tags and chart labels all go
    through it, so what a page shows cannot reorder or hide the text around it.
    """
    if key.isprintable():
        return key
    return "".join(char if char.isprintable() or char == " " else _escape(char) for char in key)


def _escape(char: str) -> str:
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def quoted(text: str, limit: int = 200) -> str:
    """``text`` in quotes for a message, cut and with invisible characters escaped."""
    return f"“{short(display_key(text), limit)}”"


def short(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def count(number: int | None) -> str:
    return "—" if number is None else f"{number:,}"


def size(number: int | None) -> str:
    return "—" if number is None else str(filesizeformat(number))


def ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def amount(entries: int | None, nbytes: int | None) -> str:
    """ "12,408 entries, 31.2 MB" with whatever the backend could tell."""
    parts = []
    if entries is not None:
        parts.append(
            ngettext("{count} entry", "{count} entries", entries).format(count=f"{entries:,}")
        )
    if nbytes is not None:
        parts.append(size(nbytes))
    return ", ".join(parts) if parts else gettext("an unknown number of entries")


def moment(epoch: float | None) -> str:
    if epoch is None:
        return ""
    when = datetime.datetime.fromtimestamp(epoch, tz=datetime.timezone.utc)
    return timezone.localtime(when).strftime("%Y-%m-%d %H:%M:%S")


def relative(epoch: float | None) -> str:
    if epoch is None:
        return ""
    when = datetime.datetime.fromtimestamp(epoch, tz=datetime.timezone.utc)
    now = timezone.now()
    if abs((when - now).total_seconds()) < 60:
        return gettext("just now") if when <= now else gettext("within a minute")
    if when >= now:
        return gettext("in {duration}").format(duration=timeuntil(when, now, depth=1))
    return gettext("{duration} ago").format(duration=timesince(when, now, depth=1))


# Characters that reorder the text around them (bidi embeddings, overrides, isolates, marks).
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)


def safe_text(text: str) -> str:
    """A value preview fit for a page: control characters (but tab and newlines) and bidi
    controls escaped as :func:`display_key` escapes them; other text, emoji joiners included,
    kept as it is (a preview shows data, where a key name shows every invisible character)."""
    return "".join(
        _escape(char)
        if char in BIDI_CONTROLS or (char not in "\t\n\r" and unicodedata.category(char) == "Cc")
        else char
        for char in text
    )
