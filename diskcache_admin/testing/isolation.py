"""The core of cache isolation, shared by the Django runner and the pytest plugin.

``swap`` replaces every alias, through ``override_settings`` (so every thread and the live
server see it), by a private store: DiskCache aliases by DiskCache in a fresh temporary
directory, every other backend by LocMemCache with a LOCATION unique to run, worker and alias.
``clear`` keeps the configured backends and empties them before each test, but only those that
are provably test-only; any other alias stops the run before a single key is touched.
"""

from __future__ import annotations

import ipaddress
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

MODES = ("swap", "clear", "off")
SCOPES = ("database", "prefix")

LOCMEM = "django.core.cache.backends.locmem.LocMemCache"
DISKCACHE = "diskcache_admin.backend.DiskCache"
# Settings that shape how code under test sees the cache; a swapped alias keeps them.
KEPT_TOP_LEVEL = ("KEY_PREFIX", "VERSION", "KEY_FUNCTION", "TIMEOUT")
KEPT_OPTIONS = ("MAX_ENTRIES", "CULL_FREQUENCY")

Unblock = Callable[[], AbstractContextManager[Any]]


class UnsafeCacheError(ImproperlyConfigured):
    """``clear`` mode met an alias it cannot prove to be test-only; nothing was touched."""


def check_mode(mode: str, source: str) -> str:
    if mode not in MODES:
        raise ImproperlyConfigured(
            f"{source} must be one of {', '.join(repr(m) for m in MODES)}, not {mode!r}."
        )
    return mode


def safe_caches() -> dict[str, str]:
    """``DISKCACHE_ADMIN_TEST_SAFE_CACHES`` validated: alias -> "database" | "prefix"."""
    from diskcache_admin.conf import conf

    marked = conf.TEST_SAFE_CACHES
    for alias, scope in marked.items():
        if scope not in SCOPES:
            raise ImproperlyConfigured(
                f"DISKCACHE_ADMIN_TEST_SAFE_CACHES[{alias!r}] must be 'database' or 'prefix', "
                f"not {scope!r}."
            )
    return marked


# -- backends --------------------------------------------------------------------------------


def _backend_class(config: Mapping[str, Any]) -> type | None:
    try:
        cls = import_string(str(config.get("BACKEND", "")))
    except ImportError:
        return None
    return cls if isinstance(cls, type) else None


def _is(cls: type | None, dotted: str) -> bool:
    """``cls`` is (a subclass of) the class at ``dotted``, without importing optional packages."""
    if cls is None:
        return False
    return any(f"{base.__module__}.{base.__qualname__}" == dotted for base in cls.__mro__)


def backend_kind(config: Mapping[str, Any]) -> str:
    """One word for the family of the alias's backend; ``other`` for anything unknown."""
    cls = _backend_class(config)
    families = (
        ("diskcache", DISKCACHE),
        ("locmem", LOCMEM),
        ("dummy", "django.core.cache.backends.dummy.DummyCache"),
        ("filebased", "django.core.cache.backends.filebased.FileBasedCache"),
        ("database", "django.core.cache.backends.db.DatabaseCache"),
        ("redis", "django.core.cache.backends.redis.RedisCache"),
        ("redis", "django_redis.cache.RedisCache"),
        ("memcached", "django.core.cache.backends.memcached.BaseMemcachedCache"),
    )
    for kind, dotted in families:
        if _is(cls, dotted):
            return kind
    return "other"


def _location_text(config: Mapping[str, Any]) -> str:
    location = config.get("LOCATION", "")
    if isinstance(location, (list, tuple)):
        return ", ".join(str(part) for part in location)
    return str(location)


def _servers(config: Mapping[str, Any]) -> list[str]:
    location = config.get("LOCATION", "")
    if isinstance(location, (list, tuple)):
        return [str(part).strip() for part in location if str(part).strip()]
    return [part.strip() for part in re.split("[;,]", str(location)) if part.strip()]


def _is_loopback(host: str) -> bool:
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        # A name other than localhost would need DNS, which can change under us: not proof.
        return False


