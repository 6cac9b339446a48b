"""The entries test_resources.py stores before a fault, shared with its subprocess."""

from __future__ import annotations

KEEP = tuple(f"keep{index}" for index in range(10))


def kept_value(key: str) -> bytes:
    # Half of them large enough for a value file (FILE_THRESHOLD 1024 in these tests).
    size = 3000 if int(key[4:]) % 2 else 100
    return (key.encode() * size)[:size]
