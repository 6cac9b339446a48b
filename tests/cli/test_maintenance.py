"""``clear``, ``check`` and ``evict`` on real stores, and clears that fail or are interrupted."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import caches
from django.test import override_settings

from diskcache_admin.engine.connection import DB_NAME
from diskcache_admin.engine.files import ValueFiles
from diskcache_admin.inspection import get_adapter
from diskcache_admin.inspection.base import Capability
from tests.cli.conftest import AuditSpy, backend_config, fail, redis_client, run

pytestmark = pytest.mark.django_db


def test_clear_yes_removes_every_entry(shared_backend: str, audit_spy: AuditSpy) -> None:
    caches["default"].set_many({f"k{number}": number for number in range(25)})
    caches["spare"].set("neighbour", 1)

    out = run("clear", "--yes").out

    assert out.startswith("Cleared cache 'default'")
    assert "25 entries" in out
    assert caches["default"].get_many([f"k{number}" for number in range(25)]) == {}
    assert caches["spare"].get("neighbour") == 1
    assert audit_spy.actions() == ["clear"]
    assert audit_spy.records[0]["via"] == "cli"


def test_clear_dry_run_counts_and_keeps(backend: str, audit_spy: AuditSpy) -> None:
    caches["default"].set_many({f"k{number}": number for number in range(12)})

    out = run("clear", "--dry-run").out

    assert out.startswith("Would remove 12 entries")
    assert len(caches["default"].get_many([f"k{number}" for number in range(12)])) == 12
    assert audit_spy.records == []


def test_check_on_every_backend(backend: str) -> None:
    if not get_adapter("default").can(Capability.CHECK):
        assert "cannot check its integrity" in fail("check", code=2)
        return
    caches["default"].set("big", b"x" * 200_000)  # a value file, so files are checked too

    assert "no problems found" in run("check").out


# -- DiskCache: damage, failures and interruptions ------------------------------------------


def fill(count: int, big_every: int = 10) -> dict[str, Any]:
    """Entries, some large enough for value files; returns what was stored."""
    values: dict[str, Any] = {
        f"k{number}": (os.urandom(200_000) if number % big_every == 0 else number)
        for number in range(count)
    }
    caches["default"].set_many(values, timeout=None)
    return values


def test_check_reports_a_missing_value_file_and_fix_repairs_it(disk_store: str) -> None:
    fill(20)
    value_files = ValueFiles(disk_store)
    name = next(found.name for found in value_files.walk() if found.kind == "value")
    os.unlink(value_files.path(name))

    message = fail("check", code=1)
    repaired = run("check", "--fix").out

    assert "1 problem left" in message
    assert "fixed: missing-file: entry" in repaired
    assert "no problems found" in run("check").out


def test_a_failed_clear_loses_nothing_and_leaves_the_store_sound(
    disk_store: str, audit_spy: AuditSpy
) -> None:
    values = fill(50)
    locker = sqlite3.connect(os.path.join(disk_store, DB_NAME), isolation_level=None)
    locker.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        message = fail("clear", "--yes", code=1)
    finally:
        locker.execute("ROLLBACK")
        locker.close()

    assert "could not be read or changed" in message
    assert caches["default"].get_many(list(values)) == values
    assert "no problems found" in run("check").out
    assert audit_spy.records == []


def test_an_interrupted_expire_keeps_the_live_entries_and_the_store_sound(
    disk_store: str, monkeypatch: pytest.MonkeyPatch, audit_spy: AuditSpy
) -> None:
    cache = caches["default"]
    live = fill(30)
    # More than one of the engine's 1,000-entry batches; timeout 0 stores them already expired.
    cache.set_many({f"old{number}": number for number in range(1500)}, timeout=0)
    batches = 0
    real_remove = ValueFiles.remove

    def remove_then_ctrl_c(self: ValueFiles, filenames: Any) -> None:
        # The engine purges in short transactions; Ctrl-C lands after the first one.
        nonlocal batches
        real_remove(self, filenames)
        batches += 1
        if batches == 1:
            raise KeyboardInterrupt

    monkeypatch.setattr(ValueFiles, "remove", remove_then_ctrl_c)

    message = fail("expire", code=130)

    monkeypatch.setattr(ValueFiles, "remove", real_remove)
    assert message.startswith("Interrupted:")
    assert "'cache check --alias default' verifies the store" in message
    assert cache.get_many(list(live)) == live
    stats = get_adapter("default").stats()
    assert stats.entries is not None
    assert 30 < stats.entries < 30 + 1500  # one batch went, the rest is still there
    assert "no problems found" in run("check").out
    assert audit_spy.actions() == ["expire"]
    assert "interrupted" in audit_spy.records[0]["summary"]
    run("expire")
    assert get_adapter("default").stats().entries == 30


# -- Redis: a clear is scoped to the alias's prefix, also when interrupted --------------------


@pytest.fixture(params=["redis", "django-redis"])
def two_redis_aliases(
    request: pytest.FixtureRequest, redis_server: str, redis_prefix: str
) -> Iterator[tuple[str, str]]:
    """'default' and 'neighbour' share database 3 with different KEY_PREFIXes."""
    neighbour_prefix = f"{redis_prefix}-neighbour"
    caches_setting = {
        "default": backend_config(request.param, "", redis_prefix),
        "neighbour": backend_config(request.param, "", neighbour_prefix),
    }
    client = redis_client()
    client.set(f"{redis_prefix}-bare", b"not a Django key")  # shares the prefix's characters
    try:
        with override_settings(CACHES=caches_setting):
            caches["neighbour"].set_many({f"k{number}": number for number in range(20)})
            yield redis_prefix, neighbour_prefix
    finally:
        for key in client.scan_iter(match=f"{neighbour_prefix}*"):
            client.delete(key)
        client.delete(f"{redis_prefix}-bare")
        client.close()


def neighbours_intact(prefix: str) -> bool:
    keys = [f"k{number}" for number in range(20)]
    return caches["neighbour"].get_many(keys) == {key: number for number, key in enumerate(keys)}


def test_redis_clear_names_the_prefix_it_is_limited_to(
    two_redis_aliases: tuple[str, str],
) -> None:
    prefix, _ = two_redis_aliases
    caches["default"].set_many({"a": 1, "b": 2})

    out = run("clear", "--dry-run").out

    assert out.startswith("Would remove 2 entries from cache 'default'")
    assert f"keys with prefix {prefix!r}" in out


def test_redis_clear_removes_only_the_alias_prefix(
    two_redis_aliases: tuple[str, str], audit_spy: AuditSpy
) -> None:
    prefix, _ = two_redis_aliases
    caches["default"].set_many({f"k{number}": number for number in range(300)})

    out = run("clear", "--yes").out

    assert "removed 300 entries" in out
    assert caches["default"].get("k1") is None
    assert neighbours_intact(prefix)
    assert redis_client().get(f"{prefix}-bare") == b"not a Django key"
    assert audit_spy.actions() == ["clear"]


def test_an_interrupted_redis_clear_keeps_the_rest_intact_and_readable(
    two_redis_aliases: tuple[str, str], monkeypatch: pytest.MonkeyPatch, audit_spy: AuditSpy
) -> None:
    import redis

    prefix, _ = two_redis_aliases
    values = {f"k{number}": number for number in range(1200)}
    caches["default"].set_many(values)
    real_unlink = redis.Redis.unlink
    calls = 0

    def unlink_then_ctrl_c(self: redis.Redis, *names: Any) -> Any:
        # The adapter unlinks in batches; Ctrl-C arrives while the second batch is on its way.
        nonlocal calls
        calls += 1
        if calls == 2:
            raise KeyboardInterrupt
        return real_unlink(self, *names)

    monkeypatch.setattr(redis.Redis, "unlink", unlink_then_ctrl_c)

    message = fail("clear", "--yes", code=130)

    monkeypatch.setattr(redis.Redis, "unlink", real_unlink)
    assert message.startswith("Interrupted:")
    assert "entries not yet removed are intact" in message
    left = caches["default"].get_many(list(values))
    assert 0 < len(left) < len(values)  # one batch went, the rest stayed
    assert all(values[key] == value for key, value in left.items())
    assert neighbours_intact(prefix)
    assert redis_client().get(f"{prefix}-bare") == b"not a Django key"
    assert audit_spy.actions() == ["clear"]
    assert "interrupted" in audit_spy.records[0]["summary"]
    run("clear", "--yes")  # a second clear finishes the job
    assert caches["default"].get_many(list(values)) == {}
    assert neighbours_intact(prefix)