def _server_host(kind: str, server: str) -> str | None:
    """The host a server string points at; ``None`` for a local Unix socket."""
    if kind == "redis":
        parts = urlsplit(server if "://" in server else f"redis://{server}")
        return None if parts.scheme == "unix" else (parts.hostname or "")
    if server.startswith(("unix:", "/")):
        return None
    host, _, _port = server.rpartition(":")
    return host or server


def _redis_db(server: str) -> str:
    parts = urlsplit(server if "://" in server else f"redis://{server}")
    db = parse_qs(parts.query).get("db", [""])[0] or parts.path.strip("/")
    return db or "0"


# -- clear mode: proving an alias is test-only -----------------------------------------------


def _under(path: str, root: str) -> bool:
    real, base = os.path.realpath(path), os.path.realpath(root)
    return real != base and os.path.commonpath([real, base]) == base


def clear_plan(
    alias: str, config: Mapping[str, Any], marked: Mapping[str, str], temp_root: str
) -> str:
    """How ``clear`` mode may empty ``alias``, or :class:`UnsafeCacheError` saying why not.

    Returns ``clear`` (the backend's own clear()), ``prefix`` (delete the keys under KEY_PREFIX
    only), ``database`` (clear only while the test database is active) or ``nothing``.
    """
    kind = backend_kind(config)
    where = _location_text(config) or "(no LOCATION)"

    def refuse(why: str, fix: str) -> UnsafeCacheError:
        return UnsafeCacheError(
            f"Cache isolation mode 'clear' refuses CACHES[{alias!r}] "
            f"({config.get('BACKEND')} at {where}): {why}. Nothing was cleared. To fix it: {fix}; "
            "or set DISKCACHE_ADMIN_TEST_ISOLATION = 'swap' (the default), which replaces every "
            "alias by a private store and never touches the configured one."
        )

    if kind == "locmem":
        return "clear"
    if kind == "dummy":
        return "nothing"
    if kind in ("diskcache", "filebased"):
        location = str(config.get("LOCATION", ""))
        if location and _under(location, temp_root):
            return "clear"
        raise refuse(
            f"its directory is not under the system temporary directory ({temp_root}), so it "
            "may hold a developer's or production data",
            "point LOCATION at a directory made by tempfile.mkdtemp() in your test settings",
        )
    if kind == "database":
        return "database"
    if kind in ("redis", "memcached"):
        scope = marked.get(alias)
        for server in _servers(config):
            host = _server_host(kind, server)
            if host is not None and not _is_loopback(host):
                raise refuse(
                    f"the server {host} is not a loopback address, so it may be a shared or "
                    "production cache",
                    "run a test-only server on 127.0.0.1 (or a Unix socket) for the tests",
                )
        example = f"{{{alias!r}: 'database'}}"
        if scope is None:
            raise refuse(
                "a server on this machine may still be the one your development server uses, "
                "and DISKCACHE_ADMIN_TEST_SAFE_CACHES does not mark this alias as test-only",
                f"give the tests their own Redis database number (or memcached instance) and set "
                f"DISKCACHE_ADMIN_TEST_SAFE_CACHES = {example}, or give them their own KEY_PREFIX "
                f"and mark the alias 'prefix' (Redis only)",
            )
        if scope == "prefix":
            if kind != "redis":
                raise refuse(
                    "memcached cannot list keys, so it cannot be emptied by prefix",
                    f"mark it 'database' ({example}) only if the whole server is test-only",
                )
            if not config.get("KEY_PREFIX") or config.get("KEY_FUNCTION"):
                raise refuse(
                    "'prefix' needs a non-empty KEY_PREFIX and Django's default KEY_FUNCTION, so "
                    "that the alias's keys are exactly those starting with 'KEY_PREFIX:'",
                    "set a KEY_PREFIX used only by the tests",
                )
            return "prefix"
        return "clear"
    raise refuse(
        f"the backend is not one whose locations can be checked ({kind})",
        "use swap mode for it, or test with a LocMem/DiskCache alias",
    )


# -- swap mode -------------------------------------------------------------------------------


