"""A bounded run of ``python -m benchmarks.stress`` (2 processes x 2 threads, a few seconds) must
end with no error, no lost increment and no corrupt value; and the checker must catch one."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from benchmarks.stress import make_value, parse_limit, parse_mix, verify_value

REPO = Path(__file__).resolve().parents[2]


def stress(*options: str) -> tuple[int, dict[str, Any], str]:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    run = subprocess.run(
        [sys.executable, "-m", "benchmarks.stress", "--json", "--progress", "0", *options],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return run.returncode, json.loads(run.stdout), run.stderr


def test_a_bounded_stress_run_is_clean(tmp_path: Path) -> None:
    status, report, stderr = stress(
        *("--processes", "2", "--threads", "2", "--duration", "3", "--keys", "300"),
        *("--max-entries", "150", "--size-limit", "3000000", "--file-threshold", "8192"),
        *("--value-sizes", "50,2000,20000", "--expire-ratio", "0.2", "--expire-seconds", "0.5"),
        *("--check-every", "0.05", "--directory", str(tmp_path)),
    )

    assert status == 0, (report, stderr)
    assert report["ok"] is True
    assert report["errors"] == 0
    assert report["corrupt_values"] == 0
    assert report["lost_increments"] == 0
    assert report["counter_mismatches"] == []
    assert report["unchecked_counters"] == []
    assert report["check_problems"] == []
    assert report["checks_during_run"] > 0  # check() saw no false problem amid the writes
    assert report["per_operation"]["incr"] > 0
    assert report["hits"] > 0  # values were really read back and verified
    assert report["final_scan"]["present"] > 0


def test_the_stress_tool_fails_on_a_swapped_value_and_names_the_seed(tmp_path: Path) -> None:
    status, report, stderr = stress(
        *("--processes", "1", "--threads", "1", "--ops", "300", "--keys", "20"),
        *("--seed", "4242", "--inject-corruption", "--directory", str(tmp_path)),
    )

    assert status == 1
    assert report["ok"] is False
    assert report["corrupt_values"] > 0
    assert "holds the value of" in report["corrupt_samples"][0]
    assert "--seed 4242" in stderr


def test_the_checksum_catches_truncation_swaps_and_stale_expiry() -> None:
    value = make_value("k1", b"payload" * 100, None)
    assert verify_value("k1", value) is None
    truncated = (*value[:3], value[3][:-1], value[4])
    assert "checksum" in str(verify_value("k1", truncated))
    assert "holds the value of 'k1'" in str(verify_value("k2", value))
    assert "not a stress value" in str(verify_value("k1", "something else"))
    expiring = make_value("k1", b"p", 1000.0)
    assert verify_value("k1", expiring, now=1001.0) is None
    assert "after its expiry" in str(verify_value("k1", expiring, now=1010.0))


@pytest.mark.parametrize(
    ("parse", "text"),
    [(parse_mix, "get=x"), (parse_mix, "fly=1"), (parse_mix, "get=0"), (parse_limit, "0")],
)
def test_bad_options_are_refused(parse: Callable[[str], object], text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        parse(text)
