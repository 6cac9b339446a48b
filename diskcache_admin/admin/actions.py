"""The maintenance actions on a whole alias: one class per action, a registry by slug.

Each action knows everything the confirmation page and the POST need: whether the alias offers
it, what it will remove (:meth:`Action.statement`), what else it hits
(:meth:`Action.blast_radius`) and how to run it (:meth:`Action.perform`, whose return value is
both the success message and the audit summary). Add an action by writing a subclass and
listing it in :data:`ACTIONS`.
"""

from __future__ import annotations

import time
from typing import ClassVar

from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ..inspection import Capability, KeyQuery, Removal
from . import helpers
from .helpers import CLEAR, MAINTAIN
from .visibility import VisibleAdapter


class Action:
    """A maintenance action; subclasses set the class attributes and the three methods."""

    slug: ClassVar[str]
    label: ClassVar[Promise]  # translated lazily: the registry is built at import time
    capability: ClassVar[Capability]
    permission: ClassVar[str]
    # The adapter method that does the work: an adapter must override it, not only declare
    # the capability, or the action would only fail after the user confirmed it.
    method: ClassVar[str]
    danger: ClassVar[bool] = False
    typed: ClassVar[bool] = False  # the user types the alias name to confirm
    needs_tag: ClassVar[bool] = False

    @property
    def title(self) -> str:
        return str(self.label)

    @property
    def audit_name(self) -> str:
        return self.slug.replace("-", "_")

    def offered_by(self, adapter: VisibleAdapter) -> bool:
        return adapter.can(self.capability) and adapter.implements(self.method)

    def statement(self, adapter: VisibleAdapter, tag: str = "") -> str:
        """What the action will remove, as exactly as the backend can tell."""
        raise NotImplementedError

    def blast_radius(self, adapter: VisibleAdapter) -> str:
        """What else the action hits, beyond the statement (empty when nothing)."""
        return ""

    def perform(self, adapter: VisibleAdapter, tag: str = "") -> str:
        """Run the action; returns what was done (the message and the audit summary)."""
        raise NotImplementedError


class RemovalAction(Action):
    """An action whose adapter method returns a :class:`~..inspection.Removal`.

    :meth:`perform` calls :attr:`method` (with the tag when :attr:`needs_tag`) and fills
    :attr:`done` with ``{amount}`` (and ``{tag}``), so every removal reports alike.
    """

    done: ClassVar[Promise]  # translated lazily, like label; filled in when performed

    def perform(self, adapter: VisibleAdapter, tag: str = "") -> str:
        run = getattr(adapter, self.method)
        removal: Removal = run(tag) if self.needs_tag else run()
        return str(self.done).format(
            amount=helpers.amount(removal.count, removal.size), tag=helpers.quoted(tag)
        )


# A clear in the admin stops after its batch that passes this many seconds: a request must end
# before the server's worker timeout (gunicorn's default is 30 s) would kill it mid-way. A store
# that clears in batches (DiskCache, ~50,000 entries a second) is then left consistent, with the
# rest of its entries to clear again or with ``manage.py cache clear`` (docs/admin.rst).
CLEAR_SECONDS = 10.0


class _TimeUp(Exception):
    def __init__(self, done: int, total: int | None) -> None:
        super().__init__(done, total)
        self.done = done
        self.total = total


class Clear(RemovalAction):
    slug = "clear"
    label = gettext_lazy("Clear the cache")
    capability = Capability.CLEAR
    permission = CLEAR
    method = "clear"
    danger = True
    typed = True
    done = gettext_lazy("Cleared: {amount} removed.")

    def perform(self, adapter: VisibleAdapter, tag: str = "") -> str:
        deadline = time.monotonic() + CLEAR_SECONDS

        def progress(done: int, total: int | None) -> None:
            if (total is None or done < total) and time.monotonic() >= deadline:
                raise _TimeUp(done, total)

        try:
            removal = adapter.clear(progress=progress)
        except _TimeUp as stop:
            return _(
                "Stopped after {seconds:g} s: {done} of {total} entries removed, the others are"
                " still there. The cache is consistent; clear it again to go on, or run"
                " “manage.py cache clear --alias {alias}”, which shows its progress."
            ).format(
                seconds=CLEAR_SECONDS,
                done=f"{stop.done:,}",
                total=_("an unknown number") if stop.total is None else f"{stop.total:,}",
                alias=adapter.alias,
            )
        return str(self.done).format(amount=helpers.amount(removal.count, removal.size))

    def statement(self, adapter: VisibleAdapter, tag: str = "") -> str:
        removal = adapter.clear_preview()
        return _("This deletes {amount} from cache {alias!r}.").format(
            amount=helpers.amount(removal.count, removal.size), alias=adapter.alias
        )

    def blast_radius(self, adapter: VisibleAdapter) -> str:
        return _("This cannot be undone.")


