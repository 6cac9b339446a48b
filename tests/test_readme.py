"""README.rst is what PyPI shows: short, valid, absolute links; the docs site holds the rest."""

from __future__ import annotations

import io
import re
from pathlib import Path

from docutils import nodes
from docutils.core import publish_doctree

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
README = ROOT / "README.rst"
DOCS_SITE = "https://django-diskcache-admin.readthedocs.io/"
# What PyPI's renderer (readme_renderer) allows: no file inclusion, no raw HTML.
PYPI_SETTINGS = {"file_insertion_enabled": False, "raw_enabled": False}


def doctree(text: str) -> tuple[nodes.document, str]:
    warnings = io.StringIO()
    tree = publish_doctree(
        text,
        settings_overrides={
            **PYPI_SETTINGS,
            "warning_stream": warnings,
            "report_level": 2,
            "halt_level": 5,
        },
    )
    return tree, warnings.getvalue()


def toctree_pages() -> list[str]:
    """The pages the toctrees of docs/index.rst list, in order."""
    pages: list[str] = []
    in_toctree = False
    for line in (DOCS / "index.rst").read_text().splitlines():
        if line.startswith(".. toctree::"):
            in_toctree = True
        elif in_toctree and line.startswith("   ") and not line.strip().startswith(":"):
            pages.append(line.strip())
        elif in_toctree and line and not line.startswith(" "):
            in_toctree = False
    return pages


def link_targets(tree: nodes.document) -> list[str]:
    targets = [node["refuri"] for node in tree.findall(nodes.reference) if "refuri" in node]
    targets += [node["refuri"] for node in tree.findall(nodes.target) if "refuri" in node]
    targets += [node["uri"] for node in tree.findall(nodes.image)]
    return targets


def paragraph_under(heading: str, text: str) -> str:
    """The first paragraph after ``heading`` (ignoring comments), as one line."""
    lines = text.splitlines()
    start = lines.index(heading) + 2
    paragraph: list[str] = []
    for line in lines[start:]:
        if line.startswith(".."):
            continue
        if not line.strip():
            if paragraph:
                break
            continue
        paragraph.append(line.strip())
    return " ".join(paragraph)


def test_readme_gives_the_two_commands() -> None:
    text = README.read_text()

    assert re.search(r"^    make demo ", text, re.MULTILINE)
    assert re.search(r"^    make test ", text, re.MULTILINE)


def test_readme_is_valid_restructuredtext_as_pypi_renders_it() -> None:
    _, warnings = doctree(README.read_text())

    assert warnings == ""


def test_a_relative_link_is_what_the_check_finds() -> None:
    tree, _ = doctree("See `the docs <docs/index.rst>`__.\n\n.. image:: docs/screenshots/a.png\n")

    assert link_targets(tree) == ["docs/index.rst", "docs/screenshots/a.png"]


def test_readme_links_and_images_are_absolute() -> None:
    tree, _ = doctree(README.read_text())

    targets = link_targets(tree)
    assert targets, "the README links to the docs site"
    relative = [target for target in targets if not re.match(r"https://", target)]
    assert relative == [], "PyPI cannot follow relative links or show relative images"


def test_readme_is_short() -> None:
    assert len(README.read_text().splitlines()) < 400, "reference material goes in docs/"


def test_every_page_of_the_docs_toctree_exists() -> None:
    pages = toctree_pages()

    assert {"installation", "quickstart", "settings", "checks", "cli", "changelog"} <= set(pages)
    assert [page for page in pages if not (DOCS / f"{page}.rst").is_file()] == []


def test_readme_links_only_to_pages_of_the_docs_site() -> None:
    tree, _ = doctree(README.read_text())
    prefix = f"{DOCS_SITE}en/latest/"

    linked = [
        target.removeprefix(prefix).removesuffix(".html")
        for target in link_targets(tree)
        if target.startswith(prefix)
    ]

    assert linked, "the README points to the pages of the docs site"
    assert set(linked) <= set(toctree_pages())


def test_readme_states_the_requirements_as_the_docs_do() -> None:
    readme = paragraph_under("Requirements", README.read_text())
    docs = paragraph_under("Requirements", (DOCS / "installation.rst").read_text())

    assert readme
    assert readme == docs, "change both: README.rst and docs/installation.rst"


def pairs_make_test_runs() -> tuple[set[str], set[str]]:
    """The Pythons and Djangos tested: the Makefile's MAIN_PYTHON, PAIRS and CI_PAIRS."""
    makefile = (ROOT / "Makefile").read_text()
    main = re.search(r"^MAIN_PYTHON := (3\.\d+)$", makefile, re.MULTILINE)
    names = re.search(r"^PAIRS := (.+)$", makefile, re.MULTILINE)
    ci_names = re.search(r"^CI_PAIRS := (.+)$", makefile, re.MULTILINE)
    assert main
    assert names
    assert ci_names
    main_django = re.search(r"^MAIN_DJANGO := (\d+\.\d+)$", makefile, re.MULTILINE)
    assert main_django
    pythons, djangos = {main.group(1)}, {main_django.group(1)}
    for name in [*names.group(1).split(), *ci_names.group(1).split()]:
        pair = re.search(rf"^{name} := (3\.\d+) Django~=(\d+\.\d+)\.0$", makefile, re.MULTILINE)
        assert pair, f"the Makefile defines no {name} := <python> Django~=<x.y>.0"
        pythons.add(pair.group(1))
        djangos.add(pair.group(2))
    return pythons, djangos


def version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def test_classifiers_and_requirements_name_exactly_the_tested_pairs() -> None:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]

    pythons, djangos = pairs_make_test_runs()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    classifiers = project["classifiers"]
    python_prefix, django_prefix = "Programming Language :: Python :: 3.", "Framework :: Django :: "
    assert {c.rpartition(" :: ")[2] for c in classifiers if c.startswith(python_prefix)} == pythons
    assert {c.rpartition(" :: ")[2] for c in classifiers if c.startswith(django_prefix)} == djangos

    oldest, newest = min(djangos, key=version_key), max(djangos, key=version_key)
    major, minor = version_key(newest)
    assert project["dependencies"] == [f"Django>={oldest},<{major}.{minor + 1}"]
    assert project["requires-python"] == f">={min(pythons, key=version_key)}"

    paragraph = paragraph_under("Requirements", README.read_text())
    named = set(re.findall(r"\b\d+\.\d+\b", paragraph))
    assert pythons | djangos <= named
    assert named - pythons - djangos == {"3.31"}, "only the tested versions and SQLite's"
