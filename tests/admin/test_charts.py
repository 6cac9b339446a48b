"""The inline SVG charts: well-formed, escaped, and sized by their data."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from diskcache_admin.admin.charts import bar_chart, line_chart

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
