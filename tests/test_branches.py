"""Branches in core (core.branches and the actions that take a branch), on both engines: references
are a branch's own, a refund finds its own branch's purchase, a reward handed over records where,
points earned in one branch are spent in another, and the numbers filter by branch."""

from __future__ import annotations

import io

import pytest
from alembic import command
from sqlalchemy import select, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from core import api_keys, branches, exports, rewards
from core.actions import adjustments, purchases, redemptions, reports
from core.audit import Actor
from core.club import Club
from core.db import alembic_config, upgrade
from core.errors import (
    AlreadyRefunded,
    BranchForbidden,
    BranchNotFound,
    DuplicateReference,
    InvalidInput,
    PurchaseNotFound,
)
from core.models import Branch, Member, Purchase, PurchaseStatus, Redemption, utcnow
from tests.conftest import STAFF_CHAT_ID
from tests.helpers import audit_entries, new_member, reload_member

CASHIER = Actor(701, "Cashier")
ADMIN = Actor(702, "Admin")
NORTH_CHAT = -100_777


async def a_member(club: Club) -> Member:
    async with club.sessions() as s, s.begin():
        return await new_member(s, club.rules, utcnow())


async def sold(club: Club, member: Member, amount: int, reference: str, branch: str) -> None:
    outcome = await purchases.purchase(
        club, CASHIER, f"#{member.id}", amount, reference=reference, key=f"k:{reference}",
        branch=branch,
    )  # fmt: skip
    assert isinstance(outcome, purchases.Recorded)


async def purchases_by_branch(club: Club) -> list[tuple[str, str, int]]:
    """(branch code, reference, amount) of every purchase, oldest first."""
    async with club.sessions() as s:
        rows = await s.execute(
            select(Branch.code, Purchase.reference, Purchase.amount)
            .join(Branch, Branch.id == Purchase.branch_id)
            .order_by(Purchase.id)
        )
        return [tuple(row) for row in rows.all()]


@pytest.fixture
async def north(club: Club) -> Branch:
    return await branches.add(club, "north", "North shop", staff_chat_id=NORTH_CHAT)


async def test_every_club_has_main_and_a_branch_is_added_once(club: Club, north: Branch) -> None:
    listed = await branches.listing(club)

    assert [(b.code, b.name, b.staff_chat_id) for b in listed] == [
        ("main", "main", None),
        ("north", "North shop", NORTH_CHAT),
    ]
    assert (await branches.of_chat(club, NORTH_CHAT)).code == "north"
    assert await branches.of_chat(club, STAFF_CHAT_ID) is None


