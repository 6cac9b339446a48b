"""Value files: payloads too large to sit comfortably in a SQLite row live beside the database.

A file is written completely under a fresh random name *before* the row that names it commits,
so no reader can reach a partial file; files are unlinked only after the row that named them is
gone. A crash between the two leaves an orphan file, which ``check(fix=True)`` removes.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterable, Iterator

VALUES_DIR = "values"
SUFFIX = ".val"


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


class ValueFiles:
    def __init__(self, directory: str) -> None:
        self.root = os.path.join(directory, VALUES_DIR)

    def path(self, filename: str) -> str:
        return os.path.join(self.root, filename)

    def write(self, payload: bytes) -> str:
        """Write ``payload`` to a new file and return its name relative to the values root."""
        name = secrets.token_hex(16)
        relative = os.path.join(name[:2], name + SUFFIX)
        full = self.path(relative)
        bucket = os.path.dirname(full)
        if not os.path.isdir(bucket):
            make_private_dirs(bucket)
        fd = os.open(full, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(payload)
        except BaseException:
            self.remove([relative])
            raise
        return relative

    def read(self, filename: str) -> bytes:
        with open(self.path(filename), "rb") as handle:
            return handle.read()

    def size(self, filename: str) -> int | None:
        try:
            return os.stat(self.path(filename)).st_size
        except FileNotFoundError:
            return None

    def remove(self, filenames: Iterable[str | None]) -> None:
        for filename in filenames:
            if filename:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.path(filename))

    def walk(self) -> Iterator[tuple[str, float, int]]:
        """Every value file as ``(relative name, mtime, size)``."""
        if not os.path.isdir(self.root):
            return
        for bucket in sorted(os.listdir(self.root)):
            bucket_path = os.path.join(self.root, bucket)
            if not os.path.isdir(bucket_path):
                continue
            for name in os.listdir(bucket_path):
                try:
                    info = os.stat(os.path.join(bucket_path, name))
                except FileNotFoundError:
                    continue
                yield os.path.join(bucket, name), info.st_mtime, info.st_size
