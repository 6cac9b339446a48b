"""The house rules of the package layout, checked on the source so that a shortcut fails a test.

CONTRIBUTING.rst explains the rooms; these tests keep them honest:

- only the backend and the DiskCache adapter know the storage engine;
- the engine imports no Django;
- only one module knows a Redis client's private API;
- no module imports a private Django name.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "diskcache_admin"

# Who may import diskcache_admin.engine, and why.
ENGINE_IMPORTERS = {
    "backend.py": "the CACHES backend: Django API -> engine",
    "backend_options.py": "the backend's OPTIONS parser: the engine's defaults and policies",
    "inspection/diskcache.py": "the DiskCache adapter: browsing, statistics, check",
    "inspection/_common.py": "family_of: one key-family rule for the engine and every adapter",
}

# The only module that may reach into a Redis client (django-redis or Django's RedisCache).
REDIS_CLIENT_MODULE = "inspection/redis.py"


def modules() -> Iterator[tuple[str, ast.Module]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        yield path.relative_to(PACKAGE).as_posix(), ast.parse(path.read_text(), str(path))


def imported_modules(relative: str, tree: ast.Module) -> Iterator[tuple[str, list[str]]]:
    """``(absolute module, names)`` for every import in the module, relative ones resolved."""
    package = ["diskcache_admin", *relative.split("/")[:-1]]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, []
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            names = [alias.name for alias in node.names]
            yield module, names
            # `from . import engine` names a module too.
            for name in names:
                yield f"{module}.{name}", []


def test_the_allowlists_name_real_modules() -> None:
    existing = {relative for relative, _ in modules()}
    assert set(ENGINE_IMPORTERS) <= existing
    assert REDIS_CLIENT_MODULE in existing


def test_only_the_backend_and_its_adapter_import_the_engine() -> None:
    offenders = sorted(
        relative
        for relative, tree in modules()
        if not relative.startswith("engine/")
        and relative not in ENGINE_IMPORTERS
        and any(
            module == "diskcache_admin.engine" or module.startswith("diskcache_admin.engine.")
            for module, _ in imported_modules(relative, tree)
        )
    )
    assert offenders == []


def test_the_engine_imports_no_django() -> None:
    offenders = sorted(
        relative
        for relative, tree in modules()
        if relative.startswith("engine/")
        and any(
            module == "django" or module.startswith(("django.", "diskcache_admin.backend"))
            for module, _ in imported_modules(relative, tree)
        )
    )
    assert offenders == []


def test_no_private_django_name_is_imported() -> None:
    found = sorted(
        f"{relative}: from {module} import {name}"
        for relative, tree in modules()
        for module, names in imported_modules(relative, tree)
        if module == "django" or module.startswith("django.")
        for name in names
        if name.startswith("_")
    ) + sorted(
        f"{relative}: import {module}"
        for relative, tree in modules()
        for module, _ in imported_modules(relative, tree)
        if module.startswith("django.") and any(p.startswith("_") for p in module.split("."))
    )
    assert found == []


def _reaches_into_redis_client(tree: ast.Module) -> bool:
    """``x.get_client(...)``, ``x._client``, ``x._serializer``: a Redis client's internals."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in {
            "get_client",
            "_client",
            "_serializer",
        }:
            return True
    return False


def test_only_one_module_knows_the_redis_clients_internals() -> None:
    offenders = sorted(
        relative
        for relative, tree in modules()
        if relative != REDIS_CLIENT_MODULE and _reaches_into_redis_client(tree)
    )
    assert offenders == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from django.utils.cache import _private", True),
        ("from django.utils.cache import patch_vary_headers", False),
        ("import django.utils._os", True),
    ],
)
def test_the_private_name_rule_catches_what_it_should(source: str, expected: bool) -> None:
    tree = ast.parse(source)
    names = [
        (module, names)
        for module, names in imported_modules("x.py", tree)
        if module.startswith("django")
    ]
    private = any(n.startswith("_") for _, ns in names for n in ns) or any(
        any(p.startswith("_") for p in module.split(".")) for module, _ in names
    )
    assert private is expected
