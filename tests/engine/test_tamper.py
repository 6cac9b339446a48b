"""A row or value file written by someone without the secret is a miss and is never unpickled.

The planted pickle runs a shell command that creates a marker file when it is unpickled; the
first test proves that it really does, so the others can only pass because it never ran.
"""

from __future__ import annotations

import logging
import os
import pickle
import shlex
import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import caches

from diskcache_admin.backend import DiskCache
from diskcache_admin.engine.files import VALUES_DIR

LOGGER = "diskcache_admin.engine"


class SideEffect:
    """Unpickling this runs ``touch <marker>``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        return os.system, (f"touch {shlex.quote(str(self.marker))}",)


def evil_pickle(marker: Path) -> bytes:
    return pickle.dumps(SideEffect(marker))


def sql(cache: DiskCache, statement: str, params: tuple[Any, ...] = ()) -> list[Any]:
    """Write to the database the way an attacker with access to the directory would."""
    with closing(sqlite3.connect(cache.store.db.path)) as conn, conn:
        return conn.execute(statement, params).fetchall()


def warnings_about(caplog: pytest.LogCaptureFixture, key: str) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == LOGGER and r.levelno == logging.WARNING and key in r.getMessage()
    ]


def test_the_planted_pickle_does_have_a_side_effect(tmp_path: Path) -> None:
    marker = tmp_path / "proof"

    pickle.loads(evil_pickle(marker))  # proves the payload is live

    assert marker.exists()


def test_a_tampered_row_is_a_miss_and_never_unpickled(
    cache: DiskCache, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    marker = tmp_path / "pwned-row"
    cache.set("victim", "honest value")
    sql(cache, "UPDATE entries SET value = ? WHERE key = ':1:victim'", (evil_pickle(marker),))
    caplog.set_level(logging.WARNING, LOGGER)

    assert cache.get("victim", "miss") == "miss"
    assert cache.get("victim", "miss") == "miss"
    assert cache.get_many(["victim"]) == {}

    assert not marker.exists()
    assert sql(cache, "SELECT count(*) FROM entries") == [(0,)]
    assert len(warnings_about(caplog, ":1:victim")) == 1
    assert "signature" in warnings_about(caplog, ":1:victim")[0]


def test_a_tampered_value_file_is_a_miss_and_never_unpickled(
    aliases: Callable[..., Any], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    marker = tmp_path / "pwned-file"
    with aliases(default={"OPTIONS": {"FILE_THRESHOLD": 1024}}):
        cache = caches["default"]
        cache.set("victim", b"x" * 10_000)
        info = cache.entry("victim")
        assert info is not None
        assert info.filename is not None
        value_file = Path(cache.location) / VALUES_DIR / info.filename
        value_file.write_bytes(evil_pickle(marker))
        caplog.set_level(logging.WARNING, LOGGER)

        assert cache.get("victim", "miss") == "miss"
        assert cache.get("victim", "miss") == "miss"

        assert not marker.exists()
        assert cache.entry("victim") is None
        assert not value_file.exists()
        assert len(warnings_about(caplog, ":1:victim")) == 1


def test_a_row_copied_from_another_key_does_not_verify(
    cache: DiskCache, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The signature covers the key: a genuine entry moved under another key is rejected too.
    cache.set("admin_flag", True)
    cache.set("other", False)
    sql(
        cache,
        "UPDATE entries SET (value, signature, mode) = (SELECT value, signature, mode FROM"
        " entries WHERE key = ':1:admin_flag') WHERE key = ':1:other'",
    )
    caplog.set_level(logging.WARNING, LOGGER)

    assert cache.get("other", "miss") == "miss"
    assert cache.get("admin_flag") is True
    assert len(warnings_about(caplog, ":1:other")) == 1


def test_a_row_with_its_signature_removed_is_rejected(cache: DiskCache, tmp_path: Path) -> None:
    marker = tmp_path / "pwned-unsigned"
    cache.set("victim", "honest")
    sql(
        cache,
        "UPDATE entries SET value = ?, signature = NULL WHERE key = ':1:victim'",
        (evil_pickle(marker),),
    )

    assert cache.get("victim", "miss") == "miss"
    assert not marker.exists()


def test_incr_and_incr_version_never_unpickle_a_tampered_row(
    cache: DiskCache, tmp_path: Path
) -> None:
    marker = tmp_path / "pwned-incr"
    cache.set("n", 1.5)  # a pickled number, so incr has to decode it
    cache.set("m", "v")
    for key in (":1:n", ":1:m"):
        sql(cache, "UPDATE entries SET value = ? WHERE key = ?", (evil_pickle(marker), key))

    with pytest.raises(ValueError, match="not found"):
        cache.incr("n")
    with pytest.raises(ValueError, match="not found"):
        cache.incr_version("m")

    assert not marker.exists()


def test_a_tampered_json_row_is_rejected_too(
    aliases: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    with aliases(default={"OPTIONS": {"SERIALIZER": "json"}}):
        cache = caches["default"]
        cache.set("role", "user")
        sql(cache, "UPDATE entries SET value = ? WHERE key = ':1:role'", (b'"admin"',))
        caplog.set_level(logging.WARNING, LOGGER)

        assert cache.get("role", "miss") == "miss"
        assert len(warnings_about(caplog, ":1:role")) == 1


def test_a_row_forged_as_a_native_integer_cannot_carry_anything_else(
    cache: DiskCache, caplog: pytest.LogCaptureFixture
) -> None:
    # Native integers are unsigned (so incr stays cheap): claiming to be one must not let text
    # through, such as an HTML fragment served from the cache.
    cache.set("fragment", "<p>honest</p>")
    sql(
        cache,
        "UPDATE entries SET mode = 0, signature = NULL, value = ? WHERE key = ':1:fragment'",
        ("<script>alert(1)</script>",),
    )
    caplog.set_level(logging.WARNING, LOGGER)

    assert cache.get("fragment", "miss") == "miss"
    with pytest.raises(ValueError, match="not found"):
        cache.incr("fragment")
    assert cache.entry("fragment") is None
    assert len(warnings_about(caplog, ":1:fragment")) == 1


def test_has_key_add_and_touch_agree_with_get_on_a_tampered_row(cache: DiskCache) -> None:
    # Issue 12 item 4: a planted row used to block an add()-based lock until a get removed it.
    for key in ("lock", "probe", "touched"):
        cache.set(key, "honest")
        sql(
            cache,
            "UPDATE entries SET value = ? WHERE key = ?",
            (pickle.dumps("forged"), f":1:{key}"),
        )

    assert cache.has_key("probe") is False
    assert cache.add("lock", "mine") is True
    assert cache.get("lock") == "mine"
    assert cache.touch("touched", 100) is False
    assert cache.get("probe", "miss") == "miss"


def test_a_forged_counter_is_not_served(cache: DiskCache) -> None:
    # Issue 12 item 5: native integers used to be stored unsigned.
    cache.set("hits", 5)
    sql(cache, "UPDATE entries SET value = 1000000 WHERE key = ':1:hits'")

    assert cache.get("hits", "miss") == "miss"
    with pytest.raises(ValueError, match="not found"):
        cache.incr("hits")
