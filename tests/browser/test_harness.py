"""The browser harness itself, on a tiny Mini App made here: launched as Telegram launches it, the
page reads its user, calls Telegram, follows the theme, answers the MainButton, BackButton and a
confirmation, reaches nothing beyond the machine, and draws Persian in our web font."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from core.club import Club
from core.models import Branch
from tests.browser.harness import (
    answer_popup,
    called,
    launch_data,
    main_button,
    open_app,
    page_errors,
    page_weight,
    popup,
    press_back_button,
    press_main_button,
    serve,
    set_theme,
    telegram_calls,
)
from tests.browser.themes import DARK, LIGHT
from web.init_data import InitDataRejected, verify

TOKEN = "123456:harness-token"
USER = {"id": 4242, "first_name": "زهرا", "last_name": "رضایی", "language_code": "fa"}
FONTS = Path(__file__).resolve().parents[2] / "web" / "static" / "fonts"
SCREENSHOT = Path("/tmp/harness.png")
#: The Mini App's budget for its first view, fonts included (issue 16).
FIRST_VIEW_BYTES = 150_000

PAGE = """<!doctype html>
<html lang="fa" dir="rtl">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<script src="https://telegram.org/js/telegram-web-app.js?57"></script>
<style>
@font-face { font-family: Vazirmatn; font-weight: 400; font-display: swap;
  src: url(/static/fonts/vazirmatn-regular.woff2) format("woff2"); }
@font-face { font-family: Vazirmatn; font-weight: 700; font-display: swap;
  src: url(/static/fonts/vazirmatn-bold.woff2) format("woff2"); }
body { margin: 0; padding: 24px; font: 18px/1.7 Vazirmatn, sans-serif;
  background: var(--tg-theme-bg-color); color: var(--tg-theme-text-color); }
.card { padding: 16px; border-radius: 12px; background: var(--tg-theme-secondary-bg-color); }
.hint { color: var(--tg-theme-hint-color); font-size: 15px; }
</style>
</head>
<body>
<h1>سلام <span id="name"></span>!</h1>
<div class="card">
  <p><b>امتیاز شما: ۱٬۲۵۰</b> (۱۲٫۵٪ بیشتر از ماه پیش)</p>
  <p class="hint">«جایزه‌ها» را ببینید؛ هر خرید امتیاز می‌آورد، نه؟ Bashgah 2026</p>
</div>
<p id="who" dir="ltr"></p>
<p id="pressed"></p>
<p id="answer"></p>
<script>
const tg = Telegram.WebApp;
tg.ready();
tg.expand();
document.getElementById('name').textContent = (tg.initDataUnsafe.user || {}).first_name || '';
fetch('/whoami', {headers: {Authorization: 'tma ' + tg.initData}})
  .then(response => response.text())
  .then(text => { document.getElementById('who').textContent = text; });
