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


def private_django_imports(relative: str, tree: ast.Module) -> list[str]:
    """``from django.x import _name`` and ``import django._x``: what the rule forbids."""
    found: list[str] = []
    for module, names in imported_modules(relative, tree):
        if module != "django" and not module.startswith("django."):
            continue
        found += [
            f"{relative}: from {module} import {name}" for name in names if name.startswith("_")
        ]
        if any(part.startswith("_") for part in module.split(".")):
            found.append(f"{relative}: import {module}")
    return found


def test_no_private_django_name_is_imported() -> None:
    found = sorted(
        item for relative, tree in modules() for item in private_django_imports(relative, tree)
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
        ("from django.utils._os import safe_join", True),
        ("from ._private import helper", False),  # our own private module, not Django's
    ],
)
def test_the_private_name_rule_catches_what_it_should(source: str, expected: bool) -> None:
    assert bool(private_django_imports("x.py", ast.parse(source))) is expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("client = cache.client.get_client(write=True)", True),
        ("serializer = cache._cache._serializer", True),
        ("client = cache._client", True),
        ("value = cache.get('k')", False),
    ],
)
def test_the_redis_internals_rule_catches_what_it_should(source: str, expected: bool) -> None:
    assert _reaches_into_redis_client(ast.parse(source)) is expected


@pytest.mark.parametrize(
    ("relative", "source", "module"),
    [
        ("inspection/x.py", "from ..engine import Store", "diskcache_admin.engine"),
        ("x.py", "from . import engine", "diskcache_admin.engine"),
        ("x.py", "from .engine.store import Store", "diskcache_admin.engine.store"),
        ("x.py", "import diskcache_admin.engine", "diskcache_admin.engine"),
    ],
)
def test_relative_imports_resolve_to_the_module_they_name(
    relative: str, source: str, module: str
) -> None:
    found = [name for name, _ in imported_modules(relative, ast.parse(source))]
    assert module in found


# -- the tests' own rule: a missing server or browser skips on a laptop and fails under CI ------

TESTS = Path(__file__).resolve().parent
# Test modules that still skip on their own, each with why; an entry may go once its module
# routes the skip through tests.conftest.skip_or_fail_unless.
OWN_SKIPS: dict[str, str] = {}


def _is_skip(node: ast.expr) -> bool:
    if not (isinstance(node, ast.Attribute) and node.attr in {"skip", "importorskip", "skipif"}):
        return False
    owner = node.value
    return (isinstance(owner, ast.Name) and owner.id == "pytest") or (
        isinstance(owner, ast.Attribute) and owner.attr == "mark"
    )


def skipping_calls(tree: ast.Module) -> list[str]:
    """``pytest.skip(...)``, ``pytest.importorskip(...)``, ``pytest.mark.skip``/``skipif``."""
    found = []
    for node in ast.walk(tree):
        candidates: list[ast.expr] = []
        if isinstance(node, ast.Call):
            candidates.append(node.func)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            candidates += node.decorator_list  # a bare @pytest.mark.skip
        found += [f"line {c.lineno}: {ast.unparse(c)}" for c in candidates if _is_skip(c)]
    return found


def test_tests_skip_only_through_skip_or_fail_unless() -> None:
    offenders = sorted(
        f"{relative}: {call}"
        for path in sorted(TESTS.rglob("*.py"))
        if (relative := path.relative_to(TESTS).as_posix()) not in {"conftest.py", *OWN_SKIPS}
        for call in skipping_calls(ast.parse(path.read_text(), str(path)))
    )
    assert offenders == [], "use tests.conftest.skip_or_fail_unless: under CI a skip must fail"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("pytest.skip('no server')", True),
        ("pytest.importorskip('redis')", True),
        ("@pytest.mark.skipif(True, reason='x')\ndef test(): ...", True),
        ("@pytest.mark.skip\ndef test(): ...", True),
        ("skip_or_fail_unless(False, 'no server')", False),
        ("steps.skip(1)", False),
        ("with pytest.raises(pytest.skip.Exception): ...", False),
    ],
)
def test_the_skip_rule_catches_what_it_should(source: str, expected: bool) -> None:
    assert bool(skipping_calls(ast.parse(source))) is expected


@pytest.mark.parametrize("in_ci", [True, False])
def test_a_missing_server_skips_on_a_laptop_and_fails_under_ci(
    in_ci: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests import conftest

    monkeypatch.setattr(conftest, "IN_CI", in_ci)
    conftest.skip_or_fail_unless(True, "present")  # no outcome when the server is there

    outcome = pytest.fail.Exception if in_ci else pytest.skip.Exception
    with pytest.raises(outcome, match="Redis is not reachable"):
        conftest.skip_or_fail_unless(False, "Redis is not reachable")
