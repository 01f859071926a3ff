"""Conversation state in the database: a join half done goes on in a new process, and the
persistence writes only what changed (members send most updates, and most change nothing)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event, select

from bot.app import build_application, running
from bot.persistence import DatabasePersistence
from bot.shell import MEMBER, Driver
from bot.standin import BotApiStandin
from core.club import Club
from core.models import Member
from tests.conftest import BotHarness


@contextmanager
def statements(club: Club) -> Iterator[list[str]]:
    """The SQL statements sent to the club's database inside the block."""
    sent: list[str] = []

    def record(*args: Any) -> None:
        sent.append(args[2])

    event.listen(club.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(club.engine.sync_engine, "before_cursor_execute", record)


async def _persistence(club: Club) -> DatabasePersistence:
    persistence = DatabasePersistence()
    persistence.use(club)
    await persistence.get_user_data()  # what a start loads: the baseline of what is stored
    return persistence


async def test_a_join_goes_on_in_a_new_process(bot: BotHarness) -> None:
    await bot.chat.send("/start")
    await bot.chat.share_contact("989121234567")

    # A second application over the same database stands for the bot after a restart.
    standin = BotApiStandin()
    restarted = build_application(bot.app.bot_data["settings"], request=standin)
    async with running(restarted):
        assert restarted.user_data[MEMBER["id"]]["join"]["phone"] == "+989121234567"
        chat = Driver.for_member(restarted, standin)
        [ask_birthday] = await chat.send("Sara Ahmadi")  # the keyboard's button, typed
        assert "۱۳۷۰/۰۵/۱۲" in ask_birthday.text
        [welcome] = await chat.send("۱۳۷۰/۰۵/۱۲")
        assert "عضویت شما کامل شد" in welcome.text

    async with bot.club.sessions() as s:
        [member] = await s.scalars(select(Member))
    assert (member.phone, member.phone_verified, member.name) == (
        "+989121234567",
        True,
        "Sara Ahmadi",
    )


async def test_states_and_drafts_round_trip(bot: BotHarness) -> None:
    run_at = datetime(2026, 12, 3, 9, 30, tzinfo=UTC)
    draft = {"campaign_new": {"name": "Yalda", "run_at": run_at}, "locale": "en"}
    first = await _persistence(bot.club)
    await first.update_conversation("campaign_new", (-100, 7), 4)
    await first.update_user_data(7, draft)

    second = await _persistence(bot.club)
    assert await second.get_conversations("campaign_new") == {(-100, 7): 4}
    assert (await second.get_user_data())[7] == draft

    await second.update_conversation("campaign_new", (-100, 7), None)
    await second.update_user_data(7, {})
    third = await _persistence(bot.club)
    assert await third.get_conversations("campaign_new") == {}
    assert 7 not in await third.get_user_data()


async def test_an_update_that_changed_nothing_costs_no_write(bot: BotHarness) -> None:
    persistence = await _persistence(bot.club)
    await persistence.update_user_data(7, {"locale": "en"})
    await persistence.update_conversation("join", (7, 7), 1)
    with statements(bot.club) as sent:
        await persistence.update_user_data(7, {"locale": "en"})
        await persistence.update_user_data(8, {})  # a member with no drafts at all
        await persistence.update_conversation("join", (7, 7), 1)
        await persistence.update_conversation("join", (8, 8), None)
    assert sent == []
    with statements(bot.club) as sent:
        await persistence.update_user_data(7, {"locale": "fa"})
    assert sent


async def test_points_write_nothing(bot: BotHarness) -> None:
    """A member's everyday update, through the whole application, leaves the table alone."""
    await bot.chat.send("/points")
    with statements(bot.club) as sent:
        await bot.chat.send("/points")
    assert not [sql for sql in sent if "conversation_states" in sql]
