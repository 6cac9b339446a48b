"""What the child processes of test_processes.py run; importable, so 'spawn' children can too."""

from __future__ import annotations

from typing import Any

from diskcache_admin.engine import MISSING, Codec, KeyParts, Store

SIGNING_KEY = b"multi-process-tests"
FILE_THRESHOLD = 4096


def open_store(directory: str) -> Store:
    return Store(
        directory,
        Codec([SIGNING_KEY]),
        max_entries=None,
        size_limit=None,
        file_threshold=FILE_THRESHOLD,
    )


def expected_value(worker: int, round_: int) -> Any:
    # Every tenth value is large enough to live in a value file.
    if round_ % 10 == 0:
        return bytes([worker]) * (FILE_THRESHOLD * 2) + round_.to_bytes(4, "big")
    return [worker, round_]


def hammer(
    directory: str, worker: int, workers: int, rounds: int, start: Any, results: Any
) -> None:
    """Write own keys, bump the shared counter, read every worker's keys; report what was wrong."""
    store = open_store(directory)
    errors: list[str] = []
    gets = 0
    try:
        start.wait(timeout=60)  # all at once, so that the writes really contend
        for round_ in range(rounds):
            key = f"w{worker}:{round_}"
            store.set(key, KeyParts(key), expected_value(worker, round_), None)
            store.incr("counter", 1)
            for other in range(workers):
                # another worker's key is either not written yet or exactly right
                value = store.get(f"w{other}:{round_ // 2}")
                gets += 1
                if value is not MISSING and value != expected_value(other, round_ // 2):
                    errors.append(f"w{other}:{round_ // 2} read as {value!r}")
        store.flush()
    except Exception as exc:  # any error at all is what the test reports
        errors.append(f"{type(exc).__name__}: {exc}")
    results.put((worker, gets, errors))
