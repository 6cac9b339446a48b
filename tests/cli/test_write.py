"""``set``, ``store`` and ``delete`` on every backend, with their audit records."""

from __future__ import annotations

import getpass
import io
from pathlib import Path

import pytest
from django.core.cache import caches

from diskcache_admin.inspection import get_adapter
from diskcache_admin.inspection.base import Capability
from tests.cli.conftest import AuditSpy, fail, run

pytestmark = pytest.mark.django_db


def can(capability: Capability) -> bool:
    return get_adapter("default").can(capability)


def test_set_stores_a_string(shared_backend: str, audit_spy: AuditSpy) -> None:
    out = run("set", "k", "hello world").out

    assert "Stored 'k'" in out
    assert caches["default"].get("k") == "hello world"
    assert audit_spy.records == [
        {
            "alias": "default",
            "action": "set",
            "summary": out.strip(),
            "user": None,
            "via": "cli",
            "os_user": getpass.getuser(),
        }
    ]


def test_set_json_parses_the_value(shared_backend: str) -> None:
    run("set", "k", '{"n": [1, 2.5, null, true]}', "--json")

    assert caches["default"].get("k") == {"n": [1, 2.5, None, True]}


def test_set_bad_json_exits_2_and_stores_nothing(shared_backend: str, audit_spy: AuditSpy) -> None:
    message = fail("set", "k", "{not json", "--json", code=2)

    assert "not valid JSON" in message
    assert caches["default"].get("k") is None
    assert audit_spy.records == []


def test_set_timeout_and_version(shared_backend: str) -> None:
    run("set", "short", "v", "--timeout", "0")
    run("set", "forever", "v", "--timeout", "never")
    run("set", "versioned", "v2", "--version", "2")

    assert caches["default"].get("short") is None  # timeout 0 means "expire now", as in Django
    assert caches["default"].get("forever") == "v"
    assert caches["default"].get("versioned", version=2) == "v2"
    assert caches["default"].get("versioned") is None


def test_set_bad_timeout_is_refused(shared_backend: str, audit_spy: AuditSpy) -> None:
    message = fail("set", "k", "v", "--timeout", "soon", code=2)

    assert "'soon' is not a number of seconds" in message
    assert "'nan' is not a number of seconds" in fail("set", "k", "v", "--timeout", "nan", code=2)
    assert caches["default"].get("k") is None
    assert audit_spy.records == []


@pytest.mark.parametrize("timeout", ["-5", "-0.001", "-inf"])
def test_a_negative_timeout_is_refused(
    shared_backend: str, audit_spy: AuditSpy, timeout: str
) -> None:
    message = fail("set", "k", "v", f"--timeout={timeout}", code=2)

    assert "number of seconds" in message
    assert "expires in -" not in message
    assert caches["default"].get("k") is None
    assert audit_spy.records == []


def test_set_with_a_tag_can_be_evicted(shared_backend: str, audit_spy: AuditSpy) -> None:
    if not can(Capability.EVICT_TAG):
        # "The backend cannot do that" is exit status 2, for a tag as for evict.
        assert "cannot evict entries by tag" in fail("evict", "t", code=2)
        message = fail("set", "tagged", "v", "--tag", "t", code=2)
        assert message.endswith("cannot tag entries; store the value without --tag.")
        assert "cannot tag entries" in fail("store", "tagged", "-", "--tag", "t", code=2)
        assert caches["default"].get("tagged") is None
        assert audit_spy.records == []
        return
    run("set", "tagged", "v", "--tag", "t")
    run("set", "plain", "v")

    out = run("evict", "t").out

    assert "1 entry" in out
    assert caches["default"].get("tagged") is None
    assert caches["default"].get("plain") == "v"


def test_store_reads_a_file(shared_backend: str, tmp_path: Path) -> None:
    payload = bytes(range(256)) * 40
    path = tmp_path / "payload.bin"
    path.write_bytes(payload)

    out = run("store", "file", str(path)).out

    assert "10.0 KB" in out
    assert caches["default"].get("file") == payload


def test_store_dash_reads_standard_input(shared_backend: str, audit_spy: AuditSpy) -> None:
    run("store", "piped", "-", "--timeout", "60", stdin=io.BytesIO(b"\x00from stdin\xff"))

    assert caches["default"].get("piped") == b"\x00from stdin\xff"
    assert audit_spy.actions() == ["store"]


def test_store_unreadable_file_exits_2(shared_backend: str, tmp_path: Path) -> None:
    missing = str(tmp_path / "missing.bin")

    message = fail("store", "k", missing, code=2)

    assert "Cannot read" in message
    assert caches["default"].get("k") is None


def test_store_a_directory_exits_2(shared_backend: str, tmp_path: Path) -> None:
    assert "Cannot read" in fail("store", "k", str(tmp_path), code=2)


def test_delete_reports_how_many_existed(shared_backend: str, audit_spy: AuditSpy) -> None:
    caches["default"].set_many({"a": 1, "b": 2, "c": 3})

    out = run("delete", "a", "b", "nope").out

    assert "Deleted 2 of 3 keys" in out
    assert caches["default"].get_many(["a", "b", "c"]) == {"c": 3}
    assert audit_spy.actions() == ["delete"]
    assert audit_spy.records[0]["via"] == "cli"


def test_delete_by_version(shared_backend: str) -> None:
    caches["default"].set("k", 1, version=1)
    caches["default"].set("k", 2, version=2)

    run("delete", "k", "--version", "2")

    assert caches["default"].get("k", version=1) == 1
    assert caches["default"].get("k", version=2) is None


def test_expire_purges_only_expired_entries(shared_backend: str, audit_spy: AuditSpy) -> None:
    cache = caches["default"]
    if not can(Capability.EXPIRE):
        assert "cannot purge expired entries" in fail("expire", code=2)
        return
    cache.set("live", "v", timeout=600)
    cache.set("old", "x" * 100, timeout=0)  # Django's "expire now": stored already expired

    out = run("expire").out

    assert "Purged expired entries" in out
    if shared_backend == "diskcache":
        assert ": 1 entry (" in out
    assert cache.get("live") == "v"
    assert audit_spy.actions() == ["expire"]
