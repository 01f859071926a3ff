"""The member's loyalty card: a 1000x600 PNG laid out right to left, QR code on the left.

::

    +--------------------------------------------------------------+
    |                                                   club name  |  header band
    +==============================================================+  tier-coloured rule
    |  +----------+                                   member name  |
    |  |          |                                  [tier label]  |
    |  |   QR     |  ----------------------------------------------|
    |  |          |          member-number caption  points caption |
    |  +----------+                 member number          points  |
    +--------------------------------------------------------------+

Every string is passed in already formatted (Persian digits and separators included); captions
come from ``labels`` ("points", "member_number"). Nothing user-facing is written here.
"""

from __future__ import annotations

import io
from typing import Final

from PIL import Image, ImageDraw

from bot.images.qr import qr_matrix
from bot.images.text import draw_line, fit_line, text_width

__all__ = ["CARD_SIZE", "TIER_COLOURS", "member_card_png", "tier_colours"]

CARD_SIZE: Final = (1000, 600)
WIDTH, HEIGHT = CARD_SIZE

MARGIN: Final = 56
HEADER_HEIGHT: Final = 116
RULE_HEIGHT: Final = 8

BACKGROUND: Final = "#FBF8F3"
HEADER: Final = "#1F2A37"
HEADER_TEXT: Final = "#FFFFFF"
INK: Final = "#1F2A37"
MUTED: Final = "#6B7280"
DIVIDER: Final = "#E2DDD3"
QR_FRAME: Final = "#D9D3C7"

#: (pill background, pill text) per tier key.
TIER_COLOURS: Final[dict[str, tuple[str, str]]] = {
    "bronze": ("#A8642A", "#FFFFFF"),
    "silver": ("#AEB6BF", "#1B2631"),
    "gold": ("#D4AF37", "#2B2100"),
    "platinum": ("#2F4858", "#E8F1F5"),
}
NEUTRAL_TIER: Final = ("#E3E6EA", "#3A4048")

# QR panel on the left, vertically centred in the body.
QR_PANEL: Final = 328
QR_LEFT: Final = MARGIN
QR_TOP: Final = HEADER_HEIGHT + RULE_HEIGHT + (HEIGHT - HEADER_HEIGHT - RULE_HEIGHT - QR_PANEL) // 2

# Text column on the right: from the QR panel (plus a gutter) to the right margin.
TEXT_RIGHT: Final = WIDTH - MARGIN
TEXT_LEFT: Final = QR_LEFT + QR_PANEL + 48
TEXT_WIDTH: Final = TEXT_RIGHT - TEXT_LEFT

NAME_Y: Final = 208
TIER_Y: Final = 296
TIER_PILL_HEIGHT: Final = 54
TIER_PILL_PADDING: Final = 26
DIVIDER_Y: Final = 356
CAPTION_Y: Final = 408
VALUE_Y: Final = 466
STAT_GAP: Final = 32
STAT_WIDTH: Final = (TEXT_WIDTH - STAT_GAP) // 2


def tier_colours(tier_key: str) -> tuple[str, str]:
    """(background, text) colours of the tier pill; a neutral grey for unknown keys."""
    return TIER_COLOURS.get(tier_key.strip().lower(), NEUTRAL_TIER)


def _paste_qr(card: Image.Image, draw: ImageDraw.ImageDraw, data: str) -> None:
    matrix = qr_matrix(data)
    modules = len(matrix)
    box = max(1, (QR_PANEL - 8) // modules)  # whole pixels per module keep the code crisp
    side = modules * box
    qr = Image.new("L", (modules, modules))
    qr.putdata([0 if dark else 255 for row in matrix for dark in row])
    qr = qr.resize((side, side), Image.Resampling.NEAREST)
    draw.rounded_rectangle(
        (QR_LEFT, QR_TOP, QR_LEFT + QR_PANEL, QR_TOP + QR_PANEL),
        radius=18,
        fill="#FFFFFF",
        outline=QR_FRAME,
        width=2,
    )
    offset = (QR_PANEL - side) // 2
    card.paste(qr, (QR_LEFT + offset, QR_TOP + offset))


def _draw_stat(
    draw: ImageDraw.ImageDraw, right: int, caption: str, value: str, *, width: int
) -> None:
    draw_line(draw, (right, CAPTION_Y), caption, size=26, fill=MUTED, max_width=width, min_size=20)
    draw_line(
        draw, (right, VALUE_Y), value, size=46, bold=True, fill=INK, max_width=width, min_size=28
    )


def member_card_png(
    *,
    club_name: str,
    member_name: str,
    member_number_text: str,
    tier_key: str,
    tier_label: str,
    points_text: str,
    qr_data: str,
    labels: dict[str, str],
) -> bytes:
    """Render the member's card as PNG bytes (1000x600, RGB).

    Text is right-anchored (Persian reading order) and shaped for Persian, Latin or mixed content;
    names are drawn literally (``<b>`` stays ``<b>``), shrunk and then cut with an ellipsis when
    too long. ``tier_key`` picks the tier colour (bronze/silver/gold/platinum, neutral otherwise);
    ``labels`` gives the captions ``"points"`` and ``"member_number"`` (missing ones are left out).
    """
    card = Image.new("RGB", CARD_SIZE, BACKGROUND)
    draw = ImageDraw.Draw(card)
    pill_fill, pill_text = tier_colours(tier_key)

    # Header band with the club's name, and a rule in the tier's colour under it.
    draw.rectangle((0, 0, WIDTH, HEADER_HEIGHT), fill=HEADER)
    draw.rectangle((0, HEADER_HEIGHT, WIDTH, HEADER_HEIGHT + RULE_HEIGHT), fill=pill_fill)
    draw_line(
        draw,
        (TEXT_RIGHT, HEADER_HEIGHT // 2),
        club_name,
        size=44,
        bold=True,
        fill=HEADER_TEXT,
        max_width=WIDTH - 2 * MARGIN,
        min_size=30,
    )

    _paste_qr(card, draw, qr_data)

    draw_line(
        draw,
        (TEXT_RIGHT, NAME_Y),
        member_name,
        size=56,
        bold=True,
        fill=INK,
        max_width=TEXT_WIDTH,
        min_size=38,
    )

    tier = fit_line(
        tier_label, size=28, bold=True, max_width=TEXT_WIDTH - 2 * TIER_PILL_PADDING, min_size=22
    )
    if tier.text:
        pill_width = text_width(tier.text, tier.font) + 2 * TIER_PILL_PADDING
        draw.rounded_rectangle(
            (
                TEXT_RIGHT - pill_width,
                TIER_Y - TIER_PILL_HEIGHT // 2,
                TEXT_RIGHT,
                TIER_Y + TIER_PILL_HEIGHT // 2,
            ),
            radius=TIER_PILL_HEIGHT // 2,
            fill=pill_fill,
        )
        draw_line(
            draw,
            (TEXT_RIGHT - pill_width / 2, TIER_Y),
            tier.text,
            size=tier.font.size,
            bold=True,
            fill=pill_text,
            align="center",
        )

    draw.line((TEXT_LEFT, DIVIDER_Y, TEXT_RIGHT, DIVIDER_Y), fill=DIVIDER, width=2)

    # Reading order right to left: points first, then the member number.
    _draw_stat(draw, TEXT_RIGHT, labels.get("points", ""), points_text, width=STAT_WIDTH)
    _draw_stat(
        draw,
        TEXT_RIGHT - STAT_WIDTH - STAT_GAP,
        labels.get("member_number", ""),
        member_number_text,
        width=STAT_WIDTH,
    )

    buffer = io.BytesIO()
    card.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
