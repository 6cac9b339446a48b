"""The contract every adapter fulfils; the admin, the CLI and the panel use nothing else.

An adapter wraps one configured alias. It declares its :class:`Capability` set honestly; every
operation it does not support raises :class:`Unsupported`, which names the alias, the backend
and what it cannot do.

What a read may change
----------------------
The reads are ``stats``, ``keys``, ``iter_keys``, ``count_matching``, ``key_info``, ``peek``,
``preview``, ``clear_preview``, ``check(fix=False)``, ``histograms``,
``histograms_without``, ``snapshots``,
``latest_snapshot``, ``hot_keys``, ``missed_keys`` and ``families``; every other operation is a
change and says so in its name. No read ever
changes a value, an expiry, or the set of live entries, and none switches statistics on. What a
read may still change is declared per adapter in :attr:`Adapter.read_effects`
(a set of :class:`ReadEffect`):

=====================  =========================================================================
Adapter                Read effects
=====================  =========================================================================
DiskCache              none: no hit or miss counted, no access time moved, no entry repaired,
                       and an absent store reads as empty instead of being created
LocMem                 none: the cache's own dicts are read under its lock, never ``get()``
FileBased              none: an expired file is never deleted (Django's ``get()`` does)
Database               none: ``SELECT`` only
Redis, django-redis    ``SERVER_STATS`` (each listed or described key is a ``PTTL``, each peek a
                       ``GET``: both count in ``INFO``'s keyspace hits and misses);
                       ``LRU`` (a peek refreshes the key's LRU/LFU data on servers older than
                       7.2, which lack ``CLIENT NO-TOUCH``; ``PTTL`` and ``SCAN`` never do);
                       ``LAZY_EXPIRY`` (the server deletes an already expired key that a
                       ``SCAN`` or a lookup meets)
Memcached              ``SERVER_STATS``, ``LRU``, ``LAZY_EXPIRY``: memcached has no
                       side-effect-free read; a ``peek`` (get) and a ``key_info``
                       (``mg <key> s t u``) both count as a get, and a peek refreshes the item's
                       LRU position (``key_info`` does not)
Dummy, unknown,        none (they read nothing)
unavailable
=====================  =========================================================================

``tests/inspection/test_contract.py`` pins each adapter's capabilities and read effects, and
measures the "none" rows: reads leave the backend's state exactly as it was.
"""

from __future__ import annotations

import enum
import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Literal, TypeVar

from django.core.cache.backends.base import BaseCache

from .kinds import kind_of


class Capability(str, enum.Enum):
    STATS = "stats"  # entry count and what else the backend can say cheaply
    HIT_STATS = "hit_stats"  # hits / misses
    LIST_KEYS = "list_keys"  # browse and stream key names
    SEARCH = "search"  # prefix / glob / substring filtering of keys
    KEY_INFO = "key_info"  # size, stored/expiry times, tag of one key
    PEEK = "peek"  # read one value without side effects
    SET = "set"  # write a value (CLI set/store)
    DELETE = "delete"  # delete given keys
    TOUCH = "touch"  # change a key's expiry
    CLEAR = "clear"  # remove this alias's entries (scoped to its KEY_PREFIX where shared)
    FLUSH_DB = "flush_db"  # remove the whole server database, other aliases' data included
    EXPIRE = "expire"  # purge expired entries
    EVICT_TAG = "evict_tag"  # remove the entries of one tag
    CULL = "cull"  # bring the store within its limits now
    RESET_STATS = "reset_stats"
    CHECK = "check"  # integrity check (and repair)
    HISTOGRAMS = "histograms"  # value-size / expiry histograms and key families
    SNAPSHOTS = "snapshots"  # hit ratio over time
    INSIGHT = "insight"  # hot keys, most-missed keys, key families (estimated; see Activity)
    RESET_INSIGHT = "reset_insight"  # forget the recorded key activity


CAPABILITY_VERBS: dict[Capability, str] = {
    Capability.STATS: "report statistics",
    Capability.HIT_STATS: "report hits and misses",
    Capability.LIST_KEYS: "list keys",
    Capability.SEARCH: "search keys",
    Capability.KEY_INFO: "describe a key",
    Capability.PEEK: "read a value without side effects",
    Capability.SET: "store values",
    Capability.DELETE: "delete keys",
    Capability.TOUCH: "change a key's expiry",
    Capability.CLEAR: "clear its entries",
    Capability.FLUSH_DB: "flush its whole database",
    Capability.EXPIRE: "purge expired entries",
    Capability.EVICT_TAG: "evict entries by tag",
    Capability.CULL: "cull to its limits",
    Capability.RESET_STATS: "reset statistics",
    Capability.CHECK: "check its integrity",
    Capability.HISTOGRAMS: "compute histograms",
    Capability.SNAPSHOTS: "keep statistics snapshots",
    Capability.INSIGHT: "report which keys are read or missed most",
    Capability.RESET_INSIGHT: "reset its key activity",
}


