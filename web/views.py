"""The Mini App's pages: HTML from ``web/templates``, every word from ``locales/<lang>/app/``
(or, through ``said``, the chat's own words for the same thing).

The page's shape (which block holds the balance, where the QR goes) is the same in every language,
so it lives once in ``web/templates``; its words are the translator's (``t("card/balance")``
renders ``locales/<lang>/app/card/balance.j2``), and numbers and dates go through the same filters
as the chat's (``|num``, ``|jdate``, ``|tier``), so the app and the chat never disagree about how a
balance or a date reads. Autoescaped: a member named ``<b>Ali</b>`` shows as typed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape

from core.locales import LOCALES
from texts import PLAIN_TEXT, Translator

TEMPLATES = Path(__file__).parent / "templates"
RIGHT_TO_LEFT = frozenset({"fa"})


def direction(locale: str) -> str:
    """``rtl`` or ``ltr``: the page's ``dir`` in ``locale``."""
    return "rtl" if locale in RIGHT_TO_LEFT else "ltr"


class Views:
    """Renders a page template in a locale; one Jinja2 environment per locale, built once."""

    def __init__(self, translator: Translator) -> None:
        self.translator = translator
        self._envs = {locale: self._environment(locale) for locale in LOCALES}

    def _environment(self, locale: str) -> Environment:
        env = Environment(
            loader=FileSystemLoader(TEMPLATES),
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,
        )
        env.filters.update(self.translator.filters(locale))
        # The translator's templates are autoescaped already: their HTML is the page's own.
        env.globals["t"] = lambda key, **values: Markup(
            self.translator(locale, "app/" + key, **values)
        )
        env.globals["said"] = lambda key, **values: self._said(locale, key, values)
        env.globals["locale"] = locale
        env.globals["dir"] = direction(locale)
        return env

    def _said(self, locale: str, key: str, values: dict[str, Any]) -> Markup:
        """The chat's own words for the same thing (a button's label, a profile option), so the
        app and the chat name a choice alike; plain-text keys are escaped here."""
        text = self.translator(locale, key, **values)
        return escape(text) if key.startswith(PLAIN_TEXT) else Markup(text)

    def locale_for(self, preferred: str | None) -> str:
        return self.translator.locale_for(preferred)

    def __call__(self, locale: str, name: str, /, **values: Any) -> str:
        """Template ``name`` (``card.html``) rendered in ``locale``."""
        env = self._envs[self.locale_for(locale)]
        return env.get_template(name).render(**values)
