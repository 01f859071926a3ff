"""The bot's side of the Mini App, through the real Application and the stand-in Bot API: with
``BASHGAH_PUBLIC_URL`` set, startup sets the members' menu button to the app and /points,
/rewards and /card carry a ``web_app`` button to it; unset, nothing advertises an app. The
dashboard's administrator check asks Telegram (``getChatMember``) once a minute at most."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import build_application, running
from bot.shell import MEMBER, STAFF, Driver
from bot.staff_access import staff_admin_check
from bot.standin import ApiCall, BotApiStandin
from core import rewards
from core.config import Settings
from tests.conftest import STAFF_CHAT_ID, BotHarness
from tests.helpers import join_user

PUBLIC_URL = "https://club.example.com"
APP_URL = PUBLIC_URL + "/app"


@pytest.fixture
async def app_bot(engine: AsyncEngine, database_url: str) -> AsyncIterator[BotHarness]:
    """The conftest ``bot``, for a club whose HTTP server Telegram reaches at :data:`PUBLIC_URL`."""
    settings = Settings(
        _env_file=None,
        database_url=database_url,
        staff_chat_id=STAFF_CHAT_ID,
        api_base_url="http://127.0.0.1:9/unused",
        public_url=PUBLIC_URL + "/",
    )
    standin = BotApiStandin()
    app = build_application(settings, request=standin)
    async with running(app):
        yield BotHarness(app, standin, Driver.for_member(app, standin))


def _app_buttons(call: ApiCall) -> list[dict[str, Any]]:
    return [b for b in call.buttons if "web_app" in b]


async def _member_with_a_reward(bot: BotHarness) -> None:
    await join_user(bot.club.sessions, bot.club.rules, MEMBER, "09121234567")
    async with bot.club.sessions() as s, s.begin():
        await rewards.create(s, bot.club.rules, title="Coffee", cost=300)


# --- the setting ------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["https://club.example.com", "https://example.com:8443/bashgah/"])
def test_an_https_public_url_is_taken(url: str) -> None:
    settings = Settings(_env_file=None, public_url=url)
    assert settings.miniapp_url == url.rstrip("/") + "/app"


@pytest.mark.parametrize("url", ["http://club.example.com", "club.example.com", "https://", "x"])
def test_a_public_url_telegram_cannot_open_stops_the_start(url: str) -> None:
    with pytest.raises(ValidationError, match="Mini Apps open only over HTTPS"):
        Settings(_env_file=None, public_url=url)


def test_no_public_url_no_app() -> None:
    assert Settings(_env_file=None).miniapp_url is None


# --- the menu button and the answers' buttons ---------------------------------------------------


async def test_startup_sets_the_menu_button_to_the_app(app_bot: BotHarness) -> None:
    [call] = [c for c in app_bot.standin.calls if c.method == "setChatMenuButton"]
    button = call.params["menu_button"]
    button = button if isinstance(button, dict) else json.loads(button)
    assert button["type"] == "web_app"
    assert button["web_app"] == {"url": APP_URL}
    assert button["text"] == "اپ باشگاه"
    assert "chat_id" not in call.params  # the default button, for every private chat


async def test_points_rewards_and_card_open_the_app(app_bot: BotHarness) -> None:
    await _member_with_a_reward(app_bot)

    [points] = await app_bot.chat.send("/points")
    [catalogue] = await app_bot.chat.send("/rewards")
    [card] = await app_bot.chat.send("/card")

    for answer in (points, catalogue, card):
        assert _app_buttons(answer) == [
            {"text": "📱 باز کردن اپ باشگاه", "web_app": {"url": APP_URL}}
        ]
    rows = catalogue.markup["inline_keyboard"]
    assert [b["text"] for b in rows[0]] == ["Coffee · ۳۰۰ امتیاز"]  # the rewards stay, app last
    assert "web_app" in rows[-1][0] and len(rows) == 2


async def test_without_a_public_url_no_app_is_offered(bot: BotHarness) -> None:
    await _member_with_a_reward(bot)

    answers = [
        *await bot.chat.send("/points"),
        *await bot.chat.send("/rewards"),
        *await bot.chat.send("/card"),
    ]

    assert not [c for c in bot.standin.calls if c.method == "setChatMenuButton"]
    assert all(_app_buttons(answer) == [] for answer in answers)
    [catalogue] = [a for a in answers if a.buttons]
    assert [b["text"] for b in catalogue.buttons] == ["Coffee · ۳۰۰ امتیاز"]


# --- who sees the dashboard ---------------------------------------------------------------------


def _asked(bot: BotHarness) -> int:
    return sum(c.method == "getChatMember" for c in bot.standin.calls)


@pytest.mark.parametrize(
    ("status", "admin"),
    [("creator", True), ("administrator", True), ("member", False), ("left", False)],
)
async def test_only_the_staff_groups_administrators_get_the_dashboard(
    bot: BotHarness, status: str, admin: bool
) -> None:
    bot.standin.chat_member_status[(STAFF_CHAT_ID, STAFF["id"])] = status
    is_admin = staff_admin_check(bot.app)
    before = _asked(bot)

    assert await is_admin(STAFF["id"]) is admin
    [asked] = [c for c in bot.standin.calls[-1:] if c.method == "getChatMember"]
    assert (int(asked.params["chat_id"]), int(asked.params["user_id"])) == (
        STAFF_CHAT_ID,
        STAFF["id"],
    )
    assert await is_admin(STAFF["id"]) is admin  # remembered: Telegram is asked once
    assert _asked(bot) == before + 1


async def test_the_dashboard_and_the_chat_share_one_answer(bot: BotHarness) -> None:
    """An administrator's chat command and their dashboard ask Telegram once between them."""
    bot.standin.chat_member_status[(STAFF_CHAT_ID, STAFF["id"])] = "administrator"
    bot.chat.as_staff(STAFF_CHAT_ID)
    await bot.chat.send("/stats")
    before = _asked(bot)

    assert await staff_admin_check(bot.app)(STAFF["id"]) is True
    assert _asked(bot) == before
