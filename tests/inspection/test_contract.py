"""The contract of every adapter, pinned: capabilities, queries, read effects and kind.

Each adapter's exact capability set is written out here, so a capability lost (or gained) on
any backend fails a test instead of flipping a parametrised test into its "cannot" branch.
docs/inspection.rst's matrix is checked against the same sets.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import caches
from django.core.management import call_command
from django.db import connection

from diskcache_admin.inspection import (
    ADAPTERS,
    Adapter,
    BrokenAdapter,
    Capability,
    DatabaseAdapter,
    DiskCacheAdapter,
    DjangoRedisAdapter,
    DummyAdapter,
    FileBasedAdapter,
    KeyQuery,
    LocMemAdapter,
    PyMemcacheAdapter,
    ReadEffect,
    RedisAdapter,
    UnknownAdapter,
    get_adapter,
)
from diskcache_admin.inspection.kinds import Kind, kind_of, kind_of_alias

from .conftest import configure

C = Capability
NONE: frozenset[Capability] = frozenset()
REMOTE = frozenset({ReadEffect.SERVER_STATS, ReadEffect.LRU, ReadEffect.LAZY_EXPIRY})
REDIS_CAPABILITIES = frozenset(
    {
        C.STATS,
        C.HIT_STATS,
        C.LIST_KEYS,
        C.SEARCH,
        C.KEY_INFO,
        C.PEEK,
        C.SET,
        C.DELETE,
        C.TOUCH,
        C.CLEAR,
        C.FLUSH_DB,
        C.INSIGHT,  # hot keys only, under an LFU maxmemory-policy
    }
)

# name: (CACHES entry, adapter class, kind, capabilities, orders, match modes, filters, effects)
CONTRACTS: dict[str, tuple[dict[str, Any], type[Adapter], Kind, frozenset[Capability], Any]] = {
    "diskcache": (
        {"BACKEND": "diskcache_admin.backend.DiskCache", "LOCATION": "/nonexistent/contract"},
        DiskCacheAdapter,
        Kind.DISKCACHE,
        frozenset(Capability) - {C.FLUSH_DB},
        (
            ("key", "size", "stored", "expires"),
            ("prefix", "glob", "substring"),
            {"family", "tag", "expired"},
            frozenset(),
        ),
    ),
    "locmem": (
        {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "contract"},
        LocMemAdapter,
        Kind.LOCMEM,
        frozenset(
            {C.STATS, C.LIST_KEYS, C.SEARCH, C.KEY_INFO, C.PEEK, C.SET, C.DELETE, C.TOUCH}
            | {C.CLEAR, C.EXPIRE}
        ),
        (("key", "size", "expires"), ("prefix", "glob", "substring"), {"family", "expired"}, NONE),
    ),
    "filebased": (
        {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": "/nonexistent/contract-files",
        },
        FileBasedAdapter,
        Kind.FILEBASED,
        frozenset({C.STATS, C.KEY_INFO, C.PEEK, C.SET, C.DELETE, C.CLEAR, C.EXPIRE}),
        ((), (), set(), NONE),
    ),
    "database": (
        {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "contract_table"},
        DatabaseAdapter,
        Kind.DATABASE,
        frozenset(
            {C.STATS, C.LIST_KEYS, C.SEARCH, C.KEY_INFO, C.PEEK, C.SET, C.DELETE, C.TOUCH}
            | {C.CLEAR, C.EXPIRE}
        ),
        (("key", "expires"), ("prefix", "glob", "substring"), {"family", "expired"}, NONE),
    ),
    "redis": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://x:1/0"},
        RedisAdapter,
        Kind.REDIS,
        REDIS_CAPABILITIES,
        (("key",), ("prefix", "glob", "substring"), {"family", "expired"}, REMOTE),
    ),
    "django-redis": (
        {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": "redis://x:1/0"},
        DjangoRedisAdapter,
        Kind.DJANGO_REDIS,
        REDIS_CAPABILITIES,
        (("key",), ("prefix", "glob", "substring"), {"family", "expired"}, REMOTE),
    ),
    "memcached": (
        {"BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache", "LOCATION": "x:1"},
        PyMemcacheAdapter,
        Kind.MEMCACHED,
        frozenset({C.STATS, C.HIT_STATS, C.KEY_INFO, C.PEEK, C.SET, C.DELETE, C.TOUCH})
        | {C.FLUSH_DB},
        ((), (), set(), REMOTE),
    ),
    "dummy": (
        {"BACKEND": "django.core.cache.backends.dummy.DummyCache"},
        DummyAdapter,
        Kind.DUMMY,
        NONE,
        ((), (), set(), NONE),
    ),
    "unknown": (
        {"BACKEND": "tests.inspection.backends.HomeMadeCache"},
        UnknownAdapter,
        Kind.OTHER,
        NONE,
        ((), (), set(), NONE),
    ),
    "other-memcached-client": (
        {"BACKEND": "tests.inspection.backends.OtherClientMemcache", "LOCATION": "x:1"},
        UnknownAdapter,
        Kind.MEMCACHED,
        NONE,
        ((), (), set(), NONE),
    ),
    "broken": (
        {"BACKEND": "tests.inspection.backends.ExplodingCache"},
        BrokenAdapter,
        Kind.OTHER,
        NONE,
        ((), (), set(), NONE),
    ),
    "broken-redis": (
        {"BACKEND": "tests.inspection.backends.ExplodingRedisCache"},
        BrokenAdapter,
        Kind.REDIS,
        NONE,
        ((), (), set(), NONE),
    ),
}


@pytest.mark.parametrize("name", sorted(CONTRACTS))
def test_every_adapter_has_exactly_its_capabilities(name: str) -> None:
    config, adapter_class, kind, capabilities, (orders, modes, filters, effects) = CONTRACTS[name]
    with configure(probe=config):
        adapter = get_adapter("probe")
        assert kind_of_alias("probe") is kind
    assert type(adapter) is adapter_class
    assert adapter.capabilities == capabilities
    assert adapter.orders == orders
    assert adapter.match_modes == modes
    assert set(adapter.key_filters) == filters
    assert adapter.read_effects == effects
    # The adapter's kind is the alias's backend kind, as the one classifier answers it.
    assert adapter.kind == kind.value
    assert (adapter.error is not None) is (adapter_class is BrokenAdapter)


def test_every_kind_has_an_adapter() -> None:
    assert set(ADAPTERS) == set(Kind)
    assert {CONTRACTS[name][2] for name in CONTRACTS} == set(Kind)


def test_adapter_kind_follows_the_backend_instance() -> None:
    with configure(tuned={"BACKEND": "tests.inspection.backends.TunedLocMemCache"}):
        adapter = get_adapter("tuned")
        assert adapter.kind == kind_of(caches["tuned"]).value == "locmem"


# -- the docs' matrix says the same ---------------------------------------------------------

DOCS = Path(__file__).resolve().parents[2] / "docs" / "inspection.rst"
UNSUPPORTED = "\N{EN DASH}"  # the matrix's "not supported" mark
# Matrix column -> the contracts it describes.
COLUMNS = {
    "DiskCache": ("diskcache",),
    "LocMem": ("locmem",),
    "FileBased": ("filebased",),
    "Database": ("database",),
    "Redis": ("redis", "django-redis"),
    "Memcached": ("memcached",),
    "Dummy, other": ("dummy", "unknown"),
}


def matrix() -> dict[str, dict[str, bool]]:
    """Capability -> {column: supported} from the docs' capability matrix (◐ counts as yes)."""
    text = DOCS.read_text()
    block = text[text.index("Capability        DiskCache") :]
    rows = [line for line in block.splitlines()[2:] if line and not line.startswith("=")]
    table: dict[str, dict[str, bool]] = {}
    columns = list(COLUMNS)
    for line in rows:
        if not re.match(r"[a-z_]+ ", line):
            break
        name, *marks = re.split(r"\s{2,}", line.strip())
        assert len(marks) == len(columns), line
        table[name] = {
            col: not mark.startswith(UNSUPPORTED) for col, mark in zip(columns, marks, strict=True)
        }
    return table


