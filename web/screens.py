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

import re
from dataclasses import asdict, dataclass
from typing import Annotated, Any

from fastapi import Depends, Header, Request

from texts import plain
from web.problems import Refused
from web.views import Views, direction

KEY_LIMIT = 64
_KEY = re.compile(rf"^[A-Za-z0-9-]{{1,{KEY_LIMIT}}}$")


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
        answer["main_button"] = asdict(main_button)
    if refresh is not None:
        answer["refresh"] = refresh
    if haptic is not None:
        answer["haptic"] = haptic
    return answer


def words(request: Request, locale: str, key: str, /, **values: Any) -> str:
    """One of the app's texts (``locales/<lang>/app/<key>.j2``) as plain text: a button's label,
    a confirmation Telegram shows outside the page."""
    return plain(views(request).translator(locale, "app/" + key, **values))


def screen_key(key: Annotated[str | None, Header(alias="Idempotency-Key")] = None) -> str:
    """The key the page made for the screen an action was pressed on (a UUID): the action's own
    key derives from it, so a second tap or a retry does it once. Short enough to fit a core
    request key with the member's id and the thing acted on."""
    if key is None or not _KEY.match(key):
        raise Refused(400, "idempotency_key_required", limit=KEY_LIMIT)
    return key


ScreenKey = Annotated[str, Depends(screen_key)]
