"""Writes under RLIMIT_FSIZE, for test_resources.py: a disk that refuses to grow any file.

Run as ``python -m tests.reliability.fault_writer LOCATION LIMIT``, with the test's SECRET_KEY in
the environment variable ``FAULT_WRITER_SECRET_KEY`` (values are signed with it). The test has
already stored ``keep0``..``keep9``. Under the limit it tries writes that must fail and reads that
must keep working, and prints one JSON object describing what happened.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import sys
from typing import Any

import django
from django.conf import settings

from .entries import KEEP, kept_value


def outcome(action: Any) -> str:
    try:
        result = action()
    except Exception as exc:  # whatever it is, the test asserts on its type and message
        return f"{type(exc).__module__}.{type(exc).__name__}: {exc}"
    return f"ok: {result!r}"


def main(location: str, limit: int) -> None:
    settings.configure(
        SECRET_KEY=os.environ["FAULT_WRITER_SECRET_KEY"],
        CACHES={
            "default": {
                "BACKEND": "diskcache_admin.backend.DiskCache",
                "LOCATION": location,
                "OPTIONS": {"MAX_ENTRIES": None, "FILE_THRESHOLD": 1024},
            }
        },
    )
    django.setup()
    from django.core.cache import cache

    # Without this the kernel kills the process (SIGXFSZ) instead of failing the write (EFBIG).
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    report: dict[str, Any] = {
        "large_set": outcome(lambda: cache.set("large", b"L" * (limit * 2), None)),
        "large_add": outcome(lambda: cache.add("large-add", b"A" * (limit * 2), None)),
    }
    small: list[str] = []
    for index in range(400):
        result = outcome(lambda index=index: cache.set(f"small{index}", "s" * 900, None))
        small.append(result)
        if not result.startswith("ok"):
            break
    report["small_sets_before_failure"] = len(small) - 1
    report["small_failure"] = small[-1]
    report["incr"] = outcome(lambda: cache.incr("counter", 1))
    report["reads"] = [cache.get(key) == kept_value(key) for key in KEEP]
    report["large_read"] = outcome(lambda: cache.get("large"))
    print(json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