def test_the_documented_matrix_matches_the_adapters() -> None:
    documented = matrix()
    assert set(documented) == {capability.value for capability in Capability}
    for column, names in COLUMNS.items():
        for name in names:
            capabilities = CONTRACTS[name][3]
            claimed = {cap for cap, row in documented.items() if row[column]}
            assert claimed == {c.value for c in capabilities}, (column, name)


# -- "none" read effects, measured ------------------------------------------------------------


def read_everything(adapter: Adapter, raw_keys: list[str]) -> None:
    """Every read the adapter offers, on every key."""
    if adapter.can(C.STATS):
        adapter.stats()
    if adapter.can(C.LIST_KEYS):
        adapter.keys(KeyQuery(limit=100))
        adapter.keys(KeyQuery(expired=True, limit=100))
        list(adapter.iter_keys())
    if adapter.can(C.SEARCH):
        adapter.count_matching(KeyQuery(search="k"))
    if adapter.can(C.CLEAR):
        adapter.clear_preview()
    for raw in raw_keys:
        adapter.key_info(raw)
        adapter.peek(raw)
        adapter.preview(raw, 100)


def test_filebased_reads_change_no_file(tmp_path: Path) -> None:
    location = tmp_path / "files"
    with configure(
        fb={
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(location),
        }
    ):
        cache, adapter = caches["fb"], get_adapter("fb")
        cache.set("k1", {"v": 1}, None)
        cache.set("stale", "old", -1)  # expired: Django's get() would delete the file
        before = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in location.iterdir()}
        read_everything(adapter, [adapter.make_raw_key("k1"), adapter.make_raw_key("stale")])
        after = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in location.iterdir()}
    assert after == before
    assert len(before) == 2


@pytest.mark.django_db
def test_database_reads_change_no_row(worker_id_suffix: str) -> None:
    table = "contract_cache_" + worker_id_suffix.replace("-", "_")
    with configure(
        dbc={"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": table}
    ):
        call_command("createcachetable", verbosity=0)
        cache, adapter = caches["dbc"], get_adapter("dbc")
        cache.set("k1", {"v": 1}, None)
        cache.set("stale", "old", -1)  # expired: Django's get() deletes such a row

        def rows() -> list[tuple[Any, ...]]:
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT cache_key, value, expires FROM {table} ORDER BY cache_key")
                return list(cursor.fetchall())

        before = rows()
        read_everything(adapter, [adapter.make_raw_key(k) for k in ("k1", "stale")])
        assert rows() == before
    assert len(before) == 2


def test_locmem_reads_change_no_order_and_no_entry(worker_id_suffix: str) -> None:
    location = f"contract-{worker_id_suffix}-{os.urandom(3).hex()}"
    with configure(
        lm={"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": location}
    ):
        cache, adapter = caches["lm"], get_adapter("lm")
        for i in range(4):
            cache.set(f"k{i}", i, None)
        cache.set("stale", "old", -1)
        data, expiry = cache._cache, cache._expire_info  # type: ignore[attr-defined]
        before = (list(data.items()), dict(expiry))
        read_everything(adapter, [adapter.make_raw_key(k) for k in ("k0", "k3", "stale")])
        assert (list(data.items()), dict(expiry)) == before
