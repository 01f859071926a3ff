"""Drawing one line of (possibly mixed Persian/Latin) text with the right shaping.

Two shaping paths, chosen once per process:

* ``raqm``: Pillow's libraqm layout (HarfBuzz + FriBidi) does the joining and the bidirectional
  reordering itself; the logical string is handed over as it is.
* ``basic``: when Pillow was built without raqm, ``arabic_reshaper`` turns the letters into their
  joined presentation forms and ``bidi.algorithm.get_display`` reorders the line into visual order,
  which Pillow's basic layout then draws left to right.

Both take the paragraph direction from the first strong character, as Telegram does, so a Latin
name stays left-to-right and a Persian one right-to-left. Alignment (right, centre, left) is
separate from direction: a line is anchored at ``x`` on its right edge, its centre or its left edge.

The fonts are the Vazirmatn TTFs shipped in ``bot/assets/fonts`` (SIL OFL, licence beside them).
No user-facing text lives here: every string comes from the caller.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Final, Literal

import arabic_reshaper
from bidi.algorithm import get_display
from PIL import ImageDraw, ImageFont, features

__all__ = [
    "ELLIPSIS",
    "FONT_DIR",
    "Align",
    "FittedLine",
    "Shaping",
    "clean_line",
    "draw_line",
    "fit_line",
    "load_font",
    "raqm_available",
    "shaping",
    "text_width",
    "visual_text",
]

FONT_DIR: Final = Path(__file__).resolve().parent.parent / "assets" / "fonts"
_FONT_FILES: Final = {False: "Vazirmatn-Regular.ttf", True: "Vazirmatn-Bold.ttf"}

ELLIPSIS: Final = "\u2026"

#: Lines longer than this are cut before any measuring, so a hostile string costs a bounded
#: amount of shaping work. Far more than fits on a card at any size used here.
MAX_LINE_CHARS: Final = 200

Align = Literal["right", "center", "left"]
Shaping = Literal["raqm", "basic"]

_ANCHORS: Final[dict[str, str]] = {"right": "rm", "center": "mm", "left": "lm"}

# Embedding, override and isolate controls: they would let a name reorder the rest of its line
# (or look reversed), so they are dropped. LRM/RLM/ZWNJ/ZWJ are kept: they are ordinary in names.
_BIDI_CONTROLS: Final = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


@lru_cache(maxsize=1)
def raqm_available() -> bool:
    """Whether this Pillow can lay text out with libraqm."""
    return bool(features.check("raqm"))


def shaping() -> Shaping:
    """The shaping path in use: ``"raqm"`` when available, else ``"basic"``."""
    return "raqm" if raqm_available() else "basic"


@lru_cache(maxsize=64)
def _font(size: int, bold: bool, engine: Shaping) -> ImageFont.FreeTypeFont:
    layout = ImageFont.Layout.RAQM if engine == "raqm" else ImageFont.Layout.BASIC
    return ImageFont.truetype(str(FONT_DIR / _FONT_FILES[bold]), size, layout_engine=layout)


def load_font(size: int, *, bold: bool = False) -> ImageFont.FreeTypeFont:
    """The Vazirmatn font at ``size`` pixels for the current shaping path (cached)."""
    if size <= 0:
        raise ValueError(f"font size must be positive, got {size}")
    return _font(size, bold, shaping())


@lru_cache(maxsize=1)
def _notdef_signature() -> tuple[float, bytes]:
    font = _font(32, False, "basic")
    missing = "\U000f0000"  # a private-use code point no font here maps
    return font.getlength(missing), bytes(font.getmask(missing))


@lru_cache(maxsize=4096)
def _has_glyph(char: str) -> bool:
    font = _font(32, False, "basic")
    return (font.getlength(char), bytes(font.getmask(char))) != _notdef_signature()


def clean_line(text: str) -> str:
    """Make ``text`` safe to draw literally as one line.

    Line breaks, tabs and other control characters become spaces (Pillow would otherwise start a
    new line); bidi embedding/override controls are dropped; characters the font has no glyph for
    (emoji, for instance: Vazirmatn's fallback glyph is blank) are dropped rather than drawn as
    gaps; runs of spaces collapse and the ends are trimmed.
    Everything else, ``<b>`` and ``&`` included, is kept exactly as given.
    """
    out: list[str] = []
    for char in text[: MAX_LINE_CHARS * 2]:
        category = unicodedata.category(char)
        if category in ("Cc", "Zl", "Zp") or char.isspace():
            out.append(" ")
        elif char in _BIDI_CONTROLS:
            continue
        elif _has_glyph(char):
            out.append(char)
    return " ".join("".join(out).split())[:MAX_LINE_CHARS]


def visual_text(text: str, engine: Shaping | None = None) -> str:
    """The string to hand to Pillow for ``engine``: as is for raqm, reshaped and reordered else."""
    if (engine or shaping()) == "raqm":
        return text
    return get_display(arabic_reshaper.reshape(text))


def text_width(text: str, font: ImageFont.FreeTypeFont) -> float:
    """Advance width of ``text`` (logical order) as it will be drawn with ``font``."""
    if not text:
        return 0.0
    engine: Shaping = "raqm" if font.layout_engine == ImageFont.Layout.RAQM else "basic"
    return font.getlength(visual_text(text, engine))


@dataclass(frozen=True)
class FittedLine:
    text: str
    font: ImageFont.FreeTypeFont
    truncated: bool

    @property
    def width(self) -> float:
        return text_width(self.text, self.font)


def _truncate(text: str, font: ImageFont.FreeTypeFont, max_width: float) -> str:
    """Longest logical prefix of ``text`` that fits with an ellipsis after it (binary search)."""
    lo, hi = 0, len(text)  # invariant: prefix of length lo fits (0 is accepted regardless)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        candidate = text[:mid].rstrip(" \u200c\u200d") + ELLIPSIS
        if text_width(candidate, font) <= max_width:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo].rstrip(" \u200c\u200d") + ELLIPSIS


def fit_line(
    text: str,
    *,
    size: int,
    max_width: float,
    bold: bool = False,
    min_size: int | None = None,
) -> FittedLine:
    """Fit ``text`` into ``max_width`` pixels.

    The font shrinks step by step from ``size`` down to ``min_size`` (default: no shrinking); if
    the line is still too wide at ``min_size``, it is cut at the end of the logical string and an
    ellipsis appended (which lands at the visual end: the left of a right-to-left line).
    """
    text = clean_line(text)
    smallest = size if min_size is None else min(size, min_size)
    current = size
    while True:
        font = load_font(current, bold=bold)
        if text_width(text, font) <= max_width:
            return FittedLine(text, font, truncated=False)
        if current <= smallest:
            return FittedLine(_truncate(text, font, max_width), font, truncated=True)
        current = max(smallest, current - max(1, size // 12))


def draw_line(
    draw: ImageDraw.ImageDraw,
    xy: tuple[float, float],
    text: str,
    *,
    size: int,
    fill: str | tuple[int, ...],
    bold: bool = False,
    align: Align = "right",
    max_width: float | None = None,
    min_size: int | None = None,
) -> FittedLine:
    """Draw one line with its anchor at ``xy``; ``y`` is the line's vertical middle.

    ``align="right"`` puts the line's right edge at ``x`` (the usual anchor for Persian),
    ``"center"`` its centre and ``"left"`` its left edge. With ``max_width`` the line is shrunk
    and/or truncated to fit (see :func:`fit_line`). Returns what was drawn.
    """
    if max_width is None:
        line = FittedLine(clean_line(text), load_font(size, bold=bold), truncated=False)
    else:
        line = fit_line(text, size=size, max_width=max_width, bold=bold, min_size=min_size)
    if line.text:
        engine: Shaping = "raqm" if line.font.layout_engine == ImageFont.Layout.RAQM else "basic"
        draw.text(
            xy,
            visual_text(line.text, engine),
            font=line.font,
            fill=fill,
            anchor=_ANCHORS[align],
        )
    return line
