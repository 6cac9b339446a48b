"""The writer that test_crash.py kills with SIGKILL, over and over.

Run as ``python -m tests.reliability.crash_writer DIRECTORY LOG RUN SEED``. It writes unique keys
with mostly large values (value files) into a store so small that nearly every insert culls, and
logs to ``LOG`` (one ``os.write`` per line on an O_APPEND descriptor, so a line is either whole
or absent when the process dies):

* ``B <key> <size> <digest>`` just before ``set()`` is called,
* ``A <key>`` just after it returned: the write is acknowledged.

It runs until it is killed (or for ``MAX_SECONDS``, should the test die first).
"""

from __future__ import annotations

import os
import random
import sys
import time

from benchmarks.stress import make_payload, make_value
from diskcache_admin.engine import Codec, KeyParts, Store

SIGNING_KEY = b"crash-test-signing-key"
MAX_ENTRIES = 12
FILE_THRESHOLD = 4096
MAX_SECONDS = 30.0
SMALL, LARGE = (200, 1500), (20_000, 400_000)


def open_store(directory: str) -> Store:
    return Store(
        directory,
        Codec([SIGNING_KEY]),
        max_entries=MAX_ENTRIES,
        cull_frequency=3,
        size_limit=None,
        file_threshold=FILE_THRESHOLD,
        statistics=False,
    )


def main(directory: str, log_path: str, run: int, seed: int) -> None:
    rng = random.Random(f"{seed}:{run}")
    store = open_store(directory)
    log = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    deadline = time.monotonic() + MAX_SECONDS
    index = 0
    while time.monotonic() < deadline:
        key = f"r{run}-{index}"
        index += 1
        low, high = LARGE if rng.random() < 0.75 else SMALL
        value = make_value(key, make_payload(rng, rng.randint(low, high)), None)
        size = len(value[3])
        os.write(log, f"B {key} {size} {value[4].hex()}\n".encode())
        store.set(key, KeyParts(key), value, None)
        os.write(log, f"A {key}\n".encode())


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
