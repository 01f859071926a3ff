"""What the Mini App's tests share: a club whose bot has a token (the launch data is signed with
it), a member launching the app, and the ``Authorization: tma`` header Telegram's page sends."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.club import Club
from core.config import Settings
from core.models import Member
from core.rules import Rules
from tests.browser.harness import launch_data
from tests.conftest import STAFF_CHAT_ID
from web.app import create_app
from web.launch import IsAdmin

TOKEN = "7000000001:AAE-miniapp-test-token_0123456789abc"


@pytest.fixture
async def app_club(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], database_url: str
) -> AsyncIterator[Club]:
    """The suite's club, with a bot token: the key of every launch's signature."""
    settings = Settings(
        _env_file=None,
        database_url=database_url,
        staff_chat_id=STAFF_CHAT_ID,
        bot_token=SecretStr(TOKEN),
    )
    club = Club(settings, Rules(), engine, sessions)
    yield club
    club.release()


def user_of(member: Member, language: str = "fa") -> dict[str, Any]:
    """The Telegram user in the launch data of ``member``'s app."""
    return {"id": member.telegram_id, "first_name": member.name or "", "language_code": language}


def tma(user: dict[str, Any], *, age: int = 0, token: str = TOKEN) -> dict[str, str]:
    """The header the page sends: launch data signed ``age`` seconds ago."""
    return {"Authorization": "tma " + launch_data(token, user, auth_date=int(time.time()) - age)}


def admins(*user_ids: int) -> IsAdmin:
    """Telegram's answer to "is this user an administrator of the staff group?"."""

    async def is_admin(user_id: int) -> bool:
        return user_id in user_ids

    return is_admin


def client(club: Club, is_admin: IsAdmin | None = None) -> httpx.AsyncClient:
    """HTTP through the ASGI app, as the page calls it."""
    app = create_app(club, is_admin=is_admin)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app")
