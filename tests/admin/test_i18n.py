"""Every user-facing string of the admin pages goes through gettext.

Two checks: a walk over every template's nodes finds no visible text outside translation tags,
and the pages rendered under a pseudo-language (a catalog built at test time from the app's
own sources with xgettext + msgfmt, every message wrapped in ⟦…⟧) show their headings, labels,
buttons, help texts and messages wrapped, Python-made ones included.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.template import Template
from django.template.base import Node, NodeList, TextNode
from django.template.defaulttags import IfNode
from django.template.loader_tags import BlockNode
from django.test import Client, override_settings
from django.utils import translation
from django.utils.translation import templatize

import diskcache_admin
from diskcache_admin import audit
from diskcache_admin.decorators import memoize
from tests.conftest import skip_or_fail_unless

from .conftest import Target

PACKAGE = Path(diskcache_admin.__file__).resolve().parent
TEMPLATES = sorted((PACKAGE / "templates" / "diskcache_admin").rglob("*.html"))
# Spaced, so that a tag or an attribute around a variable still parses as one.
PLACEHOLDER = " \x00 "
# Blocks of admin/base_site.html that hold class names or <head> tags, not text.
NOT_TEXT_BLOCKS = frozenset({"bodyclass", "extrastyle", "extrahead"})
# Attributes whose values people read (or hear, with a screen reader).
READ_ATTRIBUTES = frozenset({"alt", "title", "placeholder", "aria-label"})
WORD = re.compile(r"[A-Za-z]{2,}")


def _flatten(nodelist: NodeList | list[Node], out: list[str]) -> None:
    # Text as written; every other node (a variable, a translation...) becomes a placeholder,
    # and the branches of {% if %}/{% for %} are walked in order.
    for node in nodelist:
        if isinstance(node, TextNode):
            out.append(node.s)
            continue
        out.append(PLACEHOLDER)
        if isinstance(node, BlockNode) and node.name in NOT_TEXT_BLOCKS:
            continue
        if isinstance(node, IfNode):
            for _condition, branch in node.conditions_nodelists:
                _flatten(branch, out)
                out.append(PLACEHOLDER)
            continue
        for attribute in node.child_nodelists:
            child = getattr(node, attribute, None)
            if isinstance(child, NodeList):
                _flatten(child, out)
                out.append(PLACEHOLDER)


class _VisibleText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("style", "script", "code", "pre"):
            self.skip += 1
        names = dict(attrs)
        for name, value in attrs:
            if value and name in READ_ATTRIBUTES:
                self.texts.append(value)
        if tag == "input" and names.get("type") == "submit" and names.get("value"):
            self.texts.append(names["value"] or "")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script", "code", "pre") and self.skip:
            self.skip -= 1

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.texts.append(data)


def untranslated_text(source: str) -> list[str]:
    """Runs of visible words in a template that no translation tag covers."""
    out: list[str] = []
    _flatten(Template(source).nodelist, out)
    parser = _VisibleText()
    parser.feed("".join(out))
    found = []
    for text in parser.texts:
        for run in text.split(PLACEHOLDER.strip()):
            if WORD.search(run):
                found.append(run.strip())
    return found


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda path: path.name)
def test_no_template_shows_untranslated_text(template: Path) -> None:
    assert untranslated_text(template.read_text()) == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("<p>Hello</p>", ["Hello"]),
        ('<img alt="Search">', ["Search"]),
        ('<input type="submit" value="Go on">', ["Go on"]),
        ("{% if x %}<p>Only here</p>{% endif %}", ["Only here"]),
        ("{% load i18n %}<p>{% translate 'Hello' %}</p><code>raw_key</code>", []),
        ("{% load i18n %}<p>{% blocktranslate %}Hi {{ x }}{% endblocktranslate %} — …</p>", []),
    ],
)
def test_the_walk_finds_what_it_should(source: str, expected: list[str]) -> None:
    assert untranslated_text(source) == expected


# -- the pages under a pseudo-language -----------------------------------------------------------

PSEUDO = "de"  # a language Django knows; its catalog here is ours alone (LOCALE_PATHS first)
OPEN, CLOSE = "⟦", "⟧"


def _po_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


@pytest.fixture(scope="module")
def pseudo_locale(tmp_path_factory: pytest.TempPathFactory) -> Path:
    skip_or_fail_unless(
        bool(shutil.which("xgettext") and shutil.which("msgfmt")), "GNU gettext is not installed"
    )
    work = tmp_path_factory.mktemp("pseudo")
    sources = [*sorted((PACKAGE / "admin").glob("*.py")), PACKAGE / "models.py"]
    sources.append(PACKAGE / "wording.py")  # the statistics words the admin shares with the CLI
    for index, template in enumerate(TEMPLATES):
        converted = work / f"template{index}.py"
        converted.write_text(templatize(template.read_text(), origin=str(template)))
        sources.append(converted)
    pot = work / "django.pot"
    keywords = [
        "gettext",
        "gettext_lazy",
        "_",
        "ngettext:1,2",
        "ngettext_lazy:1,2",
        "pgettext:1c,2",
        "pgettext_lazy:1c,2",
        "npgettext:1c,2,3",
    ]
    subprocess.run(
        [
            "xgettext",
            "--language=Python",
            "--from-code=UTF-8",
            "--no-location",
            "-o",
            str(pot),
            *[f"--keyword={keyword}" for keyword in keywords],
            *map(str, sources),
        ],
        check=True,
    )
    entries = _parse_pot(pot.read_text())
    lines = [
        'msgid ""',
        'msgstr "Content-Type: text/plain; charset=UTF-8\\n"',
        '"Plural-Forms: nplurals=2; plural=(n != 1);\\n"',
        "",
    ]
    for context, singular, plural in entries:
        if context is not None:
            lines.append(f"msgctxt {_po_string(context)}")
        lines.append(f"msgid {_po_string(singular)}")
        if plural is None:
            lines.append(f"msgstr {_po_string(OPEN + singular + CLOSE)}")
        else:
            lines.append(f"msgid_plural {_po_string(plural)}")
            lines.append(f"msgstr[0] {_po_string(OPEN + singular + CLOSE)}")
            lines.append(f"msgstr[1] {_po_string(OPEN + plural + CLOSE)}")
        lines.append("")
    messages = work / "locale" / PSEUDO / "LC_MESSAGES"
    messages.mkdir(parents=True)
    (messages / "django.po").write_text("\n".join(lines))
    subprocess.run(
        ["msgfmt", "-o", str(messages / "django.mo"), str(messages / "django.po")], check=True
    )
    return work / "locale"


def _parse_pot(text: str) -> list[tuple[str | None, str, str | None]]:
    entries: list[tuple[str | None, str, str | None]] = []
    current: dict[str, str] = {}
    field = ""

    def unquote(part: str) -> str:
        escapes = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}
        return re.sub(r"\\(.)", lambda m: escapes.get(m[1], m[1]), part.strip()[1:-1])

    def finish() -> None:
        if current.get("msgid"):
            entries.append((current.get("msgctxt"), current["msgid"], current.get("msgid_plural")))
        current.clear()

    for line in [*text.splitlines(), ""]:
        if not line.strip():
            finish()
            field = ""
            continue
        if line.startswith("#"):
            continue
        if line.startswith('"'):
            if field:
                current[field] = current.get(field, "") + unquote(line)
            continue
        name, _, rest = line.partition(" ")
        field = name if name in ("msgctxt", "msgid", "msgid_plural") else ""
        if field:
            current[field] = unquote(rest)
    return entries


class _Labels(HTMLParser):
    """Texts of the elements that carry the page's own words (not its data)."""

    WATCHED = ("h1", "h2", "label", "button", "caption")

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, dict[str, str | None]]] = []
        self.found: list[str] = []
        self.buffers: list[list[str]] = []

    def _watched(self, tag: str, attrs: dict[str, str | None]) -> bool:
        classes = (attrs.get("class") or "").split()
        if tag in self.WATCHED or "help" in classes or "dca-statement" in classes:
            return True
        # Row labels of the statistics tables and column headers; not the key cells.
        return tag == "th" and "dca-key" not in classes and attrs.get("scope") != "row-data"

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        if tag == "input" and names.get("type") == "submit" and names.get("value"):
            self.found.append(names["value"] or "")
        if tag in ("input", "img", "br", "link", "meta"):
            return
        watched = self._watched(tag, names)
        self.stack.append((tag, names))
        self.buffers.append([] if watched else ["\x01"])

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            open_tag, _ = self.stack.pop()
            buffer = self.buffers.pop()
            if buffer[:1] != ["\x01"]:
                text = " ".join("".join(buffer).split())
                if text:
                    self.found.append(text)
            if open_tag == tag:
                break

    def handle_data(self, data: str) -> None:
        # Data goes to the innermost watched element.
        for buffer in reversed(self.buffers):
            if buffer[:1] != ["\x01"]:
                buffer.append(data)
                return


