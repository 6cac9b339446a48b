"""Record cache operations per alias inside a block, so a test can assert hits, misses and sets.

DiskCache reports its own calls through :func:`diskcache_admin.instrumentation.observe`. Any
other backend (in ``swap`` mode that is LocMem) is counted by wrapping the methods of the cache
object for the duration of the block only; a per-thread depth counter keeps calls a backend
makes to itself (BaseCache.get_many calling get) from being counted twice. Either way every
operation is reduced to one event per key, so both kinds of backend count the same.

Only calls made in the recording thread are seen: the live server thread has its own objects.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

from diskcache_admin import instrumentation

# How an operation counts: reads are hits or misses, writes are sets, removals are deletes.
READS = {"get", "get_many"}
WRITES = {"set", "add", "set_many"}
DELETES = {"delete", "delete_many"}
_PER_KEY = {"get_many": "get", "set_many": "set", "delete_many": "delete"}


@dataclass(frozen=True)
class Event:
    """One operation on one key (``key`` is "" for clear)."""

    operation: str
    key: str
    hit: bool | None


@dataclass
class AliasCalls:
    """What one alias saw inside the block."""

    alias: str
    events: list[Event] = field(default_factory=list)

    @property
    def hits(self) -> int:
        return sum(1 for e in self.events if e.operation == "get" and e.hit)

    @property
    def misses(self) -> int:
        return sum(1 for e in self.events if e.operation == "get" and e.hit is False)

    @property
    def sets(self) -> int:
        return sum(1 for e in self.events if e.operation in ("set", "add"))

    @property
    def deletes(self) -> int:
        return sum(1 for e in self.events if e.operation == "delete")

    @property
    def keys(self) -> set[str]:
        """Every key read, written or removed."""
        return {e.key for e in self.events if e.key}

    def count(self, operation: str) -> int:
        return sum(1 for e in self.events if e.operation == operation)

    def describe(self) -> str:
        lines = [f"  {e.operation}({e.key!r})" + _outcome(e) for e in self.events]
        return f"{self.alias}: " + (("\n" + "\n".join(lines)) if lines else "no calls")


def _outcome(event: Event) -> str:
    if event.operation == "get":
        return " -> hit" if event.hit else " -> miss"
    return ""


class CacheCalls:
    """Every alias's :class:`AliasCalls`; the totals are summed over the recorded aliases."""

    def __init__(self, aliases: Iterable[str]) -> None:
        self.by_alias = {alias: AliasCalls(alias) for alias in aliases}
        self._lock = threading.Lock()

    def __getitem__(self, alias: str) -> AliasCalls:
        return self.by_alias[alias]

    def _add(self, alias: str, operation: str, keys: Iterable[Any], hits: Iterable[Any]) -> None:
        single = _PER_KEY.get(operation, operation)
        with self._lock:
            record = self.by_alias[alias].events
            if operation == "clear":
                record.append(Event("clear", "", None))
            for key, hit in zip(keys, hits, strict=False):
                record.append(Event(single, str(key), hit))

    @property
    def events(self) -> list[Event]:
        return [e for calls in self.by_alias.values() for e in calls.events]

    @property
    def hits(self) -> int:
        return sum(c.hits for c in self.by_alias.values())

    @property
    def misses(self) -> int:
        return sum(c.misses for c in self.by_alias.values())

    @property
    def sets(self) -> int:
        return sum(c.sets for c in self.by_alias.values())

    @property
    def deletes(self) -> int:
        return sum(c.deletes for c in self.by_alias.values())

    @property
    def keys(self) -> set[str]:
        return {key for c in self.by_alias.values() for key in c.keys}

    def describe(self) -> str:
        return "\n".join(c.describe() for c in self.by_alias.values())

    def mismatches(self, expected: dict[str, Any]) -> list[str]:
        """``name: expected X, got Y`` for each expected figure (hits, misses, sets, keys...)."""
        wrong = []
        for name, value in expected.items():
            if value is None:
                continue
            got = getattr(self, name)
            if name == "keys":
                value = set(value)
            if got != value:
                wrong.append(f"{name}: expected {value!r}, got {got!r}")
        return wrong


