"""Hidden keys: the one place where the admin filters ``DISKCACHE_ADMIN_HIDDEN_PREFIXES``.

Every view gets its adapter wrapped in :class:`VisibleAdapter`, and the views reach the
backend through that wrapper only. The rule it enforces: **a hidden key behaves exactly like
an absent key**. It is never listed, counted, charted, previewed, touched or deleted, and every
answer about it (status code, message, count) is the one an absent key would give, so not even
its existence shows.

A stored key is hidden when its user key starts with a hidden prefix, where the user key is
taken both from the stored key alone (:meth:`Adapter.user_key`, no I/O) and, where the backend
records it, from its metadata (:meth:`Adapter.key_info`): hidden if either says so.

Store-wide operations are not key-level and still include hidden entries: statistics and the
size and expiry charts count them, and clear, purge expired, cull and flush remove them (as the
docs say). "Evict a tag" is key-level: it spares hidden keys.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

from django.utils.translation import gettext

from ..conf import conf
from ..inspection import (
    Activity,
    Adapter,
    Capability,
    FamilyActivity,
    Histogram,
    InspectionError,
    KeyActivity,
    KeyInfo,
    KeyPage,
    KeyQuery,
    MatchMode,
    Order,
    Removal,
    Snapshot,
    Stats,
    Unsupported,
    ValuePreview,
    maybe_take_snapshot,
)
from ..inspection.base import Progress, accepts

# The histograms whose bars are made of key names or key metadata (inspection's histograms()).
FAMILIES_CHART = "Top key families"
TAGS_CHART = "Top tags"


def hidden_prefixes() -> tuple[str, ...]:
    """The configured prefixes; an empty one is ignored, as the adapters' filters do."""
    return tuple(prefix for prefix in conf.HIDDEN_PREFIXES if prefix)


def is_hidden(user_key: str, prefixes: tuple[str, ...] | None = None) -> bool:
    """Whether a user key (as written) falls under a hidden prefix."""
    hidden = hidden_prefixes() if prefixes is None else prefixes
    return any(user_key.startswith(prefix) for prefix in hidden if prefix)


def family_is_hidden(family: str, prefixes: tuple[str, ...]) -> bool:
    """Whether a key family may hold hidden keys or name one.

    A family is a leading part of its keys, so it is dropped when it starts with a hidden
    prefix (its label is a hidden key's name, or part of one) or when a hidden prefix starts
    with it (its count includes hidden keys). The second rule can also drop a family of visible
    keys that merely shares the start: showing less is the safe side.
    """
    return any(family.startswith(p) or p.startswith(family) for p in prefixes if p)