@pytest.mark.parametrize(
    ("code", "name", "chat", "reason"),
    [
        ("north", "Again", None, "branch_code_taken"),
        ("south", "South", NORTH_CHAT, "branch_chat_taken"),
        ("south", "South", STAFF_CHAT_ID, "branch_chat_is_club"),
        ("south", "South", 4242, "branch_chat"),
        ("south side", "South", None, "branch_code"),
        ("", "South", None, "branch_code"),
        ("s" * 33, "South", None, "branch_code"),
        ("south", " ", None, "branch_name"),
    ],
)
async def test_a_branch_that_cannot_be_is_refused_and_nothing_is_added(
    club: Club, north: Branch, code: str, name: str, chat: int | None, reason: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        await branches.add(club, code, name, staff_chat_id=chat)

    assert refused.value.reason == reason
    assert [b.code for b in await branches.listing(club)] == ["main", "north"]


async def test_the_same_reference_in_two_branches_is_two_purchases_and_a_retry_is_one(
    club: Club, north: Branch
) -> None:
    member = await a_member(club)

    await sold(club, member, 100_000, "INV-1", "main")
    await sold(club, member, 200_000, "INV-1", "north")
    with pytest.raises(DuplicateReference):  # the till retrying: recorded once
        await sold(club, member, 200_000, "INV-1", "north")

    assert await purchases_by_branch(club) == [
        ("main", "INV-1", 100_000),
        ("north", "INV-1", 200_000),
    ]
    assert (await reload_member(club.sessions, member.id)).balance == 300
    [first, second] = await audit_entries(club, "purchase")
    assert (first.after["branch"], second.after["branch"]) == ("main", "north")


async def test_a_refund_finds_the_purchase_of_its_own_branch(club: Club, north: Branch) -> None:
    member = await a_member(club)
    await sold(club, member, 100_000, "INV-1", "main")
    await sold(club, member, 200_000, "INV-1", "north")

    refunded = await purchases.refund(club, CASHIER, "INV-1", branch="north")

    assert (refunded.result.purchase.amount, refunded.result.reversed) == (200_000, 200)
    async with club.sessions() as s:
        statuses = (await s.scalars(select(Purchase.status).order_by(Purchase.id))).all()
    assert statuses == [PurchaseStatus.COMPLETED, PurchaseStatus.REFUNDED]
    with pytest.raises(AlreadyRefunded):
        await purchases.refund(club, CASHIER, "INV-1", branch="north")
    with pytest.raises(PurchaseNotFound):
        await sold(club, member, 50_000, "ONLY-MAIN", "main")
        await purchases.refund(club, CASHIER, "ONLY-MAIN", branch="north")
    assert (await reload_member(club.sessions, member.id)).balance == 150


async def test_an_unknown_branch_records_nothing(club: Club) -> None:
    member = await a_member(club)

    with pytest.raises(BranchNotFound):
        await sold(club, member, 100_000, "INV-1", "nowhere")

    assert await purchases_by_branch(club) == []


async def test_a_held_purchase_keeps_its_branch_and_only_its_branch_decides_it(
    club: Club, north: Branch
) -> None:
    member = await a_member(club)
    held = await purchases.purchase(
        club, CASHIER, f"#{member.id}", club.rules.purchase.confirm_above + 1,
        reference="BIG-1", key="k", branch="north",
    )  # fmt: skip
    assert isinstance(held, purchases.Held)

    await branches.add(club, "south", "South")
    assert await purchases.decide_purchase(
        club, CASHIER, held.request.id, confirm=True, branch="south"
    ) is None  # fmt: skip
    decided = await purchases.decide_purchase(
        club, CASHIER, held.request.id, confirm=True, branch="north"
    )

    assert decided is not None and decided.result is not None
    assert await purchases_by_branch(club) == [
        ("north", "BIG-1", club.rules.purchase.confirm_above + 1)
    ]


async def test_points_earned_in_one_branch_are_spent_and_handed_over_in_another(
    club: Club, north: Branch
) -> None:
    member = await a_member(club)
    await sold(club, member, 300_000, "INV-1", "main")
    async with club.sessions() as s, s.begin():
        reward = await rewards.create(s, club.rules, title="Coffee", cost=250, stock=5)
    code = (
        await redemptions.redeem(
            club, Actor(member.telegram_id, member.name), reward.id, key="tg:1:2:3"
        )
    ).redemption.code

    handed = await redemptions.confirm(club, CASHIER, code, branch="north")

    assert handed.redemption.branch_id == north.id
    async with club.sessions() as s:
        stored = await s.scalar(select(Redemption))
    assert stored.branch_id == north.id
    assert (await reload_member(club.sessions, member.id)).balance == 50


async def test_stats_cover_every_branch_or_one(club: Club, north: Branch) -> None:
    member = await a_member(club)
    await sold(club, member, 100_000, "INV-1", "main")
    await sold(club, member, 200_000, "INV-1", "north")
    await sold(club, member, 300_000, "INV-2", "north")
    await purchases.refund(club, CASHIER, "INV-2", branch="north")

    everything = await reports.stats(club, ADMIN)
    one = await reports.stats(club, ADMIN, branch="north")

    assert everything.club is not None and everything.club.points_issued == 600
    assert [(s.code, s.purchases, s.amount, s.points, s.refunds) for s in everything.sales] == [
        ("main", 1, 100_000, 100, 0),
        ("north", 1, 200_000, 200, 1),
    ]
    assert one.club is None and one.branch is not None and one.branch.code == "north"
    assert [(s.code, s.purchases, s.amount, s.refunds) for s in one.sales] == [
        ("north", 1, 200_000, 1)
    ]
    with pytest.raises(BranchNotFound):
        await reports.stats(club, ADMIN, branch="south")


def test_a_branch_desk_reads_its_own_branch_and_main_reads_any() -> None:
    assert branches.scope("main", None) is None
    assert branches.scope("main", "north") == "north"
    assert branches.scope("north", None) == "north"
    assert branches.scope("north", "north") == "north"
    with pytest.raises(BranchForbidden):
        branches.scope("north", "main")


async def test_the_purchases_export_filters_by_branch(club: Club, north: Branch) -> None:
    member = await a_member(club)
    await sold(club, member, 100_000, "INV-1", "main")
    await sold(club, member, 200_000, "INV-1", "north")

    def lines(data: bytes) -> list[list[str]]:
        return [line.split(",") for line in data.decode("utf-8-sig").splitlines()]

    every, only = io.BytesIO(), io.BytesIO()
    assert await exports.export(club, ADMIN, "purchases", every) == 2
    assert await exports.export(club, ADMIN, "purchases", only, branch="north") == 1

    header, *rows = lines(every.getvalue())
    assert header[-1] == "branch" and [row[-1] for row in rows] == ["main", "north"]
    _, row = lines(only.getvalue())
    assert (row[header.index("amount")], row[-1]) == ("200000", "north")
    [_, entry] = await audit_entries(club, "export")
    assert entry.after == {"kind": "purchases", "rows": 1, "branch": "north"}
    with pytest.raises(InvalidInput) as refused:
        await exports.export(club, ADMIN, "members", io.BytesIO(), branch="north")
    assert refused.value.reason == "export_not_by_branch"
    with pytest.raises(BranchNotFound):
        await exports.export(club, ADMIN, "purchases", io.BytesIO(), branch="south")
    assert len(await audit_entries(club, "export")) == 2


async def test_a_key_names_a_real_branch(club: Club, north: Branch) -> None:
    made = await api_keys.create(club, "till-n", branch="north")
    assert made.key.branch == "north"

    with pytest.raises(InvalidInput) as refused:
        await api_keys.create(club, "till-s", branch="south")

    assert refused.value.reason == "api_key_branch_unknown"
    assert [k.name for k in await api_keys.listing(club)] == ["till-n"]


async def test_an_award_belongs_to_no_branch_and_leaves_the_sales_alone(club: Club) -> None:
    member = await a_member(club)
    await adjustments.adjust(
        club, ADMIN, f"#{member.id}", 40, reason="gift", key="gift", admin=True
    )

    [main] = (await reports.stats(club, ADMIN)).sales

    assert (main.code, main.purchases, main.points) == ("main", 0, 0)


async def test_the_migration_puts_every_earlier_purchase_and_key_in_a_branch(
    engine: AsyncEngine,
) -> None:
    await migrate(engine, "0007", up=False)
    async with engine.begin() as conn:
        for statement in OLD_CLUB:
            await conn.execute(text(statement))

    await upgrade(engine)

    async with engine.connect() as conn:
        placed = await conn.execute(
            text(
                "SELECT p.reference, b.code FROM purchases p "
                "JOIN branches b ON b.id = p.branch_id ORDER BY p.id"
            )
        )
        assert [tuple(row) for row in placed.all()] == [("R-1", "main"), ("R-2", "main")]
        shops = await conn.scalars(text("SELECT code FROM branches ORDER BY id"))
        assert shops.all() == ["main", "west"]
        # the referral still names the purchase that earned it
        assert await conn.scalar(text("SELECT purchase_id FROM referrals")) == 2


async def migrate(engine: AsyncEngine, revision: str, *, up: bool) -> None:
    """Alembic up or down to ``revision`` over the test's engine."""

    def run(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        (command.upgrade if up else command.downgrade)(config, revision)

    async with engine.begin() as connection:
        await connection.run_sync(run)


OLD_CLUB = (
    "INSERT INTO members (id, locale, joined_at, status, tier, balance, referral_code, profile, "
    "offers_enabled, surveys_enabled, phone_verified) VALUES "
    "(1, 'fa', CURRENT_TIMESTAMP, 'active', 'bronze', 0, 'A1', '{}', TRUE, TRUE, FALSE), "
    "(2, 'fa', CURRENT_TIMESTAMP, 'active', 'bronze', 0, 'B2', '{}', TRUE, TRUE, FALSE)",
    "INSERT INTO purchases (id, member_id, amount, currency, reference, points, status, "
    "created_at, points_reversed, points_unrecovered) VALUES "
    "(1, 1, 1000, 'Toman', 'R-1', 1, 'completed', CURRENT_TIMESTAMP, 0, 0), "
    "(2, 2, 2000, 'Toman', 'R-2', 2, 'completed', CURRENT_TIMESTAMP, 0, 0)",
    "INSERT INTO referrals (referrer_id, referred_id, status, created_at, purchase_id) "
    "VALUES (1, 2, 'rewarded', CURRENT_TIMESTAMP, 2)",
    "INSERT INTO api_keys (name, branch, prefix, key_hash, created_at) "
    "VALUES ('till-w', 'west', 'bgh_x', 'hash', CURRENT_TIMESTAMP)",
)
