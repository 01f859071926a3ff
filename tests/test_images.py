"""Pictures: QR PNGs and the member card, on both shaping paths (raqm and the reshaper fallback)."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageDraw, ImageFont

from bot.images import card, member_card_png, qr_png, text
from bot.images.qr import QUIET_ZONE, qr_matrix

ROOT = Path(__file__).resolve().parent.parent

LABELS = {"points": "امتیاز", "member_number": "شماره عضویت"}
CARD_ARGS = {
    "club_name": "باشگاه کافه نارنج",
    "member_name": "سارا محمدی",
    "member_number_text": "۱۰۴۲",
    "tier_key": "gold",
    "tier_label": "طلایی",
    "points_text": "۱۲٬۵۰۰",
    "qr_data": "https://t.me/bashgah_bot?start=m1042",
    "labels": LABELS,
}

NAMES = {
    "persian": "سارا محمدی",
    "latin": "Sara Mohammadi",
    "mixed": "سارا Ali محمدی ۲",
    "html": "Ali <b> & co",
    "html_persian": "<i>سارا</i> &amp;",
    "long_persian": "سیده فاطمه‌زهرا میرمحمدصادقی حسینی‌نژاد طباطبایی اصفهانی",
    "long_latin": "Maximilian Alexander von Hohenzollern-Sigmaringen",
    "newline_emoji": "Sara\n🌸 محمدی\t\u202eevil",
    "empty": "",
    "huge": "ب" * 10_000,
}


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    """Fonts are cached per shaping path; start and end every test with empty caches."""
    text._font.cache_clear()
    text.raqm_available.cache_clear()
    yield
    text._font.cache_clear()
    text.raqm_available.cache_clear()


@pytest.fixture
def basic_shaping(monkeypatch: pytest.MonkeyPatch) -> None:
    """Force the fallback path (arabic-reshaper + python-bidi, Pillow's basic layout)."""
    monkeypatch.setattr(text, "raqm_available", lambda: False)


needs_raqm = pytest.mark.skipif(not text.raqm_available(), reason="this Pillow has no raqm layout")


def _open_png(data: bytes) -> Image.Image:
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    image.load()
    return image


# --- QR ---------------------------------------------------------------------------------------


def _bch_format(ec_bits: int, mask: int) -> int:
    """The 15-bit format information for an EC level and mask, as the QR standard defines it."""
    data = (ec_bits << 3) | mask
    value = data << 10
    for bit in range(14, 9, -1):
        if value >> bit & 1:
            value ^= 0x537 << (bit - 10)
    return ((data << 10) | value) ^ 0x5412


def _format_bits(symbol: list[list[bool]]) -> int:
    """Read the format information next to the top-left finder (quiet zone already removed)."""
    bits = 0
    coords = (
        [(x, 8) for x in range(6)] + [(7, 8), (8, 8), (8, 7)] + [(8, y) for y in range(5, -1, -1)]
    )
    for x, y in coords:
        bits = (bits << 1) | int(symbol[y][x])
    return bits


@pytest.mark.parametrize("data", ["a", "hello world", "https://t.me/bashgah_bot?start=m1042"])
@pytest.mark.parametrize("box_size", [1, 4, 10])
def test_qr_png_matches_its_module_matrix(data: str, box_size: int) -> None:
    image = _open_png(qr_png(data, box_size=box_size))
    matrix = qr_matrix(data)
    modules = len(matrix)
    assert image.size == (modules * box_size, modules * box_size)
    gray = image.convert("L")
    histogram = gray.histogram()
    # Strictly black and white.
    assert histogram[0] and histogram[255] and not any(histogram[1:255])
    for y, row in enumerate(matrix):
        for x, dark in enumerate(row):
            centre = (x * box_size + box_size // 2, y * box_size + box_size // 2)
            assert gray.getpixel(centre) == (0 if dark else 255), (x, y)


def test_qr_has_quiet_zone_finders_and_ec_level_m() -> None:
    matrix = qr_matrix("https://t.me/bashgah_bot?start=m1042")
    modules = len(matrix)
    for i in range(QUIET_ZONE):  # four white modules all around
        assert not any(matrix[i]) and not any(matrix[modules - 1 - i])
        assert not any(row[i] or row[modules - 1 - i] for row in matrix)
    symbol = [row[QUIET_ZONE:-QUIET_ZONE] for row in matrix[QUIET_ZONE:-QUIET_ZONE]]
    size = len(symbol)
    assert (size - 17) % 4 == 0  # a real QR version size
    # Dark outer ring, light ring, dark 3x3 centre.
    finder = [[max(abs(x - 3), abs(y - 3)) != 2 for x in range(7)] for y in range(7)]
    for ox, oy in [(0, 0), (size - 7, 0), (0, size - 7)]:
        assert [row[ox : ox + 7] for row in symbol[oy : oy + 7]] == finder
    # EC level bits 00 mean M; the value must be one of the eight valid M codes (any mask).
    assert _format_bits(symbol) in {_bch_format(0b00, mask) for mask in range(8)}


def test_qr_default_box_size_and_bad_box_size() -> None:
    image = _open_png(qr_png("x"))
    assert image.size == (len(qr_matrix("x")) * 10,) * 2
    with pytest.raises(ValueError):
        qr_png("x", box_size=0)


# --- fonts and shaping ------------------------------------------------------------------------


def test_font_assets_ship_with_their_licence() -> None:
    fonts = text.FONT_DIR
    assert fonts == ROOT / "bot" / "assets" / "fonts"
    assert (fonts / "Vazirmatn-Regular.ttf").is_file()
    assert (fonts / "Vazirmatn-Bold.ttf").is_file()
    assert "SIL Open Font License" in (fonts / "OFL.txt").read_text(encoding="utf-8")
    assert sum(p.stat().st_size for p in fonts.iterdir()) < 1_000_000


def test_card_loads_its_fonts_from_the_assets(monkeypatch: pytest.MonkeyPatch) -> None:
    loaded: list[Path] = []
    real_truetype = ImageFont.truetype

    def spy(font: str, *args: object, **kwargs: object) -> ImageFont.FreeTypeFont:
        loaded.append(Path(font))
        return real_truetype(font, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ImageFont, "truetype", spy)
    member_card_png(**CARD_ARGS)
    assert loaded
    assert {p.parent for p in loaded} == {text.FONT_DIR}
    assert {p.name for p in loaded} == {"Vazirmatn-Regular.ttf", "Vazirmatn-Bold.ttf"}


def test_font_loading_is_cached() -> None:
    assert text.load_font(30, bold=True) is text.load_font(30, bold=True)
    assert text.load_font(30) is not text.load_font(30, bold=True)


@needs_raqm
def test_raqm_is_used_when_available() -> None:
    assert text.shaping() == "raqm"
    assert text.load_font(30).layout_engine == ImageFont.Layout.RAQM
    assert text.visual_text("سلام") == "سلام"  # raqm gets the logical string


@pytest.mark.usefixtures("basic_shaping")
def test_fallback_reshapes_and_reorders() -> None:
    assert text.shaping() == "basic"
    assert text.load_font(30).layout_engine == ImageFont.Layout.BASIC
    shown = text.visual_text("سلام")
    # Joined presentation forms in visual (reversed) order: isolated MEEM, final LAM-ALEF
    # ligature, initial SEEN.
    assert shown == "\ufee1\ufefc\ufeb3"
    assert text.visual_text("Ali <b> & co") == "Ali <b> & co"
    assert text.visual_text("۱۲٬۵۰۰") == "۱۲٬۵۰۰"  # digits keep their order


def _render_line(line: str, layout: ImageFont.Layout, *, shape: bool = True) -> tuple[int, int]:
    """(ink width, inked pixel count) of ``line`` drawn with ``layout``."""
    font = ImageFont.truetype(str(text.FONT_DIR / "Vazirmatn-Bold.ttf"), 48, layout_engine=layout)
    engine = "raqm" if layout == ImageFont.Layout.RAQM else "basic"
    image = Image.new("L", (800, 120), 255)
    shown = text.visual_text(line, engine) if shape else line
    ImageDraw.Draw(image).text((780, 60), shown, font=font, fill=0, anchor="rm")
    ink = image.point(lambda v: 255 * (v < 128))
    left, _, right, _ = ink.getbbox()
    return right - left, ink.histogram()[255]


@needs_raqm
@pytest.mark.parametrize("line", ["سارا محمدی", "باشگاه کافه نارنج", "فاطمه‌زهرا"])
def test_fallback_draws_what_raqm_draws(line: str) -> None:
    """Same glyphs either way (kerning aside), and clearly not the unshaped isolated letters."""
    raqm_width, raqm_ink = _render_line(line, ImageFont.Layout.RAQM)
    basic_width, basic_ink = _render_line(line, ImageFont.Layout.BASIC)
    naive_width, naive_ink = _render_line(line, ImageFont.Layout.BASIC, shape=False)
    assert abs(basic_width - raqm_width) <= 0.05 * raqm_width
    assert abs(basic_ink - raqm_ink) <= 0.02 * raqm_ink
    assert abs(naive_ink - raqm_ink) > 0.1 * raqm_ink or abs(naive_width - raqm_width) > 0.1 * (
        raqm_width
    )


@pytest.mark.parametrize("engine", ["raqm", "basic"])
def test_fit_line_truncates_with_an_ellipsis(engine: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if engine == "basic":
        monkeypatch.setattr(text, "raqm_available", lambda: False)
    elif not text.raqm_available():
        pytest.skip("this Pillow has no raqm layout")
    name = NAMES["long_persian"]
    line = text.fit_line(name, size=56, max_width=400, bold=True, min_size=40)
    assert line.truncated
    assert line.text.endswith(text.ELLIPSIS)
    assert name.startswith(line.text[:-1])
    assert line.width <= 400
    assert line.font.size == 40
    short = text.fit_line("سارا", size=56, max_width=400, bold=True)
    assert (short.text, short.truncated, short.font.size) == ("سارا", False, 56)


def test_clean_line_keeps_markup_literal_and_drops_what_cannot_be_drawn() -> None:
    assert text.clean_line("Ali <b> & co") == "Ali <b> & co"
    assert text.clean_line("  Sara\n\r\tMohammadi  ") == "Sara Mohammadi"
    assert text.clean_line("\u202eSara\u202c 🌸") == "Sara"
    assert text.clean_line("فاطمه\u200cزهرا") == "فاطمه\u200cزهرا"  # ZWNJ stays
    assert len(text.clean_line("x" * 10_000)) == text.MAX_LINE_CHARS


# --- the card ---------------------------------------------------------------------------------


def _render(**overrides: object) -> Image.Image:
    image = _open_png(member_card_png(**{**CARD_ARGS, **overrides}))  # type: ignore[arg-type]
    assert image.size == card.CARD_SIZE == (1000, 600)
    assert image.mode == "RGB"
    return image


def _ink_bbox(image: Image.Image, box: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    region = image.crop(box)
    background = Image.new("RGB", region.size, card.BACKGROUND)
    diff = ImageChops.difference(region, background).convert("L").point(lambda v: 255 * (v > 40))
    bbox = diff.getbbox()
    assert bbox is not None, "nothing drawn there"
    return bbox[0] + box[0], bbox[1] + box[1], bbox[2] + box[0], bbox[3] + box[1]


def _name_band() -> tuple[int, int, int, int]:
    return card.TEXT_LEFT - 20, card.NAME_Y - 45, card.WIDTH, card.NAME_Y + 45


def _assert_qr_scannable(image: Image.Image, data: str) -> None:
    """The card's pure-black pixels are exactly the QR modules of ``data``, on the left."""
    # Only the QR uses pure black (text is dark slate): all three bands at 0.
    black = image.point(lambda v: 255 * (v == 0)).convert("L").point(lambda v: 255 * (v == 255))
    left, top, right, bottom = black.getbbox()
    assert right < card.WIDTH // 2  # QR on the left, text on the right
    matrix = qr_matrix(data)
    dark_span = len(matrix) - 2 * QUIET_ZONE
    box = (right - left) / dark_span
    assert box == int(box) and box >= 4 and bottom - top == right - left
    box = int(box)
    gray = image.convert("L")
    for y, row in enumerate(matrix):
        for x, dark in enumerate(row):
            px = left + (x - QUIET_ZONE) * box + box // 2
            py = top + (y - QUIET_ZONE) * box + box // 2
            value = gray.getpixel((px, py))
            assert value == (0 if dark else 255), (x, y)


@pytest.mark.parametrize("shaping", ["raqm", "basic"])
@pytest.mark.parametrize("name", list(NAMES), ids=list(NAMES))
def test_card_renders_any_name(name: str, shaping: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if shaping == "basic":
        monkeypatch.setattr(text, "raqm_available", lambda: False)
    elif not text.raqm_available():
        pytest.skip("this Pillow has no raqm layout")
    image = _render(member_name=NAMES[name])
    _assert_qr_scannable(image, CARD_ARGS["qr_data"])  # type: ignore[arg-type]
    if NAMES[name]:
        left, _, right, _ = _ink_bbox(image, _name_band())
        assert abs(right - card.TEXT_RIGHT) <= 8  # anchored on the right
        assert left >= card.TEXT_LEFT - 2  # never runs into the QR column


def test_names_are_drawn_literally_and_differently() -> None:
    html = _render(member_name="Ali <b> & co")
    plain = _render(member_name="Ali b co")
    band = _name_band()
    assert ImageChops.difference(html.crop(band), plain.crop(band)).getbbox() is not None
    # Long names stay inside their column in both scripts.
    for name in (NAMES["long_persian"], NAMES["long_latin"], NAMES["huge"]):
        left, _, right, _ = _ink_bbox(_render(member_name=name), band)
        assert left >= card.TEXT_LEFT - 2 and right <= card.TEXT_RIGHT + 2


@pytest.mark.parametrize("tier_key", ["bronze", "silver", "gold", "platinum", "vip", ""])
def test_tier_colour(tier_key: str) -> None:
    image = _render(tier_key=tier_key)
    expected = card.TIER_COLOURS.get(tier_key, card.NEUTRAL_TIER)[0]
    rule = image.getpixel((card.WIDTH // 2, card.HEADER_HEIGHT + card.RULE_HEIGHT // 2))
    assert rule == Image.new("RGB", (1, 1), expected).getpixel((0, 0))
    pill = image.getpixel((card.TEXT_RIGHT - 6, card.TIER_Y))
    assert pill == rule


def test_tier_colours_are_distinct() -> None:
    fills = [fill for fill, _ in card.TIER_COLOURS.values()] + [card.NEUTRAL_TIER[0]]
    assert len(set(fills)) == len(fills)
    assert card.tier_colours("GOLD") == card.TIER_COLOURS["gold"]
    assert card.tier_colours("diamond") == card.NEUTRAL_TIER


def test_card_uses_the_passed_strings() -> None:
    base = _render()
    for field, other in [
        ("club_name", "Another Club"),
        ("points_text", "۹۹"),
        ("member_number_text", "۷"),
        ("tier_label", "نقره‌ای"),
        ("labels", {"points": "Points", "member_number": "No."}),
    ]:
        changed = _render(**{field: other})
        assert ImageChops.difference(base, changed).getbbox() is not None, field
    _render(labels={})  # missing captions are left out, not an error


def test_card_qr_follows_qr_data() -> None:
    data = "https://t.me/bashgah_bot?start=" + "z" * 80
    _assert_qr_scannable(_render(qr_data=data), data)


def test_no_persian_characters_in_bot_images_sources() -> None:
    arabic_script = re.compile("[\u0600-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufeff]")
    for path in (ROOT / "bot" / "images").glob("*.py"):
        assert not arabic_script.search(path.read_text(encoding="utf-8")), path
