"""The inline SVG charts: well-formed, escaped, and sized by their data."""

from __future__ import annotations

import warnings
import xml.etree.ElementTree as ET

import pytest
from django.core.cache import CacheKeyWarning
from django.test import Client

from diskcache_admin.admin.charts import bar_chart, line_chart
from diskcache_admin.admin.helpers import display_key

from .conftest import Target

SVG = "{http://www.w3.org/2000/svg}"


def test_bar_chart_has_one_bar_per_bucket_scaled_to_the_peak() -> None:
    svg = ET.fromstring(bar_chart("Sizes", [("small", 10), ("large", 5), ("none", 0)]))

    widths = [float(rect.get("width", "")) for rect in svg.iter(f"{SVG}rect")]

    assert widths == [170.0, 85.0, 0.0]


def test_bar_chart_escapes_labels() -> None:
    markup = str(bar_chart("<b>", [("<script>alert(1)</script>", 1)]))

    assert "<script>" not in markup
    assert "&lt;script&gt;" in markup
    ET.fromstring(markup)


def test_bar_chart_without_data_says_so() -> None:
    assert "No data" in bar_chart("Empty", [])


def test_line_chart_plots_each_point() -> None:
    svg = ET.fromstring(line_chart("Hit ratio", [("09:00", 0.5), ("09:05", 1.0), ("09:10", 0.0)]))

    circles = list(svg.iter(f"{SVG}circle"))
    titles = [circle.find(f"{SVG}title").text for circle in circles]  # type: ignore[union-attr]

    assert titles == ["09:00: 50.0%", "09:05: 100.0%", "09:10: 0.0%"]
    assert float(circles[1].get("cy", "")) < float(circles[0].get("cy", ""))


def test_line_chart_without_points_says_so() -> None:
    assert "No data" in line_chart("Hit ratio", [])


def test_bar_chart_labels_escape_control_and_bidi_characters_as_the_key_pages_do() -> None:
    label = "evil\x1b[31m\u202egnp.exe\u2066"

    markup = str(bar_chart("Top key families", [(label, 1)]))

    for raw in ("\x1b", "\u202e", "\u2066"):
        assert raw not in markup
    assert "evil\\x1b[31m\\u202egnp.exe\\u2066" in markup  # the full label, in the tooltip
    assert display_key(label) == "evil\\x1b[31m\\u202egnp.exe\\u2066"
    ET.fromstring(markup)


def test_line_chart_labels_are_escaped_too() -> None:
    markup = str(line_chart("Hit ratio", [("\u202e09:00", 0.5), ("09:05\x00", 1.0)]))

    assert "\u202e" not in markup
    assert "\x00" not in markup
    ET.fromstring(markup)


@pytest.mark.django_db
def test_a_detail_page_chart_never_carries_raw_control_characters(
    admin_client: Client, disk: Target
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CacheKeyWarning)  # memcached could not take this key
        disk.cache.set("\u202eevil\x07:1", 1)
    disk.cache.set("x", 1, tag="t\x1b[2J")  # type: ignore[call-arg]

    body = admin_client.get(disk.url("detail")).content.decode()

    assert "\\u202eevil\\x07" in body
    assert "\\x1b[2J" in body
    for raw in ("\u202e", "\x07", "\x1b"):
        assert raw not in body
