"""A QR code as inline SVG: one path of dark modules, crisp at any size, a few hundred bytes for a
card's code (error correction M and the standard four-module quiet zone, as the chat's PNG)."""

from __future__ import annotations

import qrcode
import qrcode.constants
from markupsafe import Markup, escape

QUIET_ZONE = 4


def qr_svg(data: str, *, label: str) -> Markup:
    """An ``<svg>`` of ``data``'s QR code, named ``label`` for screen readers."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=QUIET_ZONE)
    code.add_data(data)
    code.make(fit=True)
    matrix = code.get_matrix()
    size = len(matrix)
    path = "".join(
        f"M{x},{y}h{run}v1h-{run}z" for y, row in enumerate(matrix) for x, run in _runs(row)
    )
    return Markup(
        f'<svg class="qr" viewBox="0 0 {size} {size}" role="img" aria-label="{escape(label)}"'
        f' shape-rendering="crispEdges"><rect width="{size}" height="{size}" fill="#fff"/>'
        f'<path d="{path}" fill="#000"/></svg>'
    )


def _runs(row: list[bool]) -> list[tuple[int, int]]:
    """Each run of dark modules in a row as (start, length): a rectangle a run, not a module."""
    runs: list[tuple[int, int]] = []
    start = None
    for x, dark in enumerate([*row, False]):
        if dark and start is None:
            start = x
        elif not dark and start is not None:
            runs.append((start, x - start))
            start = None
    return runs
