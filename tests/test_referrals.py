"""Tests for core.referrals: attribution on joining, the welcome bonus, the reward, the cap."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import ledger, members, purchases, referrals
from core.digits import to_persian_digits
from core.errors import BashgahError, RegistrationClosed
from core.models import EntryKind, LedgerEntry, Member, Referral, ReferralStatus
from core.referrals import Attribution
from core.rules import ReferralRules, Rules
from tests.helpers import assert_books_balance, new_member

PHONE = "+989121234567"
WELCOME = 50
REFERRER_BONUS = 200
MIN_PURCHASE = 100_000
_references = iter(range(1, 1_000_000))


async def buy(
    session: AsyncSession, rules: Rules, member_id: int, amount: int, now: datetime
) -> purchases.PurchaseResult:
    return await purchases.record(
        session, rules, member_id, amount, reference=f"R-{next(_references)}", now=now
    )


async def referral_entries(session: AsyncSession, member_id: int) -> list[tuple[int, str]]:
    rows = await session.execute(
        select(LedgerEntry.delta, LedgerEntry.idempotency_key)
        .where(LedgerEntry.member_id == member_id, LedgerEntry.kind == EntryKind.REFERRAL)
        .order_by(LedgerEntry.id)
    )
    return [tuple(row) for row in rows.all()]


async def referral_of(session: AsyncSession, referred_id: int) -> Referral | None:
    return await session.scalar(
        select(Referral)
        .where(Referral.referred_id == referred_id)
        .execution_options(populate_existing=True)
    )


async def balance(session: AsyncSession, member_id: int) -> int:
    return await session.scalar(select(Member.balance).where(Member.id == member_id))


async def books_balance(session: AsyncSession, *member_ids: int) -> None:
    for member_id in member_ids:
        await assert_books_balance(session, member_id)


# --- joining through a link -----------------------------------------------------------------


LINK_FORMS: dict[str, Callable[[str], str]] = {
    "link": lambda code: f"ref_{code}",
    "lower": lambda code: f"ref_{code.lower()}",
    "upper-prefix": lambda code: f"REF_{code}",
    "padded": lambda code: f"  ref_{code}  ",
    "inner-space": lambda code: f"ref_{code[:4]} {code[4:]}",
    "dash-mixed-case": lambda code: f"ref_{code[:4]}-{code[4:].lower()}",
    "persian-digits": lambda code: f"ref_{to_persian_digits(code)}",
    "bare": lambda code: code,
    "bare-lower-spaced": lambda code: f" {code[:4].lower()} {code[4:].lower()} ",
}


@pytest.mark.parametrize("form", LINK_FORMS.values(), ids=LINK_FORMS.keys())
async def test_joining_through_a_link_attributes_and_welcomes_the_newcomer(
    session: AsyncSession, rules: Rules, now: datetime, form: Callable[[str], str]
) -> None:
    referrer = await new_member(session, rules, now, name="Referrer")
    typed = form(referrer.referral_code)

    result = await members.join(
        session, rules, telegram_id=1, name="Friend", referral_code=typed, now=now
    )

    assert result.created is True
    assert result.attribution is Attribution.ATTRIBUTED
    newcomer = result.member
    assert newcomer.referred_by_id == referrer.id
    referral = await referral_of(session, newcomer.id)
    assert referral is not None
    assert result.referral is not None and result.referral.id == referral.id
    assert (referral.referrer_id, referral.status, referral.created_at) == (
        referrer.id,
        ReferralStatus.JOINED,
        now,
    )
    assert referral.rewarded_at is None and referral.purchase_id is None
    # Exactly one welcome entry of 50 for the newcomer...
    assert await referral_entries(session, newcomer.id) == [
        (WELCOME, f"referral:welcome:{referral.id}")
    ]
    assert await balance(session, newcomer.id) == WELCOME
    assert await ledger.ledger_sum(session, newcomer.id) == WELCOME
    # ...and nothing yet for the referrer.
    assert await balance(session, referrer.id) == 0
    assert await ledger.ledger_sum(session, referrer.id) == 0
    await books_balance(session, referrer.id, newcomer.id)


@pytest.mark.parametrize("code", ["ref_NOTACODE", "NOTACODE", "ref_", "ref_!!!"])
async def test_unknown_code_in_open_club_joins_without_bonus(
    session: AsyncSession, rules: Rules, now: datetime, code: str
) -> None:
    someone = await new_member(session, rules, now, name="Someone")

    result = await members.join(
        session, rules, telegram_id=1, name="Friend", referral_code=code, now=now
    )

    assert result.created is True
    assert result.attribution is Attribution.UNKNOWN_CODE
    assert result.referral is None
    assert result.member.referred_by_id is None
    assert await session.scalar(select(func.count()).select_from(Referral)) == 0
    assert await ledger.ledger_sum(session, result.member.id) == 0
    await books_balance(session, someone.id, result.member.id)


async def test_self_referral_by_phone_gives_nothing(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    referrer = await new_member(session, rules, now, name="Me", phone=PHONE)

    # The same person, from a second Telegram account, with their own link and their own phone
    # (verified: a typed number proves nothing, and must not tell whose it is).
    result = await members.join(
        session,
        rules,
        telegram_id=1,
        name="Me again",
        phone="0912 123 4567",
        phone_verified=True,
        referral_code=f"ref_{referrer.referral_code}",
        now=now,
    )

    assert result.referral is None
    assert await session.scalar(select(func.count()).select_from(Member)) == 2
    assert await session.scalar(select(func.count()).select_from(Referral)) == 0
    assert await session.scalar(select(func.count()).select_from(LedgerEntry)) == 0
    await books_balance(session, referrer.id)


async def test_self_referral_is_reported_as_self(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    referrer = await new_member(session, rules, now, name="Me", phone=PHONE)

    try:
        result = await members.join(
            session,
            rules,
            telegram_id=1,
            name="Me again",
            phone="0912 123 4567",
            phone_verified=True,
            referral_code=f"ref_{referrer.referral_code}",
            now=now,
        )
        attribution = result.attribution
    except BashgahError as exc:  # refusing is fine, as long as the caller learns why
        attribution = exc.details.get("attribution")

    assert attribution is Attribution.SELF
    assert await session.scalar(select(func.count()).select_from(Referral)) == 0
    assert await session.scalar(select(func.count()).select_from(LedgerEntry)) == 0


async def test_self_referral_in_limited_club_is_refused_as_self(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    referrer = await new_member(session, rules, now, name="Me", phone=PHONE)

    with pytest.raises(RegistrationClosed) as caught:
        await members.join(
            session,
            Rules(club_mode="limited"),
            telegram_id=1,
            name="Me again",
            phone="09121234567",
            phone_verified=True,
            referral_code=referrer.referral_code,
            now=now,
        )

    assert caught.value.details["attribution"] is Attribution.SELF
    assert await session.scalar(select(func.count()).select_from(Referral)) == 0
    assert await session.scalar(select(func.count()).select_from(LedgerEntry)) == 0


async def test_one_referrer_per_member(session: AsyncSession, rules: Rules, now: datetime) -> None:
    first = await new_member(session, rules, now, name="First")
    second = await new_member(session, rules, now, name="Second")
    joined = await members.join(
        session, rules, telegram_id=1, name="Friend", referral_code=first.referral_code, now=now
    )

    again = await members.join(
        session,
        rules,
        telegram_id=1,
        name="Friend",
        referral_code=f"ref_{second.referral_code}",
        now=now,
    )

    assert again.created is False
    assert again.member.id == joined.member.id
    assert again.attribution is Attribution.NONE
    assert again.referral is None
    assert (
        await session.scalar(select(Member.referred_by_id).where(Member.id == joined.member.id))
        == first.id
    )
    referrer_ids = (
        await session.scalars(
            select(Referral.referrer_id).where(Referral.referred_id == joined.member.id)
        )
    ).all()
    assert referrer_ids == [first.id]
    assert await referral_entries(session, joined.member.id) == [
        (WELCOME, f"referral:welcome:{joined.referral.id}")
    ]
    await books_balance(session, first.id, second.id, joined.member.id)


async def test_member_who_joined_without_a_code_cannot_add_one_later(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    referrer = await new_member(session, rules, now, name="Referrer")
    plain = await members.join(session, rules, telegram_id=1, name="Friend", now=now)

    again = await members.join(
        session, rules, telegram_id=1, name="Friend", referral_code=referrer.referral_code, now=now
    )

    assert again.created is False
    assert again.attribution is Attribution.NONE
    assert again.member.referred_by_id is None
    assert await referral_of(session, plain.member.id) is None
    assert await ledger.ledger_sum(session, plain.member.id) == 0
    await books_balance(session, referrer.id, plain.member.id)


# --- the referrer's reward ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "rewarded"),
    [(1_000, False), (99_999, False), (100_000, True), (100_001, True), (5_000_000, True)],
)
async def test_referrer_is_rewarded_at_first_qualifying_purchase(
    session: AsyncSession, rules: Rules, now: datetime, amount: int, rewarded: bool
) -> None:
    referrer = await new_member(session, rules, now, name="Referrer")
    friend = await new_member(session, rules, now, referral_code=referrer.referral_code)

    result = await buy(session, rules, friend.id, amount, now)

    referral = await referral_of(session, friend.id)
    assert referral is not None
    if rewarded:
        assert result.referrer_reward == referrals.ReferrerReward(
            referrer.id, ReferralStatus.REWARDED, REFERRER_BONUS
        )
        assert referral.status == ReferralStatus.REWARDED
        assert referral.rewarded_at == now
        assert referral.purchase_id == result.purchase.id
        assert await referral_entries(session, referrer.id) == [
            (REFERRER_BONUS, f"referral:referrer:{referral.id}")
        ]
        assert await balance(session, referrer.id) == REFERRER_BONUS
    else:
        assert result.referrer_reward is None
        assert referral.status == ReferralStatus.JOINED
        assert referral.rewarded_at is None and referral.purchase_id is None
        assert await referral_entries(session, referrer.id) == []
        assert await balance(session, referrer.id) == 0
    # The friend's own points are untouched by the referrer's reward.
    assert await balance(session, friend.id) == WELCOME + amount // 1000
    await books_balance(session, referrer.id, friend.id)


async def test_small_first_purchase_then_qualifying_one_rewards_at_the_qualifying_one(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    referrer = await new_member(session, rules, now, name="Referrer")
    friend = await new_member(session, rules, now, referral_code=referrer.referral_code)

    small = await buy(session, rules, friend.id, 40_000, now)
    assert small.referrer_reward is None
    assert await balance(session, referrer.id) == 0

    later = now + timedelta(days=3)
    qualifying = await buy(session, rules, friend.id, 150_000, later)

    assert qualifying.referrer_reward is not None
    assert qualifying.referrer_reward.status is ReferralStatus.REWARDED
    referral = await referral_of(session, friend.id)
    assert referral is not None
    assert referral.purchase_id == qualifying.purchase.id
    assert referral.rewarded_at == later
    assert await balance(session, referrer.id) == REFERRER_BONUS
    await books_balance(session, referrer.id, friend.id)


async def test_second_qualifying_purchase_does_not_reward_again(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    referrer = await new_member(session, rules, now, name="Referrer")
    friend = await new_member(session, rules, now, referral_code=referrer.referral_code)

    first = await buy(session, rules, friend.id, 100_000, now)
    second = await buy(session, rules, friend.id, 300_000, now + timedelta(days=1))
    third = await buy(session, rules, friend.id, 100_000, now + timedelta(days=60))

    assert first.referrer_reward is not None
    assert second.referrer_reward is None
    assert third.referrer_reward is None
    referral = await referral_of(session, friend.id)
    assert referral is not None and referral.purchase_id == first.purchase.id
    assert len(await referral_entries(session, referrer.id)) == 1
    assert await balance(session, referrer.id) == REFERRER_BONUS
    await books_balance(session, referrer.id, friend.id)


async def test_purchases_of_a_member_without_referrer_reward_nobody(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    someone = await new_member(session, rules, now, name="Someone")
    member = await new_member(session, rules, now)

    result = await buy(session, rules, member.id, 500_000, now)

    assert result.referrer_reward is None
    assert (
        await session.scalar(
            select(func.count())
            .select_from(LedgerEntry)
            .where(LedgerEntry.kind == EntryKind.REFERRAL)
        )
        == 0
    )
    await books_balance(session, someone.id, member.id)


async def test_referrers_own_purchases_do_not_reward_anyone(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    referrer = await new_member(session, rules, now, name="Referrer")
    friend = await new_member(session, rules, now, referral_code=referrer.referral_code)

    result = await buy(session, rules, referrer.id, 500_000, now)

    assert result.referrer_reward is None
    assert (await referral_of(session, friend.id)).status == ReferralStatus.JOINED
    assert await referral_entries(session, referrer.id) == []
    await books_balance(session, referrer.id, friend.id)


# --- the cap --------------------------------------------------------------------------------


async def bring_friends(
    session: AsyncSession, rules: Rules, referrer: Member, count: int, at: datetime
) -> list[purchases.PurchaseResult]:
    """``count`` new friends of ``referrer`` who each make a qualifying first purchase at ``at``."""
    results = []
    for _ in range(count):
        friend = await new_member(session, rules, at, referral_code=referrer.referral_code)
        results.append(await buy(session, rules, friend.id, MIN_PURCHASE, at))
    return results


async def test_cap_twenty_rewarded_referrals_per_thirty_days(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    assert (rules.referral.cap, rules.referral.cap_window_days) == (20, 30)
    referrer = await new_member(session, rules, now, name="Farmer")

    rewarded = await bring_friends(session, rules, referrer, 20, now)
    assert [r.referrer_reward.status for r in rewarded] == [ReferralStatus.REWARDED] * 20
    assert await balance(session, referrer.id) == 20 * REFERRER_BONUS

    [capped] = await bring_friends(session, rules, referrer, 1, now + timedelta(hours=1))
    assert capped.referrer_reward == referrals.ReferrerReward(referrer.id, ReferralStatus.CAPPED, 0)
    capped_referral = await referral_of(session, capped.purchase.member_id)
    assert capped_referral is not None
    assert capped_referral.status == ReferralStatus.CAPPED
    assert capped_referral.rewarded_at is None
    assert capped_referral.purchase_id == capped.purchase.id
    assert await balance(session, referrer.id) == 20 * REFERRER_BONUS
    assert len(await referral_entries(session, referrer.id)) == 20
    # The capped friend still got their own welcome bonus and purchase points.
    assert await balance(session, capped.purchase.member_id) == WELCOME + MIN_PURCHASE // 1000

    # After the window a new friend is rewarded again...
    later = now + timedelta(days=31)
    [fresh] = await bring_friends(session, rules, referrer, 1, later)
    assert fresh.referrer_reward == referrals.ReferrerReward(
        referrer.id, ReferralStatus.REWARDED, REFERRER_BONUS
    )
    # ...but the capped one is not rewarded retroactively by a later purchase.
    again = await buy(session, rules, capped.purchase.member_id, MIN_PURCHASE, later)
    assert again.referrer_reward is None
    assert (await referral_of(session, capped.purchase.member_id)).status == ReferralStatus.CAPPED
    assert await balance(session, referrer.id) == 21 * REFERRER_BONUS

    stats = await referrals.stats(session, referrer.id)
    assert stats == referrals.ReferralStats(
        joined=22, rewarded=21, points_earned=21 * REFERRER_BONUS
    )
    friend_ids = (
        await session.scalars(
            select(Referral.referred_id).where(Referral.referrer_id == referrer.id)
        )
    ).all()
    assert len(friend_ids) == 22
    await books_balance(session, referrer.id, *friend_ids)


@pytest.mark.parametrize(
    ("later", "status"),
    [
        (timedelta(0), ReferralStatus.CAPPED),
        (timedelta(days=1), ReferralStatus.CAPPED),
        (timedelta(days=29, hours=23), ReferralStatus.CAPPED),
        (timedelta(days=30, seconds=1), ReferralStatus.REWARDED),
        (timedelta(days=31), ReferralStatus.REWARDED),
    ],
)
async def test_cap_window_boundaries(
    session: AsyncSession, now: datetime, later: timedelta, status: ReferralStatus
) -> None:
    rules = Rules(referral=ReferralRules(cap=3))
    referrer = await new_member(session, rules, now, name="Farmer")
    await bring_friends(session, rules, referrer, 3, now)

    [result] = await bring_friends(session, rules, referrer, 1, now + later)

    assert result.referrer_reward is not None
    assert result.referrer_reward.status is status
    rewarded = 3 + (status is ReferralStatus.REWARDED)
    assert await balance(session, referrer.id) == rewarded * REFERRER_BONUS
    await books_balance(session, referrer.id, result.purchase.member_id)


async def test_cap_is_per_referrer(session: AsyncSession, now: datetime) -> None:
    rules = Rules(referral=ReferralRules(cap=1))
    alice = await new_member(session, rules, now, name="Alice")
    bob = await new_member(session, rules, now, name="Bob")

    a1, a2 = await bring_friends(session, rules, alice, 2, now)
    [b1] = await bring_friends(session, rules, bob, 1, now)

    assert a1.referrer_reward.status is ReferralStatus.REWARDED
    assert a2.referrer_reward.status is ReferralStatus.CAPPED
    assert b1.referrer_reward.status is ReferralStatus.REWARDED
    assert await balance(session, alice.id) == REFERRER_BONUS
    assert await balance(session, bob.id) == REFERRER_BONUS
    await books_balance(session, alice.id, bob.id)


# --- stats ----------------------------------------------------------------------------------


async def test_stats_count_joined_rewarded_and_points(session: AsyncSession, now: datetime) -> None:
    rules = Rules(referral=ReferralRules(cap=2))
    referrer = await new_member(session, rules, now, name="Referrer")
    bystander = await new_member(session, rules, now, name="Bystander")
    assert await referrals.stats(session, referrer.id) == referrals.ReferralStats(0, 0, 0)

    await bring_friends(session, rules, referrer, 3, now)  # 2 rewarded, 1 capped
    waiting = await new_member(session, rules, now, referral_code=referrer.referral_code)
    small = await new_member(session, rules, now, referral_code=referrer.referral_code)
    await buy(session, rules, small.id, MIN_PURCHASE - 1, now)
    await bring_friends(session, rules, bystander, 1, now)  # someone else's friend

    assert await referrals.stats(session, referrer.id) == referrals.ReferralStats(
        joined=5, rewarded=2, points_earned=2 * REFERRER_BONUS
    )
    assert await referrals.stats(session, bystander.id) == referrals.ReferralStats(
        joined=1, rewarded=1, points_earned=REFERRER_BONUS
    )
    # A newcomer's welcome bonus is not "earned by referring".
    assert await referrals.stats(session, waiting.id) == referrals.ReferralStats(0, 0, 0)
    friend_ids = (await session.scalars(select(Referral.referred_id))).all()
    await books_balance(session, referrer.id, bystander.id, *friend_ids)


async def test_an_erased_referrer_earns_nothing_but_a_blocked_one_does(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    erased = await new_member(session, rules, now, name="Gone")
    blocked = await new_member(session, rules, now, name="Quiet")
    friend_of_erased = await new_member(session, rules, now, referral_code=erased.referral_code)
    await members.anonymize(session, erased.id)
    await members.update_profile(session, blocked.id)  # loads it into the session
    blocked.status = "blocked"  # blocked the bot: still a member of the club
    friend_of_blocked = await new_member(session, rules, now, referral_code=blocked.referral_code)

    assert (
        await buy(session, rules, friend_of_erased.id, MIN_PURCHASE, now)
    ).referrer_reward is None
    reward = (await buy(session, rules, friend_of_blocked.id, MIN_PURCHASE, now)).referrer_reward
    assert reward is not None and reward.points == REFERRER_BONUS
    assert await balance(session, erased.id) == 0
    await books_balance(session, erased.id, blocked.id)


# --- clawbacks ------------------------------------------------------------------------------


async def test_refunding_the_qualifying_purchase_claws_the_bonus_back_for_good(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    referrer = await new_member(session, rules, now, name="Reza")
    [bought] = await bring_friends(session, rules, referrer, 1, now)
    friend_id = bought.purchase.member_id

    refund = await purchases.refund(session, bought.purchase.reference, now=now)

    assert refund.clawback == referrals.Clawback(referrer.id, REFERRER_BONUS, REFERRER_BONUS, 0)
    assert await balance(session, referrer.id) == 0
    assert (await referral_of(session, friend_id)).status == ReferralStatus.CLAWED_BACK
    # A later qualifying purchase of the same friend does not earn the bonus again.
    assert (await buy(session, rules, friend_id, MIN_PURCHASE, now)).referrer_reward is None
    assert await balance(session, referrer.id) == 0
    assert await referrals.stats(session, referrer.id) == referrals.ReferralStats(1, 0, 0)
    await books_balance(session, referrer.id, friend_id)


async def test_a_spent_bonus_is_owed_and_paid_off_by_points_that_come_back(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    referrer = await new_member(session, rules, now, name="Reza")
    [bought] = await bring_friends(session, rules, referrer, 1, now)
    spent = await ledger.debit(session, referrer.id, 150, EntryKind.REDEEM, "spend", now=now)

    refund = await purchases.refund(session, bought.purchase.reference, now=now)
    assert refund.clawback == referrals.Clawback(referrer.id, REFERRER_BONUS, 50, 150)
    assert await referrals.stats(session, referrer.id) == referrals.ReferralStats(1, 0, 0)

    await ledger.refund(session, spent.id, now=now)  # the spend is given back: it pays the debt
    assert await balance(session, referrer.id) == 0
    assert await referrals.stats(session, referrer.id) == referrals.ReferralStats(1, 0, 0)
    await books_balance(session, referrer.id)


async def test_the_cap_counts_clawed_back_referrals(session: AsyncSession, now: datetime) -> None:
    rules = Rules(referral=ReferralRules(cap=2))
    referrer = await new_member(session, rules, now, name="Farmer")
    for result in await bring_friends(session, rules, referrer, 2, now):
        await purchases.refund(session, result.purchase.reference, now=now)

    [third] = await bring_friends(session, rules, referrer, 1, now + timedelta(hours=1))

    assert third.referrer_reward == referrals.ReferrerReward(referrer.id, ReferralStatus.CAPPED, 0)
    assert await balance(session, referrer.id) == 0
