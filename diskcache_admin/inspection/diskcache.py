"""The adapter for our own backend: everything, through the engine store and engine/browse.py."""

from __future__ import annotations

import dataclasses
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

from django.core.exceptions import ImproperlyConfigured

from ..backend import DiskCache
from ..engine import BadSignature, CorruptValue, Mode, browse, statistics
from ..engine import insight as engine_insight
from ..engine import store as engine_store
from ..engine.connection import DB_NAME
from ..engine.store import EntryInfo, Store
from . import _common
from .base import (
    Activity,
    Adapter,
    Capability,
    FamilyActivity,
    Histogram,
    InsightUnavailable,
    InspectionError,
    KeyActivity,
    KeyInfo,
    KeyPage,
    KeyQuery,
    MatchMode,
    Order,
    Problem,
    Progress,
    Removal,
    Row,
    Snapshot,
    Stats,
)

# A sample drawn for the estimates of a large store (engine/browse.py) serves every estimate of
# that store for this many seconds, while its entry count stays within 1% of the count it was
# drawn at: the cache page asks for the expired count and the charts, the caches list and the
# debug toolbar's panel for the stats on every request, and none of them should draw again. An
# estimate is a share of the sample scaled by the exact count, so a few writes since the draw
# move it as they should; a bulk delete or a clear moves the count by more, and a new sample
# is drawn.
SAMPLE_REUSE_SECONDS = 30.0
_samples: dict[str, tuple[float, int, browse.Sample]] = {}
_samples_lock = threading.Lock()


def _in_family(family: str, hidden: tuple[str, ...]) -> Callable[[browse.SampledEntry], bool]:
    def keep(entry: browse.SampledEntry) -> bool:
        return entry.family == family and not any(
            prefix and entry.user_key.startswith(prefix) for prefix in hidden
        )

    return keep


