"""Tests for core.segments: the rule language, its errors, and the one query it compiles to.

A small club is built by hand (purchases, referrals, NPS answers, birthdays, profiles) and every
rule in the tables below is checked against the exact set of members it must select, on SQLite and,
when configured, on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from itertools import count
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from core import segments
from core.errors import BashgahError, SegmentError
from core.jalali import month_of
from core.models import (
    Member,
    MemberStatus,
    Purchase,
    PurchaseStatus,
    Referral,
    SurveyAnswer,
    SurveyInvite,
    SurveyKind,
)
from core.rules import Rules, Tier
from tests.helpers import new_member

DAY = timedelta(days=1)
_references = count(1)
_touchpoints = count(1)

# Every active member of the club below; the erased and blocked members must never show up.
EVERYONE = frozenset({"ann", "ben", "cyrus", "dara", "ella", "fay"})


# --- the club -------------------------------------------------------------------------------


async def add_member(
    session: AsyncSession, rules: Rules, now: datetime, name: str, **facts: Any
) -> Member:
    member = await new_member(session, rules, now, name=name)
    for key, value in facts.items():
        setattr(member, key, value)
    await session.flush()
    return member


async def buy(
    session: AsyncSession,
    member: Member,
    amount: int,
    points: int,
    at: datetime,
    status: PurchaseStatus = PurchaseStatus.COMPLETED,
) -> None:
    session.add(
        Purchase(
            member_id=member.id,
            amount=amount,
            currency="Toman",
            reference=f"S-{next(_references)}",
            points=points,
            status=status,
            created_at=at,
            refunded_at=at if status is PurchaseStatus.REFUNDED else None,
        )
    )
    await session.flush()


async def answer_nps(session: AsyncSession, member: Member, score: int, at: datetime) -> None:
    invite = SurveyInvite(
        member_id=member.id,
        kind=SurveyKind.NPS,
        touchpoint=f"nps:{member.id}:{next(_touchpoints)}",
        due_at=at,
        status="sent",
        sent_at=at,
        created_at=at,
    )
    session.add(invite)
    await session.flush()
    session.add(
        SurveyAnswer(
            invite_id=invite.id,
            member_id=member.id,
            kind=SurveyKind.NPS,
            score=score,
            created_at=at,
        )
    )
    await session.flush()


async def refer(session: AsyncSession, referrer: Member, referred: Member, at: datetime) -> None:
    session.add(Referral(referrer_id=referrer.id, referred_id=referred.id, created_at=at))
    await session.flush()


@pytest.fixture
async def club(session: AsyncSession, rules: Rules, now: datetime) -> dict[str, int]:
    """Now is 2026-03-01 09:00 UTC: 1404/12/10 in the Jalali calendar (Esfand).

    ====== ======== ======= ======== ===== ===== ============ =========== ======== ====
    member tier     balance inactive qual. refs  birthday     city        interest nps
    ====== ======== ======= ======== ===== ===== ============ =========== ======== ====
    ann    gold     500     2        19000 1     1990-03-05   Tehran      events   5
    ben    silver   0       120      350   2     1985-12-25   TEHRAN      -        9
    cyrus  bronze   50      9 (new)  0     0     2000-02-29   Shiraz      discounts -
    dara   platinum 3000    90       6000  0     -            -           -        3
    ella   bronze   950     1        950   0     1995-12-31   Isfahan     new_prod 7
    fay    bronze   120     30       120   0     1992-03-21   (Persian)   events   -
    ====== ======== ======= ======== ===== ===== ============ =========== ======== ====

    RFM among the five buyers of the last year (cyrus never bought: 1, 1, 1):
    recency ben 1, dara 2, fay 3, ann 4, ella 5; frequency ella 1, fay 1, ben 3, dara 3, ann 5
    (ties share their lowest quintile); monetary ella 1, fay 2, ben 3, ann 4, dara 5.
    """
    ago = lambda days: now - days * DAY  # noqa: E731
    jan_2025, jun_2024 = datetime(2025, 1, 1, tzinfo=UTC), datetime(2024, 6, 1, tzinfo=UTC)
    ann = await add_member(
        session, rules, now, "ann", tier="gold", balance=500, joined_at=jan_2025,
        birthday=date(1990, 3, 5), city="Tehran", profile={"interests": ["events", "gifts"]},
    )  # fmt: skip
    ben = await add_member(
        session, rules, now, "ben", tier="silver", balance=0, joined_at=jun_2024,
        birthday=date(1985, 12, 25), city="TEHRAN", profile={},
    )  # fmt: skip
    cyrus = await add_member(
        session, rules, now, "cyrus", tier="bronze", balance=50, joined_at=ago(9),
        birthday=date(2000, 2, 29), city="Shiraz", offers_enabled=False,
        profile={"interests": ["discounts"], "values": ["price"]},
    )  # fmt: skip
    dara = await add_member(
        session, rules, now, "dara", tier="platinum", balance=3000,
        joined_at=datetime(2023, 1, 1, tzinfo=UTC), profile={"interests": []},
    )  # fmt: skip
    ella = await add_member(
        session, rules, now, "ella", tier="bronze", balance=950,
        joined_at=datetime(2025, 6, 1, tzinfo=UTC), birthday=date(1995, 12, 31), city="Isfahan",
        profile={"interests": ["new_products"]},
    )  # fmt: skip
    fay = await add_member(
        session, rules, now, "fay", tier="bronze", balance=120,
        joined_at=datetime(2025, 9, 1, tzinfo=UTC), birthday=date(1992, 3, 21), city="مشهد",
        profile={"interests": ["events"], "contact": "telegram"},
    )  # fmt: skip
    # Would match almost every rule, but are not active.
    zed = await add_member(
        session, rules, now, "zed", tier="platinum", balance=9000, joined_at=ago(5),
        birthday=date(1990, 3, 3), city="Tehran", profile={"interests": ["events"]},
        status=MemberStatus.ERASED,
    )  # fmt: skip
    yan = await add_member(
        session, rules, now, "yan", tier="gold", balance=9000, joined_at=ago(400),
        birthday=date(1990, 3, 2), city="Tehran", profile={"interests": ["events"]},
        status=MemberStatus.BLOCKED,
    )  # fmt: skip

    await buy(session, ann, 200_000, 10_000, ago(2))
    await buy(session, ann, 150_000, 5_000, ago(10))
    await buy(session, ann, 100_000, 4_000, ago(40))
    await buy(session, ann, 900_000, 900, ago(5), PurchaseStatus.REFUNDED)  # never counts
    await buy(session, ben, 300_000, 300, ago(120))
    await buy(session, ben, 50_000, 50, ago(200))
    await buy(session, ben, 400_000, 400, ago(400))  # older than a year
    await buy(session, dara, 1_000_000, 2_000, ago(90))
    await buy(session, dara, 2_000_000, 4_000, ago(100))
    await buy(session, ella, 80_000, 950, ago(1))
    await buy(session, fay, 120_000, 120, ago(30))
    for days in (1, 3, 5, 7, 9, 11):
        await buy(session, zed, 5_000_000, 5_000, ago(days))
        await buy(session, yan, 5_000_000, 5_000, ago(days + 70))

    await refer(session, ben, cyrus, ago(9))
    await refer(session, ben, ella, ago(100))
    await refer(session, ann, fay, ago(150))
    await refer(session, zed, yan, ago(3))

    await answer_nps(session, ann, 9, ago(60))
    await answer_nps(session, ann, 5, ago(10))  # the latest one counts
    await answer_nps(session, ben, 9, ago(20))
    await answer_nps(session, dara, 3, ago(30))
    await answer_nps(session, ella, 7, ago(40))
    await answer_nps(session, yan, 2, ago(5))
    await answer_nps(session, zed, 1, ago(5))

    people = {"ann": ann, "ben": ben, "cyrus": cyrus, "dara": dara, "ella": ella, "fay": fay}
    people |= {"zed": zed, "yan": yan}
    return {name: member.id for name, member in people.items()}


async def selected(
    session: AsyncSession, rules: Rules, now: datetime, club: dict[str, int], rule: str
) -> set[str]:
    segment = segments.parse(rule, rules)
    names = {member_id: name for name, member_id in club.items()}
    ids = (await session.scalars(segments.member_ids(segment, now))).all()
    assert len(ids) == len(set(ids)), "a member selected twice"
    assert await segments.count(session, segment, now) == len(ids)
    return {names[member_id] for member_id in ids}


def but(*names: str) -> set[str]:
    return set(EVERYONE - set(names))


# --- rules and the members they select --------------------------------------------------------

CASES: Sequence[tuple[str, set[str]]] = [
    # tier, along the ladder
    ("tier >= gold", {"ann", "dara"}),
    ("tier > gold", {"dara"}),
    ("tier = silver", {"ben"}),
    ("tier != bronze", {"ann", "ben", "dara"}),
    ("tier < silver", {"cyrus", "ella", "fay"}),
    ("tier <= silver", {"ben", "cyrus", "ella", "fay"}),
    ("tier in (silver, platinum)", {"ben", "dara"}),
    ('tier = "GOLD"', {"ann"}),
    ("tier >= bronze", set(EVERYONE)),
    ("tier > platinum", set()),
    # balance
    ("balance > 100", {"ann", "dara", "ella", "fay"}),
    ("balance = 0", {"ben"}),
    ("balance != 0", but("ben")),
    ("balance < 120", {"ben", "cyrus"}),
    ("balance <= 120", {"ben", "cyrus", "fay"}),
    ("balance >= 950", {"dara", "ella"}),
    ("balance in (0, 50, 7)", {"ben", "cyrus"}),
    ("balance >= 1_000", {"dara"}),
    # qualifying points: completed purchases of the last 365 days
    ("qualifying_points >= 6000", {"ann", "dara"}),
    ("qualifying_points = 350", {"ben"}),
    ("qualifying_points < 200", {"cyrus", "fay"}),
    # days since the last completed purchase (since joining for who never bought)
    ("days_inactive > 60", {"ben", "dara"}),
    ("days_inactive >= 90", {"ben", "dara"}),
    ("days_inactive > 90", {"ben"}),
    ("days_inactive = 90", {"dara"}),
    ("days_inactive = 9", {"cyrus"}),
    ("days_inactive != 90", but("dara")),
    ("days_inactive < 9", {"ann", "ella"}),
    ("days_inactive <= 30", {"ann", "cyrus", "ella", "fay"}),
    ("days_inactive < 30", {"ann", "cyrus", "ella"}),
    ("days_inactive in (1, 2, 120)", {"ann", "ben", "ella"}),
    # purchases and spend in the last N days (the refunded purchase never counts)
    ("purchases_30d >= 1", {"ann", "ella"}),
    ("purchases_31d >= 1", {"ann", "ella", "fay"}),
    ("purchases_30d = 2", {"ann"}),
    ("purchases_90d = 0", {"ben", "cyrus", "dara"}),
    ("purchases_91d = 1", {"dara", "ella", "fay"}),
    ("purchases_3650d > 2", {"ann", "ben"}),
    ("spend_90d > 100000", {"ann", "fay"}),
    ("spend_30d = 350000", {"ann"}),
    ("spend_365d >= 350000", {"ann", "ben", "dara"}),
    ("spend_3650d >= 750000", {"ben", "dara"}),
    # RFM
    ("recency = 1", {"ben", "cyrus"}),
    ("recency >= 4", {"ann", "ella"}),
    ("recency = 3", {"fay"}),
    ("frequency = 3", {"ben", "dara"}),
    ("frequency = 1", {"cyrus", "ella", "fay"}),
    ("frequency = 2", set()),
    ("frequency = 5", {"ann"}),
    ("monetary = 5", {"dara"}),
    ("monetary in (1, 2)", {"cyrus", "ella", "fay"}),
    ("monetary < 4", {"ben", "cyrus", "ella", "fay"}),
    # days since joining
    ("days_since_joining <= 30", {"cyrus"}),
    ("days_since_joining = 9", {"cyrus"}),
    ("days_since_joining > 1000", {"dara"}),
    ("days_since_joining >= 424", {"ann", "ben", "dara"}),
    ("days_since_joining > 424", {"ben", "dara"}),
    # birthday month (Jalali, this Jalali year) and upcoming birthdays
    ("birthday_month = 12", {"ann", "cyrus"}),
    ("birthday_month = 10", {"ben", "ella"}),
    ("birthday_month = 1", {"fay"}),
    ("birthday_month != 12", {"ben", "ella", "fay"}),
    ("birthday_month <= 1", {"fay"}),
    ("birthday_month >= 10", {"ann", "ben", "cyrus", "ella"}),
    ("birthday_month in (1, 10)", {"ben", "ella", "fay"}),
    ("birthday_month in (2, 3, 4, 5, 6, 7, 8, 9, 11)", set()),
    ("birthday within 7 days", {"ann", "cyrus"}),  # cyrus: 29 Feb, on 1 March this year
    ("birthday within 4 days", {"cyrus"}),
    ("birthday within 5 days", {"ann", "cyrus"}),
    ("birthday within 1 day", {"cyrus"}),
    ("birthday within 366 days", {"ann", "ben", "cyrus", "ella", "fay"}),
    ("birthday within 300 days", {"ann", "ben", "cyrus", "fay"}),  # through 25 December
    ("birthday within 306 days", {"ann", "ben", "cyrus", "ella", "fay"}),
    ("birthday within 21 days", {"ann", "cyrus", "fay"}),
    ("birthday within 20 days", {"ann", "cyrus"}),
    # city, without letter case; text in any script
    ('city = "tehran"', {"ann", "ben"}),
    ("city = Tehran", {"ann", "ben"}),
    ('city != "tehran"', {"cyrus", "ella", "fay"}),  # dara has no city
    ('not city = "tehran"', {"cyrus", "dara", "ella", "fay"}),
    ("city in ('shiraz', 'ISFAHAN')", {"cyrus", "ella"}),
    ('city = "مشهد"', {"fay"}),
    # interests in the profile JSON
    ('interest = "events"', {"ann", "fay"}),
    ("interest = EVENTS", {"ann", "fay"}),
    ('interest != "events"', {"ben", "cyrus", "dara", "ella"}),
    ('interest in ("gifts", "discounts")', {"ann", "cyrus"}),
    ('interest = "event"', set()),
    ('interest = "%"', set()),
    ('interest = "_vents"', set()),
    ('interest = "new_products"', {"ella"}),
    # referrals made
    ("referrals >= 1", {"ann", "ben"}),
    ("referrals = 2", {"ben"}),
    ("referrals = 0", {"cyrus", "dara", "ella", "fay"}),
    # the latest NPS answer; members without one never match a comparison
    ("nps_last <= 6", {"ann", "dara"}),
    ("nps_last > 6", {"ben", "ella"}),
    ("nps_last != 5", {"ben", "dara", "ella"}),
    ("nps_last in (3, 9)", {"ben", "dara"}),
    ("nps_last >= 0", {"ann", "ben", "dara", "ella"}),
    ("not nps_last <= 6", {"ben", "cyrus", "ella", "fay"}),
    # offers
    ("offers = false", {"cyrus"}),
    ("offers = TRUE", but("cyrus")),
    ("offers != true", {"cyrus"}),
    # and, or, not, parentheses: "and" binds tighter than "or", "not" tighter than both
    ("tier >= gold and days_inactive > 60 and nps_last <= 6", {"dara"}),
    ('tier = gold or tier = silver and city = "shiraz"', {"ann"}),
    ('(tier = gold or tier = silver) and city = "tehran"', {"ann", "ben"}),
    ("tier = gold or (tier = silver and balance > 0)", {"ann"}),
    ("not tier = bronze and balance > 100", {"ann", "dara"}),
    ("not (tier = bronze and balance > 100)", {"ann", "ben", "cyrus", "dara"}),
    ("not not tier = gold", {"ann"}),
    ("not (tier = gold or tier = platinum)", {"ben", "cyrus", "ella", "fay"}),
    ("((tier = gold))", {"ann"}),
    ("balance > 100 and (offers = false or referrals > 0) or tier = silver", {"ann", "ben"}),
    ("TIER >= Gold AND Offers = True OR Days_Inactive = 9", {"ann", "cyrus", "dara"}),
    ("tier>=gold and(balance<1000)", {"ann"}),
    # Persian and Arabic-Indic digits
    ("balance > ۱۰۰", {"ann", "dara", "ella", "fay"}),
    ("balance >= ٥٠٠", {"ann", "dara", "ella"}),
    ("spend_۹۰d > ۱۰۰۰۰۰", {"ann", "fay"}),
    ("birthday within ۷ days", {"ann", "cyrus"}),
    ("balance >= ۱٬۰۰۰", {"dara"}),
    # built-in segments, alone and inside expressions
    ("champions", {"ann"}),
    ("at_risk", {"ben", "dara"}),
    ("new_members", {"cyrus"}),
    ("birthday_week", {"ann", "cyrus"}),
    ("near_next_tier", {"ann", "ella"}),  # gold 19000 of 20000; bronze 950 of 1000
    ("Champions or at_risk", {"ann", "ben", "dara"}),
    ("new_members and offers = false", {"cyrus"}),
    ("near_next_tier and tier = bronze", {"ella"}),
    ("not at_risk and not champions", {"cyrus", "ella", "fay"}),
]


@pytest.mark.parametrize(("rule", "expected"), CASES, ids=[rule for rule, _ in CASES])
async def test_rule_selects(
    session: AsyncSession,
    rules: Rules,
    now: datetime,
    club: dict[str, int],
    rule: str,
    expected: set[str],
) -> None:
    assert await selected(session, rules, now, club, rule) == expected


async def test_every_field_is_covered() -> None:
    covered = " ".join(rule for rule, _ in CASES).lower()
    for name in segments._FIELDS:
        assert name in covered, name
    for builtin in segments.BUILTIN:
        assert builtin in covered, builtin
    for op in (" = ", " != ", " < ", " <= ", " > ", " >= ", " in ("):
        assert op in covered, op


async def test_inactive_members_are_never_selected(
    session: AsyncSession, rules: Rules, now: datetime, club: dict[str, int]
) -> None:
    everything = [rule for rule, _ in CASES] + [
        'city = "tehran" and interest = "events"',
        "nps_last <= 2",
        "referrals >= 1 and tier >= gold",
        "days_since_joining < 10 or days_inactive > 60",
    ]
    for rule in everything:
        chosen = await selected(session, rules, now, club, rule)
        assert chosen <= EVERYONE, rule
    # The blocked and the erased member come back only by status: the facts did match.
    for name in ("zed", "yan"):
        member = await session.get(Member, club[name])
        assert member is not None
        member.status = MemberStatus.ACTIVE
    await session.flush()
    assert {"zed", "yan"} <= await selected(session, rules, now, club, 'city = "tehran"')
    assert await selected(session, rules, now, club, "nps_last <= 2") == {"zed", "yan"}


async def test_sample_and_count(
    session: AsyncSession, rules: Rules, now: datetime, club: dict[str, int]
) -> None:
    segment = segments.parse("tier >= bronze", rules)
    assert await segments.count(session, segment, now) == 6
    some = await segments.sample(session, segment, now, limit=3)
    assert [m.id for m in some] == sorted(club[n] for n in EVERYONE)[:3]
    assert all(isinstance(m, Member) for m in some)
    rfm = await segments.sample(session, segments.parse("champions", rules), now)
    assert [m.name for m in rfm] == ["ann"]
    nobody = segments.parse("tier > platinum", rules)
    assert await segments.count(session, nobody, now) == 0
    assert await segments.sample(session, nobody, now) == []


async def test_member_ids_nests_in_a_larger_query(
    session: AsyncSession, rules: Rules, now: datetime, club: dict[str, int]
) -> None:
    for rule, expected in (("champions", ["ann"]), ("at_risk and tier = silver", ["ben"])):
        ids = segments.member_ids(segments.parse(rule, rules), now)
        names = await session.scalars(select(Member.name).where(Member.id.in_(ids)))
        assert list(names) == expected


async def test_rfm_with_few_buyers_and_ties(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    """Two buyers fill quintiles 1 and 2 only; equal values share the lowest score."""
    club = {}
    for name, days_ago in (("one", [10]), ("two", [5, 6]), ("none", [])):
        member = await add_member(session, rules, now, name)
        for days in days_ago:
            await buy(session, member, 100_000, 100, now - days * DAY)
        club[name] = member.id
    assert await selected(session, rules, now, club, "frequency = 1") == {"one", "none"}
    assert await selected(session, rules, now, club, "frequency = 2") == {"two"}
    assert await selected(session, rules, now, club, "frequency >= 3") == set()
    assert await selected(session, rules, now, club, "monetary > 1") == {"two"}
    assert await selected(session, rules, now, club, "recency = 2") == {"two"}
    tie = await add_member(session, rules, now, "tie")
    await buy(session, tie, 100_000, 100, now - 5 * DAY)
    await buy(session, tie, 100_000, 100, now - 6 * DAY)
    club["tie"] = tie.id
    # Sorted: one, two, tie -> quintiles 1, 2, 3; "two" and "tie" are equal, so both score 2.
    assert await selected(session, rules, now, club, "frequency = 2") == {"two", "tie"}
    assert await selected(session, rules, now, club, "frequency in (3, 4, 5)") == set()
    assert await selected(session, rules, now, club, "frequency != 2") == {"one", "none"}
    assert await selected(session, rules, now, club, "recency = 2") == {"two", "tie"}


async def test_a_member_whose_tier_left_the_rules_ranks_as_the_base(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    old = await add_member(session, rules, now, "old", tier="diamond")
    gold = await add_member(session, rules, now, "gold", tier="gold")
    club = {"old": old.id, "gold": gold.id}
    assert await selected(session, rules, now, club, "tier = bronze") == {"old"}
    assert await selected(session, rules, now, club, "tier < silver") == {"old"}
    assert await selected(session, rules, now, club, "tier >= silver") == {"gold"}
    assert await selected(session, rules, now, club, "tier != bronze") == {"gold"}


async def test_near_next_tier_follows_the_ladder(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    facts = {"below": ("bronze", 899), "low_edge": ("bronze", 900), "high_edge": ("bronze", 999)}
    facts |= {"reached": ("bronze", 1000), "silver_near": ("silver", 4500)}
    facts |= {"silver_far": ("silver", 4499), "top": ("platinum", 19_999)}
    facts |= {"legacy": ("diamond", 950)}  # an unknown tier ranks as the base
    club = {}
    for name, (tier, points) in facts.items():
        member = await add_member(session, rules, now, name, tier=tier)
        await buy(session, member, 1_000_000, points, now - 5 * DAY)
        club[name] = member.id
    expected = {"low_edge", "high_edge", "silver_near", "legacy"}
    assert await selected(session, rules, now, club, "near_next_tier") == expected
    assert await selected(session, rules, now, club, "not near_next_tier") == set(club) - expected


async def test_birthday_within_runs_over_the_year_end(session: AsyncSession, rules: Rules) -> None:
    now = datetime(2026, 12, 28, 12, 0, tzinfo=UTC)
    club = {}
    for name, born in {
        "dec27": date(1990, 12, 27),
        "dec28": date(1990, 12, 28),
        "dec31": date(1991, 12, 31),
        "jan3": date(1992, 1, 3),
        "jan4": date(1993, 1, 4),
        "feb29": date(2000, 2, 29),
    }.items():
        club[name] = (await add_member(session, rules, now, name, birthday=born)).id
    assert await selected(session, rules, now, club, "birthday within 7 days") == {
        "dec28",
        "dec31",
        "jan3",
    }
    assert await selected(session, rules, now, club, "birthday within 8 days") == {
        "dec28",
        "dec31",
        "jan3",
        "jan4",
    }
    # From 28 December, 64 days reach 1 March 2027 (a common year): 29 February is in.
    assert "feb29" in await selected(session, rules, now, club, "birthday within 64 days")
    assert "feb29" not in await selected(session, rules, now, club, "birthday within 63 days")


async def test_today_is_the_date_of_now_in_its_own_zone(
    session: AsyncSession, rules: Rules
) -> None:
    from zoneinfo import ZoneInfo

    member = await add_member(session, rules, datetime(2026, 1, 1, tzinfo=UTC), "m")
    member.birthday = date(1990, 3, 2)
    await session.flush()
    club = {"m": member.id}
    late = datetime(2026, 3, 1, 21, 0, tzinfo=UTC)  # already 2 March in Tehran
    rule = "birthday within 1 day"
    assert await selected(session, rules, late, club, rule) == set()
    tehran = late.astimezone(ZoneInfo("Asia/Tehran"))
    assert await selected(session, rules, tehran, club, rule) == {"m"}


async def test_at_risk_follows_the_churn_days_of_the_rules(
    session: AsyncSession, now: datetime
) -> None:
    rules = Rules.model_validate({"messaging": {"churn_days": 100}})
    assert segments.builtin_rule("at_risk", rules) == "frequency >= 3 and days_inactive > 100"
    # dara (90 days quiet) is no longer at risk; ben (120) still is. Three light buyers make
    # three purchases a year the top frequency quintiles.
    ben = await add_member(session, rules, now, "ben")
    dara = await add_member(session, rules, now, "dara")
    club = {"ben": ben.id, "dara": dara.id}
    for member, days in ((ben, 120), (dara, 90)):
        for extra in (0, 1, 2):
            await buy(session, member, 100_000, 100, now - (days + extra) * DAY)
    for name in ("l1", "l2", "l3"):
        light = await add_member(session, rules, now, name)
        await buy(session, light, 100_000, 100, now - 200 * DAY)
        club[name] = light.id
    assert await selected(session, rules, now, club, "frequency >= 3") == {"ben", "dara"}
    assert await selected(session, rules, now, club, "at_risk") == {"ben"}
    assert await selected(session, rules, now, club, "days_inactive > 100") == {
        "ben",
        "l1",
        "l2",
        "l3",
    }


async def test_custom_tiers_are_the_ladder(session: AsyncSession, now: datetime) -> None:
    rules = Rules(
        tiers=(
            Tier(key="leaf", threshold=0, multiplier=1),
            Tier(key="tree", threshold=100, multiplier=2),
        )
    )
    leaf = await add_member(session, rules, now, "leaf", tier="leaf")
    tree = await add_member(session, rules, now, "tree", tier="tree")
    club = {"leaf": leaf.id, "tree": tree.id}
    assert await selected(session, rules, now, club, "tier > leaf") == {"tree"}
    with pytest.raises(SegmentError) as error:
        segments.parse("tier = gold", rules)
    assert (error.value.reason, error.value.position) == ("unknown_tier", 7)


# --- bad rules ------------------------------------------------------------------------------

ERRORS: Sequence[tuple[str, str, int, str]] = [
    # rule, reason, position, token
    ("", "empty", 0, ""),
    ("   ", "empty", 0, ""),
    ("colour = 1", "unknown_field", 0, "colour"),
    ("tier = gold and colour = 1", "unknown_field", 16, "colour"),
    ("purchases_d > 1", "unknown_field", 0, "purchases_d"),
    ("spend_30 > 1", "unknown_field", 0, "spend_30"),
    ("purchases_0d > 1", "out_of_range", 0, "purchases_0d"),
    ("spend_3651d > 1", "out_of_range", 0, "spend_3651d"),
    ("balance => 5", "bad_operator", 8, "=>"),
    ("balance == 5", "bad_operator", 8, "=="),
    ("balance <> 5", "bad_operator", 8, "<>"),
    ("balance 5", "missing_operator", 8, "5"),
    ("balance", "missing_operator", 7, ""),
    ("balance >", "missing_value", 9, ""),
    ("balance > and tier = gold", "missing_value", 10, "and"),
    ("balance > )", "missing_value", 10, ")"),
    ('balance > "5"', "bad_value", 10, '"5"'),
    ("balance > gold", "bad_value", 10, "gold"),
    ("balance > 1234567890123456", "out_of_range", 10, "1234567890123456"),
    ("(tier = gold", "unclosed_parenthesis", 0, "("),
    ("tier = gold and (balance > 1 or (offers = true)", "unclosed_parenthesis", 16, "("),
    ("tier = gold)", "unmatched_parenthesis", 11, ")"),
    ("(tier = gold balance > 1)", "expected_closing_parenthesis", 13, "balance"),
    ("tier = gold silver", "trailing", 12, "silver"),
    ("tier = gold 5", "trailing", 12, "5"),
    ("()", "missing_condition", 1, ")"),
    ("tier = gold and", "missing_condition", 15, ""),
    ("and tier = gold", "missing_condition", 0, "and"),
    ("tier = gold or or balance > 1", "missing_condition", 15, "or"),
    ("not", "missing_condition", 3, ""),
    ("5 > balance", "missing_condition", 0, "5"),
    ("tier >= diamond", "unknown_tier", 8, "diamond"),
    ("tier in (gold, diamond)", "unknown_tier", 15, "diamond"),
    ("tier = 5", "bad_value", 7, "5"),
    ('city < "x"', "operator_not_allowed", 5, "<"),
    ('interest >= "events"', "operator_not_allowed", 9, ">="),
    ("offers in (true)", "operator_not_allowed", 7, "in"),
    ("offers < true", "operator_not_allowed", 7, "<"),
    ("offers = maybe", "bad_value", 9, "maybe"),
    ("offers = 1", "bad_value", 9, "1"),
    ('city = ""', "bad_value", 7, '""'),
    ("city = and", "missing_value", 7, "and"),
    ("city = true", "bad_value", 7, "true"),
    ('city = "tehran', "unterminated_string", 7, '"tehran'),
    ("balance > 5 $", "unexpected_character", 12, "$"),
    ("balance > 5 ; drop table members", "unexpected_character", 12, ";"),
    ("birthday_month = 13", "out_of_range", 17, "13"),
    ("birthday_month = 0", "out_of_range", 17, "0"),
    ("recency >= 6", "out_of_range", 11, "6"),
    ("nps_last <= 11", "out_of_range", 12, "11"),
    ("days_inactive > 1000000", "out_of_range", 16, "1000000"),
    ("birthday = 5", "expected_within", 9, "="),
    ("birthday within days", "missing_value", 16, "days"),
    ("birthday within 7", "expected_days", 17, ""),
    ("birthday within 7 weeks", "expected_days", 18, "weeks"),
    ("birthday within 0 days", "out_of_range", 16, "0"),
    ("birthday within 367 days", "out_of_range", 16, "367"),
    ("tier in gold", "expected_list", 8, "gold"),
    ("tier in", "expected_list", 7, ""),
    ("tier in (gold,", "missing_value", 14, ""),
    ("tier in (gold silver)", "expected_comma", 14, "silver"),
    ("tier in (gold", "unclosed_parenthesis", 8, "("),
    ("champions balance", "trailing", 10, "balance"),
    ("champions = 1", "trailing", 10, "="),
    ("x" * 501, "too_long", 500, ""),
    ("(" * 21 + "tier = gold" + ")" * 21, "too_deep", 20, "("),
    ("not " * 21 + "tier = gold", "too_deep", 80, "not"),
    ('city = "تهران" and colour = 1', "unknown_field", 19, "colour"),
    ("balance > ۱۰ colour", "trailing", 13, "colour"),
]


@pytest.mark.parametrize(
    ("rule", "reason", "position", "token"), ERRORS, ids=[e[0][:40] for e in ERRORS]
)
def test_bad_rules_point_at_the_wrong_token(
    rules: Rules, rule: str, reason: str, position: int, token: str
) -> None:
    with pytest.raises(SegmentError) as error:
        segments.parse(rule, rules)
    assert (error.value.reason, error.value.position, error.value.token) == (
        reason,
        position,
        token,
    )
    assert rule[position : position + len(token)] == token
    assert isinstance(error.value, BashgahError)
    assert error.value.code == "segment_error"
    assert error.value.details["position"] == position
    assert error.value.details["token"] == token


def test_limits_leave_room_for_real_rules(rules: Rules) -> None:
    deep = "(" * 20 + "tier = gold" + ")" * 20
    assert segments.parse(deep, rules).text == deep
    long = " or ".join(["balance > 1"] * 33)
    assert len(long) <= segments.MAX_LENGTH
    assert len(segments.parse(long, rules).root.items) == 33  # type: ignore[union-attr]


def test_parse_keeps_the_text_and_accepts_every_builtin(rules: Rules) -> None:
    segment = segments.parse("  tier >= gold  ", rules)
    assert segment.text == "tier >= gold"
    assert set(segments.BUILTIN) == {
        "champions",
        "at_risk",
        "new_members",
        "birthday_week",
        "near_next_tier",
    }
    for name in segments.BUILTIN:
        segments.parse(segments.builtin_rule(name, rules), rules)
        assert isinstance(segments.parse(name, rules).root, segments.Named | segments.NearNextTier)


def test_now_is_a_parameter_not_part_of_the_sql(rules: Rules, now: datetime) -> None:
    segment = segments.parse("days_inactive > 60 and spend_90d > 100000 and champions", rules)
    sql = str(segments.member_ids(segment, now).compile(dialect=sqlite.dialect()))
    assert "2026" not in sql and "2025" not in sql
    assert "100000" not in sql
    with pytest.raises(ValueError, match="naive"):
        segments.member_ids(segment, now.replace(tzinfo=None))


def test_nothing_is_evaluated(rules: Rules) -> None:
    for rule in ("__import__('os')", "balance > 1 or 1 = 1", "city = x; drop"):
        with pytest.raises(SegmentError):
            segments.parse(rule, rules)


# --- Jalali months as Gregorian ranges --------------------------------------------------------


def _months_of(spans: dict[int, tuple[int, int]], mmdd: int) -> list[int]:
    return [
        month
        for month, (lo, hi) in spans.items()
        if (lo <= mmdd <= hi if lo <= hi else mmdd >= lo or mmdd <= hi)
    ]


@pytest.mark.parametrize("jalali_year", [1399, 1402, 1403, 1404, 1408])
def test_jalali_month_spans_agree_with_the_calendar(jalali_year: int) -> None:
    """Every day of the Jalali year falls in the span of its own Jalali month, and only there.

    The one exception is the last day of a Jalali year whose Gregorian date is also that of
    Farvardin 1 (20 March twice in 1399): it goes to Farvardin, so every birthday has one month.
    """
    import jdatetime

    spans = segments.jalali_month_spans(jalali_year)
    first = jdatetime.date(jalali_year, 1, 1).togregorian()
    day, end = first, jdatetime.date(jalali_year + 1, 1, 1).togregorian()
    while day < end:
        mmdd = day.month * 100 + day.day
        expected = 1 if (day.month, day.day) == (first.month, first.day) else month_of(day)
        assert _months_of(spans, mmdd) == [expected], day
        day += DAY
    # Every month and day of the calendar, 29 February included, has exactly one month.
    day = date(2024, 1, 1)
    while day.year == 2024:
        assert len(_months_of(spans, day.month * 100 + day.day)) == 1, day
        day += DAY
    assert _months_of(spans, 229) == [12]
