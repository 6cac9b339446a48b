from __future__ import annotations

import importlib.util
import io
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_readme_is_built_from_docs() -> None:
    spec = importlib.util.spec_from_file_location("build_readme", ROOT / "docs" / "build_readme.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert (ROOT / "README.rst").read_text() == module.build(), (
        "README.rst is out of date: run `python docs/build_readme.py`"
    )


def test_readme_gives_the_two_commands() -> None:
    text = (ROOT / "README.rst").read_text()
    assert "make demo" in text
    assert "make test" in text


def test_readme_is_valid_restructuredtext() -> None:
    import docutils.core

    warnings = io.StringIO()
    docutils.core.publish_doctree(
        (ROOT / "README.rst").read_text(),
        settings_overrides={"warning_stream": warnings, "report_level": 2, "halt_level": 5},
    )
    assert warnings.getvalue() == ""