tg.MainButton.setText('ثبت خرید').show().onClick(() => {
  tg.HapticFeedback.impactOccurred('light');
  tg.showConfirm('ثبت شود؟', ok => {
    document.getElementById('answer').textContent = ok ? 'yes' : 'no';
  });
});
tg.BackButton.show();
tg.BackButton.onClick(() => { document.getElementById('pressed').textContent = 'back'; });
</script>
</body>
</html>
"""


async def _page(_: Request) -> Response:
    return HTMLResponse(PAGE)


async def _whoami(request: Request) -> Response:
    """What a Mini App endpoint does first: the launch data checked, whoever it claims to be."""
    scheme, _, raw = request.headers.get("authorization", "").partition(" ")
    try:
        data = verify(raw, TOKEN, max_age_seconds=3600, now=time.time())
    except InitDataRejected as rejected:
        return JSONResponse({"refused": rejected.reason}, status_code=401)
    return JSONResponse({"scheme": scheme, "user": data.user_id})


APP = Starlette(
    routes=[
        Route("/app", _page),
        Route("/app/other", _page),
        Route("/whoami", _whoami),
        Mount("/static/fonts", StaticFiles(directory=FONTS)),
    ]
)


async def _launched(browser: Browser, base_url: str) -> Page:
    init_data = launch_data(TOKEN, USER, auth_date=int(time.time()))
    return await open_app(browser, base_url, "/app", init_data=init_data, theme=LIGHT)


async def _background(page: Page) -> str:
    return str(await page.evaluate("getComputedStyle(document.body).backgroundColor"))


async def test_the_page_is_launched_as_telegram_launches_it(chromium: Browser) -> None:
    async with serve(APP) as base_url:
        init_data = launch_data(TOKEN, USER, auth_date=int(time.time()))
        page = await open_app(
            chromium, base_url, "/app", init_data=init_data, theme=LIGHT, locale="fa-IR"
        )
        await expect(page.locator("#name")).to_have_text("زهرا")
        # The page sent initData back whole, and the server's own check accepted it.
        await expect(page.locator("#who")).to_have_text('{"scheme":"tma","user":4242}')
        assert await page.evaluate("Telegram.WebApp.initData") == init_data
        assert await page.evaluate("[Telegram.WebApp.platform, navigator.language]") == [
            "android",
            "fa-IR",
        ]
        assert await page.evaluate("Telegram.WebApp.isExpanded") is True
        assert (await called(page))[:2] == ["ready", "expand"]
        assert {"method": "MainButton.setText", "args": ["ثبت خرید"], "path": "/app"} in (
            await telegram_calls(page)
        )
        assert await main_button(page) == {
            "text": "ثبت خرید",
            "color": LIGHT["button_color"],
            "textColor": LIGHT["button_text_color"],
            "isVisible": True,
            "isActive": True,
            "isProgressVisible": False,
        }
        # A page the app goes to without the hash keeps its launch, as in Telegram.
        await page.goto(f"{base_url}/app/other")
        await expect(page.locator("#name")).to_have_text("زهرا")
        assert [c["path"] for c in await telegram_calls(page) if c["method"] == "ready"] == [
            "/app",
            "/app/other",
        ]
        assert page_errors(page) == []


async def test_without_launch_data_the_page_has_none_and_the_server_refuses(
    chromium: Browser,
) -> None:
    async with serve(APP) as base_url:
        page = await open_app(chromium, base_url, "/app", init_data=None, theme=LIGHT)
        await expect(page.locator("#who")).to_have_text('{"refused":"malformed"}')
        assert await page.evaluate("Telegram.WebApp.initData") == ""
        assert await page.evaluate("Telegram.WebApp.initDataUnsafe") == {}


async def test_a_theme_switch_recolours_the_page_live(chromium: Browser) -> None:
    async with serve(APP) as base_url:
        page = await _launched(chromium, base_url)
        assert await _background(page) == "rgb(255, 255, 255)"
        assert await page.evaluate("Telegram.WebApp.colorScheme") == "light"
        await page.evaluate(
            "window.themes = []; Telegram.WebApp.onEvent('themeChanged',"
            " () => themes.push(Telegram.WebApp.colorScheme))"
        )
        with pytest.raises(ValueError, match="Telegram derives the scheme from bg_color"):
            await set_theme(page, DARK, "light")
        await set_theme(page, DARK, "dark")
        assert await _background(page) == "rgb(33, 45, 59)"
        assert await page.evaluate("themes") == ["dark"]
        assert await page.evaluate("matchMedia('(prefers-color-scheme: dark)').matches")
        variables = await page.evaluate(
            "['--tg-theme-secondary-bg-color', '--tg-color-scheme', '--tg-viewport-height']"
            ".map(name => document.documentElement.style.getPropertyValue(name))"
        )
        assert variables == [DARK["secondary_bg_color"], "dark", "844px"]


async def test_telegrams_buttons_and_popup_reach_the_page(chromium: Browser) -> None:
    async with serve(APP) as base_url:
        page = await _launched(chromium, base_url)
        await expect(page.locator("#name")).to_have_text("زهرا")
        await press_main_button(page)
        assert await popup(page) == {
            "message": "ثبت شود؟",
            "buttons": [{"id": "ok", "type": "ok"}, {"id": "", "type": "cancel"}],
        }
        await answer_popup(page, ok=False)
        await expect(page.locator("#answer")).to_have_text("no")
        await press_main_button(page)
        await answer_popup(page, ok=True)
        await expect(page.locator("#answer")).to_have_text("yes")
        assert (await called(page))[-2:] == ["HapticFeedback.impactOccurred", "showConfirm"]
        await press_back_button(page)
        await expect(page.locator("#pressed")).to_have_text("back")


async def test_nothing_beyond_the_machine_is_reached(chromium: Browser) -> None:
    async with serve(APP) as base_url:
        page = await _launched(chromium, base_url)
        outcome = await page.evaluate(
            "fetch('https://api.telegram.org/').then(() => 'reached', error => error.name)"
        )
        assert outcome == "TypeError"  # what fetch says when offline


async def test_persian_is_drawn_in_our_font_within_the_first_view_budget(
    chromium: Browser,
) -> None:
    async with serve(APP) as base_url:
        page = await _launched(chromium, base_url)
        await expect(page.locator("#who")).not_to_be_empty()
        faces = await page.evaluate(
            """async () => {
                await document.fonts.ready;
                return [...document.fonts].map(face => [face.weight, face.status]);
            }"""
        )
        assert sorted(faces) == [["400", "loaded"], ["700", "loaded"]]
        assert await page.evaluate("document.fonts.check('700 18px Vazirmatn', 'امتیاز ۱٬۲۵۰')")
        assert await page_weight(page) < FIRST_VIEW_BYTES
        await page.screenshot(path=SCREENSHOT)


async def test_the_served_app_works_on_the_tests_open_club(chromium: Browser, club: Club) -> None:
    """uvicorn runs in the test's loop, where the club's connections were opened (asyncpg's
    cannot be used from another loop)."""

    async def branches(_: Request) -> Response:
        async with club.sessions() as session:
            return JSONResponse(list(await session.scalars(select(Branch.code))))

    app = Starlette(routes=[Route("/app", _page), Route("/branches", branches)])
    async with serve(app) as base_url:
        page = await _launched(chromium, base_url)
        assert await page.evaluate("fetch('/branches').then(answer => answer.json())") == ["main"]
