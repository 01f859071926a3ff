"""QR codes as PNG bytes (error correction M, the standard four-module quiet zone)."""

from __future__ import annotations

import io
from typing import Final

import qrcode
import qrcode.constants
from PIL import Image

__all__ = ["QUIET_ZONE", "qr_image", "qr_matrix", "qr_png"]

#: Width of the white border around the code, in modules (the minimum the standard asks for).
QUIET_ZONE: Final = 4


def qr_matrix(data: str) -> list[list[bool]]:
    """The module matrix for ``data``, quiet zone included; ``True`` is a dark module.

    Raises ``qrcode.exceptions.DataOverflowError`` when ``data`` does not fit a version-40 code.
    """
    code = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M,
        border=QUIET_ZONE,
        box_size=1,
    )
    code.add_data(data)
    code.make(fit=True)
    return [list(row) for row in code.get_matrix()]


def qr_image(data: str, *, box_size: int = 10) -> Image.Image:
    """A black-on-white bilevel (mode ``"1"``) image, ``box_size`` pixels per module."""
    if box_size < 1:
        raise ValueError(f"box_size must be at least 1, got {box_size}")
    matrix = qr_matrix(data)
    modules = len(matrix)
    small = Image.new("1", (modules, modules))
    small.putdata([0 if dark else 255 for row in matrix for dark in row])
    return small.resize((modules * box_size, modules * box_size), Image.Resampling.NEAREST)


def qr_png(data: str, *, box_size: int = 10) -> bytes:
    """PNG bytes of a QR code of ``data`` (EC level M, 4-module quiet zone)."""
    buffer = io.BytesIO()
    qr_image(data, box_size=box_size).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