class FlushDatabase(Action):
    slug = "flush-db"
    label = gettext_lazy("Flush the whole database")
    capability = Capability.FLUSH_DB
    permission = CLEAR
    method = "flush_db"
    danger = True
    typed = True

    def statement(self, adapter: VisibleAdapter, tag: str = "") -> str:
        return _(
            "This deletes EVERY key in the database at {location}, not only the entries of"
            " cache {alias!r}."
        ).format(location=adapter.location(), alias=adapter.alias)

    def blast_radius(self, adapter: VisibleAdapter) -> str:
        return _(
            "Other cache aliases and any other application that share this database lose"
            " their data too. This cannot be undone."
        )

    def perform(self, adapter: VisibleAdapter, tag: str = "") -> str:
        adapter.flush_db()
        return _("Flushed the whole database at {location}.").format(location=adapter.location())


class Expire(RemovalAction):
    slug = "expire"
    label = gettext_lazy("Purge expired entries")
    capability = Capability.EXPIRE
    permission = MAINTAIN
    method = "expire"
    done = gettext_lazy("Purged {amount} (expired).")

    def statement(self, adapter: VisibleAdapter, tag: str = "") -> str:
        if adapter.can(Capability.SEARCH):
            removal = adapter.count_matching(KeyQuery(expired=True))
            what = helpers.amount(removal.count, removal.size)
            if adapter.prefixes:
                # Purging is store-wide; the count leaves hidden keys out, the purge does not.
                what = _("{amount} (not counting hidden keys, which are purged too)").format(
                    amount=what
                )
        else:
            what = helpers.amount(adapter.stats().expired, None)
        return _("This purges {what} that have expired but are still stored in {alias!r}.").format(
            what=what, alias=adapter.alias
        )


class EvictTag(RemovalAction):
    slug = "evict"
    label = gettext_lazy("Evict a tag")
    capability = Capability.EVICT_TAG
    permission = MAINTAIN
    method = "evict"
    needs_tag = True
    done = gettext_lazy("Evicted tag {tag}: {amount} removed.")

    def statement(self, adapter: VisibleAdapter, tag: str = "") -> str:
        if adapter.can(Capability.SEARCH):
            removal = adapter.count_matching(KeyQuery(tag=tag))
            what = helpers.amount(removal.count, removal.size)
        else:
            what = _("every entry")
        return _("This deletes {what} stored with tag {tag} in {alias!r}.").format(
            what=what, tag=helpers.quoted(tag), alias=adapter.alias
        )


class Cull(RemovalAction):
    slug = "cull"
    label = gettext_lazy("Cull to the limits")
    capability = Capability.CULL
    permission = MAINTAIN
    method = "cull"
    done = gettext_lazy("Culled: {amount} removed.")

    def statement(self, adapter: VisibleAdapter, tag: str = "") -> str:
        stats = adapter.stats()
        parts = [
            _("Expired entries ({count}) are purged first.").format(
                count=helpers.count(stats.expired)
            )
        ]
        if stats.max_entries is not None and stats.entries is not None:
            over = max(stats.entries - stats.max_entries, 0)
            parts.append(
                _("{entries:,} entries against a limit of {limit:,}: {over:,} over.").format(
                    entries=stats.entries, limit=stats.max_entries, over=over
                )
            )
        if stats.size_limit is not None:
            current = stats.volume if stats.volume is not None else stats.size
            if current is not None:
                parts.append(
                    _("{current} against a size limit of {limit}: {over} over.").format(
                        current=helpers.size(current),
                        limit=helpers.size(stats.size_limit),
                        over=helpers.size(max(current - stats.size_limit, 0)),
                    )
                )
        parts.append(_("Then the oldest entries go until the store is within its limits."))
        return " ".join(parts)


class ResetStatistics(Action):
    slug = "reset-stats"
    label = gettext_lazy("Reset statistics")
    capability = Capability.RESET_STATS
    permission = MAINTAIN
    method = "reset_stats"

    def statement(self, adapter: VisibleAdapter, tag: str = "") -> str:
        stats = adapter.stats()
        return _(
            "This resets the hit and miss counters ({hits} hits, {misses} misses) and the"
            " statistics snapshots of {alias!r}. No entry is removed."
        ).format(
            hits=helpers.count(stats.hits), misses=helpers.count(stats.misses), alias=adapter.alias
        )

    def perform(self, adapter: VisibleAdapter, tag: str = "") -> str:
        adapter.reset_stats()
        return _("Statistics reset.")


class ResetInsight(Action):
    slug = "reset-insight"
    label = gettext_lazy("Reset key activity")
    capability = Capability.RESET_INSIGHT
    permission = MAINTAIN
    method = "reset_insight"

    def statement(self, adapter: VisibleAdapter, tag: str = "") -> str:
        return _(
            "This forgets the recorded key activity of {alias!r} (hot keys, most-missed keys,"
            " families); recording starts again at once. No entry is removed, and the hit and"
            " miss totals are kept."
        ).format(alias=adapter.alias)

    def blast_radius(self, adapter: VisibleAdapter) -> str:
        return _(
            "Aliases sharing this store lose theirs too; other processes' reads of the last few"
            " seconds (not yet written) still arrive."
        )

    def perform(self, adapter: VisibleAdapter, tag: str = "") -> str:
        adapter.reset_insight()
        return _("Key activity reset.")


# In the order the cache page lists them.
ACTIONS: dict[str, Action] = {
    action.slug: action
    for action in (
        Expire(),
        EvictTag(),
        Cull(),
        ResetStatistics(),
        ResetInsight(),
        Clear(),
        FlushDatabase(),
    )
}
