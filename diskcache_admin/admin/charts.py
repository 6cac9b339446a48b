"""Small inline SVG charts rendered on the server: no JavaScript, no external assets."""

from __future__ import annotations

from collections.abc import Sequence

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext

from .helpers import display_key

BAR_HEIGHT = 18
BAR_GAP = 6
LABEL_WIDTH = 150
BAR_WIDTH = 170
VALUE_WIDTH = 60


def _svg(title: str, width: int, height: int, body: SafeString) -> SafeString:
    # The frame every chart with data shares: its title is both the accessible name and the
    # tooltip, and the viewBox lets the chart scale with the page.
    return format_html(
        '<svg class="dca-chart" role="img" aria-label="{}" width="{}" height="{}" '
        'viewBox="0 0 {} {}" xmlns="http://www.w3.org/2000/svg"><title>{}</title>{}</svg>',
        title,
        width,
        height,
        width,
        height,
        title,
        body,
    )


def bar_chart(
    title: str, buckets: Sequence[tuple[str, int]], *, estimated: bool = False
) -> SafeString:
    """A horizontal bar chart, one bar per ``(label, count)``; ``estimated`` counts read ``≈``.

    Labels are key families and tags, i.e. parts of stored keys: control, bidi and other
    invisible characters are shown as escapes (:func:`~.helpers.display_key`, as on the key
    pages), then HTML-escaped.
    """
    width = LABEL_WIDTH + BAR_WIDTH + VALUE_WIDTH
    height = max(len(buckets), 1) * (BAR_HEIGHT + BAR_GAP) + BAR_GAP
    peak = max((count for _, count in buckets), default=0)
    rows = []
    for index, (raw_label, count) in enumerate(buckets):
        label = display_key(raw_label)
        y = BAR_GAP + index * (BAR_HEIGHT + BAR_GAP)
        length = 0 if not peak else max(round(BAR_WIDTH * count / peak), 1 if count else 0)
        shown = label if len(label) <= 21 else label[:20] + "…"
        rows.append(
            (
                y + BAR_HEIGHT - 5,
                LABEL_WIDTH - 8,
                label,
                shown,
                LABEL_WIDTH,
                y,
                length,
                BAR_HEIGHT,
                LABEL_WIDTH + length + 6,
                y + BAR_HEIGHT - 5,
                f"≈{count:,}" if estimated else f"{count:,}",
            )
        )
    body = format_html_join(
        "",
        '<text class="dca-label" x="{1}" y="{0}" text-anchor="end"><title>{2}</title>{3}</text>'
        '<rect class="dca-bar" x="{4}" y="{5}" width="{6}" height="{7}" rx="2"></rect>'
        '<text class="dca-value" x="{8}" y="{9}">{10}</text>',
        rows,
    )
    if not buckets:
        body = format_html(
            '<text class="dca-value" x="{}" y="{}">{}</text>',
            LABEL_WIDTH,
            BAR_HEIGHT,
            gettext("No data"),
        )
    return _svg(title, width, height, body)


def line_chart(
    title: str, points: Sequence[tuple[str, float]], *, percent: bool = True
) -> SafeString:
    """A line of ``(label, value in 0..1)`` points, oldest first, with the first and last labels."""
    width, height, pad = LABEL_WIDTH + BAR_WIDTH + VALUE_WIDTH, 140, 28
    inner_w, inner_h = width - 2 * pad, height - 2 * pad
    if not points:
        return format_html(
            '<svg class="dca-chart" role="img" aria-label="{}" width="{}" height="40" '
            'xmlns="http://www.w3.org/2000/svg"><text class="dca-value" x="0" y="24">{}'
            "</text></svg>",
            title,
            width,
            gettext("No data"),
        )
    step = inner_w / max(len(points) - 1, 1)
    coords = [
        (pad + index * step, pad + inner_h * (1 - min(max(value, 0.0), 1.0)))
        for index, (_, value) in enumerate(points)
    ]
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
    dots = format_html_join(
        "",
        '<circle class="dca-dot" cx="{}" cy="{}" r="3"><title>{}: {}</title></circle>',
        (
            (
                f"{x:.1f}",
                f"{y:.1f}",
                display_key(label),
                f"{value:.1%}" if percent else f"{value:,.2f}",
            )
            for (x, y), (label, value) in zip(coords, points, strict=True)
        ),
    )
    axis = format_html(
        '<line class="dca-axis" x1="{0}" y1="{1}" x2="{2}" y2="{1}"></line>'
        '<line class="dca-axis" x1="{0}" y1="{3}" x2="{2}" y2="{3}"></line>'
        '<text class="dca-value" x="2" y="{4}">100%</text>'
        '<text class="dca-value" x="2" y="{5}">0%</text>'
        '<text class="dca-value" x="{0}" y="{6}">{7}</text>'
        '<text class="dca-value" x="{2}" y="{6}" text-anchor="end">{8}</text>',
        pad,
        pad,
        pad + inner_w,
        pad + inner_h,
        pad + 4,
        pad + inner_h + 4,
        height - 6,
        display_key(points[0][0]),
        display_key(points[-1][0]),
    )
    line = format_html('{}<polyline class="dca-line" points="{}"></polyline>{}', axis, path, dots)
    return _svg(title, width, height, line)
