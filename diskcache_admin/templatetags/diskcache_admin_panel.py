from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.filter
def key_url(urls: dict[str, str], call: dict[str, Any]) -> str:
    """The admin link recorded for ``call``'s alias and key, or an empty string."""
    return urls.get(f"{call['alias']}\x00{call['key']}", "")
