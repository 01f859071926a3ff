"""A campaign's holdout and its report: who sits out (the same members at every run), and what
recipients bought and redeemed within seven days of delivery next to them, with the lift."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.shell import STAFF
from core import broadcasts, campaign_reports, campaigns, holdouts, purchases, redemptions, rewards
from core.campaign_reports import MIN_GROUP, Group, Lift
from core.campaigns import Draft
from core.digits import to_persian_digits
from core.errors import RulesError
from core.models import CampaignHoldout, Delivery, DeliveryStatus, Member
from core.rules import CampaignRules, Rules, load_rules
from tests.conftest import NOW, STAFF_CHAT_ID, BotHarness
from tests.helpers import new_member

TEHRAN = ZoneInfo("Asia/Tehran")  # NOW is 12:30 there: no quiet hours, messages go at once
HOUR, DAY = timedelta(hours=1), timedelta(days=1)
SENT_AT = NOW + HOUR
AMOUNT = 100_000


def _rules(percent: int) -> Rules:
    return Rules(campaigns=CampaignRules(holdout_percent=percent))


async def _campaign(
    session: AsyncSession, rules: Rules, members: int, cron: str | None = None
) -> int:
    """``members`` new members and a campaign to all of them, once at NOW or on ``cron``."""
    for n in range(members):
        await new_member(session, rules, NOW - 30 * DAY, name=f"M{n}")
    draft = Draft(name="Spring", template="Hi {{ name }}", segment="tier >= bronze",
                  run_at=None if cron else NOW, cron=cron)  # fmt: skip
    campaign = await campaigns.create(session, draft, TEHRAN, created_by=7, now=NOW - HOUR)
    return campaign.id


async def _run(session: AsyncSession, rules: Rules, campaign_id: int, at: datetime) -> None:
    done = await broadcasts.run(
        session, rules, campaign_id, at, TEHRAN,
        variables=lambda recipient: {"name": recipient.member.name}, markup=lambda _: None,
    )  # fmt: skip
    assert done is not None


async def _held(session: AsyncSession, campaign_id: int, run: int) -> list[int]:
    return list(
        await session.scalars(
            select(CampaignHoldout.member_id)
            .where(CampaignHoldout.campaign_id == campaign_id, CampaignHoldout.run == run)
            .order_by(CampaignHoldout.member_id)
        )
    )


async def _addressed(session: AsyncSession, campaign_id: int) -> list[int]:
    return list(
        await session.scalars(
            select(Delivery.member_id)
            .where(Delivery.campaign_id == campaign_id)
            .order_by(Delivery.id)
        )
    )


async def _deliver(session: AsyncSession, campaign_id: int) -> list[int]:
    """The sender's work: the first message failed, the second member blocked the bot, the rest
    went out an hour after the run. Returns the members who got one, in order."""
    rows = list(
        await session.scalars(
            select(Delivery).where(Delivery.campaign_id == campaign_id).order_by(Delivery.id)
        )
    )
    rows[0].status, rows[1].status = DeliveryStatus.FAILED, DeliveryStatus.UNREACHABLE
    for row in rows[2:]:
        row.status, row.sent_at = DeliveryStatus.SENT, SENT_AT
    await session.flush()
    return [row.member_id for row in rows[2:]]


async def _buy(session: AsyncSession, rules: Rules, member_id: int, at: datetime) -> str:
    reference = f"P-{member_id}-{at.timestamp():.0f}"
    await purchases.record(session, rules, member_id, AMOUNT, reference=reference, now=at)
    return reference


def test_the_holdout_rule(tmp_path: Path) -> None:
    assert Rules().campaigns.holdout_percent == 0
    path = tmp_path / "rules.toml"
    path.write_text("[campaigns]\nholdout_percent = 10\n", encoding="utf-8")
    assert load_rules(path).campaigns.holdout_percent == 10
    for wrong in ("51", "-1", '"10"'):
        path.write_text(f"[campaigns]\nholdout_percent = {wrong}\n", encoding="utf-8")
        with pytest.raises(RulesError, match=r"campaigns\.holdout_percent"):
            load_rules(path)


def test_the_pick_is_stable_and_near_the_percent() -> None:
    picks = [holdouts.held_out(7, member, 20) for member in range(1, 5001)]
    assert picks == [holdouts.held_out(7, member, 20) for member in range(1, 5001)]
    assert 0.18 < sum(picks) / len(picks) < 0.22
    assert picks != [holdouts.held_out(8, member, 20) for member in range(1, 5001)]
    assert not any(holdouts.held_out(7, member, 0) for member in range(1, 5001))


async def test_held_out_members_get_nothing_and_are_recorded(
    session: AsyncSession, now: datetime
) -> None:
    rules = _rules(40)
    campaign_id = await _campaign(session, rules, 20, cron="0 10 * * *")
    everyone = list(await session.scalars(select(Member.id).order_by(Member.id)))

    await _run(session, rules, campaign_id, NOW)
    await _run(session, rules, campaign_id, NOW + DAY)  # the next day's run

    expected = [m for m in everyone if holdouts.held_out(campaign_id, m, 40)]
    assert 0 < len(expected) < len(everyone)
    assert await _held(session, campaign_id, 1) == await _held(session, campaign_id, 2) == expected
    addressed = await _addressed(session, campaign_id)
    assert sorted(addressed) == sorted([m for m in everyone if m not in expected] * 2)
    [at] = set(await session.scalars(select(CampaignHoldout.at).where(CampaignHoldout.run == 1)))
    assert at == NOW  # the moment their message would have gone out


async def test_the_report_compares_recipients_with_the_holdout(
    session: AsyncSession, now: datetime
) -> None:
    rules = _rules(40)
    campaign_id = await _campaign(session, rules, 110)
    await _run(session, rules, campaign_id, NOW)
    got = await _deliver(session, campaign_id)
    held = await _held(session, campaign_id, 1)
    assert len(got) >= MIN_GROUP and len(held) >= MIN_GROUP
    cake = await rewards.create(session, rules, title="Cake", cost=50, stock=None)

    for member in got[:10]:  # ten recipients buy within the week, the first one twice
        await _buy(session, rules, member, SENT_AT + DAY)
    await _buy(session, rules, got[0], SENT_AT + 3 * DAY)
    await _buy(session, rules, got[10], SENT_AT + 7 * DAY)  # the window has just closed
    await _buy(session, rules, got[11], SENT_AT - 2 * HOUR)  # before the message
    refunded = await _buy(session, rules, got[12], SENT_AT + DAY)
    await purchases.refund(session, refunded, now=SENT_AT + 2 * DAY)
    for member in got[:3]:  # three of them redeem; a fourth takes a code and cancels it
        await redemptions.redeem(session, rules, member, cake.id, request_key=f"r{member}",
                                 now=SENT_AT + 2 * DAY)  # fmt: skip
    dropped = await redemptions.redeem(
        session, rules, got[3], cake.id, request_key="dropped", now=SENT_AT + 2 * DAY
    )
    await redemptions.cancel(session, dropped.id, now=SENT_AT + 2 * DAY)
    for member in held[:4]:  # four of the holdout buy within their week, from NOW
        await _buy(session, rules, member, NOW + 2 * DAY)
    await _buy(session, rules, held[4], NOW + 8 * DAY)
    await redemptions.redeem(session, rules, held[0], cake.id, request_key="h0",
                             now=NOW + 3 * DAY)  # fmt: skip

    found = await campaign_reports.report(session, campaign_id, NOW + 30 * DAY)

    n, m = len(got), len(held)
    assert found.counts == {"sent": n, "failed": 1, "unreachable": 1}
    assert found.recipients == Group(n, 10, 11, 11 * AMOUNT, 3, 3)
    assert found.holdout == Group(m, 4, 4, 4 * AMOUNT, 1, 1)
    p, q = 10 / n, 4 / m
    margin = 1.96 * math.sqrt(p * (1 - p) / n + q * (1 - q) / m)
    assert found.buying_lift == Lift(pytest.approx(p - q), pytest.approx(margin))
    assert found.redeeming_lift is not None
    assert found.redeeming_lift.difference == pytest.approx(3 / n - 1 / m)


async def test_small_groups_give_no_lift(session: AsyncSession, now: datetime) -> None:
    rules = _rules(50)
    campaign_id = await _campaign(session, rules, 12)
    await _run(session, rules, campaign_id, NOW)
    await _deliver(session, campaign_id)

    found = await campaign_reports.report(session, campaign_id, NOW + DAY)

    assert found.recipients.messages + found.holdout.messages == 10
    assert found.buying_lift is None and found.redeeming_lift is None


async def test_a_holdout_not_yet_due_is_not_counted(session: AsyncSession, now: datetime) -> None:
    rules = _rules(50)
    campaign_id = await _campaign(session, rules, 12)
    await _run(session, rules, campaign_id, NOW)

    assert (await campaign_reports.report(session, campaign_id, NOW - HOUR)).holdout.messages == 0
    assert (await campaign_reports.report(session, campaign_id, NOW)).holdout.messages > 0


def test_lift_needs_both_groups() -> None:
    assert campaign_reports.lift(10, MIN_GROUP, 3, MIN_GROUP - 1) is None
    found = campaign_reports.lift(50, 100, 30, 100)
    assert found == Lift(pytest.approx(0.2), pytest.approx(1.96 * math.sqrt(0.0025 + 0.0021)))


def _staff(bot: BotHarness) -> None:
    bot.standin.chat_member_status[(STAFF_CHAT_ID, STAFF["id"])] = "member"
    bot.chat.as_staff(STAFF_CHAT_ID)


async def test_campaigns_with_a_number_shows_its_report(bot: BotHarness) -> None:
    rules = _rules(40)
    async with bot.club.sessions() as s, s.begin():
        campaign_id = await _campaign(s, rules, 110)
        await _run(s, rules, campaign_id, NOW)
        got = await _deliver(s, campaign_id)
        held = await _held(s, campaign_id, 1)
        for member in got[:20]:
            await _buy(s, rules, member, SENT_AT + DAY)
        for member in held[:5]:
            await _buy(s, rules, member, NOW + DAY)
    _staff(bot)

    [reply] = await bot.chat.send(f"/campaigns {campaign_id}")
    [listing] = await bot.chat.send("/campaigns")

    n, m = len(got), len(held)
    assert f"رسیده: {_fa(n)} · ناموفق: ۱ · مسدودکرده: ۱ · در صف: ۰" in reply.text
    assert f"گیرندگان، {_fa(n)} پیام: ۲۰ خریدار" in reply.text
    assert f"گروه کنترل، {_fa(m)} پیامِ نفرستاده: ۵ خریدار" in reply.text
    p, q = 20 / n, 5 / m
    margin = 1.96 * math.sqrt(p * (1 - p) / n + q * (1 - q) / m)
    assert f"خرید: +{_fa_decimal(100 * (p - q))} ± {_fa_decimal(100 * margin)} واحد درصد" in (
        reply.text
    )
    assert "Spring" in listing.text and "رسیده" not in listing.text


async def test_a_campaign_without_holdout_says_how_to_get_one(bot: BotHarness) -> None:
    async with bot.club.sessions() as s, s.begin():
        campaign_id = await _campaign(s, bot.club.rules, 3)
        await _run(s, bot.club.rules, campaign_id, NOW)
        await s.execute(update(Delivery).values(status=DeliveryStatus.SENT, sent_at=SENT_AT))
    _staff(bot)

    [reply] = await bot.chat.send(f"/campaigns #{campaign_id}")
    [unknown] = await bot.chat.send("/campaigns 99")
    [usage] = await bot.chat.send("/campaigns 1 2")

    assert "رسیده: ۳" in reply.text and "campaigns.holdout_percent" in reply.text
    assert unknown.method == "sendMessage" and "/campaigns [شمارهٔ کارزار]" in usage.text


def _fa(number: int) -> str:
    return to_persian_digits(str(number))


def _fa_decimal(value: float) -> str:
    return to_persian_digits(f"{value:.1f}").replace(".", "\u066b")
