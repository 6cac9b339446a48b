"""SIGKILL a writer again and again: the store always opens clean and never serves a partial value.

The writer (crash_writer.py) writes every key once, with a unique value, into a store so small
that nearly every insert culls, so a kill lands inside value-file writes, row inserts, culls or
the unlinking of culled files. A key it acknowledged may have been culled since: a read must then
be a miss, otherwise exactly the acknowledged value. A key whose set() was interrupted must read
as a miss or exactly the value that was being written.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from benchmarks.stress import verify_value
from diskcache_admin.engine import MISSING, Store
from diskcache_admin.engine.integrity import ORPHAN_GRACE_SECONDS, check

from .crash_writer import FILE_THRESHOLD, open_store

KILLS = 24
REPO = Path(__file__).resolve().parents[2]


@dataclass
class Log:
    begun: dict[str, tuple[int, str]] = field(default_factory=dict)  # key -> (size, digest)
    acknowledged: set[str] = field(default_factory=set)
    last: str = ""

    @classmethod
    def read(cls, path: Path) -> Log:
        log = cls()
        for line in path.read_text().splitlines():
            parts = line.split()
            if parts[0] == "B":
                log.begun[parts[1]] = (int(parts[2]), parts[3])
            else:
                log.acknowledged.add(parts[1])
            log.last = line
        return log


def start_writer(directory: Path, log: Path, run: int, seed: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    return subprocess.Popen(
        [
            *(sys.executable, "-m", "tests.reliability.crash_writer"),
            *(str(directory), str(log), str(run), str(seed)),
        ],
        cwd=REPO,
        env=env,
    )


def wait_for_first_ack(log: Path, run: int, writer: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    marker = f"A r{run}-"
    while time.monotonic() < deadline:
        if log.exists() and marker in log.read_text():
            return
        assert writer.poll() is None, f"the writer exited with {writer.returncode}"
        time.sleep(0.005)
    pytest.fail("the writer acknowledged nothing within 20 s")


def verify(store: Store, log: Log) -> tuple[int, int]:
    """Every key reads as a miss or exactly its logged value; returns (present, large present)."""
    present = large = 0
    for key, (size, digest) in log.begun.items():
        value = store.peek(key)
        if value is MISSING:
            continue
        present += 1
        large += size >= FILE_THRESHOLD
        assert verify_value(key, value) is None, verify_value(key, value)
        assert value[4].hex() == digest, f"{key} holds a value that was never written"
    return present, large


def test_sigkill_at_random_moments_never_breaks_the_store(tmp_path: Path) -> None:
    directory, log_path = tmp_path / "store", tmp_path / "writes.log"
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    kills = killed_mid_set = killed_mid_large_set = 0
    present_total = large_total = 0
    for run in range(KILLS):
        writer = start_writer(directory, log_path, run, seed)
        wait_for_first_ack(log_path, run, writer)
        time.sleep(rng.uniform(0.0, 0.12))
        writer.send_signal(signal.SIGKILL)
        assert writer.wait(timeout=10) == -signal.SIGKILL, f"seed {seed}: not killed"
        kills += 1

        log = Log.read(log_path)
        if log.last.startswith("B "):
            killed_mid_set += 1
            killed_mid_large_set += int(log.last.split()[2]) >= FILE_THRESHOLD
        store = open_store(str(directory))
        # Young orphan value files are writes the kill interrupted: not problems (yet).
        assert check(store) == [], f"seed {seed}, kill {run}"
        present, large = verify(store, log)
        present_total += present
        large_total += large
        store.db.close()

    # Every orphan left by the kills goes once it is past the grace period; nothing else does.
    store = open_store(str(directory))
    before = store.stats().count
    leftovers = check(store, fix=True, grace=0)
    assert {p.kind for p in leftovers} <= {"orphan-file"}, leftovers
    assert check(store, grace=0) == []
    assert store.stats().count == before
    verify(store, Log.read(log_path))

    assert kills == KILLS
    assert killed_mid_set >= KILLS // 4, f"only {killed_mid_set} kills landed inside set()"
    assert killed_mid_large_set > 0
    assert present_total > 0
    assert large_total > 0
    print(
        f"\n{kills} kills (seed {seed}): {killed_mid_set} inside set(), {killed_mid_large_set}"
        f" of them writing a value file; {present_total} reads verified; grace"
        f" {ORPHAN_GRACE_SECONDS:.0f} s; {len(leftovers)} orphan files removed afterwards"
    )