def labels_of(html: str) -> list[str]:
    start = html.find('id="content"')
    parser = _Labels()
    parser.feed(html[start:] if start >= 0 else html)
    return parser.found


def unwrapped(html: str, data: tuple[str, ...] = ()) -> list[str]:
    """Labels with words outside every ⟦…⟧ (minus the given data: aliases, keys...)."""
    bad = []
    for label in labels_of(html):
        rest = label
        for text in data:
            rest = rest.replace(text, "")
        # Django's own catalog translates sizes ("28 Bytes"): data here, not our words.
        rest = re.sub(r"\d[\d.,]*\s*(Bytes|Byte|KB|MB|GB)", "", rest)
        inner = re.compile(f"{OPEN}[^{OPEN}{CLOSE}]*{CLOSE}")
        while inner.search(rest):  # translated messages may hold translated parts
            rest = inner.sub("", rest)
        if WORD.search(rest):
            bad.append(label)
    return bad


@memoize(timeout=60, cache="target")
def price(product: int) -> float:
    return product * 1.5


# Words that are data on these pages: the alias, the backend's class, keys, the family.
DATA = (
    "target",
    "default",
    "DiskCache",
    "LocMemCache",
    "RedisCache",
    "DatabaseCache",
    "FileBasedCache",
    "LRU",
    "least-recently-stored",
    "least-recently-used",
    "allkeys-lru",
    "noeviction",
    "user:1",
    "dca.memo:tests.admin.test_i18n.price",
    "product=42",
)


