"""What the Mini App's tests share: a member launching the app, the ``Authorization: tma`` header
Telegram's page sends, signed with the bot token of the ``app_club`` fixture (tests/conftest.py)."""

from __future__ import annotations

import time
from typing import Any

import httpx

from core.club import Club
from core.models import Member
from tests.browser.harness import launch_data
from tests.conftest import MINIAPP_TOKEN as TOKEN
from web.app import create_app
from web.launch import IsAdmin


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
