"""Owner-only lock release through each backend's public compare-and-delete, and the layout rule.

The backend fixture covers Django's RedisCache, DiskCache and LocMem; django-redis is checked
here, since its release goes through the same Lua script on its own client.
"""

from __future__ import annotations

import ast
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.cache import cache
from django.test import override_settings

import diskcache_admin.decorators
from diskcache_admin.decorators.stampede import acquire_lock, release_lock

from .conftest import REDIS_DB, forget_redis_prefix


@pytest.fixture
def django_redis_default() -> Iterator[None]:
    prefix = f"dr-{uuid.uuid4().hex[:8]}"
    config = {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": f"redis://127.0.0.1:6379/{REDIS_DB}",
        "KEY_PREFIX": f"dca-decorators-{prefix}",
    }
    with override_settings(CACHES={"default": config}):
        yield
        cache.close()
    forget_redis_prefix(prefix)


@pytest.mark.usefixtures("redis_server", "django_redis_default")
def test_django_redis_releases_only_the_owners_lock() -> None:
    first = acquire_lock(cache, "dr:lock", 30)
    assert first is not None
    assert acquire_lock(cache, "dr:lock", 30) is None
    assert release_lock(cache, "dr:lock", first + 2) is False
    cache.delete("dr:lock")  # as if the first holder's lock had expired
    second = acquire_lock(cache, "dr:lock", 30)
    assert second is not None
    assert release_lock(cache, "dr:lock", first) is False
    assert cache.get("dr:lock") == second
    assert release_lock(cache, "dr:lock", second) is True
    assert cache.get("dr:lock") is None


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:  # relative: resolve against diskcache_admin.decorators
                base = ["diskcache_admin", "decorators"][: 3 - node.level]
                module = ".".join([*base, module] if module else base)
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def test_the_decorators_know_no_engine_and_no_sql() -> None:
    package = Path(diskcache_admin.decorators.__file__).parent
    for path in sorted(package.glob("*.py")):
        imports = _imports(path)
        assert not {i for i in imports if i.startswith(("diskcache_admin.engine", "sqlite3"))}, (
            path.name
        )
        assert "diskcache_admin.backend" not in imports, path.name
        text = path.read_text(encoding="utf-8").upper()
        for statement in ("DELETE FROM", "SELECT ", "INSERT INTO", "UPDATE "):
            assert statement not in text, (path.name, statement)
