"""Backend classes the registry tests configure by dotted path."""

from __future__ import annotations

import types
from typing import Any

from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.memcached import BaseMemcachedCache
from django.core.cache.backends.redis import RedisCache


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


class ExplodingRedisCache(RedisCache):
    """A Redis backend whose constructor fails: broken, but still of the Redis kind."""

    def __init__(self, location: str, params: dict[str, Any]) -> None:
        raise RuntimeError("no Redis for you")


class _IdleClient:
    """A memcached client that never connects (Django builds it to close it)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def disconnect_all(self) -> None:
        pass


class OtherClientMemcache(BaseMemcachedCache):
    """A memcached backend on a client library the memcached adapter does not speak."""

    def __init__(self, location: str, params: dict[str, Any]) -> None:
        library = types.SimpleNamespace(Client=_IdleClient)
        super().__init__(location, params, library=library, value_not_found_exception=ValueError)


def slash_key(key: str, key_prefix: str, version: int) -> str:
    return f"{key_prefix}/{version}/{key}"


class NoConnectionClient:
    """A django-redis CLIENT_CLASS with no single connection (like a sharding client)."""

    def __init__(self, server: Any, params: Any, backend: Any) -> None:
        pass

    def close(self, **kwargs: Any) -> None:
        pass
