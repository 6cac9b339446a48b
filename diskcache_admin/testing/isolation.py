"""The core of cache isolation, shared by the Django runner and the pytest plugin.

``swap`` replaces the aliases that can hold data, through ``override_settings`` (so every
thread and the live server see it), by a private store: DiskCache aliases by DiskCache in a
fresh temporary directory, the other backends Django ships by LocMemCache with a LOCATION unique
to run, worker and alias. DummyCache (it holds nothing) and classes this app does not know are
left as configured unless the test settings declare otherwise.
``clear`` keeps the configured backends and empties them before each test, but only those the
run can prove to be its own: created by the run, marked by an earlier test run, or declared in
the test settings; any other alias stops the run before a single key is touched.
"""

from __future__ import annotations

import ipaddress
import os
import re
import shutil
import stat
import tempfile
import uuid
import warnings
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import CommandError
from django.utils.module_loading import import_string

from diskcache_admin.inspection.kinds import Kind, kind_of_config

MODES = ("swap", "clear", "off")
# What DISKCACHE_ADMIN_TEST_CACHES may say about an alias (see docs/testing.rst).
DECLARATIONS = ("database", "prefix", "directory", "swap", "keep")
# The marker a test run leaves in a FileBasedCache directory it may clear again (DiskCache
# writes its own through DiskCache.mark_as_test_store()). FileBasedCache only ever lists, culls
# and deletes ``*.djcache`` files, so the marker survives its clear().
FILEBASED_MARKER = "diskcache-admin-test-store"

LOCMEM = "django.core.cache.backends.locmem.LocMemCache"
# Settings that shape how code under test sees the cache; a swapped alias keeps them.
KEPT_TOP_LEVEL = ("KEY_PREFIX", "VERSION", "KEY_FUNCTION", "TIMEOUT")
KEPT_OPTIONS = ("MAX_ENTRIES", "CULL_FREQUENCY")

Unblock = Callable[[], AbstractContextManager[Any]]


class UnsafeCacheError(CommandError, ImproperlyConfigured):
    """``clear`` mode met an alias it cannot prove to be the run's own; nothing was touched.

    A CommandError, so ``manage.py test`` prints the message and exits with status 1 instead
    of showing a traceback (the pytest plugin turns it into a usage error).
    """


def check_mode(mode: str, source: str) -> str:
    if mode not in MODES:
        raise ImproperlyConfigured(
            f"{source} must be one of {', '.join(repr(m) for m in MODES)}, not {mode!r}."
        )
    return mode


def declared_caches() -> dict[str, str]:
    """``DISKCACHE_ADMIN_TEST_CACHES`` (and its deprecated old name) validated."""
    from diskcache_admin.conf import conf

    declared = conf.TEST_SAFE_CACHES
    if declared:
        warnings.warn(
            "DISKCACHE_ADMIN_TEST_SAFE_CACHES is deprecated: rename it "
            "DISKCACHE_ADMIN_TEST_CACHES (the values are the same).",
            DeprecationWarning,
            stacklevel=2,
        )
    declared.update(conf.TEST_CACHES)
    for alias, scope in declared.items():
        if scope not in DECLARATIONS:
            raise ImproperlyConfigured(
                f"DISKCACHE_ADMIN_TEST_CACHES[{alias!r}] must be one of "
                f"{', '.join(repr(d) for d in DECLARATIONS)}, not {scope!r}."
            )
    return declared


# -- backends --------------------------------------------------------------------------------


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


def _server_host(kind: Kind, server: str) -> str | None:
    """The host a server string points at; ``None`` for a local Unix socket."""
    if kind.is_redis:
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


# -- clear mode: proving an alias is the run's own ------------------------------------------


def _is_regular_file(path: str) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def _directory_refusal(kind: Kind, alias: str, config: Mapping[str, Any]) -> str | None:
    """Why the directory of a DiskCache/FileBased alias is not provably the run's own, or None.

    Its own: it does not exist yet (the run creates it), or it holds no entry, or a test run
    marked it. Its location proves nothing: a developer's cache can live under the system
    temporary directory, and a relative LOCATION depends on the current directory.
    """
    location = str(config.get("LOCATION", ""))
    if not location:
        return "it has no LOCATION"
    if not os.path.isabs(location):
        return "its LOCATION is relative, so the directory it names depends on where the run starts"
    try:
        info = os.lstat(location)
    except FileNotFoundError:
        return None  # the run creates it, and marks it
    except OSError as exc:
        return f"its directory cannot be read ({exc.strerror})"
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        return "its LOCATION is a symbolic link or not a directory"
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        return "its directory belongs to another user"
    if kind is Kind.DISKCACHE:
        from diskcache_admin.inspection.diskcache import DiskCacheAdapter

        cache = _build(config)
        if cache.is_test_store():
            return None
        entries = DiskCacheAdapter(alias, cache, dict(config)).stats().entries
    else:
        if _is_regular_file(os.path.join(location, FILEBASED_MARKER)):
            return None
        entries = sum(1 for name in os.listdir(location) if name.endswith(".djcache"))
    if entries == 0:
        return None
    return (
        f"its directory holds {entries} entr{'y' if entries == 1 else 'ies'} and no test run "
        "marked it, so it may be a developer's cache (a location, even under the system "
        "temporary directory, proves nothing)"
    )


