"""Issue 12, items 1-8: whoever can write in LOCATION can cause misses, nothing more.

Every path planted here points inside the test's own ``tmp_path`` (sentinels beside the store,
never a system file or device): before the fix, the code under test deleted what a row named.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
import threading
import time
import tracemalloc
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from django.core import checks as django_checks
from django.test import override_settings

from diskcache_admin import checks
from diskcache_admin.engine import MISSING, Codec, KeyParts, Store, connection
from diskcache_admin.engine.files import VALUES_DIR
from diskcache_admin.engine.integrity import ORPHAN_GRACE_SECONDS
from diskcache_admin.engine.schema import FINGERPRINT, SCHEMA_VERSION

from .conftest import SIGNING_KEY, FakeClock, forget_store

LOGGER = "diskcache_admin.engine"
VALID_NAME = "ab/ab" + "0" * 30 + ".val"


def put(store: Store, key: str, value: object, expire_time: float | None = None) -> None:
    store.set(key, KeyParts(key), value, expire_time)


def sql(store: Store, statement: str, params: tuple[Any, ...] = ()) -> list[Any]:
    """Write to the database the way another local user with access to the directory would."""
    with closing(sqlite3.connect(store.db.path)) as conn, conn:
        return conn.execute(statement, params).fetchall()


def plant(store: Store, key: str, filename: str, size: int = 15, **columns: Any) -> None:
    """A row (forged, unsigned) naming ``filename`` as its value file."""
    values = {
        "key": key,
        "user_key": key,
        "store_time": 0.0,
        "rank": 0.0,
        "mode": 1,
        "size": size,
        "filename": filename,
        "signature": b"\0" * 32,
        **columns,
    }
    names = ", ".join(values)
    marks = ", ".join("?" * len(values))
    sql(store, f"INSERT INTO entries ({names}) VALUES ({marks})", tuple(values.values()))


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A directory beside the store (inside tmp_path) holding files nothing may touch."""
    directory = tmp_path / "outside"
    directory.mkdir()
    (directory / "sentinel.txt").write_text("must survive")
    return directory


@pytest.fixture
def store(make_store: Callable[..., Store]) -> Store:
    made = make_store(file_threshold=1000, max_entries=None, size_limit=None)
    put(made, "warm-up", 1)  # creates the database, claims the store for our key
    # values/ exists, as in any store that ever held a large value: "values/../.." resolves.
    (Path(made.directory) / VALUES_DIR).mkdir(mode=0o700, exist_ok=True)
    return made


# -- 1. value-file names from a row ---------------------------------------------------------


OPERATIONS: dict[str, Callable[[Store], object]] = {
    "get": lambda s: s.get("victim"),
    "get_many": lambda s: s.get_many(["victim"]),
    "peek": lambda s: s.peek("victim"),
    "has": lambda s: s.has("victim"),
    "delete": lambda s: s.delete("victim"),
    "set over it": lambda s: put(s, "victim", "new"),
    "add over it": lambda s: s.add("victim", KeyParts("victim"), "new", None),
    "touch": lambda s: s.touch("victim", None),
    "incr": lambda s: s.incr("victim", 1),
    "expire": lambda s: s.expire(),
    "cull": lambda s: s.cull(),
    "clear": lambda s: s.clear(),
    "evict": lambda s: s.evict("t"),
    "check(fix=True)": lambda s: s.check(fix=True, grace=0),
}


def planted_names(store: Store, outside: Path) -> dict[str, str]:
    values_root = Path(store.directory) / VALUES_DIR
    relative = os.path.relpath(outside / "sentinel.txt", values_root)
    return {"absolute": str(outside / "sentinel.txt"), "dot-dot": relative}


@pytest.mark.parametrize("operation", list(OPERATIONS))
@pytest.mark.parametrize("shape", ["absolute", "dot-dot"])
def test_a_row_naming_a_file_outside_the_store_never_touches_it(
    store: Store, outside: Path, clock: FakeClock, operation: str, shape: str
) -> None:
    sentinel = outside / "sentinel.txt"
    # Expired and tagged, so that expire, cull and evict select it too.
    plant(store, "victim", planted_names(store, outside)[shape], expire_time=clock.now - 1, tag="t")
    sql(store, "UPDATE entries SET expire_time = NULL WHERE key = 'victim'")
    if operation in {"expire", "cull"}:
        sql(store, "UPDATE entries SET expire_time = ? WHERE key = 'victim'", (clock.now - 1,))

    try:
        OPERATIONS[operation](store)
    except KeyError:
        assert operation == "incr"  # a corrupt entry is a missing key

    assert sentinel.read_text() == "must survive"
    assert store.get("victim") in (MISSING, "new")


