"""Vertical bars, one per label: the staff reports' counts (members by tier, and the like)."""

from __future__ import annotations

from collections.abc import Callable

from PIL import ImageDraw

from bot.images.axes import nice_axis
from bot.images.chart import (
    BAR_COLOUR,
    BAR_FILL,
    BAR_MAX_WIDTH,
    BAR_PLOT_TOP,
    HEIGHT,
    INK,
    LABEL_GAP,
    LABEL_MIN,
    LABEL_SIZE,
    MARGIN,
    VALUE_BAND,
    VALUE_MIN,
    VALUE_OFFSET,
    VALUE_SIZE,
    WIDTH,
    X_LABEL_BAND,
    X_LABEL_OFFSET,
    Canvas,
    Plot,
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


def bar_chart_png(
    *,
    title: str,
    labels: list[str],
    values: list[int],
    value_labels: list[str] | None = None,
    colors: list[str] | None = None,
    tick_format: Callable[[int], str] | None = None,
    rtl: bool | None = None,
) -> bytes:
    """Vertical bars, one per label, in list order from left to right, as PNG bytes.

    ``value_labels`` are the texts drawn above each bar (below it for a negative value), already
    formatted (``str(value)`` when omitted). ``colors`` gives each bar's fill, cycled when shorter
    (one colour for all when omitted). ``tick_format`` turns the whole-number grid values into
    texts (``str`` by default). The scale starts at zero; zero-valued bars show as a thin line on
    the baseline. ``rtl`` (default: from the title) right-aligns the title.

    :raises ValueError: when ``labels``, ``values`` and ``value_labels`` differ in length, or
        ``colors`` is empty.
    """
    count = len(values)
    if len(labels) != count:
        raise ValueError(f"{len(labels)} labels for {count} values")
    if value_labels is not None and len(value_labels) != count:
        raise ValueError(f"{len(value_labels)} value labels for {count} values")
    if colors is not None and not colors:
        raise ValueError("colors must not be empty")
    texts = [str(v) for v in values] if value_labels is None else list(value_labels)
    texts = [directed(text) for text in texts]
    labels = [directed(label) for label in labels]
    fills = list(colors) if colors else [BAR_COLOUR]
    rtl = is_rtl(title) if rtl is None else rtl

    axis = nice_axis(min([0, *values]), max([0, *values]), integer=True)
    ticks = fit_ticks(axis, tick_format)
    negative_band = VALUE_BAND if any(v < 0 for v in values) else 0
    plot = Plot(
        left=plot_left(ticks),
        top=BAR_PLOT_TOP,
        right=WIDTH - MARGIN,
        bottom=HEIGHT - X_LABEL_BAND - negative_band,
        axis=axis,
    )
    slot = plot.slot(count)
    bar_width = max(2.0, min(slot * BAR_FILL, BAR_MAX_WIDTH))
    zero_y = round(plot.y(0))

    canvas = Canvas()
    draw_grid(canvas, plot, baseline=0)
    ends: list[float] = []
    for index, value in enumerate(values):
        x = plot.x(index, count)
        left, right = round(x - bar_width / 2), round(x + bar_width / 2)
        fill = fills[index % len(fills)]
        end = plot.y(value)
        ends.append(end)
        if value > 0:
            canvas.bar(left, round(end), right, zero_y, fill, up=True)
        elif value < 0:
            canvas.bar(left, zero_y + 1, right, round(end), fill, up=False)
        else:
            canvas.rect(left, zero_y - 2, right, zero_y + 1, fill)

    image = canvas.finish()
    draw = ImageDraw.Draw(image)
    draw_title(draw, title, rtl=rtl)
    draw_tick_texts(draw, plot, ticks)
    rooms = [label_room(plot.x(i, count), slot - LABEL_GAP) for i in range(count)]
    value_lines = fit_alike(texts, rooms, size=VALUE_SIZE, min_size=VALUE_MIN, bold=True)
    label_lines = fit_alike(labels, rooms, size=LABEL_SIZE, min_size=LABEL_MIN)
    label_y = plot.bottom + negative_band + X_LABEL_OFFSET
    for index, (value, end) in enumerate(zip(values, ends, strict=True)):
        x = plot.x(index, count)
        y = end + VALUE_OFFSET if value < 0 else end - VALUE_OFFSET
        draw_fitted(draw, (x, y), value_lines[index], fill=INK, bold=True)
        draw_fitted(draw, (x, label_y), label_lines[index], fill=INK)
    return to_png(image)
