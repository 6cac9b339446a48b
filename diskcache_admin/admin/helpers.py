"""Formatting, key encoding and permission helpers shared by the admin views."""

from __future__ import annotations

import base64
import binascii
import datetime
import unicodedata
from collections.abc import Iterable

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.timesince import timesince, timeuntil

from ..conf import conf
from ..inspection.base import Capability

APP = "diskcache_admin"
VIEW_STATS = "view_cache_stats"
VIEW_KEYS = "view_cache_keys"
VIEW_VALUES = "view_cache_values"
DELETE_KEYS = "delete_cache_keys"
CLEAR = "clear_cache"
MAINTAIN = "maintain_cache"
ALL_PERMISSIONS = (VIEW_STATS, VIEW_KEYS, VIEW_VALUES, DELETE_KEYS, CLEAR, MAINTAIN)

CAPABILITY_LABELS: dict[Capability, str] = {
    Capability.STATS: "stats",
    Capability.HIT_STATS: "hits/misses",
    Capability.LIST_KEYS: "list keys",
    Capability.SEARCH: "search",
    Capability.KEY_INFO: "key metadata",
    Capability.PEEK: "values",
    Capability.SET: "set",
    Capability.DELETE: "delete",
    Capability.TOUCH: "touch",
    Capability.CLEAR: "clear",
    Capability.FLUSH_DB: "flush database",
    Capability.EXPIRE: "expire",
    Capability.EVICT_TAG: "evict tag",
    Capability.CULL: "cull",
    Capability.RESET_STATS: "reset stats",
    Capability.CHECK: "check",
    Capability.HISTOGRAMS: "charts",
    Capability.SNAPSHOTS: "snapshots",
}


def has(request: HttpRequest, *codenames: str) -> bool:
    return all(request.user.has_perm(f"{APP}.{codename}") for codename in codenames)


def has_any(request: HttpRequest) -> bool:
    return any(request.user.has_perm(f"{APP}.{codename}") for codename in ALL_PERMISSIONS)


def require_permissions(request: HttpRequest, *codenames: str) -> None:
    """403 unless the user holds every one of ``codenames`` (superusers hold all)."""
    if not has(request, *codenames):
        raise PermissionDenied


def encode_key(raw_key: str) -> str:
    """A URL-safe token for a stored key: base64url of its UTF-8 bytes, without padding."""
    data = raw_key.encode("utf-8", "surrogatepass")
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def decode_key(token: str) -> str:
    try:
        data = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        return data.decode("utf-8", "surrogatepass")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise Http404("Not a valid key token.") from None


def display_key(key: str) -> str:
    """The key as written, with control and other invisible characters shown as escapes."""
    if key.isprintable():
        return key
    return "".join(
        char
        if char.isprintable() or char == " "
        else (f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}")
        for char in key
    )


def short(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def is_hidden(user_key: str, prefixes: Iterable[str] | None = None) -> bool:
    hidden = conf.HIDDEN_PREFIXES if prefixes is None else tuple(prefixes)
    return any(user_key.startswith(prefix) for prefix in hidden)


def user_key_from_raw(raw_key: str) -> str:
    """Best guess of the user key for Django's default ``prefix:version:key`` layout."""
    parts = raw_key.split(":", 2)
    return parts[2] if len(parts) == 3 else raw_key


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
        parts.append(f"{entries:,} {'entry' if entries == 1 else 'entries'}")
    if nbytes is not None:
        parts.append(size(nbytes))
    return ", ".join(parts) if parts else "an unknown number of entries"


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
        return "just now" if when <= now else "within a minute"
    if when >= now:
        return f"in {timeuntil(when, now, depth=1)}"
    return f"{timesince(when, now, depth=1)} ago"


def safe_text(text: str) -> str:
    """Drop characters HTML cannot carry (NUL and other C0 controls except tab and newlines)."""
    return "".join(
        char if char in "\t\n\r" or unicodedata.category(char) != "Cc" else f"\\x{ord(char):02x}"
        for char in text
    )