def _disk_marker() -> str:
    from diskcache_admin.backend import DiskCache

    return DiskCache.TEST_MARKER


def clear_plan(alias: str, config: Mapping[str, Any], declared: Mapping[str, str]) -> str:
    """How ``clear`` mode may empty ``alias``, or :class:`UnsafeCacheError` saying why not.

    Returns ``clear`` (the backend's own clear()), ``prefix`` (delete the keys under KEY_PREFIX
    only), ``database`` (clear only while the test database is active) or ``nothing``.
    """
    kind = kind_of_config(config)
    where = _location_text(config) or "(no LOCATION)"
    scope = declared.get(alias)

    def refuse(why: str, fix: str) -> UnsafeCacheError:
        return UnsafeCacheError(
            f"Cache isolation mode 'clear' refuses CACHES[{alias!r}] "
            f"({config.get('BACKEND')} at {where}): {why}. Nothing was cleared. To fix it: {fix}; "
            "or set DISKCACHE_ADMIN_TEST_ISOLATION = 'swap' (the default), which replaces every "
            "alias by a private store and never touches the configured one."
        )

    if scope == "keep":
        return "nothing"
    if kind is Kind.LOCMEM:
        return "clear"
    if kind is Kind.DUMMY:
        return "nothing"
    if kind.is_on_disk:
        if scope == "directory":
            return "clear"
        why = _directory_refusal(kind, alias, config)
        if why is None:
            return "clear"
        raise refuse(
            why,
            "give the tests a directory of their own (one that does not exist yet: the run "
            "creates and marks it), or declare this one test-only with "
            f"DISKCACHE_ADMIN_TEST_CACHES = {{{alias!r}: 'directory'}}",
        )
    if kind is Kind.DATABASE:
        return "database"
    if kind.is_redis or kind is Kind.MEMCACHED:
        # (scope is the declaration read above)
        for server in _servers(config):
            host = _server_host(kind, server)
            if host is not None and not _is_loopback(host):
                raise refuse(
                    f"the server {host} is not a loopback address, so it may be a shared or "
                    "production cache",
                    "run a test-only server on 127.0.0.1 (or a Unix socket) for the tests",
                )
        example = f"{{{alias!r}: 'database'}}"
        if scope not in ("database", "prefix"):
            raise refuse(
                "a server on this machine may still be the one your development server uses, "
                "and DISKCACHE_ADMIN_TEST_CACHES does not declare this alias test-only",
                f"give the tests their own Redis database number (or memcached instance) and set "
                f"DISKCACHE_ADMIN_TEST_CACHES = {example}, or give them their own KEY_PREFIX "
                f"and declare the alias 'prefix' (Redis only)",
            )
        if scope == "prefix":
            if not kind.is_redis:
                raise refuse(
                    "memcached cannot list keys, so it cannot be emptied by prefix",
                    f"mark it 'database' ({example}) only if the whole server is test-only",
                )
            if not config.get("KEY_PREFIX") or config.get("KEY_FUNCTION"):
                raise refuse(
                    "'prefix' needs a non-empty KEY_PREFIX and Django's default KEY_FUNCTION, so "
                    "that the alias's keys are exactly those its key function makes for it",
                    "set a KEY_PREFIX used only by the tests",
                )
            return "prefix"
        return "clear"
    raise refuse(
        f"the backend is not one whose locations can be checked ({kind.value})",
        f"declare it DISKCACHE_ADMIN_TEST_CACHES = {{{alias!r}: 'keep'}} to leave it alone, use "
        "swap mode, or test with a LocMem/DiskCache alias",
    )


# -- swap mode -------------------------------------------------------------------------------


