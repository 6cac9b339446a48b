"""benchmarks/insight.py still imports, measures pending samples and writes its report."""

from __future__ import annotations

from benchmarks import insight as bench
from diskcache_admin.engine import insight


def test_pending_bytes_grows_with_the_keys_waiting() -> None:
    pending = insight.Pending()
    empty = bench.pending_bytes(pending)
    pending.keys[":1:user:1"] = ["user:1", "", 1, "user", 16.0, 0.0]

    assert bench.pending_bytes(pending) > empty > 0


def test_the_report_has_the_three_tables() -> None:
    gets = {"hit": (16e-6, 15.5e-6, 15e-6, 14.8e-6, 1.02), "miss": (9e-6, 8.8e-6, 8e-6, 8e-6, 1.0)}
    batches = {"10,000 distinct keys": (1e-4, 3e-3)}
    memory = {"largest": 250_000, "rows": 1000, "family_rows": 3, "stuck": 4_000_000}
    memory["stuck_keys"] = 10_000

    text = bench.report(gets, batches, memory, 1_000_000, quick=True)

    assert "| get-hit | 16.0 | 15.5 | 15.0 | 14.8 | 1.014 | 1.020 |" in text
    assert "| 10,000 distinct keys | 0.10 | 3.00 | 2.90 | 0.3 µs |" in text
    assert "Memory at 1,000,000 distinct keys read" in text
    assert "--quick" in text
