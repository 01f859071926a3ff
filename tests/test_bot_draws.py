"""Draws kept honest, through the real Application: a lottery's end date shown as staff typed it,
``/draw`` before the deadline asks first, winners told their code's last day, and
``/draw <id> rerun`` showing a past draw's winners again from its seed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from bot.notifications.sender import Sender
from bot.shell import MEMBER, STAFF
from core import jalali
from core.models import Draw, Member, Redemption, Reward
from core.rules import Allocation
from tests.conftest import STAFF_CHAT_ID, BotHarness


def _as_staff(bot: BotHarness) -> None:
    bot.standin.chat_member_status[(STAFF_CHAT_ID, STAFF["id"])] = "administrator"
    bot.app.bot_data.pop("staff_roles", None)
    bot.chat.as_staff(STAFF_CHAT_ID)


def _user(n: int) -> dict:
    return {**MEMBER, "id": 6000 + n, "first_name": f"M{n}", "username": f"m{n}_user"}


async def _join(bot: BotHarness, n: int) -> None:
    bot.chat.as_member(_user(n))
    bot.chat.speaker.phone = f"+98912{6000 + n:07d}"
    await bot.chat.send("/start")
    for _ in range(3):
        await bot.chat.press(1)


async def _join_and_enter(bot: BotHarness, n: int, title: str) -> None:
    await _join(bot, n)
    await bot.chat.send("/rewards")
    await bot.chat.press(f"{title} · ۱ امتیاز")
    [entered] = await bot.chat.press("🎟 شرکت در قرعه‌کشی")
    assert "شرکت کردید" in entered.text


async def _lottery(bot: BotHarness, title: str, *, ends_in: timedelta | None) -> int:
    ends_at = None if ends_in is None else datetime.now(UTC) + ends_in
    async with bot.club.sessions() as s, s.begin():
        reward = Reward(
            title=title, cost=1, stock=1, allocation=Allocation.LOTTERY, ends_at=ends_at
        )
        s.add(reward)
    return reward.id


async def _draws(bot: BotHarness) -> int:
    async with bot.club.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(Draw)))


async def test_a_lottery_ends_on_the_day_staff_typed(bot: BotHarness) -> None:
    reward_id = await _lottery(bot, "Concert", ends_in=timedelta(days=3))
    _as_staff(bot)
    [changed] = await bot.chat.send(f"/reward_edit {reward_id} ends ۱۴۰۶/۰۱/۱۵")
    assert "تا پایان ۱۵ فروردین ۱۴۰۶" in changed.text

    await _join(bot, 1)
    await bot.chat.send("/rewards")
    [shown] = await bot.chat.press("Concert · ۱ امتیاز")
    assert "تا پایان ۱۵ فروردین ۱۴۰۶ می‌توانید شرکت کنید" in shown.text
    assert "۱۶ فروردین" not in shown.text


async def test_draw_before_the_deadline_asks_first_and_a_cancel_draws_nothing(
    bot: BotHarness,
) -> None:
    reward_id = await _lottery(bot, "Concert", ends_in=timedelta(days=3))
    await _join_and_enter(bot, 1, "Concert")
    _as_staff(bot)

    [question] = await bot.chat.send(f"/draw {reward_id} seed-7")
    assert "هنوز تمام نشده" in question.text
    assert [b["text"] for b in question.buttons] == ["🎲 همین حالا قرعه بکش", "✖️ لغو"]
    assert await _draws(bot) == 0
    message = dict(bot.chat.last_bot_message())

    [cancelled] = await bot.chat.press("✖️ لغو")
    assert "کشیده نشد" in cancelled.text and await _draws(bot) == 0
    await bot.chat.press("🎲 همین حالا قرعه بکش", message=message)  # the same question, later
    assert await _draws(bot) == 0  # decided already: the press is stale


async def test_a_confirmed_early_draw_draws_once_and_tells_the_winner_the_code_s_last_day(
    bot: BotHarness,
) -> None:
    reward_id = await _lottery(bot, "Concert", ends_in=timedelta(days=3))
    await _join_and_enter(bot, 1, "Concert")
    _as_staff(bot)
    await bot.chat.send(f"/draw {reward_id} seed-7")
    message = dict(bot.chat.last_bot_message())

    [confirmed] = await bot.chat.press("🎲 همین حالا قرعه بکش")
    assert "پیش از پایان مهلت کشیده شد" in confirmed.text
    await bot.chat.press("🎲 همین حالا قرعه بکش", message=message)  # a double press
    assert await _draws(bot) == 1

    before = len(bot.standin.calls)
    await Sender(bot.app.bot, bot.club.sessions, rate=200).drain()
    told = {c.params["chat_id"]: c.text for c in bot.standin.sent(before)}
    async with bot.club.sessions() as s:
        prize = await s.scalar(select(Redemption))
        winner = await s.get(Member, prize.member_id)
    last_day = jalali.format_date(prize.expires_at, "fa", bot.club.settings.tz)
    assert "تبریک" in told[winner.telegram_id]
    assert f"این کد را تا {last_day} در فروشگاه نشان دهید" in told[winner.telegram_id]
    assert "seed-7" in told[STAFF_CHAT_ID]


async def test_a_past_draw_reruns_from_its_seed_with_the_same_winners(bot: BotHarness) -> None:
    reward_id = await _lottery(bot, "Mug", ends_in=None)
    for n in range(4):
        await _join_and_enter(bot, n, "Mug")
    _as_staff(bot)
    [not_yet] = await bot.chat.send(f"/draw {reward_id} rerun")
    assert "هنوز قرعه‌کشی نشده" in not_yet.text

    assert await bot.chat.send(f"/draw {reward_id} seed-42") == []  # told through the outbox
    [rerun] = await bot.chat.send(f"/draw {reward_id} rerun")

    async with bot.club.sessions() as s:
        draw = await s.scalar(select(Draw))
        [winner] = [await s.get(Member, i) for i in draw.winners["ids"]]
    assert "seed-42" in rerun.text
    assert "همان برندگانی که در قرعه اعلام شدند" in rerun.text
    [listed] = [line for line in rerun.text.splitlines() if line.startswith("•")]
    assert listed.startswith(f"• {winner.name} (عضو")  # the one prize's winner, nobody else
    assert await _draws(bot) == 1
