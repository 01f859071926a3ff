"""Theme parameters as Telegram hands them to a Mini App (``tgWebAppThemeParams``, and the
``theme_changed`` event), for pages tested in both palettes.

Telegram for Android's default day and night themes, as its clients send them at Bot API 8.0;
other clients and custom themes differ in shades, not in keys. Telegram's script derives
``colorScheme`` from ``bg_color`` alone (:func:`scheme_of`), as the fake does.
"""

from __future__ import annotations

import math

LIGHT: dict[str, str] = {
    "bg_color": "#ffffff",
    "text_color": "#000000",
    "hint_color": "#999999",
    "link_color": "#2481cc",
    "button_color": "#2481cc",
    "button_text_color": "#ffffff",
    "secondary_bg_color": "#f0f0f0",
    "header_bg_color": "#527da3",
    "bottom_bar_bg_color": "#ffffff",
    "accent_text_color": "#2481cc",
    "section_bg_color": "#ffffff",
    "section_header_text_color": "#3a95d5",
    "section_separator_color": "#e7e7e7",
    "subtitle_text_color": "#82868a",
    "destructive_text_color": "#cc2929",
}

DARK: dict[str, str] = {
    "bg_color": "#212d3b",
    "text_color": "#ffffff",
    "hint_color": "#7d8b99",
    "link_color": "#5eabe1",
    "button_color": "#5288c1",
    "button_text_color": "#ffffff",
    "secondary_bg_color": "#151e27",
    "header_bg_color": "#242d39",
    "bottom_bar_bg_color": "#1d2733",
    "accent_text_color": "#64b5ef",
    "section_bg_color": "#1d2733",
    "section_header_text_color": "#79c4fc",
    "section_separator_color": "#0d1218",
    "subtitle_text_color": "#7b8790",
    "destructive_text_color": "#ee686f",
}


def scheme_of(theme: dict[str, str]) -> str | None:
    """``"dark"`` or ``"light"`` as Telegram's script calls ``theme`` (by the perceived brightness
    of ``bg_color``, dark below 120 of 255), or None when it has no ``#rrggbb`` background."""
    bg = theme.get("bg_color", "")
    if len(bg) != 7 or not bg.startswith("#"):
        return None
    r, g, b = (int(bg[i : i + 2], 16) for i in (1, 3, 5))
    return "dark" if math.sqrt(0.299 * r * r + 0.587 * g * g + 0.114 * b * b) < 120 else "light"
