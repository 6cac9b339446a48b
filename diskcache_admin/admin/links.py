"""Links into the admin for other faces (the debug-toolbar panel links each key it shows)."""

from __future__ import annotations

from django.conf import settings
from django.urls import NoReverseMatch, reverse

from ..inspection import InspectionError, get_adapter
from .helpers import token_for
from .visibility import is_hidden


def key_url(alias: str, key: str, version: int | None = None, site: str = "admin") -> str | None:
    """The key detail page of ``key`` (as the user wrote it), or ``None`` when there is none."""
    if alias not in settings.CACHES or is_hidden(key):
        return None
    try:
        raw_key = get_adapter(alias).make_raw_key(key, version)
        token = token_for(raw_key)
        if token is None:
            return None
        return reverse(f"{site}:diskcache_admin_cache_key", args=(alias, token), current_app=site)
    except (InspectionError, NoReverseMatch):
        return None
