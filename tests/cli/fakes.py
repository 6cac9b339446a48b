"""A small in-memory adapter for what real backends cannot be made to do on demand.

It reports progress batch by batch, can be told to fail or be interrupted after a number of
batches, and offers a whole-database flush without touching a shared server.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterator
from typing import Any

from django.core.cache import caches

from diskcache_admin.inspection.base import (
    Adapter,
    Capability,
    InspectionError,
    KeyInfo,
    Problem,
    Removal,
    Stats,
)

Progress = Callable[[int], None] | None
# clear() and check() report (done, total), as the DiskCache adapter does.
Report = Callable[[int, int | None], None] | None


class FakeAdapter(Adapter):
    kind = "fake"
    capabilities = frozenset(Capability) - {Capability.SNAPSHOTS, Capability.HISTOGRAMS}

    def __init__(self, alias: str = "default", entries: int = 0, batch: int = 10) -> None:
        super().__init__(alias, caches["default"], {"LOCATION": "fake://secret-free"})
        self.data: dict[str, Any] = {f":1:k{number}": number for number in range(entries)}
        self.batch = batch
        self.interrupt_after: int | None = None  # batches before a KeyboardInterrupt
        self.fail_with: Exception | None = None
        self.flushed = False
        self.problems: list[Problem] = []
        self.report: Report = None

    @property
    def backend_name(self) -> str:
        return "FakeCache"

    def location(self) -> str:
        return "fake://secret-free"

    def stats(self) -> Stats:
        if self.fail_with is not None:
            raise self.fail_with
        return Stats(entries=len(self.data), expired=len(self.data))

    def iter_keys(self, pattern: str | None = None) -> Iterator[KeyInfo]:
        for raw in list(self.data):
            key = raw.split(":", 2)[2]
            if pattern is None or fnmatch.fnmatchcase(key, pattern):
                yield KeyInfo(key=key, raw_key=raw, version=1)

    def peek(self, raw_key: str) -> tuple[bool, Any]:
        return raw_key in self.data, self.data.get(raw_key)

    def delete(self, raw_keys: list[str]) -> int:
        return sum(self.data.pop(raw, None) is not None for raw in raw_keys)

    def clear_preview(self) -> Removal:
        return Removal(len(self.data), None)

    def _remove_all(self, progress: Progress) -> Removal:
        removed = 0
        batches = 0
        total = len(self.data)
        while self.data:
            if self.fail_with is not None:
                raise self.fail_with
            if self.interrupt_after is not None and batches >= self.interrupt_after:
                raise KeyboardInterrupt
            chunk = list(self.data)[: self.batch]
            for raw in chunk:
                del self.data[raw]
            removed += len(chunk)
            batches += 1
            if progress is not None:
                progress(len(chunk))
            if self.report is not None:
                self.report(removed, total)
        return Removal(removed, None)

    def clear(self, progress: Report = None) -> Removal:
        self.report = progress
        try:
            return self._remove_all(None)
        finally:
            self.report = None

    def expire(self, progress: Progress = None) -> Removal:
        return self._remove_all(progress)

    def flush_db(self) -> None:
        self.flushed = True
        self.data.clear()

    def check(self, fix: bool = False) -> list[Problem]:
        if fix:
            return [Problem(p.kind, p.detail, fixed=p.kind != "database") for p in self.problems]
        return list(self.problems)


class BrokenAdapter(FakeAdapter):
    """A server that is down: every read fails."""

    def __init__(self) -> None:
        super().__init__()
        self.fail_with = InspectionError("Connection refused (127.0.0.1:1)")


class SilentAdapter(FakeAdapter):
    """An adapter whose clear reports no progress, as the contract allows."""

    def clear(self) -> Removal:  # type: ignore[override]
        return self._remove_all(None)
