"""The audit trail: AuditEntry rows, and admin LogEntry rows for admin actions."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import AnonymousUser, User
from django.contrib.contenttypes.models import ContentType

from diskcache_admin import audit
from diskcache_admin.models import AuditEntry, Cache

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff() -> User:
    return User.objects.create_user("ada", is_staff=True)


def test_an_admin_action_writes_both_records(staff: User) -> None:
    entry = audit.record(
        alias="default", action="clear", summary="12 entries, 3.1 KB", user=staff, via="admin"
    )
    assert (entry.who, entry.via, entry.alias, entry.action) == ("ada", "admin", "default", "clear")
    assert entry.user_id == staff.pk
    (log,) = LogEntry.objects.all()
    assert log.user_id == staff.pk
    assert log.content_type == ContentType.objects.get_for_model(Cache)
    assert log.object_id == "default"
    assert log.object_repr == "cache 'default'"
    assert log.action_flag == CHANGE  # the cache is changed, never deleted
    assert log.get_change_message() == "clear: 12 entries, 3.1 KB"


def test_a_non_removing_admin_action_is_a_change(staff: User) -> None:
    audit.record(alias="default", action="touch", summary="k now expires in 60 s", user=staff)
    assert LogEntry.objects.get().action_flag == CHANGE


def test_a_cli_action_records_the_os_user_and_no_log_entry() -> None:
    entry = audit.record(
        alias="default", action="expire", summary="3 entries", via="cli", os_user="deploy"
    )
    assert (entry.who, entry.via, entry.user_id) == ("deploy", "cli", None)
    assert not LogEntry.objects.exists()
    assert str(entry).endswith("deploy (cli) expire default")


def test_a_cli_action_without_an_os_user_finds_one() -> None:
    entry = audit.record(alias="default", action="cull", summary="0 entries", via="cli")
    assert entry.who == audit.current_os_user()
    assert entry.who


def test_an_anonymous_admin_user_gets_no_log_entry() -> None:
    audit.record(alias="x", action="clear", summary="s", user=AnonymousUser(), via="admin")
    assert AuditEntry.objects.get().who == ""
    assert not LogEntry.objects.exists()


def test_via_is_checked() -> None:
    with pytest.raises(ValueError, match="via"):
        audit.record(alias="x", action="clear", summary="s", via="web")  # type: ignore[arg-type]