def _safe_name(alias: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", alias) or "_"


def swap_config(
    alias: str,
    config: Mapping[str, Any],
    root: str,
    run_id: str,
    worker: str,
    declaration: str | None = None,
) -> dict[str, Any] | None:
    """The private replacement for one alias, or None when it is left as configured."""
    kind = kind_of_config(config)
    if declaration == "keep" or kind is Kind.DUMMY:
        return None  # DummyCache holds nothing: nothing to isolate, nothing to change
    if kind is Kind.OTHER and declaration != "swap":
        return None  # what a class we do not know promises (per thread?) is not ours to change
    new: dict[str, Any] = {key: config[key] for key in KEPT_TOP_LEVEL if key in config}
    options: Mapping[str, Any] = config.get("OPTIONS") or {}
    if kind is Kind.DISKCACHE:
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
    # Exactly the alias's own keys, matched the way the admin's "clear" matches them.
    from diskcache_admin.inspection.redis import delete_alias_keys

    delete_alias_keys(cache)


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
        shared: bool = False,
    ) -> None:
        self.mode = check_mode(mode, "The cache isolation mode")
        # True in a pytest-xdist worker: its siblings use the same configured directories, so
        # the controller, not the first worker to finish, removes what the run created.
        self.shared = shared
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
        # Directories clear mode created for the run (removed again when it stops).
        self._created: list[str] = []
        # Clear mode: on-disk LOCATIONs that did not exist when check() ran.
        self.missing_at_check: list[str] = []

    # -- life cycle ------------------------------------------------------------------------

    def check(self) -> dict[str, str]:
        """Raise :class:`UnsafeCacheError` now if ``clear`` mode would refuse an alias.

        Returns how each alias would be emptied (clear mode; empty otherwise).
        """
        if self.mode != "clear":
            return {}
        declared = declared_caches()
        plans: dict[str, str] = {}
        refusals: list[str] = []
        self.missing_at_check = []
        for alias, config in self.original_caches.items():
            location = str(config.get("LOCATION", ""))
            if kind_of_config(config).is_on_disk and location and not os.path.lexists(location):
                self.missing_at_check.append(location)
            try:
                plans[alias] = clear_plan(alias, config, declared)
            except UnsafeCacheError as exc:
                refusals.append(str(exc))
        if refusals:
            # Every refused alias at once, so one fix-and-rerun is enough.
            raise UnsafeCacheError("\n\n".join(refusals))
        return plans

    def start(self) -> Isolation:
        """Swap the caches in (swap) or check every alias (clear); idempotent."""
        if self.active or self.mode == "off":
            return self
        if self.mode == "clear":
            # Every alias is checked before any is touched: one refusal and nothing changed.
            plans = self.check()
            declared = declared_caches()
            for alias, config in self.original_caches.items():
                backend = str(config.get("BACKEND"))
                how = plans[alias]
                self.aliases[alias] = IsolatedAlias(
                    alias, backend, backend, _location_text(config), how
                )
                location = str(config.get("LOCATION", ""))
                on_disk = kind_of_config(config).is_on_disk
                missing = location and not os.path.lexists(location)
                if on_disk and how == "clear" and missing and not self.shared:
                    self._created.append(location)  # before FileBasedCache() makes it
                self._stores[alias] = _build(config)
                if how == "clear" and declared.get(alias) != "directory":
                    self._mark(alias, config)
        else:
            self._swap()
        self.active = True
        return self

    def _mark(self, alias: str, config: Mapping[str, Any]) -> None:
        """Label a DiskCache/FileBased directory as the run's, creating it when missing."""
        kind = kind_of_config(config)
        if not kind.is_on_disk:
            return
        location = str(config["LOCATION"])
        if kind is Kind.DISKCACHE:
            self._stores[alias].mark_as_test_store(self.run_id)
            return
        os.makedirs(location, mode=0o700, exist_ok=True)
        path = os.path.join(location, FILEBASED_MARKER)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(f"Made by the test run {self.run_id} of diskcache_admin.testing.\n")

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
        declared = declared_caches()
        swapped = {}
        for alias, config in self.original_caches.items():
            backend = str(config.get("BACKEND"))
            new = swap_config(
                alias, config, self.root, self.run_id, self.worker, declared.get(alias)
            )
            if new is None:
                # Left as configured; a copy, so that override_settings resets its objects too.
                swapped[alias] = dict(config)
                self.aliases[alias] = IsolatedAlias(
                    alias, backend, backend, _location_text(config), "nothing"
                )
                continue
            swapped[alias] = new
            self._stores[alias] = _build(new)
            self.aliases[alias] = IsolatedAlias(
                alias, backend, new["BACKEND"], new["LOCATION"], "clear"
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
            self._remove_created()
            return
        from django.core.cache.backends import locmem

        self._override.disable()
        self._override = None
        for entry in self.aliases.values():
            if entry.how == "nothing":
                continue
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

    def remove_created_by_workers(self) -> None:
        """A parallel run's controller: remove the directories that did not exist when it
        checked them and that a worker of this run then created and marked."""
        for location in self.missing_at_check:
            marked = _is_regular_file(os.path.join(location, FILEBASED_MARKER)) or (
                _is_regular_file(os.path.join(location, _disk_marker()))
            )
            if marked and not os.path.islink(location):
                shutil.rmtree(location, ignore_errors=True)
        self.missing_at_check.clear()

    def _remove_created(self) -> None:
        """Clear mode: remove the directories the run itself created, and nothing else."""
        for alias, entry in self.aliases.items():
            store = getattr(self._stores.get(alias), "_store", None)
            if store is not None and entry.location in self._created:
                store.flush()
                store.db.close()
        self._stores.clear()
        for location in self._created:
            shutil.rmtree(location, ignore_errors=True)
        self._created.clear()

    def describe(self) -> str:
        """One line for a report header."""
        if self.mode == "off":
            return "off (no alias isolated)"
        isolated = [a for a, entry in self.aliases.items() if entry.how != "nothing"]
        if not self.aliases:  # not started (an xdist controller): what the workers will do
            isolated = list(self.original_caches)
        kept = [a for a in self.original_caches if a not in isolated]
        count = len(isolated)
        text = f"{self.mode} ({count} alias{'es' if count != 1 else ''} isolated: "
        text += (", ".join(isolated) or "none") + ")"
        if kept:
            text += f"; left as configured: {', '.join(kept)}"
        return text


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
