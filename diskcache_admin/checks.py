"""System checks for DiskCache aliases. Every ID is documented in README.rst."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from django.conf import settings
from django.core import checks
from django.utils.module_loading import import_string

from .backend_options import KNOWN, OptionError, parse_options, unknown_options

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
    from ._stampede import register_checks

    checks.register(check_caches, checks.Tags.caches)
    checks.register(check_panel)
    register_checks()


def disk_aliases() -> Iterator[tuple[str, dict[str, Any]]]:
    """Aliases whose BACKEND class is DiskCache or a subclass (never judged by its name)."""
    from .backend import DiskCache

    for alias, config in settings.CACHES.items():
        try:
            backend = import_string(config.get("BACKEND", ""))
        except ImportError:
            continue  # Django's own checks report an unimportable BACKEND
        if isinstance(backend, type) and issubclass(backend, DiskCache):
            yield alias, config


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
        parse_options(options)
    except OptionError as exc:
        messages.append(
            checks.Error(
                f"CACHES[{alias!r}] OPTIONS[{exc.option!r}] is invalid: {exc}",
                hint=f"{exc.option} must be {KNOWN[exc.option][1]}.",
                id="diskcache_admin.E005",
            )
        )
    return messages


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
            id="diskcache_admin.W003",
        )
    ]
