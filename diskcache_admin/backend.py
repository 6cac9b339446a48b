"""``diskcache_admin.backend.DiskCache``: Django's cache API on the sqlite3 engine.

A thin facade: it makes and validates keys like Django's other backends, turns timeouts into
expiry times, derives the signing keys from ``SECRET_KEY`` and leaves the rest to the engine.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.cache.backends.base import (
    DEFAULT_TIMEOUT,
    MEMCACHE_MAX_KEY_LENGTH,
    BaseCache,
    InvalidCacheKey,
)
from django.core.exceptions import ImproperlyConfigured

from . import instrumentation
from .backend_options import DiskCacheOptions, OptionError, parse_options
from .engine import MISSING, Codec, Item, KeyParts, Removal, Stats, Store
from .engine.store import EntryInfo, Problem

# Django's test for keys memcached would reject (django.core.cache.backends.base), compiled
# here: the keys that match, or are too long, go through Django's validate_key for the warning.
_KEY_WARNING_CHARS = re.compile(r"[\x00-\x20\x7f]")

SIGNING_SALT = b"diskcache_admin.backend.DiskCache.signing"

logger = logging.getLogger("diskcache_admin.backend")
# (location, error message) pairs already logged: a broken store is reported once per process,
# not on every read or write of every request.
_logged_read_errors: set[tuple[str, str]] = set()


def signing_keys() -> list[bytes]:
    """HMAC keys derived from SECRET_KEY (signs and verifies) and its fallbacks (verify only)."""
    secrets = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", ())]
    return [
        hashlib.sha256(SIGNING_SALT + b"\x00" + str(secret).encode()).digest() for secret in secrets
    ]


class DiskCache(BaseCache):
    """A Django cache backend storing entries in SQLite (WAL) under ``LOCATION``."""

    def __init__(self, location: str, params: dict[str, Any]) -> None:
        super().__init__(params)
        # A bad configuration is raised on first use, not here: Django's own cache checks build
        # every alias, and raising here would crash `manage.py check` before it could report
        # diskcache_admin.E001/E005 with their hints.
        self._configuration_error: ImproperlyConfigured | None = None
        self.location = os.path.abspath(location) if location else ""
        if not location:
            self._configuration_error = ImproperlyConfigured(
                "DiskCache needs LOCATION: the directory of the cache."
            )
        raw_options: Mapping[str, Any] = params.get("OPTIONS") or {}
        try:
            self.options: DiskCacheOptions = parse_options(raw_options)
        except OptionError as exc:
            self.options = DiskCacheOptions()
            self._configuration_error = ImproperlyConfigured(
                f"CACHES OPTIONS for {location!r}: {exc}"
            )
        # BaseCache's copies, for code that reads them; ours allow None (no limit).
        self._max_entries = self.options.max_entries or 0
        self._cull_frequency = self.options.cull_frequency
        self._store: Store | None = None
        # A subclass that makes or validates keys its own way keeps Django's full path.
        cls = type(self)
        self._plain_keys = (
            cls.make_key is BaseCache.make_key
            and cls.validate_key is BaseCache.validate_key
            and cls.make_and_validate_key is BaseCache.make_and_validate_key
        )

    @property
    def store(self) -> Store:
        """The engine store (created on first use, so building the backend costs nothing)."""
        if self._store is None:
            if self._configuration_error is not None:
                raise self._configuration_error
            opts = self.options
            self._store = Store(
                self.location,
                Codec(signing_keys(), serializer=opts.serializer),
                max_entries=opts.max_entries,
                cull_frequency=opts.cull_frequency,
                size_limit=opts.size_limit,
                eviction_policy=opts.eviction_policy,
                statistics=opts.statistics,
                file_threshold=opts.file_threshold,
                busy_timeout=opts.busy_timeout,
            )
        return self._store

    # -- keys --------------------------------------------------------------------------------

    def _made_key(self, key: Any, version: int | None) -> str:
        """``make_and_validate_key``, without its per-character scan for the usual clean key."""
        if not self._plain_keys:
            return self.make_and_validate_key(key, version=version)
        made: str = self.key_func(
            key, self.key_prefix, self.version if version is None else version
        )
        if len(made) > MEMCACHE_MAX_KEY_LENGTH or _KEY_WARNING_CHARS.search(made):
            self.validate_key(made)  # Django's own code words the CacheKeyWarning
        if not made.isascii():
            try:
                made.encode("utf-8")
            except UnicodeEncodeError:
                # A lone surrogate cannot be stored as SQLite text; escaping it could make two
                # keys collide, so the key is refused like memcached refuses its invalid keys.
                raise InvalidCacheKey(
                    f"Cache key {made!r} contains a lone surrogate, which DiskCache cannot store."
                ) from None
        return made

    def _write_failed(self, exc: sqlite3.Error | OSError) -> None:
        # The exception is re-raised as SQLite or the OS raised it (callers may catch it); the
        # log names the store, once per kind of failure, so that a full disk is not a flood.
        marker = (self.location, f"write: {type(exc).__name__}: {exc}")
        if marker not in _logged_read_errors:
            _logged_read_errors.add(marker)
            logger.error(
                "DiskCache at %s could not store a write (%s: %s); it was rolled back and"
                " changed nothing.",
                self.location,
                type(exc).__name__,
                exc,
            )

    def _read_failed(self, exc: sqlite3.DatabaseError) -> None:
        """A read hit a corrupt or unreadable database: log it once, and serve a miss."""
        marker = (self.location, str(exc))
        if marker not in _logged_read_errors:
            _logged_read_errors.add(marker)
            logger.error(
                "DiskCache at %s could not be read (%s: %s); reads are misses until it is"
                " repaired (manage.py check, or delete the directory).",
                self.location,
                type(exc).__name__,
                exc,
            )

    def _key(self, key: Any, version: int | None) -> tuple[str, KeyParts]:
        made = self._made_key(key, version)
        return made, KeyParts(
            str(key), str(self.key_prefix), self.version if version is None else version
        )

    def _expiry(self, timeout: float | object | None) -> float | None:
        return self.get_backend_timeout(timeout)  # type: ignore[arg-type]

    def _report(
        self,
        operation: str,
        keys: Iterable[Any],
        hits: Iterable[bool | None],
        started: float,
        values: Iterable[Any] = (),
    ) -> None:
        call = instrumentation.CacheCall(
            self,
            operation,
            tuple(str(k) for k in keys),
            tuple(hits),
            time.perf_counter() - started,
            tuple(values),
        )
        for observer in instrumentation.observers():
            observer(call)

    # -- Django's cache API ------------------------------------------------------------------

    def add(
        self,
        key: Any,
        value: Any,
        timeout: float | object | None = DEFAULT_TIMEOUT,
        version: int | None = None,
        tag: str | None = None,
    ) -> bool:
        started = time.perf_counter()
        made, parts = self._key(key, version)
        try:
            stored = self.store.add(made, parts, value, self._expiry(timeout), tag)
        except (sqlite3.Error, OSError) as exc:
            self._write_failed(exc)
            raise
        if instrumentation.observers():
            self._report("add", [key], [None], started, [value])
        return stored

    def get(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        started = time.perf_counter()
        made = self._made_key(key, version)
        try:
            value = self.store.get(made)
        except sqlite3.DatabaseError as exc:
            self._read_failed(exc)
            value = MISSING
        if instrumentation.observers():
            hit = value is not MISSING
            self._report("get", [key], [hit], started, [value] if hit else [])
        return default if value is MISSING else value

    def set(
        self,
        key: Any,
        value: Any,
        timeout: float | object | None = DEFAULT_TIMEOUT,
        version: int | None = None,
        tag: str | None = None,
    ) -> None:
        started = time.perf_counter()
        made, parts = self._key(key, version)
        try:
            self.store.set(made, parts, value, self._expiry(timeout), tag)
        except (sqlite3.Error, OSError) as exc:
            self._write_failed(exc)
            raise
        if instrumentation.observers():
            self._report("set", [key], [None], started, [value])

    def touch(
        self, key: Any, timeout: float | object | None = DEFAULT_TIMEOUT, version: int | None = None
    ) -> bool:
        started = time.perf_counter()
        made = self._made_key(key, version)
        touched = self.store.touch(made, self._expiry(timeout))
        if instrumentation.observers():
            self._report("touch", [key], [touched], started)
        return touched

    def delete(self, key: Any, version: int | None = None) -> bool:
        started = time.perf_counter()
        made = self._made_key(key, version)
        deleted = self.store.delete(made)
        if instrumentation.observers():
            self._report("delete", [key], [deleted], started)
        return deleted

    def has_key(self, key: Any, version: int | None = None) -> bool:
        started = time.perf_counter()
        made = self._made_key(key, version)
        try:
            found = self.store.has(made)
        except sqlite3.DatabaseError as exc:
            self._read_failed(exc)
            found = False
        if instrumentation.observers():
            self._report("has_key", [key], [found], started)
        return found

    def get_many(self, keys: Iterable[Any], version: int | None = None) -> dict[Any, Any]:
        started = time.perf_counter()
        made_to_key = {self._made_key(key, version): key for key in keys}
        try:
            found = self.store.get_many(list(made_to_key))
        except sqlite3.DatabaseError as exc:
            self._read_failed(exc)
            found = {}
        result = {made_to_key[made]: value for made, value in found.items()}
        if instrumentation.observers():
            self._report(
                "get_many",
                made_to_key.values(),
                [made in found for made in made_to_key],
                started,
                result.values(),
            )
        return result

    def set_many(
        self,
        data: Mapping[Any, Any],
        timeout: float | object | None = DEFAULT_TIMEOUT,
        version: int | None = None,
        tag: str | None = None,
    ) -> list[Any]:
        started = time.perf_counter()
        expire_time = self._expiry(timeout)
        made_to_key = {}
        items = []
        for key, value in data.items():
            made, parts = self._key(key, version)
            made_to_key[made] = key
            items.append(Item(made, parts, value, expire_time, tag))
        try:
            failed = [made_to_key[made] for made in self.store.set_many(items)]
        except (sqlite3.Error, OSError) as exc:
            self._write_failed(exc)
            raise
        if instrumentation.observers():
            self._report("set_many", data.keys(), [None] * len(data), started, data.values())
        return failed

    def delete_many(self, keys: Iterable[Any], version: int | None = None) -> None:
        started = time.perf_counter()
        keys = list(keys)
        self.store.delete_many(self._made_key(key, version) for key in keys)
        if instrumentation.observers():
            self._report("delete_many", keys, [None] * len(keys), started)

    def incr(self, key: Any, delta: int = 1, version: int | None = None) -> Any:
        started = time.perf_counter()
        made = self._made_key(key, version)
        try:
            value = self.store.incr(made, delta)
        except KeyError:
            raise ValueError(f"Key '{key}' not found") from None
        except (sqlite3.Error, OSError) as exc:
            self._write_failed(exc)
            raise
        if instrumentation.observers():
            self._report("incr", [key], [True], started, [value])
        return value

    def decr(self, key: Any, delta: int = 1, version: int | None = None) -> Any:
        return self.incr(key, -delta, version)

    def incr_version(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        if version is None:
            version = self.version
        made = self._made_key(key, version)
        new_made, new_parts = self._key(key, version + delta)
        if not self.store.rename(made, new_made, new_parts):
            raise ValueError(f"Key '{key}' not found")
        return version + delta

    def decr_version(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        return self.incr_version(key, -delta, version)

    def clear(self) -> None:
        started = time.perf_counter()
        self.store.clear()
        if instrumentation.observers():
            self._report("clear", [], [], started)

    def close(self, **kwargs: Any) -> None:
        # Django calls this after every request. The connection is kept for the next request;
        # only statistics are written, and only when a batch is due.
        if self._store is not None:
            self._store.flush_if_due()

    # -- async: every call runs in a worker thread; incr/decr stay atomic ---------------------

    def _async(self, method: Callable[..., Any]) -> Callable[..., Any]:
        return sync_to_async(method, thread_sensitive=False)

    async def aadd(self, *args: Any, **kwargs: Any) -> bool:
        return await self._async(self.add)(*args, **kwargs)  # type: ignore[no-any-return]

    async def aget(self, *args: Any, **kwargs: Any) -> Any:
        return await self._async(self.get)(*args, **kwargs)

    async def aset(self, *args: Any, **kwargs: Any) -> None:
        await self._async(self.set)(*args, **kwargs)

    async def atouch(self, *args: Any, **kwargs: Any) -> bool:
        return await self._async(self.touch)(*args, **kwargs)  # type: ignore[no-any-return]

    async def adelete(self, *args: Any, **kwargs: Any) -> bool:
        return await self._async(self.delete)(*args, **kwargs)  # type: ignore[no-any-return]

    async def ahas_key(self, *args: Any, **kwargs: Any) -> bool:
        return await self._async(self.has_key)(*args, **kwargs)  # type: ignore[no-any-return]

    async def aget_many(self, *args: Any, **kwargs: Any) -> dict[Any, Any]:
        return await self._async(self.get_many)(*args, **kwargs)  # type: ignore[no-any-return]

    async def aset_many(self, *args: Any, **kwargs: Any) -> list[Any]:
        return await self._async(self.set_many)(*args, **kwargs)  # type: ignore[no-any-return]

    async def adelete_many(self, *args: Any, **kwargs: Any) -> None:
        await self._async(self.delete_many)(*args, **kwargs)

    async def aincr(self, *args: Any, **kwargs: Any) -> Any:
        return await self._async(self.incr)(*args, **kwargs)

    async def adecr(self, *args: Any, **kwargs: Any) -> Any:
        return await self._async(self.decr)(*args, **kwargs)

    async def aincr_version(self, *args: Any, **kwargs: Any) -> int:
        return await self._async(self.incr_version)(*args, **kwargs)  # type: ignore[no-any-return]

    async def adecr_version(self, *args: Any, **kwargs: Any) -> int:
        return await self._async(self.decr_version)(*args, **kwargs)  # type: ignore[no-any-return]

    async def aclear(self) -> None:
        await self._async(self.clear)()

    async def aclose(self, **kwargs: Any) -> None:
        self.close(**kwargs)

    # -- extras (the inspection layer builds on these) ---------------------------------------

    def expire(self, progress: Callable[[int], None] | None = None) -> Removal:
        """Purge expired entries; returns how many went and how many bytes they held."""
        return self.store.expire(progress=progress)

    def evict(self, tag: str, progress: Callable[[int], None] | None = None) -> Removal:
        """Remove every entry stored with ``tag``."""
        return self.store.evict(tag, progress=progress)

    def cull(self) -> Removal:
        """Bring the store within MAX_ENTRIES and SIZE_LIMIT now."""
        return self.store.cull()

    def stats(self) -> Stats:
        """Entry count, bytes, hits and misses. Reading them changes nothing."""
        return self.store.stats()

    def volume(self) -> int:
        """Bytes on disk: database, WAL and value files."""
        return self.store.volume()

    def check(self, fix: bool = False) -> list[Problem]:
        """Integrity check of the store; with ``fix=True`` repair what can be repaired."""
        return self.store.check(fix=fix)

    def entry(self, key: Any, version: int | None = None) -> EntryInfo | None:
        """Metadata of ``key``'s entry (live or expired), without reading its value."""
        return self.store.entry(self._made_key(key, version))
