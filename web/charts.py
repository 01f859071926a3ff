"""Small charts as inline SVG, drawn on the server: no chart library in the page.

A chart is a ``<figure>`` with an ``<svg>`` whose colours are the Telegram theme's (``--tg-theme-*``
through the app's CSS classes), so it follows a light or dark theme without being drawn again, and
a caption saying what it shows in words, for screen readers and for the tests. Values are plotted
left to right in time order; a right-to-left page mirrors the axis with CSS (``.chart`` in
``app.css``), so the newest value sits where the reader's eye ends.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

WIDTH, HEIGHT, PAD = 320, 120, 8


def line(values: Sequence[int], *, caption: str, name: str) -> Markup:
    """A line of ``values`` (oldest first) over a filled area, scaled to its own range."""
    if not values:
        return Markup("")
    low, high = min(0, *values), max(1, *values)
    step = (WIDTH - 2 * PAD) / max(len(values) - 1, 1)

    def y(value: int) -> float:
        return HEIGHT - PAD - (value - low) * (HEIGHT - 2 * PAD) / (high - low)

    points = " ".join(f"{PAD + i * step:.1f},{y(v):.1f}" for i, v in enumerate(values))
    base = f"{PAD + (len(values) - 1) * step:.1f},{HEIGHT - PAD} {PAD},{HEIGHT - PAD}"
    return _figure(
        name,
        caption,
        f'<polygon class="area" points="{points} {base}"/>'
        f'<polyline class="stroke" points="{points}"/>',
    )


def bars(values: Sequence[int], *, caption: str, name: str) -> Markup:
    """A bar for each of ``values`` (oldest first), scaled so the largest fills the height."""
    if not values:
        return Markup("")
    high = max(1, *values)
    width = (WIDTH - 2 * PAD) / len(values)
    rects = "".join(
        f'<rect class="bar" x="{PAD + i * width + 1:.1f}" y="{HEIGHT - PAD - h:.1f}"'
        f' width="{max(width - 2, 1):.1f}" height="{h:.1f}"/>'
        for i, v in enumerate(values)
        for h in [max(v, 0) * (HEIGHT - 2 * PAD) / high]
    )
    return _figure(name, caption, rects)


def _figure(name: str, caption: str, body: str) -> Markup:
    return Markup(
        f'<figure class="chart" data-chart="{escape(name)}">'
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(caption)}">'
        f"{body}</svg><figcaption>{escape(caption)}</figcaption></figure>"
    )
