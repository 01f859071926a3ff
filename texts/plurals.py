"""Nouns after a number, in each language's grammar.

English says "1 point" and "2 points" (and "0 points"); Persian keeps the singular after any
number (two "point", never two "points"), so its templates need no help, but the filters exist in
every locale so a template reads the same way in each.
"""

from __future__ import annotations

from core.digits import format_number

PLURAL_LOCALES = frozenset({"en"})  # the languages whose nouns change after a number


def noun(n: int, singular: str, plural: str | None, locale: str) -> str:
    """``singular`` or its plural (``plural``, else ``singular + "s"``) as ``n`` calls for."""
    if locale in PLURAL_LOCALES and abs(n) != 1:
        return plural or singular + "s"
    return singular


def counted(n: int, singular: str, plural: str | None, locale: str) -> str:
    """The number in the locale's digits and its noun: ``1 point``, ``2 points``."""
    return f"{format_number(int(n), locale)} {noun(int(n), singular, plural, locale)}"
