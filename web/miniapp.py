"""The Mini App, Bashgah's second face inside Telegram: its pages, its static files, its API.

- ``/app``: the member's app; ``/app/staff``: the owner's dashboard. Both are the same small page
  (``templates/page.html``), which loads Telegram's ``telegram-web-app.js``, then ``app.js``, which
  sends the launch data Telegram gave it with every request and shows the screens the API answers
  (:mod:`web.screens`). The page itself carries no one's data, so it needs no launch data.
- ``/app/static``: ``app.js``, ``app.css`` and the Vazirmatn font.
- ``/app/api/…``: the member's screens (:mod:`web.app_member`, :mod:`web.app_profile`) and the
  dashboard's
  (:mod:`web.app_staff`), each checked with :mod:`web.launch`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from core.club import Club
from texts import Translator
from web import app_compose, app_member, app_profile, app_staff
from web.launch import IsAdmin
from web.views import Views

STATIC = Path(__file__).parent / "static"
#: Telegram's script, loaded from Telegram as its documentation asks.
TELEGRAM_SCRIPT = "https://telegram.org/js/telegram-web-app.js"
HOMES = {"/app": "/app/api/card", "/app/staff": "/app/api/staff"}


def mount(app: FastAPI, club: Club, is_admin: IsAdmin | None) -> None:
    """The Mini App on ``app``, over ``club``; ``is_admin`` answers who may see the dashboard."""
    app.state.views = Views(Translator(club.settings.tz, club.settings.locale))
    app.state.is_admin = is_admin
    app.mount("/app/static", StaticFiles(directory=STATIC), name="app-static")
    app.include_router(app_member.router)
    app.include_router(app_profile.router)
    app.include_router(app_staff.router)
    app.include_router(app_compose.router)
    for path, home in HOMES.items():
        app.add_api_route(path, _page(home), methods=["GET"], include_in_schema=False)


def _page(home: str) -> Callable[[Request], Awaitable[HTMLResponse]]:
    """The page that starts at ``home``, the first screen its script asks for."""

    async def page(request: Request) -> HTMLResponse:
        club: Club = request.app.state.club
        views: Views = request.app.state.views
        html = views(club.settings.locale, "page.html", home=home, telegram=TELEGRAM_SCRIPT)
        return HTMLResponse(html, headers={"Cache-Control": "no-cache"})

    return page
