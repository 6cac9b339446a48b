"""The documentation states each fact once, and states it as the code has it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from diskcache_admin.conf import DEFAULTS
from diskcache_admin.engine import DEFAULT_FILE_THRESHOLD

DOCS = Path(__file__).resolve().parents[1] / "docs"
# Still read, documented under its successor's heading.
DEPRECATED = {"DISKCACHE_ADMIN_TEST_SAFE_CACHES": "DISKCACHE_ADMIN_TEST_CACHES"}


def settings_sections() -> dict[str, str]:
    """docs/settings.rst: each setting's heading, mapped to the text under it."""
    text = (DOCS / "settings.rst").read_text()
    parts = re.split(r"^``(DISKCACHE_ADMIN_\w+)``\n-+\n", text, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_every_setting_has_one_heading_in_the_settings_reference() -> None:
    documented = set(settings_sections())

    assert documented == set(DEFAULTS) - set(DEPRECATED)


def test_a_deprecated_setting_is_named_under_its_successor() -> None:
    sections = settings_sections()

    for old, new in DEPRECATED.items():
        assert f"``{old}``" in sections[new]


def test_the_settings_reference_gives_each_default_as_the_code_has_it() -> None:
    for name, section in settings_sections().items():
        written = re.search(r"default ``(.+?)``", section)
        assert written is not None, f"{name}: no default in docs/settings.rst"
        assert ast.literal_eval(written.group(1)) == DEFAULTS[name], name


def test_the_engine_docs_give_the_file_threshold_the_engine_has() -> None:
    text = (DOCS / "engine.rst").read_text()

    row = re.search(r"^``FILE_THRESHOLD``\s+``int`` bytes\s+``(\d+)``", text, re.MULTILINE)
    assert row is not None
    assert int(row.group(1)) == DEFAULT_FILE_THRESHOLD


def test_only_the_installation_page_says_what_migrate_creates() -> None:
    mentions = [
        page.name
        for page in sorted(DOCS.glob("*.rst"))
        if re.search(r"\bno table\b|table to create|migrations create", page.read_text())
    ]

    assert mentions == ["installation.rst"]


def test_every_page_that_repeats_a_default_gives_the_code_s() -> None:
    # The feature pages describe their own settings too; a default written there must not drift.
    mention = re.compile(r"``(DISKCACHE_ADMIN_\w+)``[^\n]*?default ``(.+?)``")
    found = [
        (page.name, match.group(1), match.group(2))
        for page in sorted(DOCS.glob("*.rst"))
        for match in mention.finditer(page.read_text())
    ]

    assert len(found) > len(DEFAULTS) - len(DEPRECATED)  # the reference and the feature pages
    wrong = [item for item in found if ast.literal_eval(item[2]) != DEFAULTS[item[1]]]
    assert wrong == []
