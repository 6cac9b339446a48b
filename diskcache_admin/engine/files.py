"""Value files: payloads too large to sit comfortably in a SQLite row live beside the database.

A file is written completely under a fresh random name *before* the row that names it commits,
so no reader can reach a partial file; files are unlinked only after the row that named them is
gone. A crash between the two leaves an orphan file, which ``check(fix=True)`` removes.

The names come from rows, and rows may have been written by someone else (docs/security.rst): a
name is used only if it has exactly the shape :meth:`ValueFiles.write` gives
(``ab/ab<30 hex>.val``), and every path component below the store's directory is opened with
``O_NOFOLLOW`` relative to its parent's descriptor. So no row and no symbolic link planted in
``values/`` can make the engine read, write or unlink anything outside ``values/``, and a read
never takes more than the size the (signed) row records, nor waits on a FIFO or a device.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

VALUES_DIR = "values"
SUFFIX = ".val"

# The only names the engine ever makes: a bucket of two hex digits, and in it the 32 hex digits
# of a random token (starting with the bucket's two) and the suffix. Nothing else is opened.
NAME_PATTERN = re.compile(r"\A([0-9a-f]{2})/(\1[0-9a-f]{30}\.val)\Z")
BUCKET_PATTERN = re.compile(r"\A[0-9a-f]{2}\Z")
FILE_PATTERN = re.compile(r"\A[0-9a-f]{32}\.val\Z")

_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | _CLOEXEC
# O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer, forever.
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | _CLOEXEC
_WRITE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | _CLOEXEC
# What opening a symbolic link (or a non-directory as a directory) with O_NOFOLLOW raises.
_NOT_FOLLOWED = {errno.ELOOP, errno.ENOTDIR, getattr(errno, "EMLINK", errno.ELOOP)}


class BadValueFile(OSError):
    """A row names a value file the engine must not use: a corrupt entry (a miss).

    An ``OSError``, so that a write that meets one (every bucket it tried is a link) fails like
    any other failed file write.
    """


def make_private_dirs(path: str) -> None:
    """Create ``path`` and every missing parent with mode 0700, whatever the umask.

    ``os.makedirs(mode=...)`` applies the mode to the last directory only; the parents it creates
    get the umask's default (often 0755), which would let other users list the cache.
    """
    missing: list[str] = []
    current = os.path.abspath(path)
    while not os.path.isdir(current):
        missing.append(current)
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    for directory in reversed(missing):
        try:
            os.mkdir(directory, 0o700)
        except FileExistsError:
            if not os.path.isdir(directory):
                raise
            continue  # another process or thread made it first; its mode is its own
        os.chmod(directory, 0o700)  # a umask could have removed bits of 0700


def split_name(filename: object) -> tuple[str, str]:
    """``(bucket, file name)`` of a name the engine makes; :class:`BadValueFile` otherwise."""
    match = NAME_PATTERN.match(filename) if isinstance(filename, str) else None
    if match is None:
        raise BadValueFile(f"{filename!r} is not a value file name this engine makes")
    return match.group(1), match.group(2)


def is_valid_name(filename: object) -> bool:
    return isinstance(filename, str) and NAME_PATTERN.match(filename) is not None


@dataclass(frozen=True)
class Found:
    """One thing found under ``values/`` by :meth:`ValueFiles.walk` (never followed).

    ``kind``: ``value`` (a regular file with a name the engine makes), ``symlink``, ``special``
    (a FIFO, device or socket) or ``stray`` (a file or directory with a name it never makes).
    """

    name: str
    kind: Literal["value", "symlink", "special", "stray"]
    mtime: float
    size: int
    is_dir: bool = False


class ValueFiles:
    def __init__(self, directory: str) -> None:
        self.directory = directory
        self.root = os.path.join(directory, VALUES_DIR)

    def path(self, filename: str) -> str:
        """The path of a valid value file name (for messages and tests; never opened as is)."""
        bucket, name = split_name(filename)
        return os.path.join(self.root, bucket, name)

    # -- descriptors -------------------------------------------------------------------------

    def _open_root(self) -> int:
        try:
            return os.open(self.root, _DIRECTORY_FLAGS)
        except OSError as exc:
            if exc.errno in _NOT_FOLLOWED:
                raise BadValueFile(f"{self.root} is a symbolic link or not a directory") from exc
            raise

    @contextlib.contextmanager
    def _bucket(self, bucket: str, *, create: bool = False) -> Iterator[int]:
        """A descriptor of ``values/<bucket>``, reached without following any link."""
        if create and not os.path.isdir(self.root):
            make_private_dirs(self.root)
        root = self._open_root()
        try:
            if create:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(bucket, 0o700, dir_fd=root)
            try:
                fd = os.open(bucket, _DIRECTORY_FLAGS, dir_fd=root)
            except OSError as exc:
                if exc.errno in _NOT_FOLLOWED:
                    raise BadValueFile(
                        f"{self.root}/{bucket} is a symbolic link or not a directory"
                    ) from exc
                raise
        finally:
            os.close(root)
        try:
            yield fd
        finally:
            os.close(fd)

    # -- files -------------------------------------------------------------------------------

    def write(self, payload: bytes) -> str:
        """Write ``payload`` to a new file and return its name relative to the values root.

        A bucket replaced by a link is skipped for another random one (``check(fix=True)``
        removes the link); :class:`BadValueFile` only if several in a row are.
        """
        for attempt in range(8):
            try:
                return self._write(payload)
            except BadValueFile:
                if attempt == 7:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _write(self, payload: bytes) -> str:
        token = secrets.token_hex(16)
        bucket, name = token[:2], token + SUFFIX
        with self._bucket(bucket, create=True) as bucket_fd:
            info = os.fstat(bucket_fd)
            if stat.S_IMODE(info.st_mode) & 0o077 and info.st_uid == os.geteuid():
                os.fchmod(bucket_fd, 0o700)  # made just now under a permissive umask
            fd = os.open(name, _WRITE_FLAGS, 0o600, dir_fd=bucket_fd)
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(payload)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(name, dir_fd=bucket_fd)
                raise
        return f"{bucket}/{name}"

    def read(self, filename: str, size: int) -> bytes:
        """Exactly ``size`` bytes of a value file, or an error; never more, never waiting.

        ``FileNotFoundError`` if it is gone (perhaps overwritten meanwhile: the caller decides);
        :class:`BadValueFile` for a name the engine never makes, a symbolic link, anything but a
        regular file, or a file whose size is not ``size``.
        """
        bucket, name = split_name(filename)
        if type(size) is not int or size < 0:
            raise BadValueFile(f"{filename}: the recorded size {size!r} is not a size")
        with self._bucket(bucket) as bucket_fd:
            try:
                fd = os.open(name, _READ_FLAGS, dir_fd=bucket_fd)
            except OSError as exc:
                if exc.errno in _NOT_FOLLOWED:
                    raise BadValueFile(f"{filename} is a symbolic link") from exc
                raise
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise BadValueFile(f"{filename} is not a regular file")
            if info.st_size != size:
                raise BadValueFile(f"{filename} holds {info.st_size} B, its entry says {size} B")
            data = os.read(fd, size) if size else b""
            if len(data) == size:
                return data
            chunks = [data]  # a huge file, read in several calls (the kernel caps one read)
            remaining = size - len(data)
            while remaining:
                chunk = os.read(fd, remaining)
                if not chunk:
                    raise BadValueFile(f"{filename} was truncated while it was read")
                chunks.append(chunk)
                remaining -= len(chunk)
            return b"".join(chunks)
        finally:
            os.close(fd)

    def size(self, filename: str) -> int | None:
        """A regular value file's size; ``None`` if missing; :class:`BadValueFile` if not one."""
        bucket, name = split_name(filename)
        try:
            with self._bucket(bucket) as bucket_fd:
                info = os.stat(name, dir_fd=bucket_fd, follow_symlinks=False)
        except FileNotFoundError:
            return None
        if not stat.S_ISREG(info.st_mode):
            raise BadValueFile(f"{filename} is not a regular file")
        return info.st_size

    def remove(self, filenames: Iterable[str | None]) -> None:
        """Unlink value files; names the engine never makes are skipped (never joined to a path).

        ``unlink`` removes a symbolic link itself, never its target, and each bucket is opened
        without following links, so nothing outside ``values/`` can be removed.
        """
        by_bucket: dict[str, list[str]] = {}
        for filename in filenames:
            if filename and is_valid_name(filename):
                bucket, name = split_name(filename)
                by_bucket.setdefault(bucket, []).append(name)
        for bucket, names in by_bucket.items():
            try:
                with self._bucket(bucket) as bucket_fd:
                    for name in names:
                        # Gone already, or a directory planted under a value file's name: the
                        # row is gone either way, and check(fix=True) removes what is left.
                        with contextlib.suppress(OSError):
                            os.unlink(name, dir_fd=bucket_fd)
            except OSError:
                continue  # no such bucket, or a link in its place: nothing of ours to remove

    # -- walking -----------------------------------------------------------------------------

    def walk(self) -> Iterator[Found]:
        """Everything under ``values/``, by ``lstat``: links are reported, never followed."""
        try:
            root_info = os.lstat(self.root)
        except FileNotFoundError:
            return
        if stat.S_ISLNK(root_info.st_mode) or not stat.S_ISDIR(root_info.st_mode):
            kind: Literal["symlink", "stray"] = (
                "symlink" if stat.S_ISLNK(root_info.st_mode) else "stray"
            )
            yield Found(".", kind, root_info.st_mtime, root_info.st_size)
            return
        try:
            root = self._open_root()
        except (FileNotFoundError, BadValueFile):
            return  # replaced meanwhile: the next check sees what is there
        try:
            yield from self._walk_root(root)
        finally:
            os.close(root)

    def _walk_root(self, root: int) -> Iterator[Found]:
        for bucket, info in sorted(_entries(root)):
            if stat.S_ISLNK(info.st_mode):
                yield Found(bucket, "symlink", info.st_mtime, info.st_size)
            elif not stat.S_ISDIR(info.st_mode):
                yield Found(bucket, _kind_of(info, valid=False), info.st_mtime, info.st_size)
            elif not BUCKET_PATTERN.match(bucket):
                yield Found(bucket, "stray", info.st_mtime, info.st_size, is_dir=True)
            else:
                try:
                    fd = os.open(bucket, _DIRECTORY_FLAGS, dir_fd=root)
                except OSError:
                    continue  # removed or replaced since it was listed
                try:
                    for name, entry in _entries(fd):
                        relative = f"{bucket}/{name}"
                        valid = is_valid_name(relative)
                        if stat.S_ISLNK(entry.st_mode):
                            found_kind: Literal["value", "symlink", "special", "stray"] = "symlink"
                        elif stat.S_ISDIR(entry.st_mode):
                            found_kind = "stray"
                        else:
                            found_kind = _kind_of(entry, valid=valid)
                        yield Found(
                            relative,
                            found_kind,
                            entry.st_mtime,
                            entry.st_size,
                            is_dir=stat.S_ISDIR(entry.st_mode),
                        )
                finally:
                    os.close(fd)

    def remove_found(self, found: Found) -> None:
        """Remove something :meth:`walk` reported (a link itself, a stray tree), never following."""
        if found.name == ".":
            # values/ itself is a link or a file: remove that entry of the store's directory.
            with contextlib.suppress(FileNotFoundError, IsADirectoryError):
                info = os.lstat(self.root)
                if stat.S_ISDIR(info.st_mode) and not stat.S_ISLNK(info.st_mode):
                    return
                os.unlink(self.root)
            return
        parts = found.name.split("/")
        try:
            parent = self._open_root()
        except (FileNotFoundError, BadValueFile):
            return
        try:
            if len(parts) == 2:
                try:
                    inner = os.open(parts[0], _DIRECTORY_FLAGS, dir_fd=parent)
                except OSError:
                    return
                os.close(parent)
                parent = inner
            _remove_entry(parent, parts[-1])
        finally:
            os.close(parent)


