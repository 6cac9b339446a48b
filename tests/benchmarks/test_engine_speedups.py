"""Behaviour that the engine's performance work must keep (benchmarks/ measures the speed)."""

from __future__ import annotations

import os
import sqlite3
import threading
from contextlib import closing
from typing import Any

import pytest

from diskcache_admin.engine import Codec, KeyParts, Store, statistics
from diskcache_admin.engine.connection import WRITE_LOCK_NAME


@pytest.fixture
def store(tmp_cache_dir: str) -> Any:
    yield Store(tmp_cache_dir, Codec([b"speedups-key"]), max_entries=None, size_limit=None)
    statistics.forget(tmp_cache_dir)


def entry_columns(store: Store, key: str) -> tuple[Any, ...]:
    with closing(sqlite3.connect(store.db.path)) as conn, conn:
        row = conn.execute(
            "SELECT user_key, prefix, version, family, size, tag, expire_time FROM entries"
            " WHERE key = ?",
            (key,),
        ).fetchone()
    assert row is not None
    return tuple(row)


def counters(store: Store) -> tuple[int, int]:
    with closing(sqlite3.connect(store.db.path)) as conn, conn:
        count, size = conn.execute("SELECT count, size FROM counters WHERE id = 0").fetchone()
    return count, size


@pytest.mark.parametrize("key_length", [0, 1, 32, 64, 65, 200])
@pytest.mark.parametrize("message_length", [0, 100, 70_000])
def test_precomputed_keyed_hash_signs_like_a_fresh_codec(
    key_length: int, message_length: int
) -> None:
    # The codec copies a keyed state set up once: the copy must not carry one message's bytes
    # into the next signature.
    secret, message = os.urandom(key_length), os.urandom(message_length)
    codec = Codec([secret])
    codec.sign_message(b"an earlier message")

    assert codec.sign_message(message) == Codec([secret]).sign_message(message)
    assert codec.sign_message(message) != Codec([secret + b"x"]).sign_message(message)


def test_a_value_signed_with_a_fallback_key_still_verifies() -> None:
    fields = (":1:k", "k", "", 1, None, None, 1, 3, b"abc")
    signature = Codec([b"old-key"]).sign(*fields)

    rotated = Codec([b"new-key", b"old-key"])

    assert rotated.verify(signature, *fields)
    assert not Codec([b"new-key"]).verify(signature, *fields)


def test_an_overwrite_with_other_key_parts_stores_the_new_parts(store: Store) -> None:
    store.set("k", KeyParts("users:1", "a", 1), "v", None)

    store.set("k", KeyParts("clubs:2", "b", 3), "v", None)

    assert entry_columns(store, "k")[:4] == ("clubs:2", "b", 3, "clubs")


def test_an_overwrite_keeps_count_and_size_exact(store: Store) -> None:
    store.set("k", KeyParts("k"), "small", None, tag="t")
    store.set("other", KeyParts("other"), "x", None)

    store.set("k", KeyParts("k"), "a much longer value than before", 2e9, tag=None)

    _, _, _, _, size, tag, expire_time = entry_columns(store, "k")
    assert (tag, expire_time) == (None, 2e9)
    with closing(sqlite3.connect(store.db.path)) as conn, conn:
        total = conn.execute("SELECT sum(size) FROM entries").fetchone()[0]
    assert counters(store) == (2, total)
    assert size == total - entry_columns(store, "other")[4]


def test_an_identical_overwrite_keeps_the_value_readable(store: Store) -> None:
    store.set("k", KeyParts("k"), {"n": 1}, None)

    store.set("k", KeyParts("k"), {"n": 2}, None)

    assert store.get("k") == {"n": 2}
    assert counters(store)[0] == 1


def test_writes_go_on_when_the_lock_file_cannot_be_opened(tmp_cache_dir: str) -> None:
    os.makedirs(os.path.join(tmp_cache_dir, WRITE_LOCK_NAME))  # a directory: open() fails
    store = Store(tmp_cache_dir, Codec([b"k"]), max_entries=None, size_limit=None)

    assert store.set("k", KeyParts("k"), 1, None)

    assert store.get("k") == 1
    statistics.forget(tmp_cache_dir)


def test_threads_writing_at_once_lose_no_write(store: Store) -> None:
    def write(thread: int) -> None:
        for i in range(50):
            store.set(f"{thread}:{i}", KeyParts(f"{thread}:{i}"), i, None)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert counters(store)[0] == 200
    assert store.get("3:49") == 49


def test_a_forked_child_queues_on_a_lock_file_descriptor_of_its_own(store: Store) -> None:
    store.set("before", KeyParts("before"), 1, None)
    assert store.db._queue is not None
    parent_fd = store.db._queue[2]
    read_end, write_end = os.pipe()

    pid = os.fork()
    if pid == 0:  # the child: report, never return into pytest
        try:
            store.set("child", KeyParts("child"), 2, None)
            ok = store.db._queue[2] not in (parent_fd, -1)
            os.write(write_end, b"ok" if ok else b"shared")
        finally:
            os._exit(0)
    os.close(write_end)
    report = os.read(read_end, 16)
    os.close(read_end)
    os.waitpid(pid, 0)

    assert report == b"ok"
    assert store.get("child") == 2
    assert store.set("after", KeyParts("after"), 3, None)