class ReadEffect(str, enum.Enum):
    """What a read may change on the backend (see the module docstring for each adapter)."""

    SERVER_STATS = "server_stats"  # counts in the server's hit/miss statistics
    LRU = "lru"  # refreshes the entry's LRU/LFU position
    LAZY_EXPIRY = "lazy_expiry"  # the server drops an already expired entry a read meets


class InspectionError(Exception):
    """The backend could not answer (server down, store unreadable...): show, never 500."""


class UnsupportedQuery(InspectionError):
    """A key query asks for an order, match mode or filter this adapter cannot serve.

    Check :attr:`Adapter.orders`, :attr:`Adapter.match_modes` and :attr:`Adapter.key_filters`
    first to offer only what works.
    """


class InsightUnavailable(InspectionError):
    """The adapter offers key activity, but not for this alias now (Redis without an LFU
    policy, DiskCache with INSIGHT off), or not this table (Redis misses): the message says
    why."""


class Unsupported(InspectionError):
    def __init__(self, alias: str, backend: str, capability: Capability) -> None:
        self.alias, self.backend, self.capability = alias, backend, capability
        super().__init__(f"Cache {alias!r} ({backend}) cannot {CAPABILITY_VERBS[capability]}.")


@dataclass(frozen=True)
class Stats:
    """What an alias can say about itself; ``None`` means "this backend cannot tell"."""

    entries: int | None = None
    expired: int | None = None  # expired but not yet purged
    size: int | None = None  # bytes of stored values
    volume: int | None = None  # bytes on disk / in server memory
    size_limit: int | None = None
    max_entries: int | None = None
    hits: int | None = None
    misses: int | None = None
    evictions: int | None = None
    eviction_policy: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # backend-specific, JSON-safe
    # The fields above whose figure is estimated (from ``sampled`` entries drawn at random)
    # rather than counted, because counting would scan a large store: say so where shown.
    estimated: tuple[str, ...] = ()
    sampled: int | None = None

    @property
    def hit_ratio(self) -> float | None:
        return _ratio(self.hits, self.misses)


@dataclass(frozen=True)
class KeyInfo:
    key: str  # as the user wrote it
    raw_key: str  # as stored (made key); identifies the entry for the adapter
    prefix: str | None = None
    version: int | None = None
    family: str = ""
    size: int | None = None
    stored: float | None = None  # epoch seconds
    expires: float | None = None  # epoch seconds; None: never (or unknown, see has_expiry)
    has_expiry: bool = True  # False when the backend cannot tell expiry at all
    tag: str | None = None
    expired: bool = False


MatchMode = Literal["prefix", "glob", "substring"]
Order = Literal["key", "size", "stored", "expires"]


@dataclass(frozen=True)
class KeyQuery:
    search: str = ""
    match: MatchMode = "prefix"
    family: str | None = None
    tag: str | None = None
    expired: bool | None = None  # None: all; True: only expired; False: only live
    order: Order = "key"
    descending: bool = False
    cursor: str | None = None  # opaque, from KeyPage.next_cursor
    limit: int = 50
    # User-key prefixes never listed, counted or deleted (e.g. DISKCACHE_ADMIN_HIDDEN_PREFIXES).
    exclude_prefixes: tuple[str, ...] = ()


@dataclass(frozen=True)
class KeyPage:
    keys: list[KeyInfo]
    next_cursor: str | None = None


@dataclass(frozen=True)
class ValuePreview:
    found: bool
    type_name: str = ""
    text: str = ""  # plain text (templates escape it): pretty JSON, else repr
    truncated: bool = False
    size: int | None = None
    error: str | None = None  # why the value could not be shown
    # Which preview budget cut the text when truncated: "size", "parts" or "depth".
    stopped: str = ""


#: ``progress(done, total)`` for :meth:`Adapter.clear` and :meth:`Adapter.check`: called after
#: each batch with the entries done so far and the total expected (``None`` if unknown). It may
#: raise (the ``cache`` command raises ``KeyboardInterrupt`` after a Ctrl-C) to stop the
#: operation there: the batches before stay done, and an adapter that batches leaves nothing
#: half done. (``expire`` and ``evict`` take the older form: each batch's count.)
Progress = Callable[[int, int | None], None]


