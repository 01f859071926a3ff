"""Every user-facing text, rendered from Jinja2 templates in ``locales/<lang>/<key>.j2``.

Messages are autoescaped because they go out in HTML parse mode: a member named ``<b>Ali</b> & co``
is shown as typed, and a template can still use ``<b>`` for its own emphasis. Numbers go
through ``|num`` (Persian digits and separators in ``fa``), a number with its noun through
``|count("point")`` ("1 point", "2 points"; :mod:`texts.plurals`), and dates through ``|jdate`` (the
Jalali calendar in ``fa``), so no handler formats anything by hand.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from html import unescape
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from core import jalali, segments
from core.clock import last_local_day
from core.digits import format_number
from core.locales import DEFAULT_LOCALE, LOCALES, supported
from texts.plurals import counted, noun

LOCALES_DIR = Path(__file__).resolve().parents[1] / "locales"
SUFFIX = ".j2"
_TAG = re.compile(r"<[^>]+>")
# Button labels, command menus and text drawn into images are plain text, not HTML: not escaped.
PLAIN_TEXT = ("buttons/", "menus/", "labels/", "image/", "usage/")


NOTHING = "—"  # what a missing value (a till member's name) reads as, never "None"


def _shown(value: object) -> object:
    return NOTHING if value is None else value


def number_filters(locale: str) -> dict[str, Callable[..., str]]:
    """How numbers read in ``locale`` (``num``) and the nouns after them (``count``, ``plural``):
    every environment that renders ``locales/`` has them, the API's problems too."""
    return {
        "num": lambda n: format_number(int(n), locale),
        "count": lambda n, one, many=None: counted(n, one, many, locale),
        "plural": lambda n, one, many=None: noun(int(n), one, many, locale),
    }


class Translator:
    """Renders a message key in a locale; one Jinja2 environment per locale, built once."""

    def __init__(
        self, tz: ZoneInfo, default_locale: str = DEFAULT_LOCALE, root: Path = LOCALES_DIR
    ) -> None:
        self.tz = tz
        self.default_locale = default_locale
        self._envs = {locale: self._environment(root / locale, locale) for locale in LOCALES}

    def _environment(self, folder: Path, locale: str) -> Environment:
        env = Environment(
            loader=FileSystemLoader(folder),
            autoescape=lambda name: not (name or "").startswith(PLAIN_TEXT),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,  # templates ship with the bot: no disk check on every message
            finalize=_shown,
        )
        env.filters.update(number_filters(locale))
        env.filters["jdate"] = lambda d: jalali.format_date(d, locale, self.tz)
        env.filters["jdatetime"] = lambda d: jalali.format_datetime(d, locale, self.tz)
        # The day an end (a lottery's ``ends_at``, exclusive) falls on: the day staff typed.
        env.filters["jlastday"] = lambda d: jalali.format_date(last_local_day(d, self.tz), locale)
        env.filters["tier"] = lambda key: self(locale, "labels/tier", tier=key)
        env.filters["entry_kind"] = lambda key: self(locale, "labels/entry_kind", kind=key)
        env.filters["allocation"] = lambda key: self(locale, "labels/allocation", allocation=key)
        env.filters["campaign_status"] = lambda key: self(
            locale, "labels/campaign_status", status=key
        )
        env.filters["member_status"] = lambda key: self(locale, "labels/member_status", status=key)
        env.filters["audit_action"] = lambda key: self(locale, "labels/audit_action", action=key)
        env.filters["export_kind"] = lambda key: self(locale, "labels/export_kind", export_kind=key)
        env.globals["locale"] = locale
        return env

    def filters(self, locale: str) -> dict[str, Callable[..., Any]]:
        """The filters templates in ``locale`` read numbers, dates and labels with, for another
        environment that renders with them (the Mini App's pages, :mod:`web.views`)."""
        return dict(self._envs[self.locale_for(locale)].filters)

    def locale_for(self, preferred: str | None) -> str:
        """A supported locale: the member's or Telegram's language if we have it, else default."""
        return supported(preferred, self.default_locale)

    def __call__(self, locale: str, key: str, /, **values: Any) -> str:
        template = self._envs[self.locale_for(locale)].get_template(key + SUFFIX)
        return template.render(**values).strip()

    def segment_words(self, locale: str, tier_keys: Iterable[str]) -> segments.Vocabulary:
        """The segment language's other words: every language's names for its fields, keywords
        and built-in segments (``labels/segment_word``) and for the club's tiers
        (``labels/tier``), each shown to the staff as ``locale`` calls it."""
        tiers = tuple(tier_keys)
        pairs = [
            (own, self(language, "labels/segment_word", word=own))
            for language in (self.locale_for(locale), *LOCALES)
            for own in segments.WORDS
        ] + [
            (key, self(language, "labels/tier", tier=key))
            for language in (self.locale_for(locale), *LOCALES)
            for key in tiers
        ]
        names = {own: self(locale, "labels/segment_word", word=own) for own in segments.WORDS}
        names.update({key: self(locale, "labels/tier", tier=key) for key in tiers})
        return segments.vocabulary(pairs, names)

    def all_labels(self, key: str) -> list[str]:
        """The same key in every locale: a menu button a member may press in either language."""
        return [self(locale, key) for locale in LOCALES]


def plain(html: str) -> str:
    """A rendered message without its HTML, for where Telegram's HTML is not shown: a button's
    alert, an HTTP API's JSON."""
    return unescape(_TAG.sub("", html))


def template_keys(locale: str, root: Path = LOCALES_DIR) -> set[str]:
    folder = root / locale
    return {str(path.relative_to(folder).with_suffix("")) for path in folder.rglob("*" + SUFFIX)}


def commands_from(text: str) -> Iterable[tuple[str, str]]:
    """Parse a rendered command menu: one ``command - description`` per line."""
    for line in text.splitlines():
        command, _, description = line.partition(" - ")
        if command.strip() and description.strip():
            yield command.strip().lstrip("/"), description.strip()
