"""The referrer hears of their friend: when the friend joins through their link, and when the
friend's first purchase brings the bonus. Both through the outbox, written by the lifecycle sweep
(run here with a fixed clock, as the bot's job runs it), once each."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.context import BotContext
from bot.notifications import lifecycle as sweeps
from core import members, purchases
from core.models import Delivery, Member, Referral
from tests.conftest import NOW, BotHarness

HOUR = timedelta(hours=1)


async def _join(bot: BotHarness, telegram_id: int, name: str, code: str | None = None) -> Member:
    async with bot.club.sessions() as s, s.begin():
        joined = await members.join(
            s, bot.club.rules, telegram_id=telegram_id, name=name, referral_code=code,
            now=NOW - HOUR,
        )  # fmt: skip
        return joined.member


async def _sweep(bot: BotHarness, at: timedelta = timedelta(0)) -> dict[str, Delivery]:
    report = await sweeps.run(BotContext(bot.app), NOW + at)
    assert report.failed == []
    async with bot.club.sessions() as s:
        return {d.dedupe_key: d for d in await s.scalars(select(Delivery).order_by(Delivery.id))}


async def test_the_referrer_is_told_of_the_join_and_of_the_bonus_once_each(bot: BotHarness) -> None:
    referrer = await _join(bot, 91_001, "Sara")
    friend = await _join(bot, 91_002, "Reza", code=referrer.referral_code)
    async with bot.club.sessions() as s:
        referral = await s.scalar(select(Referral))

    rows = await _sweep(bot)
    joined = rows[f"refjoin:{referral.id}"]
    assert (joined.chat_id, joined.member_id) == (referrer.telegram_id, referrer.id)
    assert "Reza با لینک دعوت شما به باشگاه پیوست" in joined.text
    assert "۲۰۰ امتیاز هدیه می‌گیرید" in joined.text  # the rules' referrer bonus
    assert f"refbonus:{referral.id}" not in rows  # no purchase yet

    async with bot.club.sessions() as s, s.begin():
        await purchases.record(s, bot.club.rules, friend.id, 50_000, reference="small", now=NOW)
    assert f"refbonus:{referral.id}" not in await _sweep(bot, HOUR)  # below the minimum
    async with bot.club.sessions() as s, s.begin():
        await purchases.record(s, bot.club.rules, friend.id, 150_000, reference="big", now=NOW)
    rows = await _sweep(bot, 2 * HOUR)
    bonus = rows[f"refbonus:{referral.id}"]
    assert bonus.chat_id == referrer.telegram_id
    assert "Reza نخستین خریدش را انجام داد و ۲۰۰ امتیاز" in bonus.text
    assert "موجودی: ۲۰۰ امتیاز" in bonus.text

    again = await _sweep(bot, 3 * HOUR)
    assert set(again) == set(rows)  # told once each
    assert [k for k in again if k.startswith(("refjoin:", "refbonus:"))] == [
        f"refjoin:{referral.id}", f"refbonus:{referral.id}",
    ]  # fmt: skip


async def test_an_english_referrer_reads_it_in_english(bot: BotHarness) -> None:
    referrer = await _join(bot, 91_011, "Sara")
    async with bot.club.sessions() as s, s.begin():
        (await s.get(Member, referrer.id)).locale = "en"
    await _join(bot, 91_012, "Reza", code=referrer.referral_code)
    [row] = [d for d in (await _sweep(bot)).values() if d.dedupe_key.startswith("refjoin:")]
    assert "Reza joined the club through your invitation link" in row.text
    assert "you get 200 gift points" in row.text


async def test_old_referrals_are_not_news(bot: BotHarness) -> None:
    referrer = await _join(bot, 91_021, "Sara")
    await _join(bot, 91_022, "Reza", code=referrer.referral_code)
    rows = await _sweep(bot, timedelta(days=4))
    assert not [k for k in rows if k.startswith("refjoin:")]
