"""Every system check of the app, in one module; each ID is documented in docs/checks.rst.

One function per concern. ``register()`` (called from ``AppConfig.ready()``) registers those
Django runs; the toolbar panel's ``run_checks()`` calls :func:`check_panel_sees_diskcache`,
because django-debug-toolbar runs a panel's checks only when the panel is configured.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from django.conf import settings
from django.core import checks

from .backend_options import KNOWN, OptionError, parse_insight, parse_options, unknown_options
from .conf import audit_problem
from .inspection.kinds import Kind, aliases_of

# Where the mounted filesystems are listed (a module attribute, so tests can point it elsewhere).
MOUNTS_FILE = "/proc/mounts"

NETWORK_FILESYSTEMS = frozenset(
    {
        "nfs",
        "nfs4",
        "cifs",
        "smbfs",
        "smb3",
        "fuse.sshfs",
        "9p",
        "ceph",
        "glusterfs",
        "lustre",
        "afs",
        "fuse.gcsfuse",
        "fuse.s3fs",
        "davfs",
    }
)


def register() -> None:
    checks.register(check_caches, checks.Tags.caches)
    checks.register(check_panel)
    checks.register(check_cache_barriers, checks.Tags.caches)
    checks.register(check_engine_security, checks.Tags.caches)
    checks.register(check_insight, checks.Tags.caches)
    checks.register(check_settings)


def disk_aliases() -> Iterator[tuple[str, dict[str, Any]]]:
    """Aliases whose BACKEND class is DiskCache or a subclass (never judged by its name).

    An unimportable BACKEND is skipped: Django's own checks report it.
    """
    return aliases_of(Kind.DISKCACHE)


def check_caches(
    app_configs: Sequence[Any] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    messages: list[checks.CheckMessage] = []
    for alias, config in disk_aliases():
        messages.extend(_check_location(alias, config.get("LOCATION")))
        messages.extend(_check_options(alias, config.get("OPTIONS") or {}))
    return messages


def _check_location(alias: str, location: Any) -> list[checks.CheckMessage]:
    if not location or not isinstance(location, (str, os.PathLike)):
        return [
            checks.Error(
                f"CACHES[{alias!r}] uses DiskCache without a LOCATION.",
                hint="Set LOCATION to an absolute directory, e.g. BASE_DIR / 'var' / 'cache'.",
                id="diskcache_admin.E001",
            )
        ]
    location = os.fspath(location)
    if not os.path.isabs(location):
        return [
            checks.Error(
                f"CACHES[{alias!r}] LOCATION {location!r} is relative.",
                hint="A relative LOCATION depends on the working directory of each process;"
                " make it absolute.",
                id="diskcache_admin.E002",
            )
        ]
    messages: list[checks.CheckMessage] = []
    real = os.path.realpath(location)
    for setting in ("MEDIA_ROOT", "STATIC_ROOT"):
        root = getattr(settings, setting, None)
        if root and _is_within(real, os.path.realpath(os.fspath(root))):
            messages.append(
                checks.Error(
                    f"CACHES[{alias!r}] LOCATION {location!r} is inside {setting}.",
                    hint=f"Files under {setting} may be served to anyone; keep the cache"
                    " outside every served directory.",
                    id="diskcache_admin.E003",
                )
            )
    fstype = filesystem_type(real)
    if fstype in NETWORK_FILESYSTEMS:
        messages.append(
            checks.Warning(
                f"CACHES[{alias!r}] LOCATION {location!r} is on a {fstype} network filesystem.",
                hint="SQLite's locking is unreliable on network filesystems; use a local disk.",
                id="diskcache_admin.W001",
            )
        )
    return messages


def _check_options(alias: str, options: Any) -> list[checks.CheckMessage]:
    if not isinstance(options, Mapping):
        return [
            checks.Error(
                f"CACHES[{alias!r}] OPTIONS is a {type(options).__name__}, not a dict.",
                hint="Write OPTIONS as a dict, e.g. {'MAX_ENTRIES': 10_000}.",
                id="diskcache_admin.E005",
            )
        ]
    messages: list[checks.CheckMessage] = []
    for name, close in unknown_options(options):
        messages.append(
            checks.Error(
                f"CACHES[{alias!r}] OPTIONS has an unknown key {name!r}.",
                hint=f"Did you mean {close!r}?"
                if close
                else "DiskCache knows " + ", ".join(sorted(KNOWN)) + ".",
                id="diskcache_admin.E004",
            )
        )
    try:
        # INSIGHT has its own check and ID (check_insight, E030).
        parse_options({name: value for name, value in options.items() if name != "INSIGHT"})
    except OptionError as exc:
        messages.append(_invalid_option(alias, exc, "diskcache_admin.E005"))
    return messages


def _invalid_option(alias: str, exc: OptionError, check_id: str) -> checks.Error:
    """An option that does not parse: what is wrong with it, and what it must be."""
    return checks.Error(
        f"CACHES[{alias!r}] OPTIONS[{exc.option!r}] is invalid: {exc}",
        hint=f"{exc.option} must be {KNOWN[exc.option][1]}.",
        id=check_id,
    )


def _is_within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def filesystem_type(path: str, mounts_file: str | None = None) -> str | None:
    """The type of the filesystem holding ``path`` (Linux only; ``None`` elsewhere)."""
    try:
        with open(MOUNTS_FILE if mounts_file is None else mounts_file) as handle:
            mounts = [line.split()[1:3] for line in handle if len(line.split()) >= 3]
    except OSError:
        return None
    best: tuple[int, str] | None = None
    for mount_point, fstype in mounts:
        mount_point = mount_point.replace("\\040", " ")
        if _is_within(path, mount_point) and (best is None or len(mount_point) > best[0]):
            best = (len(mount_point), fstype)
    return best[1] if best else None


def check_panel(
    app_configs: Sequence[Any] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Our toolbar panel named in DEBUG_TOOLBAR_PANELS while the toolbar is not installed."""
    panels = [p for p in getattr(settings, "DEBUG_TOOLBAR_PANELS", ()) if p.startswith(__package__)]
    if not panels:
        return []
    try:
        import debug_toolbar  # noqa: F401
    except ImportError:
        problem = "django-debug-toolbar is not installed"
    else:
        if "debug_toolbar" in settings.INSTALLED_APPS:
            return []
        problem = "'debug_toolbar' is not in INSTALLED_APPS"
    return [
        checks.Warning(
            f"DEBUG_TOOLBAR_PANELS names {panels[0]!r}, but {problem}: the panel is never shown.",
            hint="pip install 'django-diskcache-admin[toolbar]' and add 'debug_toolbar' to"
            " INSTALLED_APPS (with its middleware and URLs), or remove the panel.",
            id="diskcache_admin.W002",
        )
    ]


