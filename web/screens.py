"""What a Mini App request answers: a screen, as JSON the page's script (``app.js``) shows.

A screen is ``{"lang", "dir", "html"}``, the HTML rendered on the server (:mod:`web.views`), and
optionally:

- ``main_button``: ``{"text", "confirm", "post"}``, Telegram's MainButton for the screen's one
  action: pressed, it asks ``confirm`` with ``showConfirm`` and POSTs to ``post`` with an
  ``Idempotency-Key`` made once per screen shown, so a double tap sends the same request twice
  and the action happens once;
- ``refresh``: ``{"url", "seconds"}``, a part of the screen to fetch again (the card's QR code):
  the answer is ``{"parts": {element id: html}, "refresh": …}``;
- ``haptic``: ``"success"``, a notification felt as the screen appears (a redeemed reward).

The script knows nothing of loyalty; everything a screen says and does comes from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Request

from texts import plain
from web.views import Views, direction


@dataclass(frozen=True)
class MainButton:
    text: str
    confirm: str
    post: str


def views(request: Request) -> Views:
    return request.app.state.views


def screen(
    request: Request,
    locale: str,
    template: str,
    /,
    *,
    main_button: MainButton | None = None,
    refresh: dict[str, Any] | None = None,
    haptic: str | None = None,
    **values: Any,
) -> dict[str, Any]:
    """``template`` rendered in ``locale`` as a screen."""
    shown = views(request)
    locale = shown.locale_for(locale)
    answer: dict[str, Any] = {
        "lang": locale,
        "dir": direction(locale),
        "html": shown(locale, template, **values),
    }
    if main_button is not None:
        answer["main_button"] = {
            "text": main_button.text,
            "confirm": main_button.confirm,
            "post": main_button.post,
        }
    if refresh is not None:
        answer["refresh"] = refresh
    if haptic is not None:
        answer["haptic"] = haptic
    return answer


def words(request: Request, locale: str, key: str, /, **values: Any) -> str:
    """One of the app's texts (``locales/<lang>/app/<key>.j2``) as plain text: a button's label,
    a confirmation Telegram shows outside the page."""
    return plain(views(request).translator(locale, "app/" + key, **values))