def _safe_name(alias: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", alias) or "_"


def swap_config(
    alias: str, config: Mapping[str, Any], root: str, run_id: str, worker: str
) -> dict[str, Any]:
    """The private replacement for one alias (see the module docstring)."""
    new: dict[str, Any] = {key: config[key] for key in KEPT_TOP_LEVEL if key in config}
    options: Mapping[str, Any] = config.get("OPTIONS") or {}
    if backend_kind(config) == "diskcache":
        new["BACKEND"] = config["BACKEND"]
        new["LOCATION"] = os.path.join(root, _safe_name(alias))
        # DiskCache's own OPTIONS (size limit, serializer...) change behaviour: keep them all.
        if options:
            new["OPTIONS"] = dict(options)
    else:
        new["BACKEND"] = LOCMEM
        new["LOCATION"] = f"diskcache-admin-test:{run_id}:{worker}:{alias}"
        kept = {key: options[key] for key in KEPT_OPTIONS if key in options}
        if kept:
            new["OPTIONS"] = kept
    return new


@dataclass
class IsolatedAlias:
    """One alias under isolation: what it was, what it is now and how it is emptied."""

    alias: str
    original_backend: str
    backend: str
    location: str
    how: str  # clear | prefix | database | nothing


def _empty_prefix(cache: Any) -> None:
    client_owner = getattr(cache, "client", None)
    if client_owner is not None and hasattr(client_owner, "get_client"):  # django-redis
        client = client_owner.get_client(write=True)
    else:
        client = cache._cache.get_client(write=True)
    pattern = re.sub(r"([*?\[\]\\])", r"\\\1", str(cache.key_prefix)) + ":*"
    batch: list[Any] = []
    for key in client.scan_iter(match=pattern, count=500):
        batch.append(key)
        if len(batch) >= 500:
            client.unlink(*batch)
            batch.clear()
    if batch:
        client.unlink(*batch)


def _build(config: Mapping[str, Any]) -> Any:
    """A backend object for ``config``, the way Django's cache handler builds one."""
    params = dict(config)
    backend = import_string(params.pop("BACKEND"))
    return backend(params.pop("LOCATION", ""), params)


def _test_database_active(cache: Any) -> bool:
    from django.db import connections, router

    db = router.db_for_write(cache.cache_model_class)
    connection = connections[db]
    # After create_test_db the connection's NAME is the test name; before, it is the real one.
    test_name = connection.creation._get_test_db_name()  # type: ignore[attr-defined]
    return bool(connection.settings_dict["NAME"] == test_name)


class Isolation:
    """Cache isolation for one process (a run, or one of its parallel workers)."""

    def __init__(
        self,
        mode: str,
        *,
        run_id: str | None = None,
        worker: str = "main",
        root_parent: str | None = None,
        original_caches: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self.mode = check_mode(mode, "The cache isolation mode")
        self.run_id = run_id or uuid.uuid4().hex[:12]
        self.worker = _safe_name(worker)
        self.root_parent = root_parent
        source = original_caches if original_caches is not None else settings.CACHES
        self.original_caches: dict[str, dict[str, Any]] = {
            alias: dict(config) for alias, config in source.items()
        }
        self.aliases: dict[str, IsolatedAlias] = {}
        self.root: str | None = None
        self.active = False
        # False in a parallel run's parent, which only replays its workers' results.
        self.per_test = True
        self._override: Any = None
        self._stores: dict[str, Any] = {}

    # -- life cycle ------------------------------------------------------------------------

    def check(self) -> None:
        """Raise :class:`UnsafeCacheError` now if ``clear`` mode would refuse an alias."""
        if self.mode == "clear":
            marked, temp_root = safe_caches(), tempfile.gettempdir()
            for alias, config in self.original_caches.items():
                clear_plan(alias, config, marked, temp_root)

    def start(self) -> Isolation:
        """Swap the caches in (swap) or check every alias (clear); idempotent."""
        if self.active or self.mode == "off":
            return self
        if self.mode == "clear":
            marked, temp_root = safe_caches(), tempfile.gettempdir()
            for alias, config in self.original_caches.items():
                how = clear_plan(alias, config, marked, temp_root)
                self.aliases[alias] = IsolatedAlias(
                    alias, str(config.get("BACKEND")), str(config.get("BACKEND")),
                    _location_text(config), how,
                )  # fmt: skip
                self._stores[alias] = _build(config)
        else:
            self._swap()
        self.active = True
        return self

    def _swap(self) -> None:
        # Imported for its receiver: it resets the ``caches`` handler on setting_changed.
        import django.test.signals  # noqa: F401
        from django.test.utils import override_settings

        prefix = f"diskcache-admin-test-{self.run_id}-{self.worker}-"
        if self.root_parent is not None:
            os.makedirs(self.root_parent, exist_ok=True)
            self.root = tempfile.mkdtemp(prefix=prefix, dir=self.root_parent)
        else:
            self.root = tempfile.mkdtemp(prefix=prefix)
        swapped = {}
        for alias, config in self.original_caches.items():
            new = swap_config(alias, config, self.root, self.run_id, self.worker)
            swapped[alias] = new
            self._stores[alias] = _build(new)
            self.aliases[alias] = IsolatedAlias(
                alias, str(config.get("BACKEND")), new["BACKEND"], new["LOCATION"], "clear"
            )
        self._override = override_settings(CACHES=swapped)
        self._override.enable()

    def reset(self, unblock: Unblock | None = None) -> None:
        """Empty every isolated store; called before each test."""
        if not self.active:
            return
        for entry in self.aliases.values():
            if entry.how == "nothing":
                continue
            # Our own object on the checked (or private) store, never ``caches[alias]``: a
            # test class may have overridden CACHES with stores that are not ours to empty.
            cache = self._stores[entry.alias]
            if entry.how == "clear":
                cache.clear()
            elif entry.how == "prefix":
                _empty_prefix(cache)
            elif entry.how == "database" and _test_database_active(cache):
                with (unblock or nullcontext)():
                    cache.clear()

    def stop(self) -> None:
        """Put the configured caches back and remove every temporary store."""
        if not self.active:
            return
        self.active = False
        if self._override is None:
            return
        from django.core.cache.backends import locmem

        self._override.disable()
        self._override = None
        for entry in self.aliases.values():
            if entry.backend == LOCMEM:
                # LocMem stores are module-global and keyed by LOCATION: drop ours for good.
                for registry in ("_caches", "_expire_info", "_locks"):
                    getattr(locmem, registry).pop(entry.location, None)
            else:
                store = self._stores[entry.alias].store
                # Write pending statistics now: a flush at exit would recreate the directory.
                store.flush()
                store.db.close()
        self._stores.clear()
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)

    def describe(self) -> str:
        """One line for a report header."""
        if self.mode == "off":
            return "off (no alias isolated)"
        names = ", ".join(self.original_caches) or "none"
        count = len(self.original_caches)
        return f"{self.mode} ({count} alias{'es' if count != 1 else ''} isolated: {names})"


# The isolation of this process, so per-test hooks in results and workers can find it.
_active: Isolation | None = None


def active() -> Isolation | None:
    return _active


def activate(isolation: Isolation | None) -> None:
    global _active
    _active = isolation


# Test methods and classes marked with ``cache_isolation("off")`` keep the stores as they are.
MARK_ATTRIBUTE = "_diskcache_admin_cache_isolation"


def cache_isolation(mode: str) -> Callable[[Any], Any]:
    """Per-test choice for unittest: ``@cache_isolation("off")`` skips emptying before it."""
    if mode not in ("off", "on"):
        raise ValueError("cache_isolation() takes 'off' or 'on'.")

    def mark(target: Any) -> Any:
        setattr(target, MARK_ATTRIBUTE, mode)
        return target

    return mark


def wants_reset(test: Any) -> bool:
    method = getattr(test, getattr(test, "_testMethodName", ""), None)
    mode = getattr(method, MARK_ATTRIBUTE, None) or getattr(type(test), MARK_ATTRIBUTE, None)
    return mode != "off"