@pytest.fixture
def pseudo_client(pseudo_locale: Path, admin_client: Client) -> Iterator[Client]:
    with (
        override_settings(LOCALE_PATHS=[str(pseudo_locale)], LANGUAGE_CODE=PSEUDO),
        translation.override(PSEUDO),
    ):
        yield admin_client


def test_the_pseudo_catalog_is_in_use(pseudo_client: Client, disk: Target) -> None:
    body = pseudo_client.get(disk.url("detail")).content.decode()
    assert f"{OPEN}Statistics{CLOSE}" in body  # a template string
    assert f"{OPEN}Entries{CLOSE}" in body  # a statistics row label made in Python


def test_every_page_shows_its_words_translated(pseudo_client: Client, target: Target) -> None:
    target.cache.set("user:1", {"name": "Ada"}, 3600)
    price(42)
    audit.record(alias="target", action="clear", summary="Cleared", via="cli", os_user="cron")
    memo_key = price.cache_key(42)
    pages: dict[str, Any] = {
        "caches": pseudo_client.get("/admin/diskcache_admin/cache/"),
        "detail": pseudo_client.get(target.url("detail")),
        "keys": pseudo_client.get(target.url("keys") + "?q=user"),
        "key": pseudo_client.get(target.key_url("user:1")),
        "memo key": pseudo_client.get(target.key_url(memo_key)),
        "delete": pseudo_client.post(target.url("delete_keys"), {"k": target.token("user:1")}),
        "touch": pseudo_client.get(target.url("touch", target.token("user:1"))),
        "clear": pseudo_client.get(target.url("action", "clear")),
        "matching": pseudo_client.get(target.url("delete_matching") + "?q=user"),
        "audit": pseudo_client.get("/admin/diskcache_admin/auditentry/"),
    }
    if target.kind != "filebased":  # it cannot list keys, so it offers no invalidation
        pages["invalidate"] = pseudo_client.get(target.url("invalidate", target.token(memo_key)))
    trail = pages.pop("audit").content.decode()
    problems = {}
    for name, response in pages.items():
        assert response.status_code == 200, (name, response.status_code)
        bad = unwrapped(response.content.decode(), (memo_key, *DATA))
        if bad:
            problems[name] = bad
    assert problems == {}
    # The audit list is Django's change list (Django's catalog has its words): ours are there.
    for ours in ("cache alias", "action", "made from", "what happened", "cache audit entries"):
        assert f"{OPEN}{ours}{CLOSE}" in trail


def test_messages_are_translated(pseudo_client: Client, disk: Target) -> None:
    disk.cache.set("gone", 1)
    response = pseudo_client.post(
        disk.url("delete_keys"), {"k": disk.token("gone"), "confirm": "yes"}
    )
    (message,) = [str(m) for m in get_messages(response.wsgi_request)]
    assert message.startswith(OPEN)
