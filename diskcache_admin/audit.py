"""The audit trail: who did what to which cache, from the admin or from the command line.

Every record is an :class:`~diskcache_admin.models.AuditEntry`. Actions taken in the admin by a
signed-in user are also written as an admin ``LogEntry`` on the ``Cache`` model, so they show in
the admin's "Recent actions" next to everything else that user did.

``DISKCACHE_ADMIN_AUDIT`` switches the records of each face (admin, cli) on or off; the admin's
``LogEntry`` is Django's own history and is written either way. :func:`prune` is the retention.
"""

from __future__ import annotations

import datetime
import getpass
import os
from typing import Literal

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db import DatabaseError, connections, router
from django.utils import timezone
from django.utils.translation import gettext as _

from .conf import conf
from .models import AuditEntry, Cache

Via = Literal["admin", "cli"]


def current_os_user() -> str:
    """The login name of the process, for records made from the command line."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name and no passwd entry (some containers)
        return f"uid {os.getuid()}"


def enabled(via: Via) -> bool:
    """Whether ``DISKCACHE_ADMIN_AUDIT`` has records written for changes made ``via`` a face."""
    return conf.AUDIT.get(via, True)


def unavailable(via: Via) -> str | None:
    """Why a record for ``via`` could not be written now, or None when it can (or is off).

    Asked before a change, so that a command can refuse it rather than make it and then fail
    to record it (before ``migrate``, for instance).
    """
    if not enabled(via):
        return None
    database = router.db_for_write(AuditEntry)
    try:
        tables = connections[database].introspection.table_names()
    except DatabaseError as exc:
        return _("The audit database cannot be reached: %(error)s") % {"error": exc}
    if AuditEntry._meta.db_table not in tables:
        return _(
            "The audit table %(table)s does not exist: run 'manage.py migrate' first "
            "(or turn the audit off with DISKCACHE_ADMIN_AUDIT)."
        ) % {"table": AuditEntry._meta.db_table}
    return None


def record(
    *,
    alias: str,
    action: str,
    summary: str,
    user: AbstractBaseUser | AnonymousUser | None = None,
    via: Via = "admin",
    os_user: str | None = None,
) -> AuditEntry | None:
    """Record ``action`` on cache ``alias`` (``summary`` says exactly what happened).

    Returns the record, or None when ``DISKCACHE_ADMIN_AUDIT`` turns records off for ``via``.
    """
    if via not in ("admin", "cli"):
        raise ValueError(f"via must be 'admin' or 'cli', not {via!r}.")
    account = user if isinstance(user, AbstractBaseUser) and user.pk is not None else None
    entry = None
    if enabled(via):
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


# Rows deleted per statement: short transactions, so a busy database is not locked for long.
PRUNE_BATCH = 1000


def prune(
    older_than: datetime.timedelta, *, dry_run: bool = False
) -> tuple[int, datetime.datetime]:
    """Delete the records older than ``older_than``; returns ``(how many, the cut-off time)``.

    With ``dry_run`` nothing is deleted and the count says how many would go.
    """
    cutoff = timezone.now() - older_than
    old = AuditEntry.objects.filter(when__lt=cutoff)
    if dry_run:
        return old.count(), cutoff
    removed = 0
    while True:
        batch = list(old.order_by("pk").values_list("pk", flat=True)[:PRUNE_BATCH])
        if not batch:
            return removed, cutoff
        removed += AuditEntry.objects.filter(pk__in=batch).delete()[0]


def _log_entry(user: AbstractBaseUser, alias: str, action: str, summary: str) -> None:
    from django.contrib.admin.models import CHANGE, LogEntry

    # The Cache model has no table; an unsaved instance whose pk is the alias only carries the
    # content type and object id into the log.
    target = Cache(pk=alias)
    entry = LogEntry.objects.log_actions(
        user_id=user.pk,
        queryset=[target],
        # Every action changes the cache, none deletes it: a DELETION entry would show in
        # "Recent actions" as "Deleted: cache 'default'", with no link, even for one key.
        action_flag=CHANGE,
        change_message=f"{action}: {summary}",
        single_object=True,
    )
    # log_actions names the object with str(), which for Cache is just "cache".
    LogEntry.objects.filter(pk=entry.pk).update(object_repr=f"cache {alias!r}"[:200])
