"""Record cache calls per alias inside a block, so a test can assert hits, misses and sets.

Every backend reports through :mod:`diskcache_admin.instrumentation`: DiskCache itself, any
other backend through wrappers on its cache objects (the current thread's, and those created
while the block runs, such as each live-server request thread's). Each public call is recorded
once, as itself; calls a library makes for its own bookkeeping (``memoize``'s stampede lock,
``cached_view``'s generation token) are left out unless ``internal=True``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from diskcache_admin import instrumentation

# How a call counts: reads are hits or misses (per key), writes are sets, removals are deletes.
READS = frozenset({"get", "get_many", "get_or_set"})
WRITES = frozenset({"set", "add", "set_many"})
DELETES = frozenset({"delete", "delete_many"})


@dataclass(frozen=True)
class Event:
    """One key of one call (``key`` is "" for clear); a get_many of 3 keys is 3 events."""

    operation: str
    key: str
    hit: bool | None
    internal: bool = False


@dataclass(frozen=True)
class Call:
    """One public call, as the code made it."""

    operation: str
    keys: tuple[str, ...]
    hits: tuple[bool | None, ...]
    internal: bool = False

    def events(self) -> list[Event]:
        if not self.keys:
            return [Event(self.operation, "", None, self.internal)]
        return [
            Event(self.operation, key, hit, self.internal)
            for key, hit in zip(self.keys, self.hits, strict=False)
        ]


@dataclass
class AliasCalls:
    """What one alias saw inside the block."""

    alias: str
    calls: list[Call] = field(default_factory=list)

    @property
    def events(self) -> list[Event]:
        return [event for call in self.calls for event in call.events()]

    @property
    def hits(self) -> int:
        return sum(1 for e in self.events if e.operation in READS and e.hit)

    @property
    def misses(self) -> int:
        return sum(1 for e in self.events if e.operation in READS and e.hit is False)

    @property
    def sets(self) -> int:
        """Writes per key: set, add, set_many, and a get_or_set that missed (it stored)."""
        return sum(
            1
            for e in self.events
            if e.operation in WRITES or (e.operation == "get_or_set" and e.hit is False)
        )

    @property
    def deletes(self) -> int:
        return sum(1 for e in self.events if e.operation in DELETES)

    @property
    def keys(self) -> set[str]:
        """Every key read, written or removed."""
        return {e.key for e in self.events if e.key}

    def count(self, operation: str) -> int:
        """How many ``operation`` calls were made (a get_many of 3 keys is one)."""
        return sum(1 for call in self.calls if call.operation == operation)

    def describe(self) -> str:
        lines = [f"  {_describe_call(call)}" for call in self.calls]
        return f"{self.alias}: " + (("\n" + "\n".join(lines)) if lines else "no calls")


def _describe_call(call: Call) -> str:
    keys = ", ".join(repr(key) for key in call.keys)
    text = f"{call.operation}({keys})"
    if call.operation in READS:
        text += " -> " + ", ".join("hit" if hit else "miss" for hit in call.hits)
    return text + (" [internal]" if call.internal else "")


class CacheCalls:
    """Every alias's :class:`AliasCalls`; the totals are summed over the recorded aliases."""

    def __init__(self, aliases: Iterable[str]) -> None:
        self.by_alias = {alias: AliasCalls(alias) for alias in aliases}
        self._lock = threading.Lock()

    def __getitem__(self, alias: str) -> AliasCalls:
        return self.by_alias[alias]

    def _add(self, alias: str, call: Call) -> None:
        with self._lock:
            self.by_alias[alias].calls.append(call)

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


@contextmanager
def record_cache_calls(
    *aliases: str, expect: dict[str, Any] | None = None, internal: bool = False
) -> Iterator[CacheCalls]:
    """Record the calls on ``aliases`` (every alias when none is named) in this block.

    Calls from every thread of the process are recorded (a live server's included).
    ``internal=True`` also records the calls libraries make for their own bookkeeping (inside
    :func:`diskcache_admin.instrumentation.internal_calls`). With ``expect`` (e.g.
    ``{"hits": 1, "sets": 0}``) the block fails with an AssertionError listing every recorded
    call when a figure differs.
    """
    from django.conf import settings
    from django.core.cache import caches

    names = list(aliases) or list(settings.CACHES)
    wanted = set(names)
    calls = CacheCalls(names)
    instrumentation.install_connection_hook()
    for alias in names:
        instrumentation.instrument(caches[alias], alias)

    def observer(call: instrumentation.CacheCall) -> None:
        if call.internal and not internal:
            return
        alias = call.alias or instrumentation.alias_of(call.backend)
        if alias in wanted:
            calls._add(alias, Call(call.operation, call.keys, call.hits, call.internal))

    with instrumentation.observe(observer, every_thread=True):
        yield calls
    if expect:
        wrong = calls.mismatches(expect)
        if wrong:
            raise AssertionError(
                "Unexpected cache calls: " + "; ".join(wrong) + "\n" + calls.describe()
            )


@contextmanager
def assert_cache_calls(
    *aliases: str,
    hits: int | None = None,
    misses: int | None = None,
    sets: int | None = None,
    deletes: int | None = None,
    keys: set[str] | None = None,
    internal: bool = False,
) -> Iterator[CacheCalls]:
    """Fail unless the block made exactly these cache calls (``None`` = not checked).

    The ``cache_calls`` pytest fixture returns it; ``assertCacheCalls`` is it as a method.
    """
    expect = {"hits": hits, "misses": misses, "sets": sets, "deletes": deletes, "keys": keys}
    with record_cache_calls(*aliases, expect=expect, internal=internal) as calls:
        yield calls