def test_a_bad_name_is_a_miss_logged_once(
    store: Store, outside: Path, caplog: pytest.LogCaptureFixture
) -> None:
    plant(store, "victim", str(outside / "sentinel.txt"))
    caplog.set_level(logging.WARNING, LOGGER)

    assert store.get("victim") is MISSING
    assert store.get("victim") is MISSING

    warnings = [r.getMessage() for r in caplog.records if "'victim'" in r.getMessage()]
    assert len(warnings) == 1


def test_a_genuine_entry_whose_file_became_a_link_is_a_miss_and_the_target_survives(
    store: Store, outside: Path
) -> None:
    put(store, "big", b"x" * 5000)
    info = store.entry("big")
    assert info is not None
    assert info.filename is not None
    value_file = Path(store.directory) / VALUES_DIR / info.filename
    value_file.unlink()
    target = outside / "same-size"
    target.write_bytes(value_file.name.encode() * 1)  # any content: it must not be read
    value_file.symlink_to(target)

    assert store.get("big") is MISSING
    assert target.exists()
    assert not value_file.is_symlink()  # the link itself went with the entry


# -- 2. bounded reads ----------------------------------------------------------------------


def file_of(store: Store, key: str) -> Path:
    info = store.entry(key)
    assert info is not None
    assert info.filename is not None
    return Path(store.directory) / VALUES_DIR / info.filename


def test_a_value_file_grown_huge_is_never_read(store: Store) -> None:
    put(store, "big", b"x" * 5000)
    path = file_of(store, "big")
    os.truncate(path, 256 * 1024 * 1024)  # sparse: costs no disk, would cost 256 MiB to read

    tracemalloc.start()
    try:
        assert store.get("big") is MISSING
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert peak < 8 * 1024 * 1024


def test_a_forged_row_claiming_a_huge_size_makes_nothing_read(store: Store) -> None:
    path = Path(store.directory) / VALUES_DIR / VALID_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        handle.truncate(256 * 1024 * 1024)
    plant(store, "victim", VALID_NAME, size=256 * 1024 * 1024)

    tracemalloc.start()
    try:
        assert [p.kind for p in store.check()] == ["bad-signature"]
        assert store.get("victim") is MISSING
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert peak < 8 * 1024 * 1024


def test_a_planted_inline_value_over_the_limit_is_never_loaded(store: Store) -> None:
    big = b"\0" * (2 * 1024 * 1024)
    sql(
        store,
        "INSERT INTO entries (key, user_key, store_time, rank, mode, size, value, signature)"
        " VALUES ('victim', 'victim', 0, 0, 1, ?, ?, zeroblob(32))",
        (len(big), big),
    )
    del big

    tracemalloc.start()
    try:
        assert store.get("victim") is MISSING
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert peak < 1024 * 1024


def test_a_fifo_in_place_of_a_value_file_does_not_hang(store: Store) -> None:
    put(store, "big", b"x" * 5000)
    path = file_of(store, "big")
    path.unlink()
    os.mkfifo(path)
    results: list[object] = []
    reader = threading.Thread(target=lambda: results.append(store.get("big")), daemon=True)

    reader.start()
    reader.join(10)
    if reader.is_alive():  # release the old code's blocked open() before failing
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
    assert results == [MISSING]


def test_a_size_mismatch_is_a_corrupt_entry(store: Store) -> None:
    put(store, "big", b"x" * 5000)
    path = file_of(store, "big")
    path.write_bytes(path.read_bytes() + b"more")

    assert store.get("big") is MISSING
    assert store.entry("big") is None


# -- 3. check(fix=True) and clear never follow a link ----------------------------------------


@pytest.fixture
def linked_bucket(store: Store, outside: Path) -> Path:
    """values/ab is a link to ``outside``, which holds files shaped like value files."""
    put(store, "big", b"x" * 5000)  # creates values/
    bucket = Path(store.directory) / VALUES_DIR / "ab"
    if bucket.exists():
        for child in bucket.iterdir():
            child.unlink()
        bucket.rmdir()
    bucket.symlink_to(outside, target_is_directory=True)
    victim = outside / VALID_NAME.split("/")[1]
    victim.write_bytes(b"not ours")
    old = time.time() - ORPHAN_GRACE_SECONDS - 10
    for path in outside.iterdir():
        os.utime(path, (old, old))
    return bucket


