"""The Mini App in a real browser, launched as Telegram launches it, with Telegram played by a fake.

- :func:`serve` runs an ASGI app under uvicorn on 127.0.0.1 in the test's own event loop, so the
  app works on the test's open club;
- :func:`launch_data` makes ``initData`` as Telegram signs it for a user;
- :func:`open_app` opens a page on a phone-sized screen at ``path`` with the launch parameters in
  the URL's hash, exactly as a Telegram client opens a Mini App (core.telegram.org/bots/webapps),
  with ``telegram-web-app.js`` answered by ``fake_telegram_web_app.js`` and every other request
  that would leave the machine refused;
- the rest is what a person does or sees in Telegram around the page: the methods the page called
  (:func:`telegram_calls`), the MainButton and BackButton pressed, a popup answered, the theme
  switched, and what the page weighed and threw.

A page test, with the ``chromium`` fixture (tests/browser/conftest.py) and the suite's ``club``::

    async def test_the_member_sees_their_points(chromium: Browser, club: Club) -> None:
        user = {"id": 42, "first_name": "زهرا", "language_code": "fa"}
        init_data = launch_data(TOKEN, user, auth_date=int(time.time()))
        async with serve(create_app(club)) as base_url:
            page = await open_app(chromium, base_url, "/app", init_data=init_data, theme=LIGHT)
            await expect(page.get_by_text("۱٬۲۵۰")).to_be_visible()
            assert "ready" in await called(page)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import weakref
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, urlencode, urlsplit

import uvicorn
from playwright.async_api import Browser, Page, Route
from starlette.types import ASGIApp

from tests.browser.themes import scheme_of
from web.init_data import sign

TELEGRAM_SCRIPT = "https://telegram.org/js/telegram-web-app.js"
FAKE_SCRIPT = (Path(__file__).parent / "fake_telegram_web_app.js").read_bytes()
LOOPBACK = "127.0.0.1"
#: A phone: the size of an iPhone 14's or a Pixel 7's screen in CSS pixels, at twice the density.
PHONE = {"width": 390, "height": 844}
#: Long enough for a loaded machine, short enough that a page that never shows something fails
#: the test well before pytest is killed.
TIMEOUT_MS = 10_000
#: What Telegram's clients send as ``query_id`` when a Mini App is opened from a button.
QUERY_ID = "AAHdF6IQAAAAAN0XohDhrOrc"

Scheme = Literal["light", "dark"]

_errors: weakref.WeakKeyDictionary[Page, list[str]] = weakref.WeakKeyDictionary()


class _QuietServer(uvicorn.Server):
    """uvicorn inside the test's loop: the test runner keeps its signal handlers."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def serve(app: ASGIApp) -> AsyncIterator[str]:
    """``app`` served on 127.0.0.1 at a free port until the block ends; yields its base URL
    (``http://127.0.0.1:PORT``). Requests in flight at the end get a second to finish."""
    sock = socket.create_server((LOOPBACK, 0))
    config = uvicorn.Config(app, log_config=None, access_log=False, timeout_graceful_shutdown=1)
    server = _QuietServer(config)
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if serving.done():
                serving.result()  # the reason it stopped, e.g. a failed startup
                raise RuntimeError("uvicorn stopped before it started serving")
            await asyncio.sleep(0.01)
        yield f"http://{LOOPBACK}:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await serving
        sock.close()


def launch_data(bot_token: str, user: dict[str, Any], *, auth_date: int, **extra: str) -> str:
    """Raw ``initData`` as Telegram makes it for ``user``: ``query_id``, ``user`` as compact JSON
    (with ``/`` escaped, as Telegram's JSON has it), any ``extra`` fields, ``auth_date``, and the
    ``hash`` signed with ``bot_token``; every value URL-encoded, ``/`` and ``:`` included."""
    fields = {
        "query_id": extra.pop("query_id", QUERY_ID),
        "user": json.dumps(user, ensure_ascii=False, separators=(",", ":")).replace("/", "\\/"),
        **extra,
        "auth_date": str(auth_date),
    }
    return urlencode({**fields, "hash": sign(fields, bot_token)}, quote_via=quote)


def launch_url(
    base_url: str, path: str, init_data: str | None, theme: dict[str, str] | None
) -> str:
    """``base_url + path`` with the launch parameters in the hash, as Telegram's clients open a
    Mini App: each value URL-encoded once more, ``tgWebAppData`` left out without launch data."""
    params = {
        **({"tgWebAppData": init_data} if init_data is not None else {}),
        "tgWebAppVersion": "8.0",
        "tgWebAppPlatform": "android",
        **({"tgWebAppThemeParams": json.dumps(theme, separators=(",", ":"))} if theme else {}),
    }
    return f"{base_url}{path}#{urlencode(params, quote_via=quote)}"


