"""The one answer to "what kind of backend is this alias?", for every face of the app.

Checks, the adapters, test isolation and the decorators all ask here, so a subclass of a known
backend is treated like its base everywhere (it is judged by its class's MRO, never by the
``BACKEND`` string), and an optional package (django-redis, pymemcache) is never imported just
to be compared against.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from typing import Any

from django.conf import settings
from django.core.cache.backends.base import BaseCache
from django.utils.module_loading import import_string

__all__ = [
    "Kind",
    "aliases_of",
    "backend_class",
    "kind_of",
    "kind_of_alias",
    "kind_of_class",
    "kind_of_config",
]


class Kind(enum.Enum):
    """The families of cache backends this app knows; ``OTHER`` for everything else."""

    DISKCACHE = "diskcache"
    LOCMEM = "locmem"
    FILEBASED = "filebased"
    DATABASE = "database"
    REDIS = "redis"  # django.core.cache.backends.redis.RedisCache
    DJANGO_REDIS = "django_redis"  # django_redis.cache.RedisCache
    MEMCACHED = "memcached"
    DUMMY = "dummy"
    OTHER = "other"

    @property
    def is_redis(self) -> bool:
        """Either Redis backend: they share a server and a key space."""
        return self in (Kind.REDIS, Kind.DJANGO_REDIS)

    @property
    def is_process_local(self) -> bool:
        """The store lives in one process's memory: another process cannot reach it."""
        return self is Kind.LOCMEM

    @property
    def is_on_disk(self) -> bool:
        """The store is a directory of this machine (``LOCATION`` is a path)."""
        return self in (Kind.DISKCACHE, Kind.FILEBASED)


# Most specific first: DiskCache subclasses nothing here, but django-redis and Django's Redis
# backend are unrelated classes, and every Django backend subclasses BaseCache.
_FAMILIES: tuple[tuple[Kind, str], ...] = (
    (Kind.DISKCACHE, "diskcache_admin.backend.DiskCache"),
    (Kind.DJANGO_REDIS, "django_redis.cache.RedisCache"),
    (Kind.REDIS, "django.core.cache.backends.redis.RedisCache"),
    (Kind.MEMCACHED, "django.core.cache.backends.memcached.BaseMemcachedCache"),
    (Kind.LOCMEM, "django.core.cache.backends.locmem.LocMemCache"),
    (Kind.FILEBASED, "django.core.cache.backends.filebased.FileBasedCache"),
    (Kind.DATABASE, "django.core.cache.backends.db.BaseDatabaseCache"),
    (Kind.DUMMY, "django.core.cache.backends.dummy.DummyCache"),
)


def kind_of_class(cls: type) -> Kind:
    """The kind of a backend class, by its MRO (subclasses count as their base)."""
    names = {f"{base.__module__}.{base.__qualname__}" for base in cls.__mro__}
    for kind, dotted in _FAMILIES:
        if dotted in names:
            return kind
    return Kind.OTHER


def kind_of(cache: BaseCache) -> Kind:
    """The kind of a backend instance."""
    return kind_of_class(type(cache))


def backend_class(config: Mapping[str, Any]) -> type | None:
    """The class a ``CACHES`` entry names; None when it cannot be imported or is no class."""
    try:
        cls = import_string(str(config.get("BACKEND", "")))
    # Importing a backend's module runs its code, which may raise anything; Django's own checks
    # report an unimportable BACKEND, and the faces show the alias as broken.
    except Exception:
        return None
    return cls if isinstance(cls, type) else None


def kind_of_config(config: Mapping[str, Any]) -> Kind:
    """The kind of a ``CACHES`` entry, without building the backend (safe in system checks)."""
    cls = backend_class(config)
    return Kind.OTHER if cls is None else kind_of_class(cls)


def kind_of_alias(alias: str) -> Kind:
    """The kind of ``settings.CACHES[alias]``; ``OTHER`` for an alias that does not exist."""
    config = settings.CACHES.get(alias)
    return Kind.OTHER if config is None else kind_of_config(config)


def aliases_of(*kinds: Kind) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(alias, config)`` of every ``CACHES`` entry of one of ``kinds``, in ``CACHES`` order."""
    for alias, config in settings.CACHES.items():
        if kind_of_config(config) in kinds:
            yield alias, config
