"""Staff report charts as PNG bytes (1000x600, RGB): vertical bars and weekly trend lines.

::

    +--------------------------------------------------------------+
    |                                                       title  |  right-aligned for RTL
    |                                    -o- series B  -o- series A|  legend (line charts)
    |  1500 |- - - - - - - - - - - - - - - - - - - - - - - - - - - |
    |       |            1250                                      |  value above each bar
    |  1000 |- - - - - - ####- - - - - - - - - - - - - - - - - - - |
    |       |    900     ####                                      |
    |     0 +----####----####--------------------------------------|  baseline / zero line
    |           label    label                                     |  x labels, fitted
    +--------------------------------------------------------------+

The x axis runs left to right in list order (time and tier order read left to right even in
Persian reports); the title and the legend follow the reading direction of the title: right-aligned,
legend entries laid out from the right, when the title has any Persian (right-to-left) letter, as
"NPS <weekly>" does; ``rtl`` overrides that. Every text with right-to-left letters is also drawn as
a right-to-left line, so a Latin word at its start lands on the right.

Every string (title, labels, value and tick texts, series names) comes from the caller already
formatted, Persian digits included; nothing user-facing is written here. Text is drawn through
:mod:`bot.images.text`, so it is shaped and reordered right and shrunk/cut to fit its slot.
Geometry (grid, bars, lines, markers) is drawn at ``SCALE`` times the size and box-filtered down,
which anti-aliases the slanted lines while keeping whole-pixel grid lines and bar edges crisp.
Output is deterministic: the same arguments give the same bytes.
"""

from __future__ import annotations

import io
import math
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from PIL import Image, ImageDraw

from bot.images.text import Align, FittedLine, draw_line, fit_line

__all__ = [
    "BAR_COLOUR",
    "CHART_SIZE",
    "SERIES_COLOURS",
    "Axis",
    "bar_chart_png",
    "is_rtl",
    "line_chart_png",
    "nice_axis",
]

CHART_SIZE: Final = (1000, 600)
WIDTH, HEIGHT = CHART_SIZE
SCALE: Final = 3

BACKGROUND: Final = "#FFFFFF"
INK: Final = "#1F2A37"
MUTED: Final = "#6B7280"
GRID: Final = "#E5E7EB"
BASELINE: Final = "#9CA3AF"
ZERO_LINE: Final = "#4B5563"

BAR_COLOUR: Final = "#2F6F8F"
SERIES_COLOURS: Final = ("#2F6F8F", "#D97706", "#7C3AED", "#059669", "#DC2626", "#6B7280")

MARGIN: Final = 40  # left/right edge of the title, legend and plot
EDGE: Final = 12  # nothing is drawn closer than this to the image border
TITLE_Y: Final = 42
TITLE_SIZE: Final = 34
TITLE_MIN: Final = 24

TICK_SIZE: Final = 18
TICK_MIN: Final = 13
TICK_MAX_WIDTH: Final = 130
TICK_GAP: Final = 12  # between a tick text and the plot's left edge

LABEL_SIZE: Final = 22
LABEL_MIN: Final = 14
LABEL_GAP: Final = 12  # horizontal room kept between neighbouring x labels
VALUE_SIZE: Final = 22
VALUE_MIN: Final = 13
VALUE_OFFSET: Final = 18  # from a bar's end to its value text's middle
VALUE_BAND: Final = 36  # room kept outside the plot for those texts

LEGEND_Y: Final = 94
LEGEND_SIZE: Final = 22
LEGEND_MIN: Final = 15
LEGEND_SWATCH: Final = 30
LEGEND_INNER_GAP: Final = 10
LEGEND_GAP: Final = 30
LEGEND_MAX_NAME: Final = 320

BAR_PLOT_TOP: Final = 82 + VALUE_BAND
LINE_PLOT_TOP: Final = 136
X_LABEL_BAND: Final = 66  # below the plot: the x labels
X_LABEL_OFFSET: Final = 30  # from the plot's bottom to the x labels' middle
X_LABEL_MAX_WIDTH: Final = 180  # a longer week label is cut rather than thinning out the rest
BAR_FILL: Final = 0.62  # share of its slot a bar takes
BAR_MAX_WIDTH: Final = 130
BAR_RADIUS: Final = 6
LINE_WIDTH: Final = 4
MARKER_RADIUS: Final = 7
MAX_INTERVALS: Final = 4

TickFormat = Callable[[float], str]

RLM: Final = "\u200f"