class VisibleAdapter:
    """An adapter as the admin may see it: hidden keys behave exactly like absent keys.

    It offers what the admin pages use and nothing else, so a view cannot reach a key-level
    operation that skips the filter.
    """

    def __init__(self, adapter: Adapter, prefixes: tuple[str, ...] | None = None) -> None:
        self._adapter = adapter
        self.prefixes = hidden_prefixes() if prefixes is None else prefixes

    # -- description (nothing key-level) -----------------------------------------------------

    @property
    def alias(self) -> str:
        return self._adapter.alias

    @property
    def kind(self) -> str:
        return self._adapter.kind

    @property
    def backend_name(self) -> str:
        return self._adapter.backend_name

    @property
    def error(self) -> str | None:
        return self._adapter.error

    @property
    def capabilities(self) -> frozenset[Capability]:
        return self._adapter.capabilities

    @property
    def orders(self) -> tuple[Order, ...]:
        return self._adapter.orders

    @property
    def match_modes(self) -> tuple[MatchMode, ...]:
        return self._adapter.match_modes

    @property
    def key_filters(self) -> frozenset[str]:
        return self._adapter.key_filters

    def can(self, capability: Capability) -> bool:
        return self._adapter.can(capability)

    def implements(self, method: str) -> bool:
        """Whether the adapter's class overrides the base ``method`` (not just declares it)."""
        return getattr(type(self._adapter), method) is not getattr(Adapter, method)

    def unsupported(self, capability: Capability) -> Unsupported:
        return self._adapter.unsupported(capability)

    def location(self) -> str:
        return self._adapter.location()

    def make_raw_key(self, key: str, version: int | None = None) -> str:
        return self._adapter.make_raw_key(key, version)

    def user_key(self, raw_key: str) -> str:
        try:
            return self._adapter.user_key(raw_key)
        except InspectionError:
            return raw_key

    def check_query(self, query: KeyQuery) -> None:
        self._adapter.check_query(query)

    # -- store-wide (hidden entries are counted and removed like any other) -------------------

    def stats(self) -> Stats:
        return self._adapter.stats()

    def snapshots(self) -> list[Snapshot]:
        return self._adapter.snapshots()

    def take_snapshot_if_due(self) -> Snapshot | None:
        return maybe_take_snapshot(self._adapter)

    def clear_preview(self) -> Removal:
        return self._adapter.clear_preview()

    def clear(self, progress: Progress | None = None) -> Removal:
        """``progress(done, total)`` after each batch, where the adapter clears in batches
        (DiskCache); whatever it raises stops the clear there, with the batches before done."""
        if progress is not None and accepts(self._adapter.clear, "progress"):
            return self._adapter.clear(progress=progress)  # type: ignore[call-arg]
        return self._adapter.clear()

    def flush_db(self) -> None:
        self._adapter.flush_db()

    def expire(self) -> Removal:
        return self._adapter.expire()

    def cull(self) -> Removal:
        return self._adapter.cull()

    def reset_stats(self) -> None:
        self._adapter.reset_stats()

    def histograms(self) -> list[Histogram]:
        """The charts, recounted where a bar could name or count a hidden key.

        A key family related to a hidden prefix (:func:`family_is_hidden`) is counted again
        without the hidden keys, and left out when none remain (a family that starts with a
        hidden prefix holds only hidden keys, so its name never shows). Tags are counted again
        the same way. Where the backend cannot count by family or tag, those bars or that chart
        are left out. The size and expiry charts are store-wide counts and stay as they are.
        """
        if not self.prefixes:
            return self._adapter.histograms()
        # A large DiskCache estimates its charts from a sample, where hidden keys are simply
        # not counted: recounting a bar would be the scan the sample is there to avoid.
        without = self._adapter.histograms_without(self.prefixes)
        if without is not None:
            return without
        charts = self._adapter.histograms()
        shown = []
        for chart in charts:
            if chart.title == FAMILIES_CHART:
                chart = self._recounted(chart, "family", only_related=True)
            elif chart.title == TAGS_CHART:
                chart = self._recounted(chart, "tag", only_related=False)
            if chart.buckets or chart.title not in (FAMILIES_CHART, TAGS_CHART):
                shown.append(chart)
        return shown

    def _recounted(self, chart: Histogram, by: str, *, only_related: bool) -> Histogram:
        can_count = self._adapter.can(Capability.SEARCH) and by in self._adapter.key_filters
        buckets = []
        for label, count in chart.buckets:
            if only_related and not family_is_hidden(label, self.prefixes):
                buckets.append((label, count))
                continue
            if not can_count:
                continue
            query = KeyQuery(family=label) if by == "family" else KeyQuery(tag=label)
            visible = self.count_matching(query).count
            if visible:
                buckets.append((label, visible))
        buckets.sort(key=lambda bucket: -bucket[1])
        return Histogram(chart.title, buckets, chart.sampled)

    # -- the filter --------------------------------------------------------------------------

    def _structurally_hidden(self, raw_key: str) -> bool:
        # An alias that could not be built cannot split keys: its stored key is judged as is.
        return is_hidden(self.user_key(raw_key), self.prefixes)

    def _info_hidden(self, info: KeyInfo) -> bool:
        return is_hidden(info.key, self.prefixes) or self._structurally_hidden(info.raw_key)

    def hides(self, raw_key: str) -> bool:
        """Whether the stored key ``raw_key`` is hidden (may read its metadata)."""
        if not self.prefixes:
            return False
        if self._structurally_hidden(raw_key):
            return True
        if self._adapter.can(Capability.KEY_INFO):
            info = self._adapter.key_info(raw_key)
            return info is not None and is_hidden(info.key, self.prefixes)
        return False

    def _query(self, query: KeyQuery) -> KeyQuery:
        excluded = tuple(dict.fromkeys((*query.exclude_prefixes, *self.prefixes)))
        return dataclasses.replace(query, exclude_prefixes=excluded)

    def _visible(self, infos: list[KeyInfo]) -> list[KeyInfo]:
        if not self.prefixes:
            return infos
        return [info for info in infos if not self._info_hidden(info)]

    # -- key-level operations ----------------------------------------------------------------

    def keys(self, query: KeyQuery) -> KeyPage:
        """One page; the adapter already excludes hidden prefixes, the page is checked again."""
        page = self._adapter.keys(self._query(query))
        return KeyPage(self._visible(page.keys), page.next_cursor)

    def iter_keys(self, pattern: str | None = None) -> Iterator[KeyInfo]:
        for info in self._adapter.iter_keys(pattern):
            if not (self.prefixes and self._info_hidden(info)):
                yield info

    def count_matching(self, query: KeyQuery) -> Removal:
        return self._adapter.count_matching(self._query(query))

    def delete_matching(self, query: KeyQuery) -> Removal:
        return self._adapter.delete_matching(self._query(query))

    def key_info(self, raw_key: str) -> KeyInfo | None:
        if self.prefixes and self._structurally_hidden(raw_key):
            return None
        info = self._adapter.key_info(raw_key)
        if info is not None and self.prefixes and is_hidden(info.key, self.prefixes):
            return None
        return info

    def exists(self, raw_key: str) -> bool | None:
        """False for an absent or hidden key; None when the backend cannot tell cheaply."""
        if self.prefixes and self._structurally_hidden(raw_key):
            return False
        if self._adapter.can(Capability.KEY_INFO):
            return self.key_info(raw_key) is not None
        return None

    def preview(self, raw_key: str, limit: int) -> ValuePreview:
        if self.hides(raw_key):
            return ValuePreview(found=False)
        return self._adapter.preview(raw_key, limit)

    def peek_found(self, raw_key: str) -> bool:
        """Whether the entry exists, read through the value (for backends without metadata)."""
        if self.hides(raw_key):
            return False
        return self._adapter.peek(raw_key)[0]

    def delete(self, raw_keys: list[str]) -> int:
        """Delete the visible ones of ``raw_keys``; a hidden key counts as absent."""
        return self._adapter.delete([raw for raw in raw_keys if not self.hides(raw)])

    def touch(self, raw_key: str, timeout: float | None) -> bool:
        if self.hides(raw_key):
            return False
        return self._adapter.touch(raw_key, timeout)

    def evict(self, tag: str) -> Removal:
        """Remove the entries of ``tag``, sparing hidden keys (a key-level selection)."""
        if not self.prefixes:
            return self._adapter.evict(tag)
        if not self._adapter.can(Capability.SEARCH):
            raise InspectionError(
                gettext(
                    "Cache {alias} cannot evict a tag while sparing the keys under"
                    " DISKCACHE_ADMIN_HIDDEN_PREFIXES."
                ).format(alias=repr(self.alias))
            )
        return self._adapter.delete_matching(self._query(KeyQuery(tag=tag)))

    # -- insight: key activity (the engine never records hidden keys; checked again here) ----

    def insight_unavailable(self) -> str | None:
        return self._adapter.insight_unavailable()

    def hot_keys(self, limit: int = 20) -> Activity[KeyActivity]:
        return self._activity(self._adapter.hot_keys(limit, self.prefixes))

    def missed_keys(self, limit: int = 20) -> Activity[KeyActivity]:
        return self._activity(self._adapter.missed_keys(limit, self.prefixes))

    def _activity(self, activity: Activity[KeyActivity]) -> Activity[KeyActivity]:
        if not self.prefixes:
            return activity
        rows = [
            row
            for row in activity.rows
            if not is_hidden(row.key, self.prefixes) and not self._structurally_hidden(row.raw_key)
        ]
        return dataclasses.replace(activity, rows=rows)

    def families(self, limit: int = 20) -> Activity[FamilyActivity]:
        """Families related to a hidden prefix are left out (:func:`family_is_hidden`); the
        entries and sizes of the others do not count hidden keys."""
        activity = self._adapter.families(limit, self.prefixes)
        if not self.prefixes:
            return activity
        rows = [row for row in activity.rows if not family_is_hidden(row.family, self.prefixes)]
        return dataclasses.replace(activity, rows=rows)

    def reset_insight(self) -> None:
        self._adapter.reset_insight()
