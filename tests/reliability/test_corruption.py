"""A damaged store: reads are misses (never a crash, never unpickled), logged once, and check()
reports the damage; check(fix=True) repairs what it can without touching healthy entries."""

from __future__ import annotations

import logging
import os
import pickle
import random
import shlex
import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from diskcache_admin.backend import DiskCache
from diskcache_admin.engine.files import VALUES_DIR

from .conftest import reopen

BIG = b"big" * 1000  # above the 1 KiB FILE_THRESHOLD of the ``cache`` fixture


class Planted:
    """Unpickling this runs ``touch <marker>``: if the marker appears, a pickle was trusted."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        return os.system, (f"touch {shlex.quote(str(self.marker))}",)


def fill(cache: DiskCache) -> None:
    for index in range(40):
        cache.set(f"small{index}", {"n": index}, None)
        cache.set(f"big{index}", BIG + bytes([index]), None)


def healthy(cache: DiskCache, *, skip: frozenset[str] = frozenset()) -> int:
    """How many entries fill() wrote still read back exactly."""
    count = 0
    for index in range(40):
        for key, value in ((f"small{index}", {"n": index}), (f"big{index}", BIG + bytes([index]))):
            if key not in skip:
                assert cache.get(key) == value, key
                count += 1
    return count


def value_file(cache: DiskCache, key: str) -> Path:
    info = cache.entry(key)
    assert info is not None
    assert info.filename is not None
    return Path(cache.location) / VALUES_DIR / info.filename


def sql(cache: DiskCache, statement: str, params: tuple[Any, ...] = ()) -> None:
    with closing(sqlite3.connect(cache.store.db.path)) as conn, conn:
        conn.execute(statement, params)


def messages(caplog: pytest.LogCaptureFixture, text: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if text in r.getMessage()]


# -- the database file ----------------------------------------------------------------------------


def truncate(path: Path) -> None:
    with path.open("r+b") as handle:
        handle.truncate(path.stat().st_size // 2)


def garble_pages(path: Path) -> None:
    with path.open("r+b") as handle:
        handle.seek(2 * 4096)
        handle.write(random.Random(8).randbytes(3 * 4096))


def garble_header(path: Path) -> None:
    with path.open("r+b") as handle:
        handle.write(random.Random(8).randbytes(100))


@pytest.mark.parametrize("damage", [truncate, garble_pages, garble_header])
def test_a_damaged_database_reads_as_misses_logged_once_and_writes_fail_clearly(
    cache: DiskCache,
    location: str,
    damage: Callable[[Path], None],
    caplog: pytest.LogCaptureFixture,
) -> None:
    fill(cache)
    reopen(location)  # closes this process's connection, so the WAL is checkpointed
    assert not Path(location, "cache.db-wal").exists()
    damage(Path(location, "cache.db"))
    damaged = reopen(location)
    caplog.set_level(logging.ERROR, "diskcache_admin.backend")

    assert damaged.get("small1", "default") == "default"
    assert damaged.get("big1") is None
    assert damaged.get_many(["small2", "big2"]) == {}
    assert not damaged.has_key("small3")
    assert len(messages(caplog, location)) == 1
    with pytest.raises(sqlite3.DatabaseError, match=r"malformed|not a database"):
        damaged.set("new", 1)
    problems = damaged.check(fix=True)
    assert [(p.kind, p.fixed) for p in problems] == [("database", False)]
    assert "delete the cache directory" in problems[0].detail


# -- value files ----------------------------------------------------------------------------------


def test_a_missing_value_file_is_reported_and_removed_alone(
    cache: DiskCache, caplog: pytest.LogCaptureFixture
) -> None:
    fill(cache)
    value_file(cache, "big7").unlink()

    assert [(p.kind, p.fixed) for p in cache.check()] == [("missing-file", False)]
    assert [(p.kind, p.fixed) for p in cache.check(fix=True)] == [("missing-file", True)]
    assert cache.check() == []
    assert cache.get("big7") is None
    assert healthy(cache, skip=frozenset({"big7"})) == 79


def test_reading_a_missing_value_file_is_a_miss_logged_once(
    cache: DiskCache, caplog: pytest.LogCaptureFixture
) -> None:
    fill(cache)
    value_file(cache, "big8").unlink()
    caplog.set_level(logging.WARNING, "diskcache_admin.engine")

    assert [cache.get("big8", "miss") for _ in range(3)] == ["miss"] * 3
    assert len(messages(caplog, "big8")) == 1
    assert cache.check() == []  # the read removed the entry it could not serve
    assert healthy(cache, skip=frozenset({"big8"})) == 79


def test_a_truncated_value_file_is_never_served(
    cache: DiskCache, caplog: pytest.LogCaptureFixture
) -> None:
    fill(cache)
    for key in ("big3", "big4"):
        path = value_file(cache, key)
        path.write_bytes(path.read_bytes()[:500])
    caplog.set_level(logging.WARNING, "diskcache_admin.engine")

    assert [(p.kind, p.fixed) for p in cache.check(fix=True)] == [("truncated-file", True)] * 2
    assert cache.get("big3") is None
    assert cache.get("big4") is None
    assert healthy(cache, skip=frozenset({"big3", "big4"})) == 78
    assert cache.check() == []


# -- hostile pickles ------------------------------------------------------------------------------


@pytest.mark.parametrize("same_size", [True, False])
def test_a_value_file_replaced_by_a_hostile_pickle_is_never_unpickled(
    cache: DiskCache, tmp_path: Path, same_size: bool, caplog: pytest.LogCaptureFixture
) -> None:
    marker = tmp_path / "pwned"
    fill(cache)
    path = value_file(cache, "big5")
    hostile = pickle.dumps(Planted(marker))
    if same_size:  # a file of the recorded size passes the size check: only the signature is left
        hostile = hostile.ljust(path.stat().st_size, b".")
    path.write_bytes(hostile)

    problems = cache.check()
    assert [p.kind for p in problems] == ["bad-signature" if same_size else "truncated-file"]
    caplog.set_level(logging.WARNING, "diskcache_admin.engine")
    assert cache.get("big5") is None
    assert cache.get("big5") is None
    assert len(messages(caplog, "big5")) == 1
    assert cache.check(fix=True) == []
    assert healthy(cache, skip=frozenset({"big5"})) == 79
    assert not marker.exists()


def test_a_row_replaced_by_a_hostile_pickle_is_reported_and_removed_alone(
    cache: DiskCache, tmp_path: Path
) -> None:
    marker = tmp_path / "pwned"
    fill(cache)
    sql(
        cache,
        "UPDATE entries SET value = ? WHERE key = ':1:small6'",
        (pickle.dumps(Planted(marker)),),
    )
    sql(cache, "UPDATE entries SET value = 'text' WHERE key = ':1:small9'")

    problems = cache.check()
    assert [(p.kind, p.fixed) for p in problems] == [("bad-signature", False)] * 2
    assert [(p.kind, p.fixed) for p in cache.check(fix=True)] == [("bad-signature", True)] * 2
    assert cache.check() == []
    assert cache.entry("small6") is None
    assert healthy(cache, skip=frozenset({"small6", "small9"})) == 78
    assert not marker.exists()


def test_a_hostile_row_read_before_any_check_is_a_miss_logged_once(
    cache: DiskCache, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    marker = tmp_path / "pwned"
    fill(cache)
    sql(
        cache,
        "UPDATE entries SET value = ? WHERE key = ':1:small2'",
        (pickle.dumps(Planted(marker)),),
    )
    caplog.set_level(logging.WARNING, "diskcache_admin.engine")

    assert cache.get_many(["small2", "small3"]) == {"small3": {"n": 3}}
    assert cache.get("small2", "miss") == "miss"
    assert len(messages(caplog, "small2")) == 1
    assert not marker.exists()
    assert cache.check() == []