@dataclass(frozen=True)
class Removal:
    count: int | None
    size: int | None = None


@dataclass(frozen=True)
class Histogram:
    title: str
    buckets: list[tuple[str, int]]
    # None: exact counts; else the counts are estimates from this many entries drawn at random.
    sampled: int | None = None


@dataclass(frozen=True)
class Snapshot:
    taken: float
    entries: int
    size: int
    hits: int
    misses: int


@dataclass(frozen=True)
class Problem:
    kind: str
    detail: str
    fixed: bool = False


def _ratio(hits: int | None, misses: int | None) -> float | None:
    if hits is None or misses is None or not (hits + misses):
        return None
    return hits / (hits + misses)


@dataclass(frozen=True)
class KeyActivity:
    """How often one key was read: estimated counts, never its value."""

    key: str  # as the user wrote it
    raw_key: str  # as stored
    prefix: str | None = None
    version: int | None = None
    family: str = ""
    hits: int | None = None  # estimated hits since ``Activity.since`` (None: unknown)
    misses: int | None = None  # estimated misses (a miss needs no entry)
    present: bool | None = None  # whether the key has a live entry now (None: not looked up)
    size: int | None = None  # bytes of its entry, when present
    score: float | None = None  # the backend's own measure when it has no counts (Redis LFU)

    @property
    def hit_ratio(self) -> float | None:
        return _ratio(self.hits, self.misses)


@dataclass(frozen=True)
class FamilyActivity:
    """A key family's reads (estimated) beside its entries now."""

    family: str
    hits: int | None = None
    misses: int | None = None
    entries: int | None = None
    size: int | None = None

    @property
    def hit_ratio(self) -> float | None:
        return _ratio(self.hits, self.misses)


Row = TypeVar("Row", KeyActivity, FamilyActivity)


@dataclass(frozen=True)
class Activity(Generic[Row]):
    """An insight table: rows best first, and how they were measured.

    The counts are estimates: ``sample_rate`` is the one read in N that was recorded (each
    sampled read counts as N), None when the figures come from elsewhere (``method`` says how).
    """

    rows: list[Row]
    method: str
    sample_rate: int | None = None
    since: float | None = None  # epoch seconds: recording started or was last reset
    # Families: None when ``entries`` and ``size`` are counted; else they are estimates from
    # this many entries drawn at random (a large store, where counting would scan it).
    entries_sampled: int | None = None


def accepts(method: Callable[..., Any], parameter: str) -> bool:
    """Whether an adapter method takes ``parameter`` beyond the base contract (``progress`` and
    ``batch`` on DiskCache's ``clear`` and ``check``): the admin and the CLI pass it only then."""
    try:
        return parameter in inspect.signature(method).parameters
    except (TypeError, ValueError):
        return False