def check_panel_sees_diskcache() -> list[checks.CheckMessage]:
    """The toolbar panel is enabled, but no alias uses DiskCache (run by the panel's checks)."""
    if any(disk_aliases()):
        return []
    return [
        checks.Info(
            "DiskCachePanel is enabled but no cache alias uses DiskCache.",
            hint="The panel still shows the calls of other backends, with hit/miss labelled"
            " inferred where it cannot be exact.",
            id="diskcache_admin.I001",
        )
    ]


def check_cache_barriers(
    app_configs: Sequence[Any] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """W101/W102: an alias used with a stampede barrier whose backend cannot hold one.

    Covers the aliases of every ``memoize``/``cached_view`` imported so far with the barrier on
    (the URLconf is imported first, so decorated views count); the judgement of a backend is
    ``decorators.stampede.barrier_problem``, which also logs on the alias's first use.
    """
    from django.core.cache import InvalidCacheBackendError, caches
    from django.core.exceptions import ImproperlyConfigured

    from .decorators.stampede import barrier_aliases, barrier_problem

    _import_url_conf()
    messages: list[checks.CheckMessage] = []
    for alias in sorted(barrier_aliases()):
        try:
            cache = caches[alias]
        except (InvalidCacheBackendError, ImproperlyConfigured):
            continue  # Django's own cache checks report a broken alias
        problem = barrier_problem(cache)
        if problem is not None:
            messages.append(
                checks.Warning(
                    f"CACHES[{alias!r}] is used with a stampede barrier, but {problem[1]}.",
                    hint="Use Redis, memcached, LocMem or DiskCache for this alias, or pass"
                    " stampede=False.",
                    id=problem[0],
                )
            )
    return messages


def _import_url_conf() -> None:
    # Decorated views register their alias when their module is imported; the URLconf imports
    # them. Checks run in no fixed order, so this one does not rely on Django's URL check.
    from django.urls import get_resolver

    try:
        get_resolver().url_patterns  # noqa: B018 - the import is the point
    except Exception:  # any error in the URLconf is reported by Django's own URL check
        return


# The oldest SQLite the engine runs on (Django 5.2's minimum); before 3.35 it works without
# ``RETURNING`` (engine/connection.py).
MIN_SQLITE = (3, 31, 0)


def sqlite_version() -> tuple[int, int, int]:
    """The SQLite library Python's sqlite3 is linked with (a function, so tests can replace it)."""
    import sqlite3

    major, minor, patch = sqlite3.sqlite_version_info
    return major, minor, patch


def check_engine_security(
    app_configs: Sequence[Any] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """E020 another key signs the store, E021 SQLite too old, W020 LOCATION writable by others.

    Reads the store's metadata only (read-only; creates nothing). docs/security.rst.
    """
    messages: list[checks.CheckMessage] = []
    aliases = list(disk_aliases())
    if aliases and sqlite_version() < MIN_SQLITE:
        found = ".".join(map(str, sqlite_version()))
        messages.append(
            checks.Error(
                f"DiskCache needs SQLite 3.31 or later; Python's sqlite3 uses SQLite {found}.",
                hint="Run Django on a Python linked with SQLite 3.31 or later (the system"
                " SQLite of Ubuntu 20.04 and Debian 11 is; or build Python against a newer"
                " libsqlite3), or use another cache backend.",
                id="diskcache_admin.E021",
            )
        )
    for alias, config in aliases:
        location = config.get("LOCATION")
        if not location or not isinstance(location, (str, os.PathLike)):
            continue  # E001 says so
        location = os.fspath(location)
        if not os.path.isabs(location) or not os.path.isdir(location):
            continue
        from .backend import signed_by_another_key

        if signed_by_another_key(location):
            messages.append(
                checks.Error(
                    f"CACHES[{alias!r}] LOCATION {location!r} holds a cache signed with another"
                    " SECRET_KEY.",
                    hint="Two projects with different SECRET_KEYs must not share a LOCATION: give"
                    " this one its own directory. If you rotated SECRET_KEY, put the old key in"
                    " SECRET_KEY_FALLBACKS. Until then its entries read as misses and are never"
                    " deleted by this project (or delete the directory: a cache starts afresh).",
                    id="diskcache_admin.E020",
                )
            )
        mode = os.stat(location).st_mode & 0o777
        if mode & 0o022:
            messages.append(
                checks.Warning(
                    f"CACHES[{alias!r}] LOCATION {location!r} has mode {mode:04o}: other users"
                    " can write into it.",
                    hint=f"chmod 700 {location!r} (DiskCache creates its directories 0700 and"
                    " leaves an existing one as it is). Planted files only cause misses, but"
                    " anyone who can write there can empty or fill your cache.",
                    id="diskcache_admin.W020",
                )
            )
    return messages


def check_insight(
    app_configs: Sequence[Any] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """diskcache_admin.E030: a DiskCache alias's OPTIONS["INSIGHT"] is invalid."""
    messages: list[checks.CheckMessage] = []
    for alias, config in disk_aliases():
        options = config.get("OPTIONS") or {}
        if not isinstance(options, Mapping) or "INSIGHT" not in options:
            continue
        try:
            parse_insight(options["INSIGHT"])
        except OptionError as exc:  # its option is always "INSIGHT"
            messages.append(_invalid_option(alias, exc, "diskcache_admin.E030"))
    return messages


def check_settings(
    app_configs: Sequence[Any] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """The app's own settings that have no alias to hang on."""
    problem = audit_problem(getattr(settings, "DISKCACHE_ADMIN_AUDIT", True))
    if problem is None:
        return []
    return [
        checks.Error(
            f"DISKCACHE_ADMIN_AUDIT {problem}.",
            hint="Until it is fixed, every face is audited.",
            id="diskcache_admin.E006",
        )
    ]
