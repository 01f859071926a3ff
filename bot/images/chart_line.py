"""Trend lines over weeks, with a legend: the survey scores week by week."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import ImageDraw

from bot.images.axes import nice_axis
from bot.images.chart import (
    HEIGHT,
    INK,
    LABEL_GAP,
    LABEL_MIN,
    LABEL_SIZE,
    LEGEND_GAP,
    LEGEND_INNER_GAP,
    LEGEND_MAX_NAME,
    LEGEND_MIN,
    LEGEND_SIZE,
    LEGEND_SWATCH,
    LEGEND_Y,
    LINE_PLOT_TOP,
    LINE_WIDTH,
    MARGIN,
    MARKER_RADIUS,
    MUTED,
    SERIES_COLOURS,
    WIDTH,
    X_LABEL_BAND,
    X_LABEL_MAX_WIDTH,
    X_LABEL_OFFSET,
    Canvas,
    Plot,
    TickFormat,
    directed,
    draw_fitted,
    draw_grid,
    draw_tick_texts,
    draw_title,
    fit_alike,
    fit_ticks,
    is_rtl,
    label_room,
    plot_left,
    to_png,
)
from bot.images.text import FittedLine, fit_line


def _clean_series(name: str, points: Sequence[float | None], count: int) -> list[float | None]:
    if len(points) != count:
        raise ValueError(f"series {name!r} has {len(points)} points for {count} labels")
    return [None if p is None or not math.isfinite(p) else float(p) for p in points]


@dataclass(frozen=True)
class _LegendItem:
    name: FittedLine
    colour: str
    swatch_left: float  # the swatch spans [swatch_left, swatch_left + LEGEND_SWATCH]
    text_x: float  # anchor of the name: its right edge when rtl, else its left edge


def _layout_legend(names: list[str], *, left: int, right: int, rtl: bool) -> list[_LegendItem]:
    """Legend entries in one row: right-aligned and read right to left when ``rtl``."""
    if not names:
        return []
    chrome = LEGEND_SWATCH + LEGEND_INNER_GAP
    share = (right - left - LEGEND_GAP * (len(names) - 1)) / len(names) - chrome
    room = max(1.0, min(LEGEND_MAX_NAME, share))
    fitted_names = fit_alike(
        [directed(name) for name in names],
        [room] * len(names),
        size=LEGEND_SIZE,
        min_size=LEGEND_MIN,
    )
    items = []
    cursor = float(right if rtl else left)
    for index, fitted in enumerate(fitted_names):
        colour = SERIES_COLOURS[index % len(SERIES_COLOURS)]
        if rtl:
            swatch_left = cursor - LEGEND_SWATCH
            text_x = swatch_left - LEGEND_INNER_GAP
            cursor = text_x - fitted.width - LEGEND_GAP
        else:
            swatch_left = cursor
            text_x = cursor + chrome
            cursor = text_x + fitted.width + LEGEND_GAP
        items.append(_LegendItem(fitted, colour, swatch_left, text_x))
    return items


def _x_label_every(plot: Plot, lines: list[FittedLine], count: int) -> int:
    """Label every n-th week so that the labels, at their full size, never touch."""
    widest = max((line.width for line in lines), default=0.0)
    slot = plot.slot(count)
    every = 1
    while every < count and every * slot - LABEL_GAP < widest:
        every += 1
    return every


def line_chart_png(
    *,
    title: str,
    labels: list[str],
    series: dict[str, list[float | None]],
    y_min: float | None = None,
    y_max: float | None = None,
    tick_format: TickFormat | None = None,
    rtl: bool | None = None,
) -> bytes:
    """Trend lines over weeks (x labels in list order, left to right), as PNG bytes.

    ``series`` maps each line's name (shown in the legend, in dict order) to one value per label;
    ``None`` (or NaN) is a gap: no point that week, and the line breaks there. The y axis covers
    ``y_min``..``y_max`` when given, widened to take in every value, and is rounded out to whole
    ticks; a darker zero line is drawn when it crosses zero. ``tick_format`` turns grid values
    (``int`` when whole, else ``float``) into texts (``str`` by default). ``rtl`` (default: from
    the title) right-aligns the title and lays the legend out from the right.

    :raises ValueError: when a series' length differs from ``labels``'.
    """
    count = len(labels)
    labels = [directed(label) for label in labels]
    lines = {name: _clean_series(name, points, count) for name, points in series.items()}
    rtl = is_rtl(title) if rtl is None else rtl

    known = [p for points in lines.values() for p in points if p is not None]
    bounds = [*known, *(b for b in (y_min, y_max) if b is not None)]
    axis = nice_axis(min(bounds), max(bounds)) if bounds else nice_axis(0, 1)
    ticks = fit_ticks(axis, tick_format)
    plot = Plot(
        left=plot_left(ticks),
        top=LINE_PLOT_TOP,
        right=WIDTH - MARGIN,
        bottom=HEIGHT - X_LABEL_BAND,
        axis=axis,
    )
    slot = plot.slot(count)
    legend = _layout_legend(list(lines), left=MARGIN, right=WIDTH - MARGIN, rtl=rtl)

    natural = [fit_line(label, size=LABEL_SIZE, max_width=X_LABEL_MAX_WIDTH) for label in labels]
    every = _x_label_every(plot, natural, count)
    x_room = min(X_LABEL_MAX_WIDTH, every * slot - LABEL_GAP)
    shown = [i for i in range(count) if (count - 1 - i) % every == 0]  # the latest week always
    x_lines = fit_alike(
        [labels[i] for i in shown],
        [label_room(plot.x(i, count), x_room) for i in shown],
        size=LABEL_SIZE,
        min_size=LABEL_MIN,
    )

    canvas = Canvas()
    draw_grid(canvas, plot, baseline=0 if axis.crosses_zero() else axis.low)
    marker = max(2.5, min(MARKER_RADIUS, slot / 3))
    width = min(LINE_WIDTH, max(2.0, slot / 6))
    for index, points in enumerate(lines.values()):
        colour = SERIES_COLOURS[index % len(SERIES_COLOURS)]
        run: list[tuple[float, float]] = []
        for i, value in enumerate([*points, None]):
            if value is not None:
                run.append((plot.x(i, count), plot.y(value)))
                continue
            if len(run) > 1:
                canvas.polyline(run, colour, width)
            run = []
        for i, value in enumerate(points):
            if value is not None:
                canvas.dot(plot.x(i, count), plot.y(value), marker, colour, ring=2)
    for item in legend:
        canvas.rect(
            item.swatch_left,
            LEGEND_Y - 2,
            item.swatch_left + LEGEND_SWATCH,
            LEGEND_Y + 2,
            item.colour,
        )
        canvas.dot(
            item.swatch_left + LEGEND_SWATCH / 2, LEGEND_Y, MARKER_RADIUS, item.colour, ring=2
        )

    image = canvas.finish()
    draw = ImageDraw.Draw(image)
    draw_title(draw, title, rtl=rtl)
    draw_tick_texts(draw, plot, ticks)
    for item in legend:
        draw_fitted(
            draw, (item.text_x, LEGEND_Y), item.name, fill=INK, align="right" if rtl else "left"
        )
    for i, line in zip(shown, x_lines, strict=True):
        draw_fitted(draw, (plot.x(i, count), plot.bottom + X_LABEL_OFFSET), line, fill=MUTED)
    return to_png(image)
