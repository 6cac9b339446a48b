"""Sphinx configuration for the django-diskcache-admin documentation.

Build it with warnings as errors, as ``make test`` and Read the Docs do::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

Only Sphinx's own extensions are used, none of which reaches the network.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _version() -> str:
    # One source for the version: pyproject.toml (tomllib is Python 3.11+; a regex serves 3.10).
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    match = re.search(r'^version = "([^"]+)"', text, re.MULTILINE)
    return match.group(1) if match else "unknown"


project = "django-diskcache-admin"
author = "django-diskcache-admin contributors"
copyright = "django-diskcache-admin contributors"
release = _version()
version = release

# autosectionlabel gives every heading a label "<page>:<title>" (e.g. ``cli:The audit trail``),
# so pages link to each other's sections without a hand-made label before each heading.
extensions = ["sphinx.ext.autosectionlabel"]
autosectionlabel_prefix_document = True

# Not pages: the build output.
exclude_patterns = ["_build"]

# The API names in the prose are written as ``literals``, so nothing depends on autodoc or on
# importing the package (Read the Docs installs only the docs group).
default_role = "literal"
# Literal blocks (``::``) are mostly shell sessions and output: only code-block names a lexer.
highlight_language = "none"
nitpicky = True

html_theme = "furo"
html_title = f"django-diskcache-admin {release}"
html_static_path: list[str] = []
# The text of each page is not worth shipping twice in the HTML output.
html_copy_source = False
html_show_sourcelink = False

# Furo needs no configuration; these only keep the output stable between machines.
html_last_updated_fmt = None
