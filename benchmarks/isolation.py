"""Overhead per test of each cache isolation mode, against the plugin disabled.

``.venv/bin/python -m benchmarks.isolation [--tests 1000] [--rounds 5]``

Runs a generated suite of trivial tests under pytest (pytest-django, the settings below) with
``-p no:diskcache_admin`` (baseline), then ``--cache-isolation=off|swap|clear``. Rounds are
interleaved so background load hits every variant alike; the best round of each is kept.
Overhead per test = (variant - baseline) / number of tests. Writes
benchmarks/results/isolation.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "isolation.md"

SETTINGS = """
import os, tempfile
SECRET_KEY = "benchmark"
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
USE_TZ = True
_ROOT = tempfile.mkdtemp(prefix="bench-isolation-")
CACHES = {
    "default": {"BACKEND": "diskcache_admin.backend.DiskCache", "LOCATION": _ROOT + "/default"},
    "pages": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "pages"},
    "sessions": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "s"},
}
DISKCACHE_ADMIN_TEST_ISOLATION = "off"
"""

TRIVIAL = """
import pytest

@pytest.mark.parametrize("i", range({n}))
def test_trivial(i):
    assert i >= 0
"""

WRITING = """
import pytest
from django.core.cache import caches

@pytest.mark.parametrize("i", range({n}))
def test_writes(i):
    for alias in ("default", "pages", "sessions"):
        caches[alias].set("k", i)
"""

# Times the test loop only (not interpreter start-up and imports, which are noisy on a shared
# machine): wall clock and this process's CPU time.
CONFTEST = """
import json, os, time
import pytest

@pytest.hookimpl(wrapper=True)
def pytest_runtestloop(session):
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        return (yield)
    finally:
        with open(os.environ["BENCH_OUT"], "w") as out:
            json.dump({"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu}, out)
"""

VARIANTS = {
    "plugin disabled": ["-p", "no:diskcache_admin"],
    "off": ["--cache-isolation=off"],
    "swap": ["--cache-isolation=swap"],
    "clear": ["--cache-isolation=clear"],
}


def run(directory: Path, test_file: str, args: list[str]) -> dict[str, float]:
    out = directory / "timing.json"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(directory), str(ROOT)]),
        "BENCH_OUT": str(out),
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", test_file, *args]
    result = subprocess.run(
        command, cwd=directory, env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")
    timing: dict[str, float] = json.loads(out.read_text())
    return timing


Best = dict[str, dict[str, dict[str, float]]]


def measure(tests: int, rounds: int) -> tuple[Best, dict[str, dict[str, float]]]:
    with tempfile.TemporaryDirectory(prefix="bench-isolation-") as tmp:
        directory = Path(tmp)
        (directory / "bench_settings.py").write_text(SETTINGS)
        (directory / "pytest.ini").write_text(
            "[pytest]\nDJANGO_SETTINGS_MODULE = bench_settings\n"
            "addopts = -p no:randomly -p no:asyncio -p no:xdist -p no:cov\n"
        )
        (directory / "conftest.py").write_text(CONFTEST)
        (directory / "test_trivial.py").write_text(TRIVIAL.replace("{n}", str(tests)))
        (directory / "test_writes.py").write_text(WRITING.replace("{n}", str(tests)))
        best: Best = {}
        for workload in ("test_trivial.py", "test_writes.py"):
            times: dict[str, list[dict[str, float]]] = {name: [] for name in VARIANTS}
            run(directory, workload, VARIANTS["plugin disabled"])  # warm imports and caches
            for _ in range(rounds):
                for name, args in VARIANTS.items():
                    times[name].append(run(directory, workload, args))
            best[workload] = {
                name: {clock: min(t[clock] for t in values) for clock in ("wall", "cpu")}
                for name, values in times.items()
            }
        resets = {mode: reset_cost(directory, mode) for mode in ("swap", "clear")}
        return best, resets


RESET = """
import json, os, sys, time
import django
django.setup()
from diskcache_admin.testing.isolation import Isolation
from django.core.cache import caches

isolation = Isolation(sys.argv[1]).start()
calls = int(sys.argv[2])
results = {}
for label, write in (("empty stores", False), ("one key in each alias", True)):
    best = float("inf")
    for _ in range(5):
        total = 0.0
        for i in range(calls):
            if write:
                for alias in caches:
                    caches[alias].set("k", i)
            started = time.perf_counter()
            isolation.reset()
            total += time.perf_counter() - started
        best = min(best, total / calls)
    results[label] = best
isolation.stop()
print(json.dumps(results))
"""


def reset_cost(directory: Path, mode: str, calls: int = 1000) -> dict[str, float]:
    """Microseconds of one ``Isolation.reset()`` (what runs before each test), in process."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(directory), str(ROOT)]),
        "DJANGO_SETTINGS_MODULE": "bench_settings",
    }
    result = subprocess.run(
        [sys.executable, "-c", RESET, mode, str(calls)],
        cwd=directory, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    costs: dict[str, float] = json.loads(result.stdout)
    return {label: seconds * 1e6 for label, seconds in costs.items()}


def table(best: Best, tests: int) -> str:
    lines = [
        "| workload | variant | test loop, wall (s) | CPU (s) "
        "| overhead per test, wall (ms) | overhead per test, CPU (ms) |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    labels = {"test_trivial.py": "trivial tests", "test_writes.py": "each test writes 3 aliases"}
    for workload, times in best.items():
        base = times["plugin disabled"]
        for name, t in times.items():
            if name == "plugin disabled":
                wall = cpu = "—"
            else:
                wall = f"{(t['wall'] - base['wall']) / tests * 1e3:.3f}"
                cpu = f"{(t['cpu'] - base['cpu']) / tests * 1e3:.3f}"
            cells = [labels[workload], name, f"{t['wall']:.3f}", f"{t['cpu']:.3f}", wall, cpu]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    options = parser.parse_args()
    load_before = os.getloadavg()[0]
    best, resets = measure(options.tests, options.rounds)
    load_after = os.getloadavg()[0]
    text = table(best, options.tests)
    reset_lines = "\n".join(
        f"| {mode} | {label} | {micros:.1f} |"
        for mode, costs in resets.items()
        for label, micros in costs.items()
    )
    reset_table = (
        "| mode | before the call | one reset() (µs) |\n| --- | --- | ---: |\n" + reset_lines
    )
    print(text)
    print()
    print(reset_table)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        "# Cache isolation: overhead per test\n\n"
        f"`.venv/bin/python -m benchmarks.isolation --tests {options.tests} "
        f"--rounds {options.rounds}`, {time.strftime('%Y-%m-%d', time.gmtime())}, "
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs shared with other jobs "
        f"(1-minute load average {load_before:.1f} at the start, {load_after:.1f} at the end).\n\n"
        f"{options.tests} tests per run under pytest + pytest-django; aliases: a DiskCache and "
        "two LocMem. Best of the interleaved rounds; overhead = (variant - plugin disabled) / "
        "tests, timed over pytest's test loop only (start-up and imports excluded: too noisy on a "
        "shared machine); swap's one-off start (temporary directory, override_settings) runs "
        "before the loop and its stop after it (together about 8 ms, with the first DiskCache "
        "store created). On this shared "
        "machine run-to-run noise is about 0.25 ms per test (negative figures are noise).\n\n"
        f"{text}\n\n"
        "What the plugin itself does before each test, timed in process (best of 5 x 1,000 "
        "calls; three aliases: one DiskCache, two LocMem):\n\n"
        f"{reset_table}\n\n"
        "Target: <= 1 ms per test for swap.\n"
    )
    print(f"\nwrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