# --- axis -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Axis:
    """A value axis: its bounds and the tick values from ``low`` to ``high`` inclusive."""

    low: float
    high: float
    ticks: tuple[float, ...]

    def crosses_zero(self) -> bool:
        return self.low < 0 < self.high


def _tidy(value: float) -> float:
    """``value`` without float noise, as an ``int`` when it is whole (so ``str`` gives ``"50"``)."""
    value = round(value, 9)
    return int(value) if value == int(value) else value


def _steps(span: float, *, integer: bool) -> list[float]:
    """Candidate 1/2/2.5/5 x 10^k steps around ``span / MAX_INTERVALS``, smallest first."""
    exponent = math.floor(math.log10(span / MAX_INTERVALS))
    steps = []
    for power in range(exponent - 1, exponent + 3):
        for mantissa in (1, 2, 2.5, 5):
            step = mantissa * 10.0**power
            if integer and (step < 1 or step != int(step)):
                continue
            steps.append(step)
    return steps


def nice_axis(low: float, high: float, *, integer: bool = False) -> Axis:
    """An axis covering ``[low, high]`` with 4-5 round ticks (3-4 intervals as a rule).

    The bounds are rounded out to whole steps of 1, 2, 2.5 or 5 times a power of ten (whole
    numbers only when ``integer``). An empty range grows to include zero, and ``0..0`` becomes
    ``0..1`` (``0..4`` in whole numbers) so a chart of zeros still has a grid.
    """
    if not (math.isfinite(low) and math.isfinite(high) and math.isfinite(high - low)):
        raise ValueError(f"axis bounds must be finite, got {low!r}..{high!r}")
    low, high = min(low, high), max(low, high)
    if low == high:
        low, high = min(low, 0.0), max(high, 0.0)
    if low == high:
        high = low + (MAX_INTERVALS if integer else 1)
    if integer and high - low < MAX_INTERVALS:
        # Whole-number ticks cannot split a short range: show it on a 0..4 scale instead.
        if low >= 0:
            high = math.floor(low) + MAX_INTERVALS
        else:
            low = math.ceil(high) - MAX_INTERVALS
    chosen = None
    for step in _steps(high - low, integer=integer):
        first = math.floor(low / step + 1e-9)
        last = math.ceil(high / step - 1e-9)
        if last - first <= MAX_INTERVALS:
            chosen = step, first, last
            break
    if chosen is None:  # not reached for finite input; kept as a guard
        raise ValueError(f"no axis for {low!r}..{high!r}")
    step, first, last = chosen
    ticks = tuple(_tidy(k * step) for k in range(first, last + 1))
    return Axis(low=ticks[0], high=ticks[-1], ticks=ticks)


def _default_tick(value: float) -> str:
    value = _tidy(value)
    return str(value) if isinstance(value, int) else f"{value:g}"


# --- helpers ----------------------------------------------------------------------------------


def is_rtl(text: str) -> bool:
    """Whether ``text`` has right-to-left letters (Persian, Arabic, Hebrew) anywhere in it.

    Deliberately not "the first strong character": a Persian title such as "NPS <weekly>" starts
    with a Latin word and must still read right to left.
    """
    return any(unicodedata.bidirectional(char) in ("R", "AL") for char in text)


def _directed(text: str) -> str:
    """``text`` with its paragraph direction fixed: right to left if it has RTL letters at all.

    The shaper takes the direction from the first strong character; a leading RLM (a strong
    right-to-left mark with no glyph) makes that the line's reading direction. Texts without RTL
    letters (numbers such as "-50", Latin names) are left alone, so a minus stays on the left.
    """
    return RLM + text if is_rtl(text) and not text.startswith(RLM) else text


