"""check() run while other processes write must not mistake their work for damage."""

from __future__ import annotations

from typing import Any

import pytest

from diskcache_admin.backend import DiskCache
from diskcache_admin.engine.files import ValueFiles


def test_an_entry_deleted_while_check_runs_is_not_a_missing_file(
    cache: DiskCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache.set("going", b"g" * 5000)
    cache.set("staying", b"s" * 5000)
    real_size = ValueFiles.size

    def size_after_a_concurrent_delete(files: ValueFiles, filename: str) -> Any:
        # Another process deletes the entry (row, then file) between check's SELECT and its stat.
        info = cache.entry("going")
        if info is not None and info.filename == filename:
            cache.delete("going")
        return real_size(files, filename)

    monkeypatch.setattr(ValueFiles, "size", size_after_a_concurrent_delete)

    assert cache.check(fix=True) == []
    assert cache.get("staying") == b"s" * 5000