class DiskCacheAdapter(Adapter):
    # Everything but FLUSH_DB: a store directory belongs to one alias, so clear() already
    # empties all of it and there is no wider "database" to flush.
    capabilities = frozenset(Capability) - {Capability.FLUSH_DB}
    orders: ClassVar[tuple[Order, ...]] = ("key", "size", "stored", "expires")
    match_modes: ClassVar[tuple[MatchMode, ...]] = ("prefix", "glob", "substring")
    key_filters = frozenset({"family", "tag", "expired"})

    cache: DiskCache

    @property
    def store(self) -> Store:
        return self.cache.store

    def location(self) -> str:
        return self.cache.location

    # Engine failures (locked, unreadable, disk full) become messages, never a 500; the
    # backend defers OPTIONS/LOCATION errors to first use, as ImproperlyConfigured.
    def _error_types(self) -> tuple[type[BaseException], ...]:
        return (ImproperlyConfigured, sqlite3.Error, OSError)

    def _error_message(self, exc: BaseException) -> str:
        if isinstance(exc, ImproperlyConfigured):
            return f"Cache {self.alias!r} (DiskCache) is misconfigured: {exc}"
        return (
            f"Cache {self.alias!r} (DiskCache at {self.cache.location}) could not be read"
            f" or changed: {exc}"
        )

    def _absent(self) -> bool:
        """No store at LOCATION yet: reads answer "empty" instead of creating one."""
        with self._errors():  # a misconfigured alias still fails here, with its own message
            directory = self.store.directory
        return not os.path.exists(os.path.join(directory, DB_NAME))

    def _removal(
        self, operation: Callable[[Store], engine_store.Removal | engine_store.Stats]
    ) -> Removal:
        # The store is reached inside the guard: a misconfigured alias fails on first use.
        with self._errors():
            counted = operation(self.store)
        return Removal(counted.count, counted.size)

    def _sample(self) -> browse.Sample | None:
        """Entries drawn at random when the store is too large to count exactly (None: count).

        Call inside ``_errors()``, once the store is known to exist.
        """
        store = self.store
        entries = store.stats().count
        if entries <= browse.EXACT_LIMIT:
            return None
        now = time.monotonic()
        with _samples_lock:
            kept = _samples.get(store.directory)
        if (
            kept is not None
            and now - kept[0] < SAMPLE_REUSE_SECONDS
            and abs(entries - kept[1]) <= kept[1] // 100
        ):
            return kept[2]
        sample = browse.draw(store)
        with _samples_lock:
            _samples[store.directory] = (now, entries, sample)
        return sample

    # -- description -------------------------------------------------------------------------

    def stats(self) -> Stats:
        sample = None
        with self._errors():
            store = self.store
            if self._absent():
                counters, expired, volume = engine_store.Stats(0, 0, 0, 0, None), 0, 0
            else:
                counters = store.stats()
                # Counted while the store is small or few have expired (a range of the expiry
                # index, read no further than a limit in a large store); else estimated.
                expired = None
                if counters.count > browse.EXACT_LIMIT:
                    expired = browse.expired_up_to(store, browse.EXPIRED_COUNT_LIMIT)
                    if expired is None:
                        sample = self._sample()
                if expired is None:
                    expired = browse.expired_count(store, sample=sample)
                # Exact at any size: a sum over the file-held entries only, which a disk can
                # hold few of (each is at least FILE_THRESHOLD bytes).
                volume = store.volume()
        return Stats(
            entries=counters.count,
            expired=expired,
            size=counters.size,
            volume=volume,
            size_limit=store.size_limit,
            max_entries=store.max_entries,
            hits=counters.hits,
            misses=counters.misses,
            eviction_policy=store.eviction_policy,
            extra={
                "statistics": store.statistics,
                "stats_since": counters.stats_since,
                "cull_frequency": store.cull_frequency,
                "file_threshold": store.file_threshold,
                "directory": store.directory,
            },
            estimated=("expired",) if sample is not None else (),
            sampled=None if sample is None else sample.drawn,
        )

    # -- keys --------------------------------------------------------------------------------

    @staticmethod
    def _filter(query: KeyQuery) -> browse.Filter:
        return browse.Filter(
            search=query.search,
            match=query.match,
            family=query.family,
            tag=query.tag,
            expired=query.expired,
            exclude_prefixes=query.exclude_prefixes,
        )

    def _info(self, entry: EntryInfo, now: float) -> KeyInfo:
        return KeyInfo(
            key=entry.user_key,
            raw_key=entry.key,
            prefix=entry.prefix,
            version=entry.version,
            family=entry.family,
            size=entry.size,
            stored=entry.store_time,
            expires=entry.expire_time,
            tag=entry.tag,
            expired=entry.expired(now),
        )

    def keys(self, query: KeyQuery) -> KeyPage:
        self.check_query(query)
        position = _common.keyset_after(self.kind, query)
        after = None if position is None else (position[0], int(position[1]))
        if self._absent():
            return KeyPage([])
        with self._errors():
            now = self.store.clock()
            page = browse.page(
                self.store,
                self._filter(query),
                order=query.order,
                descending=query.descending,
                after=after,
                limit=query.limit,
                now=now,
            )
        cursor = None
        if page.after is not None:
            cursor = _common.keyset_cursor(self.kind, query, *page.after)
        return KeyPage([self._info(entry, now) for entry in page.entries], cursor)

    def iter_keys(self, pattern: str | None = None) -> Iterator[KeyInfo]:
        query = KeyQuery(search=pattern or "", match="glob", limit=500)
        return _common.iter_pages(self.keys, query)

    def count_matching(self, query: KeyQuery) -> Removal:
        self.check_query(query)
        if self._absent():
            return Removal(0, 0)
        return self._removal(lambda store: browse.totals(store, self._filter(query)))

    def delete_matching(self, query: KeyQuery) -> Removal:
        self.check_query(query)
        return self._removal(lambda store: store.remove_matching(self._filter(query)))

    def key_info(self, raw_key: str) -> KeyInfo | None:
        if self._absent():
            return None
        with self._errors():
            entry = self.store.entry(raw_key)
            now = self.store.clock()
        return None if entry is None else self._info(entry, now)

    def _stored(self, raw_key: str) -> tuple[browse.RawValue, int] | None:
        if self._absent():
            return None
        with self._errors():
            raw = browse.read_raw(self.store, raw_key, _common.DECODE_LIMIT)
        return None if raw is None else (raw, raw.size)

    def _decode(self, raw: browse.RawValue, size: int | None) -> object:
        if not raw.verified:  # checked before anything else of the row is believed
            raw = browse.RawValue(raw.key, Mode.PICKLE, b"", None, raw.size, verified=False)
        if raw.mode == Mode.INT:
            return raw.payload
        if raw.too_large:
            raise _common.too_large(raw.size)
        if raw.missing_file or not isinstance(raw.payload, bytes):
            raise InspectionError("The entry's value file is missing.")
        try:
            if not raw.verified:
                raise BadSignature(raw.key)
            return self.store.codec.decode(raw.key, raw.mode, raw.payload)
        except BadSignature:
            raise InspectionError(
                "The value's signature does not verify (written with another SECRET_KEY, or"
                " altered on disk), so it was never unpickled."
            ) from None
        except CorruptValue as exc:
            raise InspectionError(f"The value cannot be decoded: {exc.__cause__ or exc}.") from exc

    # -- changes -----------------------------------------------------------------------------

    def set(
        self,
        key: str,
        value: Any,
        timeout: float | None,
        tag: str | None = None,
        version: int | None = None,
    ) -> None:
        with self._errors():
            self.cache.set(key, value, timeout, version=version, tag=tag)

    def delete(self, raw_keys: list[str]) -> int:
        with self._errors():
            return self.store.remove(raw_keys).count

    def touch(self, raw_key: str, timeout: float | None) -> bool:
        with self._errors():
            expire_time = self.cache.get_backend_timeout(timeout)
            return self.store.touch(raw_key, expire_time)

    def clear_preview(self) -> Removal:
        if self._absent():
            return Removal(0, 0)
        return self._removal(lambda store: store.stats())

    def clear(self, progress: Progress | None = None, batch: int | None = None) -> Removal:
        # In short transactions (engine Store.clear): other processes keep reading and writing.
        # ``batch``: entries per transaction (default: sized to hold the write lock ~50 ms).
        return self._removal(lambda store: store.clear(batch=batch, progress=progress))

    def expire(self, progress: Callable[[int], None] | None = None) -> Removal:
        return self._removal(lambda store: store.expire(progress=progress))

    def evict(self, tag: str, progress: Callable[[int], None] | None = None) -> Removal:
        return self._removal(lambda store: store.evict(tag, progress=progress))

    def cull(self) -> Removal:
        return self._removal(lambda store: store.cull())

    def reset_stats(self) -> None:
        with self._errors():
            self.store.reset_stats()

    def check(
        self, fix: bool = False, progress: Progress | None = None, batch: int | None = None
    ) -> list[Problem]:
        if self._absent():
            return []  # nothing to check, and opening the store would create it
        with self._errors():
            problems = self.store.check(fix=fix, batch=batch, progress=progress)
        return [Problem(p.kind, p.detail, p.fixed) for p in problems]

    # -- charts ------------------------------------------------------------------------------

    def histograms(self) -> list[Histogram]:
        if self._absent():
            return []
        with self._errors():
            return self._charts(self._sample())

    def histograms_without(self, prefixes: tuple[str, ...]) -> list[Histogram] | None:
        if self._absent():
            return []
        with self._errors():
            sample = self._sample()
            # Counted charts of a small store: the caller recounts the bars hidden keys touch,
            # a short range of the family or tag index each.
            return None if sample is None else self._charts(sample, prefixes)

    def _charts(
        self, sample: browse.Sample | None, hidden: tuple[str, ...] = ()
    ) -> list[Histogram]:
        """The charts, counted or (with ``sample``) estimated; in a sampled chart the keys under
        the ``hidden`` prefixes count in no family or tag, so a family of hidden keys only is
        never named. The size and expiry charts are store-wide and count every entry."""
        store = self.store
        sizes = browse.size_histogram(store, sample=sample)
        expiry = browse.expiry_histogram(store, sample=sample)
        if sample is None:
            families = browse.top_families(store)
            tags = browse.top_tags(store)
        else:

            def shown(entry: browse.SampledEntry) -> bool:
                return not any(prefix and entry.user_key.startswith(prefix) for prefix in hidden)

            families = sample.top(lambda e: e.family if shown(e) else None, 10)
            tags = sample.top(lambda e: e.tag if shown(e) else None, 10)
        drawn = None if sample is None else sample.drawn
        charts = [
            Histogram("Value sizes", sizes, drawn),
            Histogram("Expiry", expiry, drawn),
            Histogram("Top key families", [(f or "(empty key)", n) for f, n in families], drawn),
        ]
        if tags:
            charts.append(Histogram("Top tags", tags, drawn))
        return charts

    def snapshots(self) -> list[Snapshot]:
        if self._absent():
            return []
        with self._errors():
            rows = browse.snapshots(self.store)
        return [Snapshot(*row) for row in rows]

    def take_snapshot(self) -> Snapshot:
        if self._absent():
            return Snapshot(time.time(), 0, 0, 0, 0)  # nothing to record, and nothing created
        with self._errors():
            return Snapshot(*self.store.take_snapshot())

    def latest_snapshot(self) -> Snapshot | None:
        if self._absent():
            return None
        with self._errors():
            row = browse.latest_snapshot(self.store)
        return None if row is None else Snapshot(*row)

    # -- insight (engine/insight.py): sampled reads, read-only here ---------------------------

    def insight_unavailable(self) -> str | None:
        reason = super().insight_unavailable()
        if reason is not None:
            return reason
        try:
            with self._errors():
                options = self.cache.options.insight
        except InspectionError as exc:
            return str(exc)
        if options is None:
            return (
                "Insight is off for this alias (OPTIONS['INSIGHT'] is False): no reads are sampled."
            )
        return None

    def _sample_rate(self) -> int | None:
        options = self.cache.options.insight
        return None if options is None else options.sample_rate

    def _method(self, rate: int) -> str:
        return f"sampled reads: 1 in {rate}, each counted as {rate}"

    def _require_insight(self) -> int:
        """The sample rate; InsightUnavailable (why) when this alias samples nothing."""
        reason = self.insight_unavailable()
        if reason is not None:
            raise InsightUnavailable(reason)
        rate = self._sample_rate()
        assert rate is not None
        return rate

    def _activity(self, read: Callable[[Store, sqlite3.Connection], list[Row]]) -> Activity[Row]:
        """An insight table: ``read(store, conn)`` gives its rows; what every table shares
        (InsightUnavailable when off, empty before the store exists, engine errors as
        InspectionError, the sampling method and since when) is said once here."""
        rate = self._require_insight()
        if self._absent():
            return Activity([], self._method(rate), rate, None)
        with self._errors():
            store = self.store
            conn = store.db.connection()
            since = engine_insight.since(conn)
            found = read(store, conn)
        return Activity(found, self._method(rate), rate, since)

    def _key_activity(
        self, misses: bool, limit: int, exclude: tuple[str, ...]
    ) -> Activity[KeyActivity]:
        def read(store: Store, conn: sqlite3.Connection) -> list[KeyActivity]:
            rows = engine_insight.top_keys(
                conn, misses=misses, limit=limit, exclude_prefixes=exclude
            )
            now = store.clock()
            found = []
            for row in rows:
                entry = store.entry(row.key)  # verified metadata; an expired entry is absent
                live = entry is not None and not entry.expired(now)
                found.append(
                    KeyActivity(
                        key=row.user_key,
                        raw_key=row.key,
                        prefix=row.prefix,
                        version=row.version,
                        family=row.family,
                        hits=round(row.hits),
                        misses=round(row.misses),
                        present=live,
                        size=entry.size if live and entry is not None else None,
                    )
                )
            return found

        return self._activity(read)

    def hot_keys(
        self, limit: int = 20, exclude_prefixes: tuple[str, ...] = ()
    ) -> Activity[KeyActivity]:
        return self._key_activity(False, limit, exclude_prefixes)

    def missed_keys(
        self, limit: int = 20, exclude_prefixes: tuple[str, ...] = ()
    ) -> Activity[KeyActivity]:
        return self._key_activity(True, limit, exclude_prefixes)

    def families(
        self, limit: int = 20, exclude_prefixes: tuple[str, ...] = ()
    ) -> Activity[FamilyActivity]:
        drawn: list[int] = []

        def read(store: Store, conn: sqlite3.Connection) -> list[FamilyActivity]:
            # Entries and bytes now, without the excluded (hidden) keys: a range of the family
            # index plus each entry's size, which for a large family of a large store is a long
            # read; there both are estimated from one sample instead.
            sample = self._sample()
            if sample is not None:
                drawn.append(sample.drawn)
            found = []
            for row in engine_insight.top_families(conn, limit=limit):
                if sample is None:
                    now = browse.totals(
                        store, browse.Filter(family=row.family, exclude_prefixes=exclude_prefixes)
                    )
                    entries, size = now.count, now.size
                else:
                    keep = _in_family(row.family, exclude_prefixes)
                    entries, size = sample.count(keep), sample.bytes(keep)
                found.append(
                    FamilyActivity(
                        family=row.family,
                        hits=round(row.hits),
                        misses=round(row.misses),
                        entries=entries,
                        size=size,
                    )
                )
            return found

        activity = self._activity(read)
        if drawn:
            activity = dataclasses.replace(activity, entries_sampled=drawn[0])
        return activity

    def reset_insight(self) -> None:
        with self._errors():
            statistics.reset_insight(self.store.directory)