async def open_app(
    browser: Browser,
    base_url: str,
    path: str,
    *,
    init_data: str | None,
    theme: dict[str, str] | None,
    color_scheme: Scheme = "light",
    locale: str | None = None,
) -> Page:
    """A new page on a phone, in a context of its own, showing ``path`` as Telegram opens it.

    ``color_scheme`` is what the page's ``prefers-color-scheme`` says; it must agree with the
    theme's background, from which Telegram's script derives ``Telegram.WebApp.colorScheme``.
    Only 127.0.0.1 is reached; Telegram's script is the fake, and anything else is refused as if
    offline.
    """
    _check_scheme(theme, color_scheme)
    context = await browser.new_context(
        viewport=PHONE,
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        color_scheme=color_scheme,
        locale=locale,
        service_workers="block",  # so that every request passes through the route below
    )
    context.set_default_timeout(TIMEOUT_MS)
    await context.route("**/*", _offline_but_telegram)
    page = await context.new_page()
    errors = _errors[page] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    await page.goto(launch_url(base_url, path, init_data, theme))
    return page


async def _offline_but_telegram(route: Route) -> None:
    url = route.request.url
    if url.startswith(TELEGRAM_SCRIPT):
        await route.fulfill(body=FAKE_SCRIPT, content_type="application/javascript")
    elif urlsplit(url).hostname == LOOPBACK:
        await route.continue_()
    else:
        await route.abort("internetdisconnected")


def _check_scheme(theme: dict[str, str] | None, color_scheme: Scheme) -> None:
    derived = scheme_of(theme or {})
    if derived is not None and derived != color_scheme:
        raise ValueError(
            f"a {color_scheme} color scheme with a {derived} background: Telegram derives the"
            " scheme from bg_color, so no client launches that"
        )


async def telegram_calls(page: Page) -> list[dict[str, Any]]:
    """Every ``Telegram.WebApp`` method the page called in this tab, in order, as
    ``{"method": "MainButton.setText", "args": [...], "path": "/app"}`` (a callback argument
    shows as ``"function"``); it survives the page's navigation, as the tab does."""
    return list(await page.evaluate("window.__fakeTelegram.calls()"))


async def called(page: Page) -> list[str]:
    """The names alone of :func:`telegram_calls`, for the common assertion."""
    return [call["method"] for call in await telegram_calls(page)]


async def main_button(page: Page) -> dict[str, Any]:
    """The MainButton as Telegram draws it: ``text``, ``color``, ``textColor``, ``isVisible``,
    ``isActive``, ``isProgressVisible``."""
    return dict(await page.evaluate("window.__fakeTelegram.mainButton()"))


async def press_main_button(page: Page) -> None:
    """The user taps the MainButton: an error if it is hidden; nothing happens if it is inactive,
    as in Telegram."""
    await page.evaluate("window.__fakeTelegram.pressMainButton()")


async def press_back_button(page: Page) -> None:
    """The user taps Telegram's back button: an error if the page has not shown it."""
    await page.evaluate("window.__fakeTelegram.pressBackButton()")


async def popup(page: Page) -> dict[str, Any] | None:
    """The popup Telegram shows (``title``, ``message``, ``buttons``), or None."""
    shown = await page.evaluate("window.__fakeTelegram.popup()")
    return dict(shown) if shown else None


async def answer_popup(page: Page, ok: bool, *, button_id: str | None = None) -> dict[str, Any]:
    """The user answers the open ``showConfirm``/``showPopup``/``showAlert`` and it closes; returns
    what it showed.

    ``ok`` presses its OK button (an alert's only button); not ``ok`` presses its cancel or close
    button or, with neither, dismisses it. ``button_id`` presses that button instead.
    """
    shown = await popup(page)
    if shown is None:
        raise AssertionError("no popup is open")
    buttons = shown["buttons"]
    if button_id is not None:
        if button_id not in [button["id"] for button in buttons]:
            raise AssertionError(f"the popup has no button {button_id!r}: {buttons}")
        pressed: str | None = button_id
    elif ok:
        oks = [b["id"] for b in buttons if b["type"] == "ok"] or (
            [buttons[0]["id"]] if len(buttons) == 1 else []
        )
        if not oks:
            raise AssertionError(f"which button is OK? pass button_id: {buttons}")
        pressed = oks[0]
    else:
        pressed = next((b["id"] for b in buttons if b["type"] in ("cancel", "close")), None)
    await page.evaluate("id => window.__fakeTelegram.closePopup(id)", pressed)
    return shown


async def set_theme(page: Page, params: dict[str, str], color_scheme: Scheme) -> None:
    """The user switches Telegram to another theme: the page's ``prefers-color-scheme``, then
    ``themeParams``, ``colorScheme`` and the ``--tg-*`` variables change, and ``themeChanged``
    fires, in the order Telegram's script does it."""
    _check_scheme(params, color_scheme)
    await page.emulate_media(color_scheme=color_scheme)
    await page.evaluate("params => window.__fakeTelegram.changeTheme(params)", params)


def page_errors(page: Page) -> list[str]:
    """The uncaught exceptions of the page's scripts so far (a Telegram event handler's too)."""
    return list(_errors[page])


async def page_weight(page: Page) -> int:
    """Bytes the page fetched from our server so far (its document and every resource, bodies as
    sent), not counting Telegram's script, which Telegram's clients keep cached."""
    return int(
        await page.evaluate(
            """() => performance.getEntriesByType('navigation')
                .concat(performance.getEntriesByType('resource'))
                .filter(entry => new URL(entry.name).hostname === '127.0.0.1')
                .reduce((sum, entry) => sum + entry.encodedBodySize, 0)"""
        )
    )
