"""Fuzz: random damage to the rows and files of a real store causes misses, nothing more.

Each example builds a store, damages it at random the way another local user who can write in
LOCATION could (value-file names, sizes, signatures, digests, modes, inline values, links,
FIFOs, truncation, huge sparse files, planted rows, the unsigned counters), runs every
operation, and asserts:

* no sentinel outside LOCATION (all inside the test's own temporary directory) is touched;
* no operation allocates more than a memory bound (a planted 64 MiB file is never read);
* every operation returns, or raises one of the documented errors;
* ``check(fix=True)`` then leaves a store that ``check()`` finds clean.

About 20 examples in the normal suite (a few seconds);
``DISKCACHE_ADMIN_FUZZ_EXAMPLES=5000 pytest tests/reliability/test_fuzz_store.py`` runs longer.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import tempfile
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from diskcache_admin.engine import Codec, KeyParts, Store, statistics
from diskcache_admin.engine.files import VALUES_DIR, is_valid_name

EXAMPLES = int(os.environ.get("DISKCACHE_ADMIN_FUZZ_EXAMPLES", "20"))
MEMORY_BOUND = 16 * 1024 * 1024
HUGE = 64 * 1024 * 1024  # sparse: costs no disk; reading it would cost this much memory
NOW = 1_000_000.0
KEYS = ["int", "small", "big1", "big2", "tagged", "expiring"]

# What an operation may raise on a damaged store, and which operations may raise it: a read
# raises nothing (damage is a miss); incr raises KeyError for a missing counter and TypeError for
# a genuine value that is not a number; a write may meet a value file it cannot write (OSError, as
# on a full disk: docs/reliability.rst). A TypeError from a read would be the store trusting a
# forged column's type, which is exactly what this test is for.
READS: tuple[type[BaseException], ...] = ()
WRITES: tuple[type[BaseException], ...] = (OSError,)
INCR: tuple[type[BaseException], ...] = (KeyError, TypeError, OSError)


def build(directory: str) -> Store:
    store = Store(
        directory,
        Codec([b"fuzz-key"]),
        max_entries=None,
        size_limit=None,
        file_threshold=512,
        clock=lambda: NOW,
    )
    store.set("int", KeyParts("int"), 41, None)
    store.set("small", KeyParts("small"), {"a": [1, 2]}, None)
    store.set("big1", KeyParts("big1"), b"1" * 4000, None)
    store.set("big2", KeyParts("big2"), "2" * 3000, NOW + 100)
    store.set("tagged", KeyParts("tagged"), "t", None, "tag")
    store.set("expiring", KeyParts("expiring"), b"e" * 1000, NOW - 1)
    return store


def sentinels(outside: Path) -> dict[Path, bytes]:
    bucket = outside / "bucket"
    bucket.mkdir()
    files = {
        outside / "sentinel.txt": b"must survive",
        bucket / ("ab" + "0" * 30 + ".val"): b"shaped like a value file",
        bucket / "other": b"x" * 100,
    }
    for path, content in files.items():
        path.write_bytes(content)
    return files


column_values = st.one_of(
    st.none(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.binary(max_size=40),
    st.text(max_size=20),
    st.floats(allow_nan=False),
)

mutations = st.one_of(
    st.tuples(
        st.just("column"),
        st.sampled_from(KEYS),
        st.sampled_from(
            [
                "filename",
                "size",
                "signature",
                "digest",
                "mode",
                "value",
                "expire_time",
                "tag",
                "user_key",
                "version",
            ]
        ),
        column_values,
    ),
    st.tuples(
        st.just("name"),
        st.sampled_from(KEYS),
        st.sampled_from(["absolute", "dot-dot", "bucket-dot-dot", "other-entry", "nonexistent"]),
    ),
    st.tuples(
        st.just("file"),
        st.sampled_from(["big1", "big2", "expiring"]),
        st.sampled_from(
            ["link", "truncate", "extend", "huge", "fifo", "directory", "delete", "garbage"]
        ),
    ),
    st.tuples(st.just("link-bucket"), st.sampled_from(["big1", "big2", "expiring"])),
    st.tuples(st.just("link-values")),
    st.tuples(st.just("copy-row"), st.sampled_from(KEYS), st.sampled_from(KEYS)),
    st.tuples(st.just("plant"), st.text(max_size=10), column_values, column_values),
    st.tuples(
        st.just("counters"), st.sampled_from(["count", "size", "hits", "misses"]), column_values
    ),
    st.tuples(st.just("delete-counters")),
)


def mutate(store: Store, outside: Path, mutation: tuple[Any, ...]) -> None:
    # NULL in a NOT NULL column, a duplicate key: the schema refuses it to anyone.
    with contextlib.suppress(sqlite3.IntegrityError):
        _mutate(store, outside, mutation)


def _mutate(store: Store, outside: Path, mutation: tuple[Any, ...]) -> None:
    conn = sqlite3.connect(store.db.path)
    values = Path(store.directory) / VALUES_DIR
    try:
        kind = mutation[0]
        row = None
        if len(mutation) > 1 and mutation[1] in KEYS:
            row = conn.execute(
                "SELECT id, filename FROM entries WHERE key = ?", (mutation[1],)
            ).fetchone()
        if kind == "column" and row is not None:
            conn.execute(
                f"UPDATE entries SET {mutation[2]} = ? WHERE id = ?", (mutation[3], row[0])
            )
        elif kind == "name" and row is not None:
            names = {
                "absolute": str(outside / "sentinel.txt"),
                "dot-dot": os.path.relpath(outside / "sentinel.txt", values),
                "bucket-dot-dot": "ab/../../" + os.path.relpath(outside / "sentinel.txt", values),
                "other-entry": conn.execute(
                    "SELECT filename FROM entries WHERE filename IS NOT NULL LIMIT 1"
                ).fetchone()[0],
                "nonexistent": "cd/cd" + "9" * 30 + ".val",
            }
            conn.execute(
                "UPDATE entries SET filename = ? WHERE id = ?", (names[mutation[2]], row[0])
            )
        # Only files the engine named: the harness must not damage a sentinel a previous
        # mutation named in the row (the engine is what must never touch them).
        elif kind == "file" and row is not None and is_valid_name(row[1]):
            damage_file(values / row[1], outside, mutation[2])
        elif kind == "link-bucket" and row is not None and is_valid_name(row[1]):
            bucket = values / row[1].split("/")[0]
            if bucket.is_dir() and not bucket.is_symlink():
                shutil.rmtree(bucket)  # the harness's own damage, inside the store
                bucket.symlink_to(outside / "bucket", target_is_directory=True)
        elif kind == "link-values" and values.is_dir() and not values.is_symlink():
            values.rename(values.with_name("values-moved"))
            values.symlink_to(outside / "bucket", target_is_directory=True)
        elif kind == "copy-row":
            conn.execute(
                "UPDATE entries SET (mode, value, signature, filename, size, digest) = (SELECT"
                " mode, value, signature, filename, size, digest FROM entries WHERE key = ?)"
                " WHERE key = ?",
                (mutation[1], mutation[2]),
            )
        elif kind == "counters":
            conn.execute(f"UPDATE counters SET {mutation[1]} = ?", (mutation[2],))
        elif kind == "delete-counters":
            conn.execute("DELETE FROM counters")
        elif kind == "plant":
            conn.execute(
                "INSERT OR IGNORE INTO entries (key, user_key, store_time, rank, mode, size,"
                " value, filename, signature) VALUES (?, ?, 0, 0, 1, 10, ?, ?, zeroblob(32))",
                (mutation[1], mutation[1], mutation[2], mutation[3]),
            )
        conn.commit()
    finally:
        conn.close()


def damage_file(path: Path, outside: Path, how: str) -> None:
    if not path.exists() or path.is_symlink() or not path.is_file():
        return
    if how == "link":
        path.unlink()
        path.symlink_to(outside / "sentinel.txt")
    elif how == "truncate":
        os.truncate(path, path.stat().st_size // 2)
    elif how == "extend":
        with open(path, "ab") as handle:
            handle.write(b"more")
    elif how == "huge":
        os.truncate(path, HUGE)
    elif how == "fifo":
        path.unlink()
        os.mkfifo(path)
    elif how == "directory":
        path.unlink()
        path.mkdir()
        (path / "inside").write_bytes(b"x")
    elif how == "delete":
        path.unlink()
    elif how == "garbage":
        path.write_bytes(os.urandom(path.stat().st_size))


OPERATIONS: list[tuple[str, Callable[[Store], object], tuple[type[BaseException], ...]]] = [
    *((f"get {key}", lambda s, k=key: s.get(k), READS) for key in KEYS),
    ("get_many", lambda s: s.get_many(KEYS), READS),
    *((f"has {key}", lambda s, k=key: s.has(k), READS) for key in KEYS),
    ("peek", lambda s: [s.peek(k) for k in KEYS], READS),
    ("entry", lambda s: [s.entry(k) for k in KEYS], READS),
    ("add", lambda s: s.add("small", KeyParts("small"), "added", None), WRITES),
    ("touch", lambda s: s.touch("big1", NOW + 50), WRITES),
    ("incr", lambda s: s.incr("int", 1), INCR),
    ("rename", lambda s: s.rename("tagged", "renamed", KeyParts("renamed", "", 2)), WRITES),
    ("delete_if_equal", lambda s: s.delete_if_equal("big2", "2" * 3000), WRITES),
    ("set", lambda s: s.set("big1", KeyParts("big1"), b"n" * 2000, None), WRITES),
    ("delete", lambda s: s.delete("big2"), WRITES),
    ("evict", lambda s: s.evict("tag"), WRITES),
    ("expire", lambda s: s.expire(), WRITES),
    ("cull", lambda s: s.cull(), WRITES),
    ("stats", lambda s: (s.stats(), s.volume()), READS),
    ("check", lambda s: s.check(grace=0), READS),
    ("clear", lambda s: s.clear(), WRITES),
]


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(damage=st.lists(mutations, min_size=1, max_size=6))
def test_random_damage_causes_misses_nothing_more(
    tmp_path: Path, damage: list[tuple[Any, ...]]
) -> None:
    base = Path(tempfile.mkdtemp(dir=tmp_path))
    outside = base / "outside"
    outside.mkdir()
    guarded = sentinels(outside)
    location = str(base / "cache")
    try:
        store = build(location)
        for mutation in damage:
            mutate(store, outside, mutation)
        statistics.forget(location)  # as a new process would meet the damaged store
        store = build_reader(location)

        tracemalloc.start()
        try:
            for name, operation, documented in OPERATIONS:
                # Anything else (sqlite3.Error, ValueError...) fails the example.
                with contextlib.suppress(*documented):
                    operation(store)
                peak = tracemalloc.get_traced_memory()[1]
                assert peak < MEMORY_BOUND, (name, peak)
        finally:
            tracemalloc.stop()

        store.check(fix=True, grace=0)
        assert store.check(grace=0) == []
        for path, content in guarded.items():
            assert path.read_bytes() == content, path
        assert sorted(p.name for p in outside.iterdir()) == ["bucket", "sentinel.txt"]
    finally:
        statistics.forget(location)


def build_reader(location: str) -> Store:
    return Store(
        location,
        Codec([b"fuzz-key"]),
        max_entries=None,
        size_limit=None,
        file_threshold=512,
        clock=lambda: NOW,
    )