class Adapter:
    """Base adapter: every operation raises :class:`Unsupported` until a subclass provides it.

    Some have defaults built on Django's public cache API or on small private hooks: ``set()``
    for adapters that declare SET, ``peek()``/``preview()`` on ``_stored()``/``_decode()``,
    ``count_matching()`` on ``_matching()``, and ``_errors()`` on ``_error_types()``.
    """

    # The alias's backend kind, a :class:`~.kinds.Kind` value ("diskcache", "django_redis"...)
    # as kinds.kind_of() answers for the backend: a plain string, for JSON and templates.
    kind: str
    capabilities: ClassVar[frozenset[Capability]] = frozenset()
    # What the reads may change (module docstring); empty: reads change nothing at all.
    read_effects: ClassVar[frozenset[ReadEffect]] = frozenset()
    # What keys() can do with a KeyQuery; anything else raises UnsupportedQuery.
    orders: ClassVar[tuple[Order, ...]] = ()
    match_modes: ClassVar[tuple[MatchMode, ...]] = ()
    key_filters: ClassVar[frozenset[str]] = frozenset()  # of "family", "tag", "expired"
    # Set when the alias could not be inspected at all (its backend failed to build): why.
    error: str | None = None
    # How messages name the backend: the stock class the adapter serves, or, when None, the
    # configured class (backend_name).
    _backend_label: ClassVar[str | None] = None

    def __init__(self, alias: str, cache: BaseCache, config: dict[str, Any]) -> None:
        self.alias = alias
        self.cache = cache
        self.config = config
        self.kind = kind_of(cache).value

    @classmethod
    def serves(cls, cache: BaseCache) -> bool:
        """Whether this adapter can work with ``cache``, a backend of the kind it is listed for.

        True by default; an adapter that speaks one client library of its kind says no to the
        others, and they get an adapter with no capabilities instead.
        """
        return True

    @property
    def backend_name(self) -> str:
        return type(self.cache).__name__

    def can(self, capability: Capability) -> bool:
        return capability in self.capabilities

    def require_capability(self, capability: Capability) -> None:
        if capability not in self.capabilities:
            raise Unsupported(self.alias, self.backend_name, capability)

    def unsupported(self, capability: Capability) -> Unsupported:
        return Unsupported(self.alias, self.backend_name, capability)

    def _label(self) -> str:
        return self._backend_label or self.backend_name

    # -- backend failures --------------------------------------------------------------------

    def _error_types(self) -> tuple[type[BaseException], ...]:
        """The backend's own failures, which :meth:`_errors` turns into messages."""
        return ()

    def _error_message(self, exc: BaseException) -> str:
        return f"Cache {self.alias!r} ({self._label()}): {exc}"

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Backend failures (server down, store unreadable...) become InspectionError."""
        try:
            yield
        except self._error_types() as exc:
            raise InspectionError(self._error_message(exc)) from exc

    # -- description -------------------------------------------------------------------------

    def location(self) -> str:
        """Where the data lives, with any password masked."""
        return str(self.config.get("LOCATION", ""))

    def stats(self) -> Stats:
        raise self.unsupported(Capability.STATS)

    # -- keys --------------------------------------------------------------------------------

    def keys(self, query: KeyQuery) -> KeyPage:
        raise self.unsupported(Capability.LIST_KEYS)

    def iter_keys(self, pattern: str | None = None) -> Iterator[KeyInfo]:
        """Stream every key (glob ``pattern`` on the user key), never the whole keyspace at once."""
        raise self.unsupported(Capability.LIST_KEYS)

    def _matching(self, query: KeyQuery) -> list[KeyInfo]:
        """Every key ``query`` selects, for adapters that filter keys in Python."""
        raise self.unsupported(Capability.SEARCH)

    def count_matching(self, query: KeyQuery) -> Removal:
        found = self._matching(query)
        return Removal(len(found), sum(info.size or 0 for info in found))

    def delete_matching(self, query: KeyQuery) -> Removal:
        raise self.unsupported(Capability.SEARCH)

    def key_info(self, raw_key: str) -> KeyInfo | None:
        raise self.unsupported(Capability.KEY_INFO)

    def make_raw_key(self, key: str, version: int | None = None) -> str:
        """The stored key for a user key (Django's make_key)."""
        return str(self.cache.make_key(key, version=version))

    def user_key(self, raw_key: str) -> str:
        """The user key of a stored key, without any I/O (Django's default key function
        reversed; the stored key itself when the key function cannot be reversed)."""
        from . import _common  # it builds on this module, so it cannot be imported at the top

        return _common.split_key(self.cache, raw_key)[0]

    # peek() and preview() read an entry's stored form with _stored(), then _decode() it.

    def _stored(self, raw_key: str) -> tuple[Any, int | None] | None:
        """``(stored form, size in bytes)`` of an entry, or None if there is none."""
        raise self.unsupported(Capability.PEEK)

    def _decode(self, stored: Any, size: int | None) -> Any:
        """The value of a stored form, or an InspectionError saying why it cannot be shown."""
        raise self.unsupported(Capability.PEEK)

    def peek(self, raw_key: str) -> tuple[bool, Any]:
        """``(found, value)`` without any side effect."""
        entry = self._stored(raw_key)
        if entry is None:
            return False, None
        return True, self._decode(*entry)

    def preview(self, raw_key: str, limit: int) -> ValuePreview:
        from . import _common  # it builds on this module, so it cannot be imported at the top

        entry = self._stored(raw_key)
        if entry is None:
            return ValuePreview(found=False)
        stored, size = entry
        try:
            value = self._decode(stored, size)
        except InspectionError as exc:
            return _common.preview_error(str(exc), size)
        return _common.preview_of(value, limit, size)

    # -- changes -----------------------------------------------------------------------------

    def set(
        self,
        key: str,
        value: Any,
        timeout: float | None,
        tag: str | None = None,
        version: int | None = None,
    ) -> None:
        """Store through the backend's own ``set()``; only adapters that declare SET may."""
        self.require_capability(Capability.SET)
        if tag is not None:
            raise InspectionError(f"Cache {self.alias!r} ({self._label()}) has no tags.")
        with self._errors():
            self.cache.set(key, value, timeout, version=version)

    def delete(self, raw_keys: list[str]) -> int:
        """Delete entries by stored key; returns how many existed."""
        raise self.unsupported(Capability.DELETE)

    def touch(self, raw_key: str, timeout: float | None) -> bool:
        raise self.unsupported(Capability.TOUCH)

    def clear_preview(self) -> Removal:
        """What :meth:`clear` would remove, as exactly as the backend can tell."""
        raise self.unsupported(Capability.CLEAR)

    def clear(self) -> Removal:
        """Remove every entry of the alias. An adapter that removes them in batches may take a
        ``progress`` keyword (see :data:`Progress`); the ``cache`` command looks for it."""
        raise self.unsupported(Capability.CLEAR)

    def flush_db(self) -> None:
        raise self.unsupported(Capability.FLUSH_DB)

    def expire(self, progress: Callable[[int], None] | None = None) -> Removal:
        """Purge expired entries; ``progress`` is called with each batch's count."""
        raise self.unsupported(Capability.EXPIRE)

    def evict(self, tag: str, progress: Callable[[int], None] | None = None) -> Removal:
        raise self.unsupported(Capability.EVICT_TAG)

    def cull(self) -> Removal:
        raise self.unsupported(Capability.CULL)

    def reset_stats(self) -> None:
        raise self.unsupported(Capability.RESET_STATS)

    def check(self, fix: bool = False) -> list[Problem]:
        """Integrity check (``fix``: and repair). An adapter that checks in batches may take a
        ``progress`` keyword (see :data:`Progress`) counting the entries verified."""
        raise self.unsupported(Capability.CHECK)

    def histograms(self) -> list[Histogram]:
        raise self.unsupported(Capability.HISTOGRAMS)

    def histograms_without(self, prefixes: tuple[str, ...]) -> list[Histogram] | None:
        """:meth:`histograms` with the keys under ``prefixes`` (hidden keys) left out of the
        family and tag charts, when the adapter can do that at no further cost (a sampled
        chart); None when it cannot, and the caller recounts those bars itself."""
        return None

    def snapshots(self) -> list[Snapshot]:
        raise self.unsupported(Capability.SNAPSHOTS)

    def take_snapshot(self) -> Snapshot:
        raise self.unsupported(Capability.SNAPSHOTS)

    def latest_snapshot(self) -> Snapshot | None:
        raise self.unsupported(Capability.SNAPSHOTS)

    # -- insight: which keys are read and missed most (estimates) ----------------------------

    #: Why this backend offers no key activity, shown in place of the insight tables.
    insight_reason: ClassVar[str] = (
        "This backend keeps no count of reads per key, and this app cannot sample its reads"
        " (only DiskCache records key activity; Redis with an LFU maxmemory-policy gives hot"
        " keys)."
    )

    def insight_unavailable(self) -> str | None:
        """Why key activity cannot be shown for this alias now, or None when it can (it may
        ask the server, e.g. Redis's eviction policy). Never raises."""
        if self.error is not None:
            return self.error
        if not self.can(Capability.INSIGHT):
            return self.insight_reason
        return None

    def hot_keys(
        self, limit: int = 20, exclude_prefixes: tuple[str, ...] = ()
    ) -> Activity[KeyActivity]:
        """The keys read most (recent reads weigh more), best first."""
        raise self.unsupported(Capability.INSIGHT)

    def missed_keys(
        self, limit: int = 20, exclude_prefixes: tuple[str, ...] = ()
    ) -> Activity[KeyActivity]:
        """The keys whose reads missed most, best first; a missed key may have no entry."""
        raise self.unsupported(Capability.INSIGHT)

    def families(
        self, limit: int = 20, exclude_prefixes: tuple[str, ...] = ()
    ) -> Activity[FamilyActivity]:
        """The key families read most, with their entries and size now."""
        raise self.unsupported(Capability.INSIGHT)

    def reset_insight(self) -> None:
        """Forget the recorded key activity (a change, like ``reset_stats``)."""
        raise self.unsupported(Capability.RESET_INSIGHT)

    def check_query(self, query: KeyQuery) -> None:
        """Raise :class:`UnsupportedQuery` if ``keys()`` cannot serve ``query`` as asked."""
        problems = []
        if query.order not in self.orders:
            problems.append(f"sort by {query.order}")
        if query.search and query.match not in self.match_modes:
            problems.append(f"{query.match} search")
        for name in ("family", "tag", "expired"):
            if getattr(query, name) is not None and name not in self.key_filters:
                problems.append(f"filter by {name}")
        if problems:
            raise UnsupportedQuery(
                f"Cache {self.alias!r} ({self.backend_name}) cannot {', '.join(problems)}."
            )
