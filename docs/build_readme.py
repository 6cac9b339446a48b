"""Build README.rst from the documents in docs/ (``python docs/build_readme.py``).

The README is what PyPI and GitHub show, so it holds every section; docs/*.rst are where each
section is edited. ``tests/test_readme.py`` fails when README.rst is not the built result.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
README = DOCS.parent / "README.rst"
SECTIONS = (
    "_readme_head.rst",
    "engine.rst",
    "admin.rst",
    "inspection.rst",
    "cli.rst",
    "testing.rst",
    "decorators.rst",
    "panel.rst",
    "reliability.rst",
    "benchmarks.rst",
    "demo.rst",
    "checks.rst",
    "_readme_tail.rst",
)


# GitHub and PyPI do not follow ``.. include::``, so included result tables are inlined.
_LITERAL_INCLUDE = re.compile(r"^\.\. include:: (\S+)\n   :literal:\n", re.MULTILINE)


def _inline(match: re.Match[str]) -> str:
    body = (DOCS / match.group(1)).read_text().rstrip("\n")
    return "::\n\n" + "\n".join(f"    {line}" if line else "" for line in body.splitlines()) + "\n"


def build() -> str:
    parts = []
    for name in SECTIONS:
        text = (DOCS / name).read_text().strip("\n")
        # Paths in docs/ are relative to docs/; the README sits one level up.
        text = text.replace(".. image:: screenshots/", ".. image:: docs/screenshots/")
        text = _LITERAL_INCLUDE.sub(_inline, text)
        parts.append(text)
    return "\n\n".join(parts) + "\n"


if __name__ == "__main__":
    README.write_text(build())
    sys.stdout.write(f"wrote {README}\n")