def test_check_fix_reports_a_linked_bucket_and_removes_only_the_link(
    store: Store, outside: Path, linked_bucket: Path
) -> None:
    problems = store.check()

    assert [p.kind for p in problems] == ["symlink"]
    fixed = store.check(fix=True, grace=0)
    assert [(p.kind, p.fixed) for p in fixed] == [("symlink", True)]
    assert sorted(p.name for p in outside.iterdir()) == sorted(
        ["sentinel.txt", VALID_NAME.split("/")[1]]
    )
    assert not linked_bucket.is_symlink()
    assert not linked_bucket.exists()
    assert store.check() == []
    assert store.get("big") == b"x" * 5000


def test_clear_never_unlinks_through_a_linked_bucket(
    store: Store, outside: Path, linked_bucket: Path
) -> None:
    plant(store, "victim", VALID_NAME)

    store.clear()

    assert (outside / VALID_NAME.split("/")[1]).read_bytes() == b"not ours"
    assert (outside / "sentinel.txt").exists()


def test_a_set_never_writes_through_a_linked_bucket(
    store: Store, outside: Path, linked_bucket: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokens = iter(["ab" + "1" * 30, "cd" + "2" * 30])
    monkeypatch.setattr("secrets.token_hex", lambda n: next(tokens))

    put(store, "new", b"y" * 5000)

    assert store.get("new") == b"y" * 5000
    assert sorted(p.name for p in outside.iterdir()) == sorted(
        ["sentinel.txt", VALID_NAME.split("/")[1]]
    )


def test_check_reports_a_fifo_and_a_stray_file_and_fix_removes_them(store: Store) -> None:
    bucket = Path(store.directory) / VALUES_DIR / "ef"
    bucket.mkdir(parents=True, exist_ok=True)
    os.mkfifo(bucket / ("ef" + "1" * 30 + ".val"))
    stray = bucket / "notes.txt"
    stray.write_text("x")
    old = time.time() - ORPHAN_GRACE_SECONDS - 10
    os.utime(stray, (old, old))

    assert sorted(p.kind for p in store.check()) == ["unexpected-file", "unexpected-file"]
    store.check(fix=True)
    assert store.check() == []


def test_a_database_file_replaced_by_a_link_is_never_opened(tmp_path: Path, outside: Path) -> None:
    directory = tmp_path / "linked-db"
    directory.mkdir(mode=0o700)
    target = outside / "empty.db"
    target.write_bytes(b"")
    (directory / "cache.db").symlink_to(target)
    try:
        linked = Store(str(directory), Codec([SIGNING_KEY]))
        with pytest.raises(sqlite3.DatabaseError, match="symbolic link"):
            put(linked, "k", "v")
        assert [p.kind for p in linked.check()] == ["database"]
    finally:
        forget_store(str(directory))
    assert target.read_bytes() == b""  # SQLite never wrote a database into it


# -- 4. every operation agrees on whether an entry exists ----------------------------------


def break_signature(store: Store, key: str) -> None:
    sql(store, "UPDATE entries SET signature = zeroblob(32) WHERE key = ?", (key,))


def test_has_add_touch_and_delete_treat_a_bad_signature_as_absent(store: Store) -> None:
    for key in ("has", "add", "touch", "entry", "delete", "many"):
        put(store, key, "honest")
        break_signature(store, key)
    put(store, "genuine", "honest")

    assert store.has("has") is False
    assert store.add("add", KeyParts("add"), "mine", None) is True
    assert store.get("add") == "mine"
    assert store.touch("touch", None) is False
    assert store.entry("entry") is None
    assert store.delete("delete") is False
    assert store.delete_many(["many", "genuine"]) == 1
    assert store.get("has") is MISSING
    assert (
        sql(store, "SELECT key FROM entries WHERE key IN ('has', 'touch', 'delete', 'many')") == []
    )


def test_a_planted_row_does_not_block_an_add_based_lock(store: Store) -> None:
    plant(store, "lock", None, size=3, mode=1, value=b"abc")  # type: ignore[arg-type]

    assert store.add("lock", KeyParts("lock"), "token", None) is True
    assert store.get("lock") == "token"


# -- 5. the signature covers everything the engine returns or acts on ----------------------


@pytest.mark.parametrize(
    ("statement", "params"),
    [
        ("UPDATE entries SET value = 1000000 WHERE key = 'n'", ()),  # a forged counter
        ("UPDATE entries SET expire_time = NULL WHERE key = 'n'", ()),  # never expires now
        ("UPDATE entries SET tag = 'other' WHERE key = 'n'", ()),  # escapes evict('t')
        ("UPDATE entries SET user_key = 'admin', version = 9 WHERE key = 'n'", ()),
        ("UPDATE entries SET size = 9 WHERE key = 'n'", ()),
    ],
)
def test_an_edited_integer_row_is_a_miss(
    store: Store, clock: FakeClock, statement: str, params: tuple[Any, ...]
) -> None:
    store.set("n", KeyParts("n"), 5, clock.now + 100, "t")
    sql(store, statement, params)

    assert store.get("n") is MISSING
    with pytest.raises(KeyError):
        store.incr("n", 1)


def test_an_edited_expiry_or_tag_of_a_pickled_value_is_a_miss(
    store: Store, clock: FakeClock
) -> None:
    store.set("a", KeyParts("a"), {"v": 1}, clock.now + 100, "t")
    store.set("b", KeyParts("b"), {"v": 2}, clock.now + 100, "t")
    sql(store, "UPDATE entries SET expire_time = expire_time + 1e6 WHERE key = 'a'")
    sql(store, "UPDATE entries SET tag = NULL WHERE key = 'b'")

    assert store.get("a") is MISSING
    assert store.get("b") is MISSING


def test_incr_touch_and_rename_sign_what_they_write(store: Store, clock: FakeClock) -> None:
    store.set("n", KeyParts("n"), 5, clock.now + 100, "t")

    assert store.incr("n", 2) == 7
    assert store.touch("n", clock.now + 500) is True
    assert store.rename("n", "m", KeyParts("m", "", 2)) is True

    assert store.get("m") == 7
    assert store.entry("m") is not None
    assert store.check() == []


def test_an_entry_of_an_older_schema_reads_as_a_miss(
    make_store: Callable[..., Store], store: Store
) -> None:
    put(store, "old", "value")
    sql(store, "UPDATE entries SET digest = NULL")
    sql(store, "ALTER TABLE entries DROP COLUMN digest")
    sql(store, "PRAGMA user_version = 4")
    forget_store(store.directory)

    reopened = make_store(file_threshold=1000, max_entries=None, size_limit=None)

    assert reopened.get("old") is MISSING
    put(reopened, "new", "value")
    assert reopened.get("new") == "value"
    assert sql(reopened, "PRAGMA user_version") == [(SCHEMA_VERSION,)]


# The triggers of schema versions 1-5, as such a store has them on disk.
_VERSION_5_TRIGGERS = (
    "CREATE TRIGGER entries_count_insert AFTER INSERT ON entries BEGIN UPDATE counters"
    " SET count = count + 1, size = size + NEW.size WHERE id = 0; END",
    "CREATE TRIGGER entries_count_delete AFTER DELETE ON entries BEGIN UPDATE counters"
    " SET count = count - 1, size = size - OLD.size WHERE id = 0; END",
    "CREATE TRIGGER entries_count_update AFTER UPDATE OF size ON entries BEGIN UPDATE counters"
    " SET size = size - OLD.size + NEW.size WHERE id = 0; END",
)


def test_a_store_of_version_5_is_upgraded_in_place(
    make_store: Callable[..., Store], store: Store
) -> None:
    put(store, "kept", "value")
    before = store.stats().count
    for (name,) in sql(store, "SELECT name FROM sqlite_master WHERE type = 'trigger'"):
        sql(store, f"DROP TRIGGER {name}")
    for statement in _VERSION_5_TRIGGERS:
        sql(store, statement)
    sql(store, "PRAGMA user_version = 5")
    forget_store(store.directory)

    reopened = make_store(file_threshold=1000, max_entries=None, size_limit=None)
    put(reopened, "new", "value")

    assert reopened.get("kept") == "value"  # the signatures did not change
    assert sql(reopened, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    # One set of triggers: the old ones would count every write twice.
    assert reopened.stats().count == before + 1
    assert reopened.check() == []


@pytest.mark.parametrize(
    "forged", [float("inf"), float("-inf"), 1.5, "12", b"12", 2**63 - 1, -5, 2**48 + 1]
)
def test_a_forged_size_cannot_break_the_counters(store: Store, forged: object) -> None:
    before = store.stats().count
    put(store, "forged", "value")
    put(store, "other", "value")
    sql(store, "UPDATE entries SET size = ? WHERE key = 'forged'", (forged,))
    sql(store, "DELETE FROM counters")  # the next write recounts: by the triggers' own rule
    put(store, "recounted", "value")
    assert sql(store, "SELECT typeof(size) FROM counters") == [("integer",)]
    store.delete("recounted")

    assert store.get("forged") is MISSING  # the signature covers the size
    store.delete("forged")  # as the miss above may already have
    put(store, "third", "value")
    store.delete("other")

    count, size = sql(store, "SELECT count, size FROM counters")[0]
    assert isinstance(count, int)
    assert isinstance(size, int)
    store.check(fix=True)
    assert store.stats().count == before + 1
    assert store.check() == []


# -- 6. a store knows which key signs it ---------------------------------------------------


def test_a_store_records_a_fingerprint_never_the_key(store: Store) -> None:
    [(recorded,)] = sql(store, "SELECT value FROM meta WHERE name = ?", (FINGERPRINT,))

    assert recorded == store.codec.fingerprint
    assert SIGNING_KEY not in Path(store.db.path).read_bytes()


def test_another_key_never_deletes_the_owners_entries(
    store: Store, make_store: Callable[..., Store]
) -> None:
    put(store, "theirs", "value")
    put(store, "big", b"x" * 5000)
    intruder = make_store(codec=Codec([b"another project"]), file_threshold=1000)

    assert intruder.get("theirs") is MISSING
    assert intruder.has("big") is False
    assert intruder.touch("theirs", None) is False
    assert intruder.add("theirs", KeyParts("theirs"), "mine", None) is False  # their lock holds
    problems = intruder.check(fix=True, grace=0)

    assert "foreign-key" in [p.kind for p in problems]
    assert not any(p.fixed for p in problems if p.kind == "bad-signature")
    assert store.get("theirs") == "value"
    assert store.get("big") == b"x" * 5000


def test_rotation_keeps_old_entries_and_moves_the_store_to_the_new_key(
    store: Store, make_store: Callable[..., Store]
) -> None:
    put(store, "old", "value")
    rotated = make_store(codec=Codec([b"new key", SIGNING_KEY]), file_threshold=1000)

    assert rotated.get("old") == "value"
    put(rotated, "new", "value")
    assert sql(rotated, "SELECT value FROM meta WHERE name = ?", (FINGERPRINT,)) == [
        (rotated.codec.fingerprint,)
    ]
    # The old key alone (a worker not yet redeployed) no longer removes anything.
    assert store.get("new") is MISSING
    assert rotated.get("new") == "value"


@pytest.fixture
def disk_caches(location: str) -> Callable[..., Any]:
    def make(**settings: Any) -> Any:
        return override_settings(
            CACHES={
                "default": {"BACKEND": "diskcache_admin.backend.DiskCache", "LOCATION": location}
            },
            **settings,
        )

    return make


def engine_check_ids() -> list[str]:
    return [m.id or "" for m in checks.check_engine_security()]


def test_e020_another_secret_key_on_the_location(
    disk_caches: Callable[..., Any], location: str
) -> None:
    from django.core.cache import caches

    with disk_caches(SECRET_KEY="project-a" * 6):
        caches["default"].set("k", "v")
        assert "diskcache_admin.E020" not in engine_check_ids()
    forget_store(location)
    with disk_caches(SECRET_KEY="project-b" * 6):
        [error] = [m for m in checks.check_engine_security() if m.id == "diskcache_admin.E020"]
        assert error.level == django_checks.ERROR
        assert "another SECRET_KEY" in error.msg
        assert caches["default"].get("k") is None
    forget_store(location)
    with disk_caches(SECRET_KEY="project-b" * 6, SECRET_KEY_FALLBACKS=["project-a" * 6]):
        assert "diskcache_admin.E020" not in engine_check_ids()
        assert caches["default"].get("k") == "v"


def test_w020_a_location_others_can_write(disk_caches: Callable[..., Any], location: str) -> None:
    os.makedirs(location)
    os.chmod(location, 0o777)
    with disk_caches():
        assert "diskcache_admin.W020" in engine_check_ids()
    os.chmod(location, 0o700)
    with disk_caches():
        assert "diskcache_admin.W020" not in engine_check_ids()
    assert stat.S_IMODE(os.stat(location).st_mode) == 0o700


def test_e021_an_sqlite_older_than_django_supports(
    disk_caches: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(checks, "sqlite_version", lambda: (3, 22, 0))
    with disk_caches():
        [error] = [m for m in checks.check_engine_security() if m.id == "diskcache_admin.E021"]
    assert "3.22.0" in error.msg


# -- 8. SQLite 3.31-3.34: no RETURNING -------------------------------------------------------


@pytest.fixture
def without_returning(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Run as on SQLite < 3.35; collects every statement the store's connection executed."""
    monkeypatch.setattr(connection, "HAS_RETURNING", False)
    return []


def test_every_operation_works_without_returning(
    make_store: Callable[..., Store], clock: FakeClock, without_returning: list[str]
) -> None:
    store = make_store(file_threshold=1000, max_entries=4, cull_frequency=2, size_limit=60_000)
    store.db.connection().set_trace_callback(without_returning.append)
    for number in range(6):
        put(store, f"k{number}", b"v" * (3000 if number % 2 else 10), clock.now + number)
    store.set("tagged", KeyParts("tagged"), "x", None, "t")
    put(store, "big", b"x" * 70_000)  # over SIZE_LIMIT: refused, an older value dropped
    assert store.delete("tagged") is True
    store.set("tagged", KeyParts("tagged"), "x", None, "t")
    assert store.evict("t").count == 1
    assert store.delete_many(["k4", "k5"]) >= 0
    assert store.rename("k3", "k9", KeyParts("k9")) in (True, False)
    clock.advance(100)
    store.expire()
    put(store, "after", b"y" * 3000)
    store.cull()
    sql(store, "UPDATE entries SET signature = zeroblob(32) WHERE key = 'after'")
    assert store.get("after") is MISSING  # removed through the fallback too
    put(store, "last", 1)
    assert store.check(fix=True) == []
    removed = store.clear()

    assert removed.count >= 1
    assert store.stats().count == 0
    assert not any("RETURNING" in statement.upper() for statement in without_returning)
    assert any(statement.startswith("DELETE") for statement in without_returning)
    assert not list((Path(store.directory) / VALUES_DIR).rglob("*.val"))


def test_deleted_or_garbled_counters_do_not_stop_the_store(store: Store) -> None:
    # The counters are not signed (docs/security.rst): damage there must stay bookkeeping.
    put(store, "a", "value")
    sql(store, "DELETE FROM counters")

    assert store.stats().count == 0
    put(store, "b", "value")  # recreates the row from the table
    assert store.stats().count == 3
    sql(store, "UPDATE counters SET count = 'many', size = x'00'")
    put(store, "c", "value")
    store.cull()
    store.clear()

    assert [p.kind for p in store.check(fix=True)] == ["counters"]
    assert store.check() == []


# -- a planted non-integer size is read before any verification -----------------------------


def test_a_text_size_does_not_break_an_overwrite(store: Store) -> None:
    put(store, "a", b"x" * 40)
    sql(store, "UPDATE entries SET size = 'big' WHERE key = 'a'")

    put(store, "a", b"y" * 40)

    assert store.get("a") == b"y" * 40


def test_a_text_size_does_not_break_trimming_to_the_size_limit(
    make_store: Callable[..., Store],
) -> None:
    limited = make_store(file_threshold=1000, max_entries=None, size_limit=100)
    put(limited, "a", b"x" * 40)
    sql(limited, "UPDATE entries SET size = 'big' WHERE key = 'a'")
    sql(limited, "UPDATE counters SET size = 1000")

    put(limited, "b", b"y" * 40)

    assert limited.get("b") == b"y" * 40
    assert limited.get("a") is MISSING


def test_a_text_size_does_not_break_delete_many(store: Store) -> None:
    put(store, "a", b"x" * 40)
    put(store, "b", b"y" * 40)
    sql(store, "UPDATE entries SET size = 'big' WHERE key = 'a'")

    removal = store.remove(["a", "b"])

    assert removal.count == 2
    assert store.get("b") is MISSING


def test_text_planted_in_the_counters_reads_as_numbers(store: Store) -> None:
    sql(store, "UPDATE counters SET hits = 'many', misses = x'00', stats_since = 'then'")

    stats = store.stats()

    assert (stats.hits, stats.misses, stats.stats_since) == (0, 0, None)
