"""``cache stats`` and ``cache top --families`` label the figures of a large DiskCache that are
estimated from a sample (engine/browse.py; the tests lower ``browse.EXACT_LIMIT``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.cache import caches
from django.test import override_settings

from diskcache_admin.engine import browse, statistics
from diskcache_admin.inspection import diskcache as disk_adapter
from tests.cli.conftest import backend_config, run


@pytest.fixture
def store(tmp_path: Path) -> Iterator[None]:
    """A DiskCache 'default' recording every read: 40 expired 'user' entries, each read once."""
    config = backend_config("diskcache", str(tmp_path / "store"), "")
    config["OPTIONS"]["INSIGHT"] = {"SAMPLE_RATE": 1}
    disk_adapter._samples.clear()
    with override_settings(CACHES={"default": config}):
        cache = caches["default"]
        cache.set_many({f"user:{n}": "v" for n in range(40)}, 0)  # expired at once
        for n in range(40):
            cache.get(f"user:{n}")
        cache.store.flush()  # type: ignore[attr-defined]
        yield
    statistics.forget(config["LOCATION"])
    disk_adapter._samples.clear()


@pytest.fixture
def large(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(browse, "EXACT_LIMIT", 10)
    monkeypatch.setattr(browse, "EXPIRED_COUNT_LIMIT", 5)


def test_stats_of_a_small_store_are_counted(store: None) -> None:
    out = run("stats").out
    document = json.loads(run("stats", "--json").out)

    assert "≈" not in out
    assert "estimated" not in out
    assert (document["stats"]["estimated"], document["stats"]["sampled"]) == ([], None)


@pytest.mark.usefixtures("large")
def test_stats_of_a_large_store_label_the_estimate(store: None) -> None:
    out = run("stats").out
    document = json.loads(run("stats", "--json").out)

    assert "≈40 (estimated from 1,000 sampled entries)" in out
    assert document["stats"]["estimated"] == ["expired"]
    assert document["stats"]["sampled"] == browse.SAMPLE_SIZE
    assert document["stats"]["entries"] == 40


@pytest.mark.usefixtures("large")
def test_top_families_of_a_large_store_label_entries_and_sizes(store: None) -> None:
    out = run("top", "--families").out
    document = json.loads(run("top", "--families", "--json").out)

    assert "entries (estimated from 1,000 sampled entries)" in out
    assert "≈40" in out
    assert document["entries_sampled"] == browse.SAMPLE_SIZE
    assert document["rows"][0]["entries"] == 40


def test_top_families_of_a_small_store_count_entries(store: None) -> None:
    out = run("top", "--families").out

    assert "≈" not in out
    assert json.loads(run("top", "--families", "--json").out)["entries_sampled"] is None
