from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def key_url(urls: dict[str, str], ref: str) -> str:
    """The admin link recorded for a call's or row's ``ref`` (alias NUL key), or ""."""
    return urls.get(ref, "")


@register.filter
def percent(value: float | None) -> str:
    """A ratio as the admin shows it: ``0.8123`` -> ``81.2%``; ``None`` -> an en dash."""
    return "\u2013" if value is None else f"{value:.1%}"
