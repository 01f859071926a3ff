"""Managing the catalogue and running draws from the staff group."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from bot.context import BotContext
from bot.notifications import draws
from bot.notifications.sender import Sender
from bot.shell import MEMBER, STAFF
from core import allocation, purchases
from core.models import AuditEntry, Draw, Member, Redemption, Reward
from core.rules import Allocation
from tests.conftest import STAFF_CHAT_ID, BotHarness


def _as_staff(bot: BotHarness, status: str = "administrator") -> None:
    bot.standin.chat_member_status[(STAFF_CHAT_ID, STAFF["id"])] = status
    bot.app.bot_data.pop("staff_roles", None)
    bot.chat.as_staff(STAFF_CHAT_ID)


async def _join(bot: BotHarness, user: dict) -> None:
    bot.chat.as_member(user)
    bot.chat.speaker.phone = f"+98912{user['id']:07d}"
    await bot.chat.send("/start")
    await bot.chat.press(1)
    await bot.chat.press(1)
    await bot.chat.press(1)


def _user(n: int) -> dict:
    return {**MEMBER, "id": 5000 + n, "first_name": f"M{n}", "username": f"m{n}_user"}


async def _send_outbox(bot: BotHarness) -> None:
    await Sender(bot.app.bot, bot.club.sessions, rate=200).drain()


async def _rewards(bot: BotHarness) -> list[Reward]:
    async with bot.club.sessions() as s:
        return list(await s.scalars(select(Reward).order_by(Reward.id)))


async def test_an_admin_adds_a_reward_in_a_short_conversation(bot: BotHarness) -> None:
    _as_staff(bot)
    [ask] = await bot.chat.send("/reward_add")
    assert ask.markup.get("force_reply") is True

    await bot.chat.send("Coffee & <cake>")
    await bot.chat.send("Any size")
    await bot.chat.send("۳۰۰")
    await bot.chat.send("۱۰")
    await bot.chat.press("نقره‌ای")
    await bot.chat.press("به ترتیب درخواست")
    [done] = await bot.chat.send("۱۴۰۵/۰۱/۱۵")

    assert "&lt;cake&gt;" in done.text
    [reward] = await _rewards(bot)
    assert (reward.title, reward.cost, reward.stock, reward.min_tier) == (
        "Coffee & <cake>", 300, 10, "silver",
    )  # fmt: skip
    assert reward.ends_at is not None
    async with bot.club.sessions() as s:
        assert (await s.scalar(select(AuditEntry))).action == "reward_add"


async def test_bad_answers_are_asked_again(bot: BotHarness) -> None:
    _as_staff(bot)
    await bot.chat.send("/reward_add")
    await bot.chat.send("Tea")
    await bot.chat.send("-")
    [again] = await bot.chat.send("free")
    assert "عدد" in again.text
    [cancelled] = await bot.chat.send("/cancel")
    assert "ساخته نشد" in cancelled.text
    assert await _rewards(bot) == []


async def test_plain_staff_cannot_change_rewards(bot: BotHarness) -> None:
    _as_staff(bot, "member")
    for command in ("/reward_add", "/reward_stock 1 5", "/reward_off 1", "/draw 1"):
        [reply] = await bot.chat.send(command)
        assert "مدیران" in reply.text
    [listing] = await bot.chat.send("/rewards_admin")
    assert "جوایز باشگاه" in listing.text


async def test_restock_withdraw_and_list(bot: BotHarness) -> None:
    async with bot.club.sessions() as s, s.begin():
        reward = Reward(title="Mug", cost=100, stock=2)
        s.add(reward)
    _as_staff(bot)
    await bot.chat.send(f"/reward_stock {reward.id} ۲۵")
    await bot.chat.send(f"/reward_off {reward.id}")
    [listing] = await bot.chat.send("/rewards_admin")

    [stored] = await _rewards(bot)
    assert (stored.stock, stored.active) == (25, False)
    assert "Mug" in listing.text and "۲۵" in listing.text
    [bad] = await bot.chat.send("/reward_stock 99999 3")
    assert "پیدا نشد" in bad.text


async def test_a_lottery_draw_tells_winners_and_the_rest_and_can_be_rerun(
    bot: BotHarness,
) -> None:
    async with bot.club.sessions() as s, s.begin():
        reward = Reward(title="Hotel night", cost=1, stock=2, allocation=Allocation.LOTTERY)
        s.add(reward)
    for n in range(5):
        await _join(bot, _user(n))
        await bot.chat.send("/rewards")
        await bot.chat.press("Hotel night · ۱ امتیاز")
        [entered] = await bot.chat.press("🎟 شرکت در قرعه‌کشی")
        assert "شرکت کردید" in entered.text

    _as_staff(bot)
    before = len(bot.standin.calls)
    await bot.chat.send(f"/draw {reward.id} seed-42")
    await _send_outbox(bot)  # the notices go out through the outbox
    calls = bot.standin.sent(before)

    async with bot.club.sessions() as s:
        draw = await s.scalar(select(Draw))
        winners = set(draw.winners["ids"])
        assert allocation.rerun(draw) == draw.winners["ids"]
        assert len(winners) == 2
        telegram = {m.id: m.telegram_id for m in await s.scalars(select(Member))}
        codes = list(await s.scalars(select(Redemption)))
        assert {r.member_id for r in codes} == winners and all(r.points == 0 for r in codes)
    told = {c.params["chat_id"]: c.text for c in calls if c.params["chat_id"] != STAFF_CHAT_ID}
    assert len(told) == 5
    for member_id, chat_id in telegram.items():
        assert ("تبریک" in told[chat_id]) == (member_id in winners)
    [again] = await bot.chat.send(f"/draw {reward.id}")
    assert "قبلاً کشیده شده" in again.text


async def test_top_spenders_get_the_prize(bot: BotHarness) -> None:
    for n in range(3):
        await _join(bot, _user(n))
    async with bot.club.sessions() as s, s.begin():
        for member_id, amount in ((1, 100_000), (2, 900_000), (3, 500_000)):
            await purchases.record(s, bot.club.rules, member_id, amount)
        reward = Reward(title="VIP dinner", cost=1, stock=2, allocation=Allocation.TOP_SPENDERS)
        s.add(reward)
    _as_staff(bot)
    await bot.chat.send(f"/draw {reward.id}")

    async with bot.club.sessions() as s:
        draw = await s.scalar(select(Draw))
        assert draw.winners["ids"] == [2, 3]


async def test_a_lottery_past_its_deadline_is_drawn_by_the_sweep(bot: BotHarness) -> None:
    past = datetime.now(UTC) - timedelta(minutes=1)
    async with bot.club.sessions() as s, s.begin():
        reward = Reward(title="Concert", cost=1, stock=1, allocation=Allocation.LOTTERY,
                        ends_at=past + timedelta(days=1))  # fmt: skip
        s.add(reward)
    await _join(bot, _user(1))
    await bot.chat.send("/rewards")
    await bot.chat.press(1)
    await bot.chat.press("🎟 شرکت در قرعه‌کشی")
    async with bot.club.sessions() as s, s.begin():
        (await s.get(Reward, reward.id)).ends_at = past

    before = len(bot.standin.calls)
    await draws.draw_due_lotteries(BotContext(bot.app))
    await draws.draw_due_lotteries(BotContext(bot.app))  # a second sweep finds nothing
    await _send_outbox(bot)

    sent = bot.standin.sent(before)
    assert [c.params["chat_id"] for c in sent] == [STAFF_CHAT_ID, 5001]
    assert "تبریک" in sent[1].text
    async with bot.club.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Draw)) == 1
