"""A writer for test_admin_reading.py: sets and deletes for a while, timing every operation.

Run as ``python -m tests.reliability.admin_writer DIRECTORY SECONDS BUSY_TIMEOUT WORKER KEY``
(``KEY``: the backend's signing key, in hex); prints
one JSON object: operations, errors, and the slowest operation in seconds.
"""

from __future__ import annotations

import json
import random
import sys
import time

from diskcache_admin.engine import Codec, KeyParts, Store


def main(
    directory: str, seconds: float, busy_timeout: float, worker: int, signing_key: bytes
) -> None:
    store = Store(
        directory,
        Codec([signing_key]),
        max_entries=400,
        size_limit=None,
        file_threshold=4096,
        busy_timeout=busy_timeout,
    )
    rng = random.Random(worker)
    ops = 0
    errors: list[str] = []
    slowest = 0.0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        key = f"w{worker}:{rng.randrange(1000)}"
        started = time.perf_counter()
        try:
            if rng.random() < 0.85:
                value = b"v" * rng.choice((50, 500, 10_000))
                store.set(key, KeyParts(key), value, None, tag=f"t{worker}")
            else:
                store.delete(key)
        except Exception as exc:  # every failure is reported to the test, whatever it is
            errors.append(f"{type(exc).__name__}: {exc}")
        slowest = max(slowest, time.perf_counter() - started)
        ops += 1
    report = {"ops": ops, "errors": errors[:10], "error_count": len(errors), "slowest": slowest}
    print(json.dumps(report))


if __name__ == "__main__":
    main(
        sys.argv[1],
        float(sys.argv[2]),
        float(sys.argv[3]),
        int(sys.argv[4]),
        bytes.fromhex(sys.argv[5]),
    )
