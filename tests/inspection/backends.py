"""Backend classes the registry tests configure by dotted path."""

from __future__ import annotations

from typing import Any

from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.locmem import LocMemCache


class TunedLocMemCache(LocMemCache):
    """A subclass of a known backend: it must be inspected like its parent."""


class HomeMadeCache(BaseCache):
    """A backend the inspection layer does not know."""

    def __init__(self, location: str, params: dict[str, Any]) -> None:
        super().__init__(params)


class ExplodingCache(BaseCache):
    """A backend whose constructor fails."""

    def __init__(self, location: str, params: dict[str, Any]) -> None:
        raise RuntimeError("the config server is down")


def slash_key(key: str, key_prefix: str, version: int) -> str:
    return f"{key_prefix}/{version}/{key}"
