"""Finding the staff group's chat id: ``/chatid``, or the bot added to a group, answers with the
id and the exact settings line, in the club's language, while no staff group is set or in the
staff group itself; anywhere else the bot stays silent."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import build_application, running
from bot.shell import MEMBER, STAFF, Driver
from bot.standin import _ADMIN_RIGHTS, BOT_USER, BotApiStandin
from core.config import Settings
from tests.conftest import STAFF_CHAT_ID, BotHarness

OTHER_GROUP = -1009876543210
LINE = "<code>BASHGAH_STAFF_CHAT_ID={}</code>"


@pytest.fixture
async def unset(engine: AsyncEngine, database_url: str) -> AsyncIterator[BotHarness]:
    """A bot being set up: no staff group yet; its club speaks English."""
    settings = Settings(
        _env_file=None, database_url=database_url, locale="en",
        api_base_url="http://127.0.0.1:9/unused",
    )  # fmt: skip
    standin = BotApiStandin()
    app = build_application(settings, request=standin)
    async with running(app):
        yield BotHarness(app, standin, Driver.for_member(app, standin))


async def _bot_added(
    harness: BotHarness, chat_id: int, *, was: str = "left", now: str = "member"
) -> list[Any]:
    """The ``my_chat_member`` update Telegram sends when the bot's status in a group changes."""
    chat = {"id": chat_id, "type": "supergroup", "title": "Cafe staff"}
    harness.chat.as_staff(chat_id)

    def status(name: str) -> dict[str, Any]:
        extra = {"administrator": _ADMIN_RIGHTS, "kicked": {"until_date": 0}}.get(name, {})
        return {"status": name, "user": BOT_USER, **extra}

    change = {"chat": chat, "from": STAFF, "date": int(time.time()),
              "old_chat_member": status(was), "new_chat_member": status(now)}  # fmt: skip
    return await harness.chat._feed({"my_chat_member": change})


async def test_chatid_in_the_staff_group_shows_its_settings_line(bot: BotHarness) -> None:
    bot.chat.as_staff(STAFF_CHAT_ID)
    [reply] = await bot.chat.send("/chatid")

    assert reply.params["chat_id"] == STAFF_CHAT_ID
    assert LINE.format(STAFF_CHAT_ID) in reply.text
    assert "گروه کارکنان باشگاه است" in reply.text  # the club's language: Persian by default


async def test_chatid_in_a_group_while_no_staff_group_is_set(unset: BotHarness) -> None:
    unset.chat.as_staff(OTHER_GROUP)
    [reply] = await unset.chat.send("/chatid@bashgah_demo_bot")

    assert reply.params["chat_id"] == OTHER_GROUP
    assert LINE.format(OTHER_GROUP) in reply.text and "restart the bot" in reply.text


async def test_chatid_in_another_group_gets_nothing_once_the_staff_group_is_set(
    bot: BotHarness,
) -> None:
    bot.chat.as_staff(OTHER_GROUP)
    assert await bot.chat.send("/chatid") == []
    assert await _bot_added(bot, OTHER_GROUP) == []


async def test_chatid_in_a_private_chat_reveals_nothing(unset: BotHarness) -> None:
    unset.chat.as_member(MEMBER)
    replies = await unset.chat.send("/chatid")
    assert all("BASHGAH_STAFF_CHAT_ID" not in reply.text for reply in replies)


async def test_the_bot_added_to_a_group_tells_its_id_once(unset: BotHarness) -> None:
    [reply] = await _bot_added(unset, OTHER_GROUP)
    assert reply.params["chat_id"] == OTHER_GROUP and LINE.format(OTHER_GROUP) in reply.text

    assert await _bot_added(unset, OTHER_GROUP, was="member", now="administrator") == []
    assert await _bot_added(unset, OTHER_GROUP, was="member", now="left") == []
    [again] = await _bot_added(unset, OTHER_GROUP, was="kicked", now="administrator")
    assert LINE.format(OTHER_GROUP) in again.text


async def test_the_bot_added_to_the_staff_group_tells_its_id(bot: BotHarness) -> None:
    [reply] = await _bot_added(bot, STAFF_CHAT_ID)
    assert LINE.format(STAFF_CHAT_ID) in reply.text