def _kind_of(info: os.stat_result, *, valid: bool) -> Literal["value", "special", "stray"]:
    if not stat.S_ISREG(info.st_mode):
        return "special"
    return "value" if valid else "stray"


def _entries(directory_fd: int) -> list[tuple[str, os.stat_result]]:
    """``(name, lstat)`` of each entry of an open directory (vanished ones left out)."""
    result = []
    for name in os.listdir(directory_fd):
        try:
            result.append((name, os.stat(name, dir_fd=directory_fd, follow_symlinks=False)))
        except FileNotFoundError:
            continue
    return result


def _remove_entry(parent: int, name: str, depth: int = 0) -> None:
    """Remove ``name`` in ``parent``: a file or link is unlinked, a directory emptied first.

    Each directory is opened with ``O_NOFOLLOW`` relative to its parent, so a link swapped in
    for a directory during the walk is unlinked, never entered.
    """
    try:
        info = os.stat(name, dir_fd=parent, follow_symlinks=False)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(info.st_mode):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name, dir_fd=parent)
        return
    if depth > 32:
        return  # a planted tree deeper than anything the engine makes: leave it, reported again
    try:
        fd = os.open(name, _DIRECTORY_FLAGS, dir_fd=parent)
    except OSError:
        return
    try:
        for child in os.listdir(fd):
            _remove_entry(fd, child, depth + 1)
    finally:
        os.close(fd)
    with contextlib.suppress(OSError):
        os.rmdir(name, dir_fd=parent)
