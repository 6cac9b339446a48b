"""The cache page of a large DiskCache labels its estimated figures (engine/browse.py samples
a store above ``browse.EXACT_LIMIT`` entries; the tests lower the limit)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from diskcache_admin.admin.visibility import VisibleAdapter
from diskcache_admin.engine import browse
from diskcache_admin.inspection import diskcache as disk_adapter

from .conftest import Target


@pytest.fixture(autouse=True)
def fresh_samples() -> Iterator[None]:
    disk_adapter._samples.clear()
    yield
    disk_adapter._samples.clear()


def fill_and_read(disk: Target) -> None:
    disk.cache.set_many({f"user:{n}": "v" for n in range(40)}, 0)  # expired at once
    for _ in range(20):  # insight records one read in 16 (a miss): enough to record the family
        for n in range(40):
            disk.cache.get(f"user:{n}")
    disk.cache.store.flush()  # type: ignore[attr-defined]


def test_a_small_store_shows_counted_figures(admin_client: Client, disk: Target) -> None:
    fill_and_read(disk)

    body = admin_client.get(disk.url("detail")).content.decode()

    assert "≈" not in body
    assert "sampled entries" not in body


def test_a_large_store_labels_its_estimates(
    admin_client: Client, disk: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill_and_read(disk)
    monkeypatch.setattr(browse, "EXACT_LIMIT", 10)
    monkeypatch.setattr(browse, "EXPIRED_COUNT_LIMIT", 5)

    body = admin_client.get(disk.url("detail")).content.decode()

    assert "≈40 (estimated from 1,000 sampled entries)" in body  # expired, in the stats table
    assert "Estimated from 1,000 entries drawn at random" in body  # under each chart
    assert ">≈40</text>" in body  # the family's bar: its one family holds every entry
    assert "Entries and sizes (≈) estimated from 1,000 sampled entries" in body
    assert ">≈40</td>" in body  # the Families table
    assert "<td>40</td>" in body  # the entry count itself stays exact and unmarked


def test_sampled_charts_leave_hidden_keys_out_without_recounting(
    admin_client: Client, disk: Target, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    settings.DISKCACHE_ADMIN_HIDDEN_PREFIXES = ["otp", "secret:"]
    disk.cache.set_many({f"otp{n:06d}": n for n in range(30)}, None, tag="pin")  # hidden
    disk.cache.set_many({f"secret:{n}": n for n in range(30)}, None)  # hidden
    disk.cache.set_many({f"user:{n}": n for n in range(20)}, None, tag="t")  # visible
    monkeypatch.setattr(browse, "EXACT_LIMIT", 10)
    recounts: list[object] = []
    monkeypatch.setattr(VisibleAdapter, "count_matching", lambda self, q: recounts.append(q))

    charts = dict(admin_client.get(disk.url("detail")).context["charts"])
    families, tags = str(charts["Top key families"]), str(charts["Top tags"])

    assert recounts == []
    assert ">user<" in families
    assert "otp" not in families
    assert "secret" not in families
    assert ">t</text>" in tags
    assert "pin" not in tags  # the tag of hidden keys only
