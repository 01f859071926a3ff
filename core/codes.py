"""Short human codes: read aloud at a counter, typed on a phone, never mistaken for one another."""

from __future__ import annotations

import secrets

from core.digits import to_latin_digits

# No 0/O, 1/I/L, 5/S, 2/Z, 8/B: the pairs people misread on a screen or mishear over the phone.
ALPHABET = "ACDEFGHJKMNPQRTUVWXY34679"


def new_code(length: int = 8) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def format_redemption_code(code: str) -> str:
    """``ABCD1234`` reads better as ``ABCD-1234``."""
    half = len(code) // 2
    return f"{code[:half]}-{code[half:]}"


def normalize_code(raw: str) -> str:
    """What a person typed, back to the stored form: any digits, any case, dashes and spaces."""
    return "".join(ch for ch in to_latin_digits(raw).upper() if ch.isalnum())
