"""Staff report charts: bar and line PNGs, Persian and Latin, on both shaping paths."""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterator

import pytest
from PIL import Image, ImageChops

from bot.images import axes, bar_chart_png, chart, line_chart_png, text
from core.digits import format_number, to_persian_digits

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

TIERS_FA = ["برنزی", "نقره‌ای", "طلایی", "پلاتینی"]
TIERS_EN = ["Bronze", "Silver", "Gold", "Platinum"]
WEEKS_FA = ["۱ آذر", "۸ آذر", "۱۵ آذر", "۲۲ آذر", "۲۹ آذر", "۶ دی"]
WEEKS_EN = ["Nov 22", "Nov 29", "Dec 6", "Dec 13", "Dec 20", "Dec 27"]


def fa(value: float) -> str:
    return format_number(int(value), "fa")


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    text._font.cache_clear()
    text.raqm_available.cache_clear()
    yield
    text._font.cache_clear()
    text.raqm_available.cache_clear()


@pytest.fixture(params=["raqm", "basic"])
def shaping(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run on Pillow's raqm layout and on the arabic-reshaper + python-bidi fallback."""
    if request.param == "basic":
        monkeypatch.setattr(text, "raqm_available", lambda: False)
    elif not text.raqm_available():
        pytest.skip("this Pillow has no raqm layout")
    return request.param


def _open(data: bytes) -> Image.Image:
    assert data.startswith(PNG_SIGNATURE)
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    image.load()
    assert image.size == chart.CHART_SIZE == (1000, 600)
    assert image.mode == "RGB"
    return image


def _rgb(colour: str) -> tuple[int, int, int]:
    return Image.new("RGB", (1, 1), colour).getpixel((0, 0))  # type: ignore[return-value]


def _column_run(image: Image.Image, x: int, colour: str) -> int:
    """How many pixels of column ``x`` are exactly ``colour``."""
    target = _rgb(colour)
    return sum(image.getpixel((x, y)) == target for y in range(image.height))


def _count(image: Image.Image, colour: str, box: tuple[int, int, int, int] | None = None) -> int:
    region = image.crop(box) if box else image
    mask = ImageChops.difference(region, Image.new("RGB", region.size, colour)).convert("L")
    return mask.point(lambda v: 255 * (v == 0)).histogram()[255]


def _ink_bbox(image: Image.Image, box: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    region = image.crop(box)
    background = Image.new("RGB", region.size, chart.BACKGROUND)
    diff = ImageChops.difference(region, background).convert("L").point(lambda v: 255 * (v > 40))
    bbox = diff.getbbox()
    assert bbox is not None, "nothing drawn there"
    return bbox[0] + box[0], bbox[1] + box[1], bbox[2] + box[0], bbox[3] + box[1]


def _bar_centres(count: int, image: Image.Image) -> list[int]:
    """Column in the middle of each bar, from the runs of bar colour just above the baseline
    (higher than the stub a zero value leaves)."""
    return [round((a + b) / 2) for a, b in _runs(image, chart.BAR_COLOUR, _baseline(image) - 5)]


def _baseline(image: Image.Image) -> int:
    """Row of the zero line: the longest row of baseline or zero-line colour."""
    best, row = 0, -1
    for y in range(image.height):
        n = max(
            _count(image, chart.BASELINE, (0, y, image.width, y + 1)),
            _count(image, chart.ZERO_LINE, (0, y, image.width, y + 1)),
        )
        if n > best:
            best, row = n, y
    return row


def _runs(image: Image.Image, colour: str, y: int) -> list[tuple[int, int]]:
    """Runs ``[start, end)`` of ``colour`` along row ``y``."""
    target = _rgb(colour)
    runs: list[tuple[int, int]] = []
    start = None
    for x in range(image.width + 1):
        inside = x < image.width and image.getpixel((x, y)) == target
        if inside and start is None:
            start = x
        elif not inside and start is not None:
            runs.append((start, x))
            start = None
    return runs


# --- the axis ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("low", "high", "integer", "ticks"),
    [
        (0, 1250, True, (0, 500, 1000, 1500)),
        (0, 1000, True, (0, 250, 500, 750, 1000)),
        (-100, 100, False, (-100, -50, 0, 50, 100)),
        (0, 100, False, (0, 25, 50, 75, 100)),
        (0, 0, True, (0, 1, 2, 3, 4)),
        (0, 2, True, (0, 1, 2, 3, 4)),
        (0, 0, False, (0, 0.25, 0.5, 0.75, 1)),
        (0, 7, True, (0, 2, 4, 6, 8)),
        (-250, 900, True, (-500, 0, 500, 1000)),
        (12.5, 12.5, False, (0, 5, 10, 15)),
    ],
)
def test_nice_axis(low: float, high: float, integer: bool, ticks: tuple[float, ...]) -> None:
    axis = axes.nice_axis(low, high, integer=integer)
    assert axis.ticks == ticks
    assert (axis.low, axis.high) == (ticks[0], ticks[-1])


def test_nice_axis_always_has_four_or_five_round_ticks() -> None:
    for high in [*range(1, 300), 999, 1001, 12_345, 10**9 + 7]:
        for low in (0, -high // 3, -high):
            axis = axes.nice_axis(low, high, integer=True)
            assert axis.low <= low and axis.high >= high
            assert 3 <= len(axis.ticks) <= 5, (low, high, axis.ticks)
            assert all(isinstance(t, int) for t in axis.ticks)
            steps = {b - a for a, b in zip(axis.ticks, axis.ticks[1:], strict=False)}
            assert len(steps) == 1
    for high in (0.3, 1.7, 42.0, 99.9, 3e6):
        axis = axes.nice_axis(-high / 2, high)
        assert axis.low <= -high / 2 and axis.high >= high and 4 <= len(axis.ticks) <= 5


def test_nice_axis_rejects_non_finite_bounds() -> None:
    with pytest.raises(ValueError):
        axes.nice_axis(0, float("inf"))


def test_direction_comes_from_any_rtl_letter() -> None:
    assert chart.is_rtl("اعضا بر اساس سطح")
    assert chart.is_rtl("NPS هفتگی")  # Persian sentence that starts with a Latin word
    assert not chart.is_rtl("Members by tier")
    assert not chart.is_rtl("۱٬۲۵۰")  # digits have no direction of their own
    assert chart.directed("NPS هفتگی") == "\u200fNPS هفتگی"
    assert chart.directed("-50") == "-50"  # the minus must stay on the left
    assert chart.directed("-۵۰") == "-۵۰"


# --- bar chart --------------------------------------------------------------------------------


BAR_FA = {
    "title": "اعضا بر اساس سطح",
    "labels": TIERS_FA,
    "values": [1250, 840, 310, 45],
    "value_labels": ["۱٬۲۵۰", "۸۴۰", "۳۱۰", "۴۵"],
}
BAR_EN = {"title": "Members by tier", "labels": TIERS_EN, "values": [1250, 840, 310, 45]}


@pytest.mark.parametrize("args", [BAR_FA, BAR_EN], ids=["persian", "latin"])
def test_bar_chart_is_a_png(args: dict[str, object], shaping: str) -> None:
    data = bar_chart_png(**args)  # type: ignore[arg-type]
    image = _open(data)
    centres = _bar_centres(4, image)
    assert len(centres) == 4
    heights = [_column_run(image, x, chart.BAR_COLOUR) for x in centres]
    assert heights == sorted(heights, reverse=True)


def test_bigger_values_draw_taller_bars() -> None:
    values = [10, 40, 20, 0, 30]
    image = _open(bar_chart_png(title="t", labels=list("abcde"), values=values))
    centres = _bar_centres(5, image)
    assert len(centres) == 4  # the zero bar is only a stub on the baseline
    heights = [_column_run(image, x, chart.BAR_COLOUR) for x in centres]
    nonzero = [v for v in values if v]
    assert [h for _, h in sorted(zip(nonzero, heights, strict=True))] == sorted(heights)
    # Heights are proportional to the values (the scale starts at zero).
    per_unit = heights[1] / 40
    for value, height in zip(nonzero, heights, strict=True):
        assert abs(height - value * per_unit) <= 3, (value, height)


def test_bars_are_spaced_evenly_in_list_order() -> None:
    image = _open(bar_chart_png(title="t", labels=list("abcd"), values=[1, 2, 3, 4]))
    centres = _bar_centres(4, image)
    gaps = {b - a for a, b in itertools.pairwise(centres)}
    assert max(gaps) - min(gaps) <= 1
    heights = [_column_run(image, x, chart.BAR_COLOUR) for x in centres]
    assert heights == sorted(heights)  # first value on the left, even for Persian reports


def test_bar_colours_follow_the_colors_argument() -> None:
    colours = ["#A8642A", "#AEB6BF", "#D4AF37", "#2F4858"]
    image = _open(bar_chart_png(**BAR_FA, colors=colours))  # type: ignore[arg-type]
    for colour in colours:
        assert _count(image, colour) > 500, colour
    # Fewer colours than bars: cycled.
    image = _open(bar_chart_png(**BAR_FA, colors=["#D4AF37"]))  # type: ignore[arg-type]
    assert _count(image, "#D4AF37") > 4 * 500


def test_all_zero_values_draw_a_grid_and_baseline_stubs(shaping: str) -> None:
    image = _open(
        bar_chart_png(
            title="اعضا بر اساس سطح",
            labels=TIERS_FA,
            values=[0, 0, 0, 0],
            value_labels=["۰"] * 4,
            tick_format=fa,
        )
    )
    baseline = _baseline(image)
    assert len(_runs(image, chart.BAR_COLOUR, baseline - 1)) == 4  # four stubs
    assert _count(image, chart.BAR_COLOUR, (0, 0, 1000, baseline - 3)) == 0  # nothing taller
    assert _count(image, chart.GRID) > 4 * 800  # the 0..4 grid is there


def test_single_bar_sits_in_the_middle() -> None:
    image = _open(bar_chart_png(title="Gold", labels=["Gold"], values=[7]))
    (left, right), *rest = _runs(image, chart.BAR_COLOUR, _baseline(image) - 1)
    assert not rest
    assert right - left <= chart.BAR_MAX_WIDTH + 1  # not a wall of colour
    top, _ = _plot_rows(image)
    ((plot_left, plot_right),) = _runs(image, chart.GRID, top)  # the top grid line spans the plot
    assert abs((left + right) / 2 - (plot_left + plot_right) / 2) <= 1


def test_negative_values_hang_below_the_zero_line() -> None:
    image = _open(bar_chart_png(title="t", labels=list("abc"), values=[300, -200, 100]))
    zero = _baseline(image)
    assert _count(image, chart.ZERO_LINE, (0, zero, 1000, zero + 1)) > 800
    below = _runs(image, chart.BAR_COLOUR, zero + 20)
    above = _runs(image, chart.BAR_COLOUR, zero - 20)
    assert len(below) == 1 and len(above) == 2
    assert above[0][1] < below[0][0] < below[0][1] < above[1][0]  # the middle bar goes down


def test_empty_bar_chart_still_renders() -> None:
    image = _open(bar_chart_png(title="Nothing yet", labels=[], values=[]))
    assert _count(image, chart.BAR_COLOUR) == 0


def test_value_labels_and_tick_format_are_used() -> None:
    base = _open(bar_chart_png(**BAR_FA))  # type: ignore[arg-type]
    other = _open(bar_chart_png(**{**BAR_FA, "value_labels": ["a", "b", "c", "d"]}))  # type: ignore[arg-type]
    assert ImageChops.difference(base, other).getbbox() is not None
    seen: list[int] = []

    def tick(value: int) -> str:
        seen.append(value)
        return fa(value)

    ticked = _open(bar_chart_png(**BAR_FA, tick_format=tick))  # type: ignore[arg-type]
    assert seen == [0, 500, 1000, 1500]
    assert ImageChops.difference(base, ticked).getbbox() is not None
    # Without value_labels the values themselves are written.
    plain = bar_chart_png(title="t", labels=["a"], values=[5])
    spelled = bar_chart_png(title="t", labels=["a"], values=[5], value_labels=["5"])
    assert plain == spelled


def test_bar_chart_rejects_mismatched_lengths() -> None:
    with pytest.raises(ValueError):
        bar_chart_png(title="t", labels=["a", "b"], values=[1])
    with pytest.raises(ValueError):
        bar_chart_png(title="t", labels=["a"], values=[1], value_labels=["1", "2"])
    with pytest.raises(ValueError):
        bar_chart_png(title="t", labels=["a"], values=[1], colors=[])


def test_long_labels_are_cut_to_their_slot(shaping: str) -> None:
    long_fa = "سیده فاطمه‌زهرا میرمحمدصادقی حسینی‌نژاد"
    labels = [long_fa, "Maximilian Alexander von Hohenzollern", "طلایی", "x" * 500] * 2 + ["a", "b"]
    image = _open(bar_chart_png(title="t", labels=labels, values=list(range(1, 11))))
    centres = _bar_centres(10, image)
    assert len(centres) == 10
    slot = centres[1] - centres[0]
    band_top = _baseline(image) + 8
    for left_bar, right_bar in itertools.pairwise(centres):
        boundary = (left_bar + right_bar) // 2
        strip = image.crop((boundary - 2, band_top, boundary + 3, 600))
        assert strip.getextrema() == ((255, 255),) * 3, "labels run into each other"
    left, _, right, _ = _ink_bbox(image, (0, band_top, 1000, 600))
    assert left >= centres[0] - slot // 2 and right <= centres[-1] + slot // 2


def test_title_follows_the_reading_direction(shaping: str) -> None:
    band = (0, 10, 1000, 75)
    fa_image = _open(bar_chart_png(**BAR_FA))  # type: ignore[arg-type]
    left, _, right, _ = _ink_bbox(fa_image, band)
    assert abs(right - (chart.WIDTH - chart.MARGIN)) <= 4 and left > 500
    en_image = _open(bar_chart_png(**BAR_EN))  # type: ignore[arg-type]
    left, _, right, _ = _ink_bbox(en_image, band)
    assert abs(left - chart.MARGIN) <= 4 and right < 500
    forced = _open(bar_chart_png(**BAR_EN, rtl=True))  # type: ignore[arg-type]
    assert abs(_ink_bbox(forced, band)[2] - (chart.WIDTH - chart.MARGIN)) <= 4


@pytest.mark.skipif(not text.raqm_available(), reason="this Pillow has no raqm layout")
def test_both_shaping_paths_draw_the_same_persian_chart(monkeypatch: pytest.MonkeyPatch) -> None:
    raqm = _open(bar_chart_png(**BAR_FA))  # type: ignore[arg-type]
    monkeypatch.setattr(text, "raqm_available", lambda: False)
    text._font.cache_clear()
    basic = _open(bar_chart_png(**BAR_FA))  # type: ignore[arg-type]
    for band in [(0, 10, 1000, 75), (0, 540, 1000, 600)]:  # title, tier labels
        a, b = _ink_bbox(raqm, band), _ink_bbox(basic, band)
        assert all(abs(p - q) <= 6 for p, q in zip(a, b, strict=True)), (band, a, b)


def test_bar_chart_output_is_deterministic() -> None:
    assert bar_chart_png(**BAR_FA) == bar_chart_png(**BAR_FA)  # type: ignore[arg-type]
    assert bar_chart_png(**BAR_FA) != bar_chart_png(**{**BAR_FA, "values": [1, 2, 3, 4]})  # type: ignore[arg-type]


# --- line chart -------------------------------------------------------------------------------


LINE_FA = {
    "title": "NPS هفتگی",
    "labels": WEEKS_FA,
    "series": {"NPS": [12, 25, None, -8, 30, 42], "CSAT ٪": [80, 78, 85, 90, None, 88]},
    "y_min": -100,
    "y_max": 100,
    "tick_format": lambda v: to_persian_digits(str(v)),
}
LINE_EN = {
    "title": "CSAT by week",
    "labels": WEEKS_EN,
    "series": {"CSAT %": [80, 78, 85, 90, 91, 88]},
    "y_min": 0,
    "y_max": 100,
}
FIRST, SECOND = chart.SERIES_COLOURS[:2]


def _plot_rows(image: Image.Image) -> tuple[int, int]:
    """Top and bottom grid rows of the plot."""
    rows = [y for y in range(image.height) if _count(image, chart.GRID, (0, y, 1000, y + 1)) > 500]
    base = _baseline(image)
    return min([*rows, base]), max([*rows, base])


@pytest.mark.parametrize("args", [LINE_FA, LINE_EN], ids=["persian", "latin"])
def test_line_chart_is_a_png(args: dict[str, object], shaping: str) -> None:
    image = _open(line_chart_png(**args))  # type: ignore[arg-type]
    assert _count(image, FIRST) > 200
    if len(args["series"]) > 1:  # type: ignore[arg-type]
        assert _count(image, SECOND) > 200


def test_line_chart_places_values_on_the_scale() -> None:
    series = {"a": [0, 25, 50, 75, 100]}
    image = _open(line_chart_png(title="t", labels=list("vwxyz"), series=series, y_min=0))
    top, bottom = _plot_rows(image)
    plot_box = (0, top - 10, 1000, bottom + 10)
    left, upper, right, lower = _ink_bbox_colour(image, FIRST, plot_box)
    # The line rises from the bottom-left grid corner to the top-right one (markers included).
    assert abs(lower - bottom) <= chart.MARKER_RADIUS + 2
    assert abs(upper - top) <= chart.MARKER_RADIUS + 2
    assert left < 200 and right > 800


def _ink_bbox_colour(
    image: Image.Image, colour: str, box: tuple[int, int, int, int]
) -> tuple[int, int, int, int]:
    region = image.crop(box)
    red, green, blue = ImageChops.difference(region, Image.new("RGB", region.size, colour)).split()
    furthest = ImageChops.lighter(ImageChops.lighter(red, green), blue)  # largest channel gap
    bbox = furthest.point(lambda v: 255 * (v < 30)).getbbox()
    assert bbox is not None
    return bbox[0] + box[0], bbox[1] + box[1], bbox[2] + box[0], bbox[3] + box[1]


def _pieces(image: Image.Image, row: int) -> list[tuple[int, int]]:
    """Stretches of the first series' colour along ``row``, bridging the markers' white rings."""
    pieces: list[tuple[int, int]] = []
    for start, end in _runs(image, FIRST, row):
        if pieces and start - pieces[-1][1] <= 8:
            pieces[-1] = (pieces[-1][0], end)
        else:
            pieces.append((start, end))
    return pieces


def test_none_leaves_a_gap_in_the_line() -> None:
    labels = list("abcde")
    scale = {"y_min": 0, "y_max": 100}
    whole = _open(line_chart_png(title="t", labels=labels, series={"s": [50] * 5}, **scale))
    gapped = _open(
        line_chart_png(title="t", labels=labels, series={"s": [50, 50, None, 50, 50]}, **scale)
    )
    top, bottom = _plot_rows(whole)
    row = round(bottom - (bottom - top) / 2)  # 50 on a 0..100 scale
    assert len(_pieces(whole, row)) == 1
    pieces = _pieces(gapped, row)
    assert len(pieces) == 2
    gap = pieces[1][0] - pieces[0][1]
    assert gap > (pieces[0][1] - pieces[0][0])  # two weeks' worth of nothing in the middle


def test_isolated_points_and_a_single_week_are_markers() -> None:
    image = _open(line_chart_png(title="t", labels=["w"], series={"s": [42]}))
    ink = _count(image, FIRST)
    assert 0 < ink < 400  # a dot (and the legend swatch), no line
    lonely = _open(
        line_chart_png(title="t", labels=list("abc"), series={"s": [None, 42, None]}, y_min=0)
    )
    assert 0 < _count(lonely, FIRST) < 400


@pytest.mark.parametrize(
    "series",
    [{}, {"NPS": [None] * 6}, {"NPS": [None] * 6, "CSAT": [float("nan")] * 6}],
    ids=["no-series", "all-none", "all-nan"],
)
def test_empty_series_draw_just_the_grid(series: dict[str, list[float | None]]) -> None:
    image = _open(line_chart_png(title="NPS هفتگی", labels=WEEKS_FA, series=series))
    legend = (0, chart.LEGEND_Y - 15, 1000, chart.LEGEND_Y + 15)
    top, _ = _plot_rows(image)
    assert _count(image, FIRST, (0, top - 10, 1000, 600)) == 0
    assert (_count(image, FIRST, legend) > 0) == bool(series)  # legend entries only
    with_bounds = _open(
        line_chart_png(title="t", labels=WEEKS_FA, series=series, y_min=-100, y_max=100)
    )
    assert _count(with_bounds, chart.ZERO_LINE) > 800


def test_no_labels_at_all() -> None:
    _open(line_chart_png(title="t", labels=[], series={"s": []}))


def test_zero_line_only_when_the_range_crosses_zero() -> None:
    crossing = _open(line_chart_png(**LINE_FA))  # type: ignore[arg-type]
    assert _count(crossing, chart.ZERO_LINE) > 800
    positive = _open(line_chart_png(**LINE_EN))  # type: ignore[arg-type]
    assert _count(positive, chart.ZERO_LINE) == 0


def test_negative_values_widen_the_axis() -> None:
    seen: list[float] = []

    def tick(value: float) -> str:
        seen.append(value)
        return str(value)

    _open(line_chart_png(title="t", labels=list("ab"), series={"s": [-80, -35]}, tick_format=tick))
    assert seen[0] <= -80 and seen[-1] >= -35
    seen.clear()
    # Bounds are kept, and widened when a value falls outside them.
    line_chart_png(title="t", labels=list("ab"), series={"s": [-130, 5]}, y_min=-100, y_max=100)
    line_chart_png(
        title="t", labels=list("ab"), series={"s": [-130, 5]}, y_min=-100, tick_format=tick
    )
    assert seen[0] <= -130 and 4 <= len(seen) <= 5


def test_legend_follows_the_reading_direction(shaping: str) -> None:
    band = (0, chart.LEGEND_Y - 16, 1000, chart.LEGEND_Y + 16)
    fa_image = _open(line_chart_png(**LINE_FA))  # type: ignore[arg-type]
    first = _ink_bbox_colour(fa_image, FIRST, band)
    second = _ink_bbox_colour(fa_image, SECOND, band)
    assert first[2] >= chart.WIDTH - chart.MARGIN - 2  # first entry at the right edge
    assert second[2] < first[0]  # the next one to its left
    en_image = _open(line_chart_png(**{**LINE_EN, "series": LINE_FA["series"]}))  # type: ignore[arg-type]
    first = _ink_bbox_colour(en_image, FIRST, band)
    second = _ink_bbox_colour(en_image, SECOND, band)
    assert first[0] <= 150 and second[0] > first[2]


def test_many_weeks_thin_out_the_x_labels(shaping: str) -> None:
    labels = [to_persian_digits(f"{d} آذر") for d in range(1, 53)]
    image = _open(line_chart_png(title="t", labels=labels, series={"s": list(range(52))}))
    _, bottom = _plot_rows(image)
    band = (0, bottom + 8, 1000, 600)
    ink = image.crop(band).convert("L").point(lambda v: 255 * (v < 200))
    inked = [x for x in range(ink.width) if any(ink.getpixel((x, y)) for y in range(ink.height))]
    # Letters and words of one label sit closer than LABEL_GAP; labels are further apart.
    labels_drawn = 1 + sum(1 for a, b in itertools.pairwise(inked) if b - a > chart.LABEL_GAP)
    assert 6 <= labels_drawn <= 26  # fewer than 52, and still a readable time axis
    left, _, right, _ = _ink_bbox(image, band)
    assert left >= chart.EDGE and right <= chart.WIDTH - chart.EDGE


def test_line_chart_rejects_a_series_of_the_wrong_length() -> None:
    with pytest.raises(ValueError, match="NPS"):
        line_chart_png(title="t", labels=["a", "b"], series={"NPS": [1]})


def test_line_chart_output_is_deterministic() -> None:
    assert line_chart_png(**LINE_FA) == line_chart_png(**LINE_FA)  # type: ignore[arg-type]
    changed = {**LINE_FA, "series": {"NPS": [1, 2, 3, 4, 5, 6]}}
    assert line_chart_png(**LINE_FA) != line_chart_png(**changed)  # type: ignore[arg-type]
