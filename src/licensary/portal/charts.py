"""Bar charts drawn on the server as SVG, for the staff dashboard: no script, nothing the CSP
refuses (colours come from portal.css classes, never a style attribute), and readable without
sight: the SVG is an image named by its <title> and <desc>, every bar carries its own <title>,
and the same numbers come as a table (`Chart.rows`) for the template's fallback."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from licensary.portal.formatting import format_number

WIDTH, HEIGHT = 480, 240
LEFT, RIGHT, TOP, BOTTOM = 70, 10, 12, 34  # room for the axis labels


@dataclass(frozen=True)
class Series:
    """One kind of bar (stacked on the others in the order given): its name in the legend and
    the table, a CSS class for its colour, one value per label."""

    name: str
    css: str
    values: Sequence[int]


@dataclass(frozen=True)
class Chart:
    chart_id: str
    title: str
    desc: str
    labels: Sequence[str]
    series: Sequence[Series]
    svg: SafeString
    rows: list[tuple[str, list[str]]]  # per label: its values as text, one per series

    @property
    def empty(self) -> bool:
        return not any(v for s in self.series for v in s.values)


def _ceiling(value: int) -> int:
    """The smallest 1, 2 or 5 times a power of ten at or above `value` (the axis's top)."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if factor * step >= value:
                return factor * step
        step *= 10


def bar_chart(
    *,
    chart_id: str,
    title: str,
    desc: str,
    labels: Sequence[str],
    series: Sequence[Series],
    value_text: Callable[[int], str] = format_number,
    label_every: int = 1,
    axis_labels: Sequence[str] | None = None,
) -> Chart:
    """Bars per label, the series stacked; `label_every` writes every n-th label under the
    axis (24 hours do not fit), while every bar's <title> and the table name all of them.
    Negative values (a month that refunded more than it sold) draw as zero-height bars; the
    table and the bar's title keep the real number."""
    if any(len(s.values) != len(labels) for s in series):
        raise ValueError("every series needs one value per label")
    totals = [sum(max(s.values[i], 0) for s in series) for i in range(len(labels))]
    top = _ceiling(max([*totals, 1]))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    band = plot_w / max(len(labels), 1)
    bar = band * 0.7

    def y(value: int) -> str:
        return f"{TOP + plot_h - plot_h * value / top:.1f}"

    def at(value: float) -> str:
        return f"{value:.1f}"

    grid = format_html_join(
        "",
        '<line class="grid" x1="{}" x2="{}" y1="{}" y2="{}"></line>'
        '<text class="axis" x="{}" y="{}" text-anchor="end">{}</text>',
        (
            (LEFT, WIDTH - RIGHT, y(v), y(v), LEFT - 6, at(float(y(v)) + 4), value_text(v))
            for v in sorted({0, top // 2, top})
        ),
    )
    bars = []
    for i, label in enumerate(labels):
        x = LEFT + band * i + (band - bar) / 2
        base = 0
        for s in series:
            value = s.values[i]
            height = max(value, 0)
            bars.append(
                format_html(
                    '<rect class="bar {}" x="{}" y="{}" width="{}" height="{}">'
                    "<title>{}: {} {}</title></rect>",
                    s.css,
                    at(x),
                    y(base + height),
                    at(bar),
                    at(float(y(base)) - float(y(base + height))),
                    label,
                    s.name,
                    value_text(value),
                )
            )
            base += height
        if i % label_every == 0:
            bars.append(
                format_html(
                    '<text class="axis" x="{}" y="{}" text-anchor="middle">{}</text>',
                    at(x + bar / 2),
                    HEIGHT - BOTTOM + 20,
                    (axis_labels or labels)[i],
                )
            )
    svg = format_html(
        '<svg class="chart" role="img" viewBox="0 0 {} {}" aria-labelledby="{}-title {}-desc"'
        ' data-testid="{}">'
        '<title id="{}-title">{}</title><desc id="{}-desc">{}</desc>{}{}'
        '<line class="baseline" x1="{}" x2="{}" y1="{}" y2="{}"></line></svg>',
        WIDTH,
        HEIGHT,
        chart_id,
        chart_id,
        chart_id,
        chart_id,
        title,
        chart_id,
        desc,
        grid,
        SafeString("".join(bars)),
        LEFT,
        WIDTH - RIGHT,
        y(0),
        y(0),
    )
    rows = [(label, [value_text(s.values[i]) for s in series]) for i, label in enumerate(labels)]
    return Chart(chart_id, title, desc, labels, series, svg, rows)