class _Canvas:
    """Geometry in chart pixels, drawn ``SCALE`` times larger and box-filtered down at the end."""

    def __init__(self) -> None:
        self.image = Image.new("RGB", (WIDTH * SCALE, HEIGHT * SCALE), BACKGROUND)
        self.draw = ImageDraw.Draw(self.image)

    @staticmethod
    def _s(*values: float) -> list[int]:
        return [round(v * SCALE) for v in values]

    def rect(self, x0: float, y0: float, x1: float, y1: float, fill: str) -> None:
        """Fill ``[x0, x1) x [y0, y1)`` (chart pixels, fractions allowed)."""
        left, top, right, bottom = self._s(x0, y0, x1, y1)
        if right > left and bottom > top:
            self.draw.rectangle((left, top, right - 1, bottom - 1), fill=fill)

    def bar(self, x0: float, y0: float, x1: float, y1: float, fill: str, *, up: bool) -> None:
        """A bar with rounded corners at its outer end (the top when ``up``)."""
        left, top, right, bottom = self._s(x0, y0, x1, y1)
        radius = min(BAR_RADIUS * SCALE, (right - left) // 2, (bottom - top) // 2)
        if right <= left or bottom <= top:
            return
        if radius < 2:
            self.draw.rectangle((left, top, right - 1, bottom - 1), fill=fill)
            return
        self.draw.rounded_rectangle(
            (left, top, right - 1, bottom - 1),
            radius=radius,
            fill=fill,
            corners=(up, up, not up, not up),
        )

    def polyline(self, points: Sequence[tuple[float, float]], fill: str, width: float) -> None:
        scaled = [(x * SCALE, y * SCALE) for x, y in points]
        self.draw.line(scaled, fill=fill, width=round(width * SCALE), joint="curve")

    def dot(self, x: float, y: float, radius: float, fill: str, ring: float) -> None:
        r = radius * SCALE
        box = (x * SCALE - r, y * SCALE - r, x * SCALE + r, y * SCALE + r)
        self.draw.ellipse(box, fill=fill, outline=BACKGROUND, width=max(1, round(ring * SCALE)))

    def finish(self) -> Image.Image:
        return self.image.resize(CHART_SIZE, Image.Resampling.BOX)


@dataclass(frozen=True)
class _Plot:
    """Where the plot area sits, and how values map to pixel rows."""

    left: int
    top: int
    right: int
    bottom: int
    axis: Axis

    def y(self, value: float) -> float:
        share = (value - self.axis.low) / (self.axis.high - self.axis.low)
        return self.bottom - share * (self.bottom - self.top)

    def slot(self, count: int) -> float:
        return (self.right - self.left) / max(1, count)

    def x(self, index: int, count: int) -> float:
        """Middle of slot ``index`` of ``count`` equal slots across the plot."""
        return self.left + (index + 0.5) * self.slot(count)


def _fit_ticks(
    axis: Axis, tick_format: Callable[[Any], str] | None
) -> list[tuple[float, FittedLine]]:
    fmt = tick_format or _default_tick
    return [
        (
            tick,
            fit_line(
                _directed(fmt(tick)),
                size=TICK_SIZE,
                max_width=TICK_MAX_WIDTH,
                min_size=TICK_MIN,
            ),
        )
        for tick in axis.ticks
    ]


def _plot_left(ticks: list[tuple[float, FittedLine]]) -> int:
    widest = max((line.width for _, line in ticks), default=0.0)
    return max(MARGIN, math.ceil(EDGE + widest + TICK_GAP))


def _draw_grid(canvas: _Canvas, plot: _Plot, *, baseline: float) -> None:
    """Horizontal grid lines at the ticks, and a darker line at ``baseline`` (zero)."""
    for tick in plot.axis.ticks:
        y = round(plot.y(tick))
        canvas.rect(plot.left, y, plot.right, y + 1, GRID)
    y = round(plot.y(baseline))
    colour = ZERO_LINE if plot.axis.crosses_zero() else BASELINE
    canvas.rect(plot.left, y, plot.right, y + 2 if colour == ZERO_LINE else y + 1, colour)


def _draw_tick_texts(
    draw: ImageDraw.ImageDraw, plot: _Plot, ticks: list[tuple[float, FittedLine]]
) -> None:
    for tick, line in ticks:
        draw_line(
            draw,
            (plot.left - TICK_GAP, plot.y(tick)),
            line.text,
            size=line.font.size,
            fill=MUTED,
            align="right",
        )


def _draw_title(draw: ImageDraw.ImageDraw, title: str, *, rtl: bool) -> None:
    draw_line(
        draw,
        (WIDTH - MARGIN if rtl else MARGIN, TITLE_Y),
        _directed(title),
        size=TITLE_SIZE,
        bold=True,
        fill=INK,
        align="right" if rtl else "left",
        max_width=WIDTH - 2 * MARGIN,
        min_size=TITLE_MIN,
    )


def _label_room(x: float, span: float) -> float:
    """Width a centred text at ``x`` may take: its ``span``, but never past the image edges."""
    return max(1.0, min(span, 2 * (x - EDGE), 2 * (WIDTH - EDGE - x)))


def _fit_alike(
    texts: Sequence[str], rooms: Sequence[float], *, size: int, min_size: int, bold: bool = False
) -> list[FittedLine]:
    """Fit each text into its room, all at one font size so a row of labels looks even.

    The size is the largest at which every text that can fit does; a text too long even at
    ``min_size`` does not drag the others down: it is cut with an ellipsis at the common size.
    """
    fitted = [
        fit_line(text, size=size, max_width=room, bold=bold, min_size=min_size)
        for text, room in zip(texts, rooms, strict=True)
    ]
    common = min(
        (line.font.size for line in fitted if line.text and not line.truncated), default=min_size
    )
    return [
        line
        if line.font.size == common and not line.truncated
        else fit_line(text, size=common, max_width=room, bold=bold)
        for text, room, line in zip(texts, rooms, fitted, strict=True)
    ]


def _draw_fitted(
    draw: ImageDraw.ImageDraw,
    xy: tuple[float, float],
    line: FittedLine,
    *,
    fill: str,
    align: Align = "center",
    bold: bool = False,
) -> None:
    draw_line(draw, xy, line.text, size=line.font.size, bold=bold, fill=fill, align=align)


def _to_png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


# --- bar chart --------------------------------------------------------------------------------


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
    texts = [_directed(text) for text in texts]
    labels = [_directed(label) for label in labels]
    fills = list(colors) if colors else [BAR_COLOUR]
    rtl = is_rtl(title) if rtl is None else rtl

    axis = nice_axis(min([0, *values]), max([0, *values]), integer=True)
    ticks = _fit_ticks(axis, tick_format)
    negative_band = VALUE_BAND if any(v < 0 for v in values) else 0
    plot = _Plot(
        left=_plot_left(ticks),
        top=BAR_PLOT_TOP,
        right=WIDTH - MARGIN,
        bottom=HEIGHT - X_LABEL_BAND - negative_band,
        axis=axis,
    )
    slot = plot.slot(count)
    bar_width = max(2.0, min(slot * BAR_FILL, BAR_MAX_WIDTH))
    zero_y = round(plot.y(0))

    canvas = _Canvas()
    _draw_grid(canvas, plot, baseline=0)
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
    _draw_title(draw, title, rtl=rtl)
    _draw_tick_texts(draw, plot, ticks)
    rooms = [_label_room(plot.x(i, count), slot - LABEL_GAP) for i in range(count)]
    value_lines = _fit_alike(texts, rooms, size=VALUE_SIZE, min_size=VALUE_MIN, bold=True)
    label_lines = _fit_alike(labels, rooms, size=LABEL_SIZE, min_size=LABEL_MIN)
    label_y = plot.bottom + negative_band + X_LABEL_OFFSET
    for index, (value, end) in enumerate(zip(values, ends, strict=True)):
        x = plot.x(index, count)
        y = end + VALUE_OFFSET if value < 0 else end - VALUE_OFFSET
        _draw_fitted(draw, (x, y), value_lines[index], fill=INK, bold=True)
        _draw_fitted(draw, (x, label_y), label_lines[index], fill=INK)
    return _to_png(image)


# --- line chart -------------------------------------------------------------------------------


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
    fitted_names = _fit_alike(
        [_directed(name) for name in names],
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


def _x_label_every(plot: _Plot, lines: list[FittedLine], count: int) -> int:
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
    labels = [_directed(label) for label in labels]
    lines = {name: _clean_series(name, points, count) for name, points in series.items()}
    rtl = is_rtl(title) if rtl is None else rtl

    known = [p for points in lines.values() for p in points if p is not None]
    bounds = [*known, *(b for b in (y_min, y_max) if b is not None)]
    axis = nice_axis(min(bounds), max(bounds)) if bounds else nice_axis(0, 1)
    ticks = _fit_ticks(axis, tick_format)
    plot = _Plot(
        left=_plot_left(ticks),
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
    x_lines = _fit_alike(
        [labels[i] for i in shown],
        [_label_room(plot.x(i, count), x_room) for i in shown],
        size=LABEL_SIZE,
        min_size=LABEL_MIN,
    )

    canvas = _Canvas()
    _draw_grid(canvas, plot, baseline=0 if axis.crosses_zero() else axis.low)
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
    _draw_title(draw, title, rtl=rtl)
    _draw_tick_texts(draw, plot, ticks)
    for item in legend:
        _draw_fitted(
            draw, (item.text_x, LEGEND_Y), item.name, fill=INK, align="right" if rtl else "left"
        )
    for i, line in zip(shown, x_lines, strict=True):
        _draw_fitted(draw, (plot.x(i, count), plot.bottom + X_LABEL_OFFSET), line, fill=MUTED)
    return _to_png(image)
