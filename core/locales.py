"""The languages the club speaks: the one list every layer reads.

A new language is a folder under ``locales/`` with every template, plus its code here (and, where
numbers or dates read differently, a branch in :func:`core.digits.format_number` and
:mod:`core.jalali`). Settings, the member's language choice, the translator and the command menus
all take the list from this module.
"""

from __future__ import annotations

LOCALES: tuple[str, ...] = ("fa", "en")
DEFAULT_LOCALE = "fa"  # Persian first: the club's language unless the settings say otherwise


def is_known(locale: str | None) -> bool:
    return locale in LOCALES


def supported(preferred: str | None, default: str) -> str:
    """``preferred`` (a member's choice, or Telegram's ``language_code`` such as ``en-US``) if
    the club speaks it, else ``default``."""
    short = (preferred or "").split("-")[0].lower()
    return short if short in LOCALES else default
