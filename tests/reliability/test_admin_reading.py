"""The admin lists keys and statistics while two processes write: it sees no error, and no writer
waits longer than the busy timeout for it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from diskcache_admin.backend import signing_keys
from diskcache_admin.inspection import get_adapter
from diskcache_admin.inspection.base import InspectionError
from diskcache_admin.inspection.diskcache import DiskCacheAdapter

REPO = Path(__file__).resolve().parents[2]
BUSY_TIMEOUT = 5.0  # the default, what users run
SECONDS = 3.0


def test_listing_keys_and_stats_never_blocks_two_writers(
    location: str, settings_for: Callable[..., AbstractContextManager[Any]]
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    writers = [
        subprocess.Popen(
            [
                *(sys.executable, "-m", "tests.reliability.admin_writer", location),
                *(str(SECONDS), str(BUSY_TIMEOUT), str(worker), signing_keys()[0].hex()),
            ],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for worker in range(2)
    ]
    passes = listed = 0
    errors: list[str] = []
    with settings_for(MAX_ENTRIES=400, BUSY_TIMEOUT=BUSY_TIMEOUT, FILE_THRESHOLD=4096):
        adapter = get_adapter("default")
        assert isinstance(adapter, DiskCacheAdapter)
        while any(writer.poll() is None for writer in writers) or passes == 0:
            try:
                listed += sum(1 for _ in adapter.iter_keys())
                stats = adapter.stats()
                assert stats.entries is not None
                passes += 1
            except InspectionError as exc:
                errors.append(str(exc))
            time.sleep(0.01)
        final = adapter.stats()
        problems = adapter.check()
    reports = [json.loads(writer.communicate(timeout=30)[0]) for writer in writers]

    assert errors == []
    assert passes > 1
    assert listed > 0
    assert [r["error_count"] for r in reports] == [0, 0], reports
    assert all(r["ops"] > 0 for r in reports)
    assert max(r["slowest"] for r in reports) < BUSY_TIMEOUT, reports
    assert final.entries is not None
    assert 0 < final.entries <= 400
    assert problems == []
    print(
        f"\nreader: {passes} passes, {listed} keys listed; writers: {[r['ops'] for r in reports]}"
        f" ops, slowest {max(r['slowest'] for r in reports) * 1000:.1f} ms"
    )
