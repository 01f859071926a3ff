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

This module holds what both charts share: the layout above (one table of sizes and colours), the
drawing surface, the plot area, the title, tick and label texts, and stacking charts into one
picture. The charts themselves are
:mod:`bot.images.chart_bar` and :mod:`bot.images.chart_line`; the axis is :mod:`bot.images.axes`.
"""

from __future__ import annotations

import io
import math
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from PIL import Image, ImageDraw

from bot.images.axes import Axis, default_tick
from bot.images.text import Align, FittedLine, draw_line, fit_line

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
STACK_GAP: Final = 24  # between stacked charts, with a rule in the middle

TickFormat = Callable[[float], str]

RLM: Final = "\u200f"


# --- shared by both charts ------------------------------------------------------------------


def is_rtl(text: str) -> bool:
    """Whether ``text`` has right-to-left letters (Persian, Arabic, Hebrew) anywhere in it.

    Deliberately not "the first strong character": a Persian title such as "NPS <weekly>" starts
    with a Latin word and must still read right to left.
    """
    return any(unicodedata.bidirectional(char) in ("R", "AL") for char in text)


def directed(text: str) -> str:
    """``text`` with its paragraph direction fixed: right to left if it has RTL letters at all.

    The shaper takes the direction from the first strong character; a leading RLM (a strong
    right-to-left mark with no glyph) makes that the line's reading direction. Texts without RTL
    letters (numbers such as "-50", Latin names) are left alone, so a minus stays on the left.
    """
    return RLM + text if is_rtl(text) and not text.startswith(RLM) else text


class Canvas:
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
class Plot:
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


def fit_ticks(
    axis: Axis, tick_format: Callable[[Any], str] | None
) -> list[tuple[float, FittedLine]]:
    fmt = tick_format or default_tick
    return [
        (
            tick,
            fit_line(
                directed(fmt(tick)),
                size=TICK_SIZE,
                max_width=TICK_MAX_WIDTH,
                min_size=TICK_MIN,
            ),
        )
        for tick in axis.ticks
    ]


def plot_left(ticks: list[tuple[float, FittedLine]]) -> int:
    widest = max((line.width for _, line in ticks), default=0.0)
    return max(MARGIN, math.ceil(EDGE + widest + TICK_GAP))


def draw_grid(canvas: Canvas, plot: Plot, *, baseline: float) -> None:
    """Horizontal grid lines at the ticks, and a darker line at ``baseline`` (zero)."""
    for tick in plot.axis.ticks:
        y = round(plot.y(tick))
        canvas.rect(plot.left, y, plot.right, y + 1, GRID)
    y = round(plot.y(baseline))
    colour = ZERO_LINE if plot.axis.crosses_zero() else BASELINE
    canvas.rect(plot.left, y, plot.right, y + 2 if colour == ZERO_LINE else y + 1, colour)


def draw_tick_texts(
    draw: ImageDraw.ImageDraw, plot: Plot, ticks: list[tuple[float, FittedLine]]
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


def draw_title(draw: ImageDraw.ImageDraw, title: str, *, rtl: bool) -> None:
    draw_line(
        draw,
        (WIDTH - MARGIN if rtl else MARGIN, TITLE_Y),
        directed(title),
        size=TITLE_SIZE,
        bold=True,
        fill=INK,
        align="right" if rtl else "left",
        max_width=WIDTH - 2 * MARGIN,
        min_size=TITLE_MIN,
    )


def label_room(x: float, span: float) -> float:
    """Width a centred text at ``x`` may take: its ``span``, but never past the image edges."""
    return max(1.0, min(span, 2 * (x - EDGE), 2 * (WIDTH - EDGE - x)))


def fit_alike(
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


def draw_fitted(
    draw: ImageDraw.ImageDraw,
    xy: tuple[float, float],
    line: FittedLine,
    *,
    fill: str,
    align: Align = "center",
    bold: bool = False,
) -> None:
    draw_line(draw, xy, line.text, size=line.font.size, bold=bold, fill=fill, align=align)


def to_png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def stacked_png(*charts: bytes) -> bytes:
    """Charts (PNG bytes of this module's size) one above the other, a thin rule between them:
    several charts as one photo, which a chat shows as one message and opens as one picture."""
    if not charts:
        raise ValueError("nothing to stack")
    size = (WIDTH, HEIGHT * len(charts) + STACK_GAP * (len(charts) - 1))
    image = Image.new("RGB", size, BACKGROUND)
    for index, data in enumerate(charts):
        with Image.open(io.BytesIO(data)) as chart:
            image.paste(chart.convert("RGB"), (0, index * (HEIGHT + STACK_GAP)))
        if index:
            y = index * (HEIGHT + STACK_GAP) - STACK_GAP // 2
            ImageDraw.Draw(image).line((MARGIN, y, WIDTH - MARGIN, y), fill=GRID, width=2)
    return to_png(image)
