"""Campaigns from the staff group to members' chats, through the outbox and the sender."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bot.context import BotContext
from bot.notifications import campaigns as campaign_runs
from bot.notifications.sender import Sender
from bot.shell import MEMBER, STAFF
from core import purchases
from core.models import Campaign, Delivery, DeliveryStatus
from tests.conftest import STAFF_CHAT_ID, BotHarness


def _user(n: int) -> dict:
    return {**MEMBER, "id": 6000 + n, "first_name": f"Name{n}", "username": f"u{n}_name"}


async def _members(bot: BotHarness, count: int) -> None:
    for n in range(count):
        bot.chat.as_member(_user(n))
        bot.chat.speaker.phone = f"+98912{6000 + n:07d}"
        await bot.chat.send("/start")
        for _ in range(3):
            await bot.chat.press(1)
    async with bot.club.sessions() as s, s.begin():  # the first two are gold
        for member_id in (1, 2):
            await purchases.record(s, bot.club.rules, member_id, 5_000_000)


def _staff(bot: BotHarness) -> None:
    bot.standin.chat_member_status[(STAFF_CHAT_ID, STAFF["id"])] = "administrator"
    bot.chat.as_staff(STAFF_CHAT_ID)


async def test_segment_preview_counts_and_points_at_a_wrong_token(bot: BotHarness) -> None:
    await _members(bot, 3)
    _staff(bot)
    [reply] = await bot.chat.send("/segment tier >= gold")
    assert "۲ عضو" in reply.text
    [bad] = await bot.chat.send("/segment tier >= unobtanium")
    assert "unobtanium" in bad.text


async def test_a_campaign_reaches_its_segment_once_at_daytime(bot: BotHarness) -> None:
    await _members(bot, 3)
    _staff(bot)
    await bot.chat.send("/campaign_new")
    await bot.chat.send("Gold thanks")
    await bot.chat.send("{{ name }} عزیز، سطح شما {{ tier }} است و {{ balance }} امتیاز دارید.")
    await bot.chat.send("tier >= gold")
    await bot.chat.send("now")
    [preview] = await bot.chat.send("url بازدید https://example.org/offer")
    assert "Reza" in preview.text  # previewed on the staff member's own name
    await bot.chat.press("✅ ذخیره و زمان‌بندی")

    noon = datetime.now(UTC).replace(hour=8, minute=30)  # 12:00 in Tehran
    async with bot.club.sessions() as s, s.begin():
        campaign = await s.scalar(select(Campaign))
        campaign.next_run_at = noon - timedelta(minutes=1)
    context = BotContext(bot.app)
    written = await campaign_runs.run_campaign(context, campaign.id, noon)
    again = await campaign_runs.run_campaign(context, campaign.id, noon)  # already done

    assert (written, again) == (2, 0)
    async with bot.club.sessions() as s:
        rows = list(await s.scalars(select(Delivery).order_by(Delivery.member_id)))
    assert [r.chat_id for r in rows] == [6000, 6001]
    assert rows[0].text == "Name0 Ahmadi عزیز، سطح شما طلایی است و ۵٬۰۰۰ امتیاز دارید."
    assert rows[0].reply_markup["inline_keyboard"][0][0]["url"] == "https://example.org/offer"


async def test_the_sender_delivers_and_the_progress_message_is_edited(bot: BotHarness) -> None:
    await _members(bot, 3)
    _staff(bot)
    noon = datetime.now(UTC).replace(hour=8, minute=30)
    async with bot.club.sessions() as s, s.begin():
        s.add(Campaign(name="All", template="Hi {{ name }}", segment="tier >= bronze",
                       run_at=noon, next_run_at=noon, status="scheduled", runs=0))  # fmt: skip
    context = BotContext(bot.app)
    await campaign_runs.run_campaign(context, 1, noon)
    progress = bot.standin.sent()[-1]
    assert progress.params["chat_id"] == STAFF_CHAT_ID and "All" in progress.text

    async def on_progress(campaign_id: int) -> None:
        await campaign_runs.progress(context, campaign_id, 1.0)

    sender = Sender(bot.app.bot, bot.club.sessions, rate=200, on_progress=on_progress)
    before = len(bot.standin.calls)
    await sender.drain()

    sent = [c for c in bot.standin.calls[before:] if c.method == "sendMessage"]
    assert sorted(c.params["chat_id"] for c in sent) == [6000, 6001, 6002]
    edits = [c for c in bot.standin.calls[before:] if c.method == "editMessageText"]
    assert edits and "تمام شد" in edits[-1].text and "۳" in edits[-1].text
    async with bot.club.sessions() as s:
        statuses = set((await s.scalars(select(Delivery.status))).all())
    assert statuses == {DeliveryStatus.SENT}
