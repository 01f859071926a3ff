"""``/invite_link [uses] [days]``: how a club by invitation gets its first members.

An administrator makes a link in the staff group; newcomers join through it, even though the
club takes only invited people, until its uses or its days run out; then they are told so, in
their own language. Both the link and every join through it are audited.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from bot.shell import STAFF
from bot.standin import ApiCall
from core.models import AuditEntry, Member, StaffInvitation, utcnow
from core.rules import Rules
from tests.conftest import STAFF_CHAT_ID, BotHarness
from tests.helpers import audit_entries

LINK = re.compile(r"https://t\.me/bashgah_demo_bot\?start=(inv_[\w-]{24})")
SKIP = "رد شدن"
WELCOME = "عضویت شما کامل شد"
USED_UP = "ظرفیت این لینک عضویت پر شده است"
USAGE = "/invite_link [تعداد نفر] [تعداد روز]"


@pytest.fixture(autouse=True)
def by_invitation(bot: BotHarness) -> None:
    bot.club.rules = Rules(club_mode="limited")
    bot.standin.chat_member_status[(STAFF_CHAT_ID, STAFF["id"])] = "administrator"


async def _make(bot: BotHarness, command: str = "/invite_link") -> tuple[ApiCall, str]:
    bot.chat.as_staff(STAFF_CHAT_ID)
    [reply] = await bot.chat.send(command)
    found = LINK.search(reply.text)
    assert found, reply.text
    return reply, found.group(1)


def _newcomer(n: int, language: str = "fa") -> dict[str, Any]:
    return {"id": 3000 + n, "is_bot": False, "first_name": f"Guest{n}", "language_code": language}


async def _start(bot: BotHarness, n: int, code: str, language: str = "fa") -> list[ApiCall]:
    bot.chat.as_member(_newcomer(n, language))
    return await bot.chat.send(f"/start {code}")


async def _finish(bot: BotHarness, n: int) -> ApiCall:
    """The phone, name and birthday answers of newcomer ``n`` (whose chat is the current one)."""
    await bot.chat.send(f"0912000{n:04d}")
    await bot.chat.press(f"Guest{n}")
    [last] = await bot.chat.press(SKIP)
    return last


async def _join(bot: BotHarness, n: int, code: str) -> ApiCall:
    await _start(bot, n, code)
    return await _finish(bot, n)


async def _count(bot: BotHarness, model: type) -> int:
    async with bot.club.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


async def test_a_newcomer_joins_a_club_by_invitation_through_the_link(bot: BotHarness) -> None:
    reply, code = await _make(bot, "/invite_link ۲ ۳۰")  # Persian digits, as staff type them
    assert "۲ نفر" in reply.text

    [made] = await audit_entries(bot.club, "invite_link")
    assert (made.actor_id, made.after["uses"], made.after["days"]) == (STAFF["id"], 2, 30)
    assert code.removeprefix("inv_") not in str(made.after)  # the audit log never holds the key
    async with bot.club.sessions() as s:
        invitation = await s.scalar(select(StaffInvitation))
    assert invitation.expires_at - utcnow() > timedelta(days=29, hours=23)

    welcome = await _join(bot, 1, code)

    assert WELCOME in welcome.text
    [joined] = await audit_entries(bot.club, "invite_link_join")
    assert (joined.actor_id, joined.after["uses_left"]) == (3001, 1)
    async with bot.club.sessions() as s:
        member = await s.scalar(select(Member))
        assert (member.telegram_id, joined.member_id) == (3001, member.id)
        assert await s.scalar(select(StaffInvitation.uses_left)) == 1


async def test_the_link_lets_in_as_many_as_it_was_made_for(bot: BotHarness) -> None:
    _, code = await _make(bot)  # one newcomer, seven days
    assert WELCOME in (await _join(bot, 1, code)).text

    [refused] = await _start(bot, 2, code)

    assert USED_UP in refused.text
    assert await _count(bot, Member) == 1
    assert len(await audit_entries(bot.club, "invite_link_join")) == 1


async def test_the_last_use_taken_while_a_newcomer_answers_is_told_at_the_end(
    bot: BotHarness,
) -> None:
    _, code = await _make(bot, "/invite_link 1")
    await _start(bot, 1, code)  # newcomer 1 opens the link, and stops at the phone
    assert WELCOME in (await _join(bot, 2, code)).text  # newcomer 2 takes the only use

    bot.chat.as_member(_newcomer(1))
    refused = await _finish(bot, 1)

    assert USED_UP in refused.text
    async with bot.club.sessions() as s:
        assert list(await s.scalars(select(Member.telegram_id))) == [3002]


async def test_an_expired_link_is_refused_in_the_newcomers_language(bot: BotHarness) -> None:
    _, code = await _make(bot, "/invite_link 5 1")
    async with bot.club.sessions() as s, s.begin():
        await s.execute(update(StaffInvitation).values(expires_at=utcnow() - timedelta(minutes=1)))

    [refused] = await _start(bot, 1, code, language="en")

    assert "This join link has expired" in refused.text
    assert await _count(bot, Member) == 0


async def test_an_unknown_link_is_the_club_by_invitation(bot: BotHarness) -> None:
    [closed] = await _start(bot, 1, "inv_" + "x" * 24)
    assert "عضویت در این باشگاه فقط با دعوت یکی از اعضاست" in closed.text


async def test_in_an_open_club_the_link_is_just_the_way_in(bot: BotHarness) -> None:
    _, code = await _make(bot)
    bot.club.rules = Rules()
    assert WELCOME in (await _join(bot, 1, code)).text
    assert WELCOME in (await _join(bot, 2, code)).text  # nothing to take: everyone may join
    async with bot.club.sessions() as s:
        assert await s.scalar(select(StaffInvitation.uses_left)) == 1


@pytest.mark.parametrize(
    "command", ["/invite_link many", "/invite_link 0", "/invite_link 1001", "/invite_link 1 366",
                "/invite_link 1 2 3", "/invite_link -4"],
)  # fmt: skip
async def test_arguments_that_do_not_fit_get_the_usage(bot: BotHarness, command: str) -> None:
    bot.chat.as_staff(STAFF_CHAT_ID)
    [usage] = await bot.chat.send(command)

    assert USAGE in usage.text and "۱٬۰۰۰" in usage.text
    assert await _count(bot, StaffInvitation) == 0 and await _count(bot, AuditEntry) == 0


async def test_only_administrators_in_the_staff_group_make_links(bot: BotHarness) -> None:
    bot.standin.chat_member_status[(STAFF_CHAT_ID, STAFF["id"])] = "member"
    bot.chat.as_staff(STAFF_CHAT_ID)
    [admins_only] = await bot.chat.send("/invite_link")
    assert "مدیران" in admins_only.text

    bot.chat.as_member(_newcomer(9))
    [not_here] = await bot.chat.send("/invite_link 10")
    assert LINK.search(not_here.text) is None
    assert await _count(bot, StaffInvitation) == 0