_depth = threading.local()
_MISSING = object()


def _wrap(cache: Any, alias: str, calls: CacheCalls) -> Callable[[], None]:
    """Shadow the cache's methods on the instance; returns the undo."""

    def outermost(name: str, body: Callable[..., Any]) -> Callable[..., Any]:
        original = getattr(cache, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            depth = getattr(_depth, "value", 0)
            if depth:
                return original(*args, **kwargs)
            _depth.value = 1
            try:
                return body(original, *args, **kwargs)
            finally:
                _depth.value = 0

        return wrapper

    def get(original: Any, key: Any, default: Any = None, version: Any = None) -> Any:
        value = original(key, _MISSING, version=version)
        calls._add(alias, "get", [key], [value is not _MISSING])
        return default if value is _MISSING else value

    def get_many(original: Any, keys: Iterable[Any], version: Any = None) -> Any:
        keys = list(keys)
        found = original(keys, version=version)
        calls._add(alias, "get_many", keys, [key in found for key in keys])
        return found

    def writer(operation: str) -> Callable[..., Any]:
        def body(original: Any, key: Any, *args: Any, **kwargs: Any) -> Any:
            result = original(key, *args, **kwargs)
            hit = result if operation in ("touch", "delete", "has_key") else None
            calls._add(alias, operation, [key], [hit])
            return result

        return body

    def many(operation: str) -> Callable[..., Any]:
        def body(original: Any, data: Any, *args: Any, **kwargs: Any) -> Any:
            keys = list(data)
            result = original(data if operation == "set_many" else keys, *args, **kwargs)
            calls._add(alias, operation, keys, [None] * len(keys))
            return result

        return body

    def incr(original: Any, key: Any, delta: int = 1, version: Any = None) -> Any:
        result = original(key, delta, version=version)
        calls._add(alias, "incr", [key], [True])
        return result

    def clear(original: Any) -> Any:
        original()
        calls._add(alias, "clear", [], [])

    bodies: dict[str, Callable[..., Any]] = {
        "get": get,
        "get_many": get_many,
        "set": writer("set"),
        "add": writer("add"),
        "touch": writer("touch"),
        "delete": writer("delete"),
        "has_key": writer("has_key"),
        "set_many": many("set_many"),
        "delete_many": many("delete_many"),
        "incr": incr,
        "clear": clear,
    }
    for name, body in bodies.items():
        setattr(cache, name, outermost(name, body))
    # decr and get_or_set are left alone: BaseCache builds them on incr, get and add, which are
    # counted, exactly as DiskCache reports them.

    def undo() -> None:
        for name in bodies:
            cache.__dict__.pop(name, None)

    return undo


@contextmanager
def record_cache_calls(*aliases: str, expect: dict[str, Any] | None = None) -> Iterator[CacheCalls]:
    """Record the operations on ``aliases`` (every alias when none is named) in this block.

    With ``expect`` (e.g. ``{"hits": 1, "sets": 0}``) the block fails with an AssertionError
    listing every recorded call when a figure differs.
    """
    from django.conf import settings
    from django.core.cache import caches

    from diskcache_admin.backend import DiskCache

    names = list(aliases) or list(settings.CACHES)
    calls = CacheCalls(names)
    disk: dict[int, str] = {}
    with ExitStack() as stack:
        for alias in names:
            cache = caches[alias]
            if isinstance(cache, DiskCache):
                disk[id(cache)] = alias
            else:
                stack.callback(_wrap(cache, alias, calls))
        if disk:

            def observer(call: instrumentation.CacheCall) -> None:
                alias = disk.get(id(call.backend))
                if alias is not None:
                    calls._add(alias, call.operation, call.keys, call.hits)

            stack.enter_context(instrumentation.observe(observer))
        yield calls
    if expect:
        wrong = calls.mismatches(expect)
        if wrong:
            raise AssertionError(
                "Unexpected cache calls: " + "; ".join(wrong) + "\n" + calls.describe()
            )
