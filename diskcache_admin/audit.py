"""The audit trail: who did what to which cache, from the admin or from the command line.

Every record is an :class:`~diskcache_admin.models.AuditEntry`. Actions taken in the admin by a
signed-in user are also written as an admin ``LogEntry`` on the ``Cache`` model, so they show in
the admin's "Recent actions" next to everything else that user did.
"""

from __future__ import annotations

import getpass
import os
from typing import Literal

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser

from .models import AuditEntry, Cache

Via = Literal["admin", "cli"]

# Actions that remove data are logged as deletions, so the admin shows them with that icon.
REMOVING_ACTIONS = frozenset(
    {"delete", "delete_matching", "clear", "flush_db", "expire", "evict", "cull"}
)


def current_os_user() -> str:
    """The login name of the process, for records made from the command line."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name and no passwd entry (some containers)
        return f"uid {os.getuid()}"


def record(
    *,
    alias: str,
    action: str,
    summary: str,
    user: AbstractBaseUser | AnonymousUser | None = None,
    via: Via = "admin",
    os_user: str | None = None,
) -> AuditEntry:
    """Record ``action`` on cache ``alias`` (``summary`` says exactly what happened)."""
    if via not in ("admin", "cli"):
        raise ValueError(f"via must be 'admin' or 'cli', not {via!r}.")
    account = user if isinstance(user, AbstractBaseUser) and user.pk is not None else None
    if account is not None:
        who = account.get_username()
    else:
        who = os_user or (current_os_user() if via == "cli" else "")
    entry = AuditEntry.objects.create(
        who=who[:150],
        user_id=None if account is None else account.pk,
        via=via,
        alias=alias[:100],
        action=action[:40],
        summary=summary,
    )
    if via == "admin" and account is not None:
        _log_entry(account, alias, action, summary)
    return entry


def _log_entry(user: AbstractBaseUser, alias: str, action: str, summary: str) -> None:
    from django.contrib.admin.models import CHANGE, DELETION, LogEntry

    # The Cache model has no table; an unsaved instance whose pk is the alias only carries the
    # content type and object id into the log.
    target = Cache(pk=alias)
    entry = LogEntry.objects.log_actions(
        user_id=user.pk,
        queryset=[target],
        action_flag=DELETION if action in REMOVING_ACTIONS else CHANGE,
        change_message=f"{action}: {summary}",
        single_object=True,
    )
    # log_actions names the object with str(), which for Cache is just "cache".
    LogEntry.objects.filter(pk=entry.pk).update(object_repr=f"cache {alias!r}"[:200])
