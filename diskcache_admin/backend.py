"""``diskcache_admin.backend.DiskCache``: Django's cache API on the sqlite3 engine.

A thin facade: it makes and validates keys like Django's other backends, turns timeouts into
expiry times, derives the signing keys from ``SECRET_KEY`` and leaves the rest to the engine.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import logging
import os
import re
import sqlite3
import stat
from collections.abc import Callable, Coroutine, Iterable, Mapping
from time import perf_counter
from typing import Any, Final, TypeVar

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.cache.backends.base import (
    DEFAULT_TIMEOUT,
    MEMCACHE_MAX_KEY_LENGTH,
    BaseCache,
    InvalidCacheKey,
)
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed

from . import instrumentation
from .backend_options import DiskCacheOptions, OptionError, parse_options
from .engine import MISSING, Codec, Item, KeyParts, Removal, Stats, Store, family_of, statistics
from .engine import insight as engine_insight
from .engine.codec import is_native_int
from .engine.store import EntryInfo, Problem

# Django's test for keys memcached would reject (django.core.cache.backends.base), compiled
# here: the keys that match, or are too long, go through Django's validate_key for the warning.
_KEY_WARNING_CHARS = re.compile(r"[\x00-\x20\x7f]")

SIGNING_SALT = b"diskcache_admin.backend.DiskCache.signing"

logger = logging.getLogger("diskcache_admin.backend")
# (location, error message) pairs already logged: a broken store is reported once per process,
# not on every read or write of every request.
_logged_failures: set[tuple[str, str]] = set()

# -- one policy for every cache operation -----------------------------------------------------

#: What the engine raises when the store itself fails: a corrupt or unreadable database, a full
#: disk, a directory that cannot be opened, a write lock that never came (``StoreLocked`` is an
#: ``sqlite3.OperationalError``). Everything else (an invalid key, a value that cannot be
#: pickled, ``incr`` of a missing key) is the caller's error and propagates unchanged.
STORE_ERRORS: Final = (sqlite3.Error, OSError)

# (keys, hits, values) of a call, as instrumentation.CacheCall takes them.
Described = tuple[Iterable[Any], Iterable[bool | None], Iterable[Any]]

_Method = TypeVar("_Method", bound=Callable[..., Any])


def _operation(
    describe: Callable[..., Described],
    *,
    miss: Callable[[], Any] | None = None,
    finish: Callable[..., Any] | None = None,
    keys_first: bool = False,
) -> Callable[[_Method], _Method]:
    """The one wrapper of every cache operation: timing, reporting and the error policy.

    The decorated method returns an *outcome*; the wrapper then applies the policy (docs/
    engine.rst, "Errors"): an exception of :data:`STORE_ERRORS` is logged once per store and
    kind of failure, then a read (``miss`` given) answers ``miss()`` as a miss and a write
    re-raises it unchanged. When anyone listens (:func:`instrumentation.observers`),
    ``describe(outcome, <the call's arguments>)`` says what to report; the caller gets
    ``finish(outcome, <the call's arguments>)``, or the outcome itself.

    ``keys_first``: the first argument is an iterable of keys that ``describe`` reads again, so
    an iterator is copied to a list before the call.
    """

    def decorate(run: _Method) -> _Method:
        return _build_operation(run, describe, miss, finish, keys_first)  # type: ignore[return-value]

    return decorate


# The wrapper is generated once per method, at class creation, with the method's own parameters
# (the way dataclasses generates __init__): a generic ``*args, **kwargs`` wrapper packed and
# unpacked the arguments twice per call, which cost more than the rest of the wrapper on the hot
# path of get (measured: docs/engine.rst, "Errors").
_WRAPPER_SOURCE = """\
def {name}(self, {params}):
    started = perf_counter()
{copy_keys}    try:
        outcome = run(self, {params})
    except STORE_ERRORS as exc:
        self._store_failed(exc, {reading})
        {on_error}
    if instrumentation.observers():
        keys, hits, values = describe(outcome, {params})
        self._report({name!r}, keys, hits, started, values)
    return {result}
"""

_COPY_KEYS = """\
    if not isinstance({keys}, (list, tuple)):
        {keys} = list({keys})
"""


def _build_operation(
    run: Callable[..., Any],
    describe: Callable[..., Described],
    miss: Callable[[], Any] | None,
    finish: Callable[..., Any] | None,
    keys_first: bool,
) -> Callable[..., Any]:
    code = run.__code__
    if code.co_kwonlyargcount or code.co_flags & (inspect.CO_VARARGS | inspect.CO_VARKEYWORDS):
        raise TypeError(f"{run.__name__}: only plain parameters can be forwarded.")
    names = code.co_varnames[1 : code.co_argcount]  # after self
    params = ", ".join(names)
    source = _WRAPPER_SOURCE.format(
        name=run.__name__,
        params=params,
        copy_keys=_COPY_KEYS.format(keys=names[0]) if keys_first else "",
        reading=miss is not None,
        on_error="raise" if miss is None else "outcome = miss()",
        result="outcome" if finish is None else f"finish(outcome, {params})",
    )
    namespace: dict[str, Any] = {
        "perf_counter": perf_counter,
        "STORE_ERRORS": STORE_ERRORS,
        "instrumentation": instrumentation,
        "run": run,
        "describe": describe,
        "miss": miss,
        "finish": finish,
    }
    # Our own template, filled with the method's parameter names; the file name tells a
    # traceback which wrapper this frame is.
    exec(compile(source, f"<DiskCache.{run.__name__} wrapper>", "exec"), namespace)
    method: Callable[..., Any] = namespace[run.__name__]
    method.__defaults__ = run.__defaults__
    return functools.update_wrapper(method, run)


def _missing() -> object:
    return MISSING


# What each operation reports (called only while someone listens): the keys as the caller gave
# them, per key a hit (True/False) or None where hit/miss means nothing, and the values read
# (hits only) or written.


def _written(outcome: Any, key: Any, value: Any, *args: Any, **kwargs: Any) -> Described:
    return [key], [None], [value]


def _read_one(outcome: Any, key: Any, *args: Any, **kwargs: Any) -> Described:
    hit = outcome is not MISSING
    return [key], [hit], [outcome] if hit else []


def _answered(outcome: bool, key: Any, *args: Any, **kwargs: Any) -> Described:
    return [key], [outcome], []


def _counted(outcome: Any, key: Any, *args: Any, **kwargs: Any) -> Described:
    return [key], [True], [outcome]


def _moved(outcome: int, key: Any, *args: Any, **kwargs: Any) -> Described:
    return [key], [True], []


def _read_many(outcome: dict[Any, Any], keys: list[Any], *args: Any, **kwargs: Any) -> Described:
    # The found values in the order of the keys, so a listener pairs them by key.
    return keys, [key in outcome for key in keys], [outcome[key] for key in keys if key in outcome]


def _written_many(outcome: Any, data: Mapping[Any, Any], *args: Any, **kwargs: Any) -> Described:
    return data.keys(), [None] * len(data), data.values()


def _deleted_many(outcome: None, keys: list[Any], *args: Any, **kwargs: Any) -> Described:
    return keys, [None] * len(keys), []


def _cleared(outcome: None) -> Described:
    return [], [], []


def _looked_up(outcome: tuple[bool, Any], key: Any, *args: Any, **kwargs: Any) -> Described:
    hit, value = outcome
    return [key], [hit], [value]


def _or_default(outcome: Any, key: Any, default: Any = None, version: int | None = None) -> Any:
    return default if outcome is MISSING else outcome


def _value_of(outcome: tuple[bool, Any], *args: Any, **kwargs: Any) -> Any:
    return outcome[1]


def _in_thread(name: str) -> Callable[..., Coroutine[Any, Any, Any]]:
    """``a<name>``: the synchronous ``name`` run in a worker thread.

    ``sync_to_async(thread_sensitive=False)``: calls from one event loop run side by side, and
    ``aincr``/``adecr`` stay atomic because ``incr`` is one engine transaction (composing
    ``aget`` and ``aset`` would not be).
    """

    async def method(self: DiskCache, *args: Any, **kwargs: Any) -> Any:
        return await sync_to_async(getattr(self, name), thread_sensitive=False)(*args, **kwargs)

    method.__name__ = f"a{name}"
    method.__qualname__ = f"DiskCache.a{name}"
    method.__doc__ = f"Async :meth:`{name}`: runs it in a worker thread."
    return method


def _in_loop(sync: Callable[..., Any]) -> Callable[..., Coroutine[Any, Any, Any]]:
    """``a<name>`` of a read: the synchronous ``name`` run in the event loop's own thread.

    A read in WAL mode does not wait for writers, so it costs what the synchronous read costs
    instead of a hop to a worker thread and back (~10x a ``get``). What a read could wait for is
    kept off the loop (docs/engine.rst, "Async"): the first open of the store in this process
    (it may create the schema, a write) runs in a worker thread; a due batch of statistics, and
    the removal of an entry the read rejected, are written by a worker thread after the read
    (:func:`statistics.writes_deferred`).
    """
    name = sync.__name__
    active = statistics.in_event_loop

    async def method(self: DiskCache, *args: Any, **kwargs: Any) -> Any:
        # Looked up on the instance: a subclass that overrides the synchronous read keeps it.
        read = getattr(self, name)
        shared = self._shared
        if shared is None or not shared.ready_for_loop_reads:
            if not await self._open_off_loop():
                # The store cannot be opened: the read in a thread applies the error policy.
                return await sync_to_async(read, thread_sensitive=False)(*args, **kwargs)
            shared = self._shared
            assert shared is not None
        outer = active.active
        active.active = True
        try:
            result = read(*args, **kwargs)
        finally:
            active.active = outer
        if shared.deferred_repairs or shared.due():
            await sync_to_async(self._flush_off_loop, thread_sensitive=False)()
        return result

    method.__name__ = f"a{name}"
    method.__qualname__ = f"DiskCache.a{name}"
    method.__doc__ = (
        f"Async :meth:`{name}`: runs it in the event loop's thread (a WAL read waits for no"
        " writer); anything that could wait for the write lock goes to a worker thread."
    )
    return method


# Never reached by counting down: the value of the read countdown when nothing samples.
_NOT_SAMPLING: Final = 2**62


# DISKCACHE_ADMIN_HIDDEN_PREFIXES (non-empty ones), which insight never records: read once, and
# again after a setting_changed signal (override_settings). Reading the setting on every sampled
# read cost more than the rest of the sample (a missing setting raises inside Django's getattr).
_hidden: list[tuple[str, ...]] = []


def _hidden_prefixes() -> tuple[str, ...]:
    if not _hidden:
        from .conf import conf

        _hidden.append(tuple(prefix for prefix in conf.HIDDEN_PREFIXES if prefix))
    return _hidden[0]


def _forget_hidden_prefixes(*, setting: str, **kwargs: Any) -> None:
    if setting == "DISKCACHE_ADMIN_HIDDEN_PREFIXES":
        _hidden.clear()


setting_changed.connect(_forget_hidden_prefixes)


def signing_keys() -> list[bytes]:
    """HMAC keys derived from SECRET_KEY (signs and verifies) and its fallbacks (verify only)."""
    secrets = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", ())]
    return [
        hashlib.sha256(SIGNING_SALT + b"\x00" + str(secret).encode()).digest() for secret in secrets
    ]


def signed_by_another_key(location: str) -> bool:
    """Whether the store at ``location`` records the fingerprint of a key that is neither
    SECRET_KEY nor one of SECRET_KEY_FALLBACKS (read-only; for diskcache_admin.E020)."""
    from .engine.connection import read_fingerprint

    recorded = read_fingerprint(location)
    return recorded is not None and not Codec(signing_keys()).owns(recorded)


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
        # The process-wide state of the store's directory (engine.statistics), once the store
        # exists: the async reads look there whether they may run in the event loop's thread.
        self._shared: statistics.Shared | None = None
        # Insight (OPTIONS["INSIGHT"], engine/insight.py): reads left until the next sampled
        # one, counted down on the read path; the sampler exists once the store does.
        self._sampler: engine_insight.Sampler | None = None
        self._sampling = _NOT_SAMPLING
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
            # The same object the Store just took (one per directory and process).
            self._shared = statistics.shared_for(self.location, opts.busy_timeout)
            if opts.insight is not None:
                self._sampler = engine_insight.Sampler(
                    self._shared, opts.insight, _hidden_prefixes, family_of
                )
                self._sampling = self._sampler.next_gap()
        return self._store

    def _open_off_loop_sync(self) -> bool:
        """Open (and create if needed) the store in this thread; False if it fails."""
        store = self.store
        try:
            store.db.connection()
        except STORE_ERRORS:
            return False
        assert self._shared is not None
        self._shared.ready_for_loop_reads = True
        return True

    async def _open_off_loop(self) -> bool:
        return await sync_to_async(self._open_off_loop_sync, thread_sensitive=False)()

    def _flush_off_loop(self) -> None:
        """The writes an async read left to a worker thread: removals, a due statistics batch."""
        if self._store is not None:
            try:
                self._store.repair_deferred()
            except STORE_ERRORS as exc:  # a busy store: the entries stay misses, as in get
                self._store_failed(exc, reading=True)
            self._store.flush_if_due()

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

    def _store_failed(self, exc: BaseException, reading: bool) -> None:
        """Log a failure of the store, once per process, store and kind of failure.

        The caller then serves a miss (a read) or re-raises ``exc`` unchanged (a write, which
        the engine rolled back), so that a full disk or a corrupt database is not a log flood.
        """
        if reading:
            marker = (self.location, str(exc))
            message = (
                "DiskCache at %s could not be read (%s: %s); reads are misses until it is"
                " repaired (manage.py check, or delete the directory)."
            )
        else:
            marker = (self.location, f"write: {type(exc).__name__}: {exc}")
            message = (
                "DiskCache at %s could not store a write (%s: %s); it was rolled back and"
                " changed nothing."
            )
        if marker not in _logged_failures:
            _logged_failures.add(marker)
            logger.error(message, self.location, type(exc).__name__, exc)

    def _key(self, key: Any, version: int | None) -> tuple[str, KeyParts]:
        made = self._made_key(key, version)
        version = self.version if version is None else version
        if not is_native_int(version):
            # The version is stored (and signed) as a 64-bit integer: any other value would
            # reach SQLite as an OverflowError or the signature as a TypeError.
            # Not the value itself: a huge int or an odd object's repr has no place in a message.
            raise InvalidCacheKey(
                "DiskCache versions are whole numbers from -2**63 to 2**63-1; this one is"
                f" {'out of that range' if type(version) is int else type(version).__name__}."
            )
        return made, KeyParts(str(key), str(self.key_prefix), version)

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
            perf_counter() - started,
            tuple(values),
        )
        for observer in instrumentation.observers():
            observer(call)

    # -- Django's cache API: every method through the one wrapper, _operation ----------------

    @_operation(_written)
    def add(
        self,
        key: Any,
        value: Any,
        timeout: float | object | None = DEFAULT_TIMEOUT,
        version: int | None = None,
        tag: str | None = None,
    ) -> bool:
        made, parts = self._key(key, version)
        return self.store.add(made, parts, value, self._expiry(timeout), tag)

    @_operation(_read_one, miss=_missing, finish=_or_default)
    def get(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        made = self._made_key(key, version)
        value = self.store.get(made)
        self._sampling -= 1  # insight: one read in SAMPLE_RATE is recorded (_sample)
        if self._sampling <= 0:
            self._sample(made, key, version, value is not MISSING)
        return value

    def _sample(self, made: str, key: Any, version: int | None, hit: bool) -> None:
        sampler = self._sampler
        if sampler is None:
            self._sampling = _NOT_SAMPLING
            return
        self._sampling = sampler.next_gap()
        version = self.version if version is None else version
        sampler.record(made, str(key), str(self.key_prefix), version, hit)
        if not self.options.statistics and self._store is not None:
            # Without statistics no read checks for a due batch; the samples' batch is due by
            # itself (statistics.Shared.due counts them), and written like a statistics one.
            self._store.flush_if_due()

    def _sample_many(
        self, made_to_key: dict[str, Any], found: Mapping[str, Any], version: int | None
    ) -> None:
        """get_many's reads for insight: each key is one read, sampled like get's."""
        count = len(made_to_key)
        if self._sampling > count:
            self._sampling -= count
            return
        keys = list(made_to_key)
        index = max(self._sampling - 1, 0)  # the read that brings the countdown to zero
        while index < count:
            made = keys[index]
            self._sample(made, made_to_key[made], version, made in found)
            index += self._sampling  # the gap _sample just drew
        self._sampling = index - count + 1

    @_operation(_written)
    def set(
        self,
        key: Any,
        value: Any,
        timeout: float | object | None = DEFAULT_TIMEOUT,
        version: int | None = None,
        tag: str | None = None,
    ) -> None:
        made, parts = self._key(key, version)
        self.store.set(made, parts, value, self._expiry(timeout), tag)

    @_operation(_answered)
    def touch(
        self, key: Any, timeout: float | object | None = DEFAULT_TIMEOUT, version: int | None = None
    ) -> bool:
        return self.store.touch(self._made_key(key, version), self._expiry(timeout))

    @_operation(_answered)
    def delete(self, key: Any, version: int | None = None) -> bool:
        return self.store.delete(self._made_key(key, version))

    @_operation(_answered, miss=bool)
    def has_key(self, key: Any, version: int | None = None) -> bool:
        return self.store.has(self._made_key(key, version))

    @_operation(_read_many, miss=dict, keys_first=True)
    def get_many(self, keys: Iterable[Any], version: int | None = None) -> dict[Any, Any]:
        made_to_key = {self._made_key(key, version): key for key in keys}
        found = self.store.get_many(list(made_to_key))
        self._sample_many(made_to_key, found, version)
        return {made_to_key[made]: value for made, value in found.items()}

    @_operation(_written_many)
    def set_many(
        self,
        data: Mapping[Any, Any],
        timeout: float | object | None = DEFAULT_TIMEOUT,
        version: int | None = None,
        tag: str | None = None,
    ) -> list[Any]:
        expire_time = self._expiry(timeout)
        made_to_key = {}
        items = []
        for key, value in data.items():
            made, parts = self._key(key, version)
            made_to_key[made] = key
            items.append(Item(made, parts, value, expire_time, tag))
        return [made_to_key[made] for made in self.store.set_many(items)]

    @_operation(_deleted_many, keys_first=True)
    def delete_many(self, keys: Iterable[Any], version: int | None = None) -> None:
        self.store.delete_many([self._made_key(key, version) for key in keys])

    @_operation(_counted)
    def incr(self, key: Any, delta: int = 1, version: int | None = None) -> Any:
        return self._add_delta(key, delta, version)

    @_operation(_counted)
    def decr(self, key: Any, delta: int = 1, version: int | None = None) -> Any:
        return self._add_delta(key, -delta, version)

    def _add_delta(self, key: Any, delta: int, version: int | None) -> Any:
        try:
            return self.store.incr(self._made_key(key, version), delta)
        except KeyError:
            raise ValueError(f"Key '{key}' not found") from None

    @_operation(_looked_up, finish=_value_of)
    def get_or_set(
        self,
        key: Any,
        default: Any,
        timeout: float | object | None = DEFAULT_TIMEOUT,
        version: int | None = None,
    ) -> Any:
        # BaseCache's algorithm (get, add, get again), reported once as the call the user made:
        # the outcome is (hit, value). The default callable runs unmuted, so the cache calls it
        # makes are the user's own.
        with instrumentation.muted():
            value = self.get(key, MISSING, version=version)
        if value is not MISSING:
            return True, value
        if callable(default):
            default = default()
        with instrumentation.muted():
            self.add(key, default, timeout=timeout, version=version)
            # Read again: another caller may have added a value between the get and the add.
            return False, self.get(key, default, version=version)

    @_operation(_moved)
    def incr_version(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        return self._move_version(key, delta, version)

    @_operation(_moved)
    def decr_version(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        return self._move_version(key, -delta, version)

    def _move_version(self, key: Any, delta: int, version: int | None) -> int:
        if version is None:
            version = self.version
        made = self._made_key(key, version)
        new_made, new_parts = self._key(key, version + delta)
        if not self.store.rename(made, new_made, new_parts):
            raise ValueError(f"Key '{key}' not found")
        return version + delta

    @_operation(_cleared)
    def clear(self) -> None:
        self.store.clear()

    @_operation(_answered)
    def delete_if_equal(self, key: Any, value: Any, version: int | None = None) -> bool:
        """Delete ``key`` only if its live value ``== value``; ``True`` if it was deleted.

        Atomic across threads and processes: the read, the comparison and the delete are one
        engine transaction. A lock taken with ``add(key, token)`` is released with
        ``delete_if_equal(key, token)`` without ever deleting a lock another holder took after
        this one expired.
        """
        return self.store.delete_if_equal(self._made_key(key, version), value)

    # -- test runs ----------------------------------------------------------------------------

    #: The file beside the database that says "a test run made this store" (the engine never
    #: reads, lists or removes it, so clear() keeps it).
    TEST_MARKER = "diskcache-admin-test-store"

    def mark_as_test_store(self, run: str) -> None:
        """Label the store as one made by a test run (``diskcache_admin.testing``)."""
        if self._configuration_error is not None:
            raise self._configuration_error
        from .engine.files import make_private_dirs

        make_private_dirs(self.location)
        path = os.path.join(self.location, self.TEST_MARKER)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(f"Made by the test run {run} of diskcache_admin.testing.\n")

    def is_test_store(self) -> bool:
        """True when :meth:`mark_as_test_store` labelled this store (a regular file, not a link)."""
        if not self.location:
            return False
        try:
            return stat.S_ISREG(os.lstat(os.path.join(self.location, self.TEST_MARKER)).st_mode)
        except OSError:
            return False

    def close(self, **kwargs: Any) -> None:
        # Django calls this after every request. The connection is kept for the next request;
        # only statistics are written, and only when a batch is due.
        if self._store is not None:
            self._store.flush_if_due()

    # -- async: reads run in the event loop's thread, writes in a worker thread --------------
    # A write may wait for the write lock (up to BUSY_TIMEOUT): never in the loop's thread.

    aget = _in_loop(get)
    aget_many = _in_loop(get_many)
    ahas_key = _in_loop(has_key)
    aadd = _in_thread("add")
    aset = _in_thread("set")
    atouch = _in_thread("touch")
    adelete = _in_thread("delete")
    aset_many = _in_thread("set_many")
    adelete_many = _in_thread("delete_many")
    aincr = _in_thread("incr")
    adecr = _in_thread("decr")
    aincr_version = _in_thread("incr_version")
    adecr_version = _in_thread("decr_version")
    aclear = _in_thread("clear")
    adelete_if_equal = _in_thread("delete_if_equal")

    async def aget_or_set(
        self,
        key: Any,
        default: Any,
        timeout: float | object | None = DEFAULT_TIMEOUT,
        version: int | None = None,
    ) -> Any:
        # BaseCache's version awaits aget, aadd and aget: reported once, like get_or_set. The
        # default callable runs here, in the event loop, as in Django's.
        started = perf_counter()
        with instrumentation.muted() as listening:
            value = await self.aget(key, MISSING, version=version)
        hit = value is not MISSING
        if not hit:
            if callable(default):
                default = default()
            with instrumentation.muted():
                await self.aadd(key, default, timeout=timeout, version=version)
                value = await self.aget(key, default, version=version)
        if listening:
            self._report("get_or_set", [key], [hit], started, [value])
        return value

    async def aclose(self, **kwargs: Any) -> None:
        # close() at most writes a due batch of statistics: a write, which may wait for the
        # lock, so it goes to a worker thread, and only when a batch is due (usually not).
        shared = self._shared
        if shared is not None and shared.due():
            await sync_to_async(self.close, thread_sensitive=False)(**kwargs)

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
