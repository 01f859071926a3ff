"""The use cases of rewards and membership (core.actions.redemptions, core.actions.membership,
core.exports.export), driven as the chat drives them: the member acts as themselves (their
Telegram id), staff are audited, and a repeated request changes nothing the second time."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from core import exports, rewards
from core.actions import adjustments, membership, redemptions
from core.audit import Actor
from core.club import Club
from core.errors import (
    AlreadyConfirmed,
    CodeCancelled,
    CodeNotFound,
    MemberNotFound,
    NotJoined,
)
from core.models import (
    AuditEntry,
    LotteryEntry,
    Member,
    MemberStatus,
    Redemption,
    RedemptionStatus,
    utcnow,
)
from tests.helpers import new_member, reload_member

STAFF = Actor(601, "Staff")
ADMIN = Actor(602, "Admin")


async def _member_with_points(club: Club, points: int = 500) -> tuple[Member, Actor]:
    """A member and the actor they are in their own chat, with ``points`` to spend."""
    async with club.sessions() as s, s.begin():
        member = await new_member(s, club.rules, utcnow())
    await adjustments.adjust(
        club, ADMIN, f"#{member.id}", points, reason="seed", key=f"seed:{member.id}", admin=True
    )
    return member, Actor(member.telegram_id, member.name)


async def _reward(club: Club, **fields: object) -> int:
    async with club.sessions() as s, s.begin():
        values = {"title": "Coffee", "cost": 100, "stock": 5, **fields}
        return (await rewards.create(s, club.rules, **values)).id


async def _audit(club: Club, action: str) -> list[AuditEntry]:
    async with club.sessions() as s:
        query = select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        return list(await s.scalars(query))


async def _count(club: Club, model: type) -> int:
    async with club.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


async def test_redeeming_twice_with_the_same_key_reserves_once(club: Club) -> None:
    member, me = await _member_with_points(club)
    reward_id = await _reward(club)

    first = await redemptions.redeem(club, me, reward_id, key="tg:7:70:1")
    again = await redemptions.redeem(club, me, reward_id, key="tg:7:70:1")

    assert first.redemption.id == again.redemption.id
    assert first.redemption.request_key == f"tg:{member.id}:7:70:1"  # as stored before
    assert first.member.balance == 400 and first.reward.title == "Coffee"
    assert (await reload_member(club.sessions, member.id)).balance == 400
    assert await _count(club, Redemption) == 1


async def test_someone_who_never_joined_is_not_joined(club: Club) -> None:
    reward_id = await _reward(club)
    with pytest.raises(NotJoined):
        await redemptions.redeem(club, Actor(424242), reward_id, key="tg:1:1:1")
    assert await _count(club, Redemption) == 0


async def test_a_member_who_had_blocked_the_bot_is_active_again_when_they_redeem(
    club: Club,
) -> None:
    member, me = await _member_with_points(club)
    async with club.sessions() as s, s.begin():
        (await s.get(Member, member.id)).status = MemberStatus.BLOCKED  # type: ignore[union-attr]

    redeemed = await redemptions.redeem(club, me, await _reward(club), key="tg:1:2:3")

    assert redeemed.member.status == MemberStatus.ACTIVE
    assert (await reload_member(club.sessions, member.id)).status == MemberStatus.ACTIVE


async def test_cancelling_a_code_gives_the_points_back_once(club: Club) -> None:
    member, me = await _member_with_points(club)
    redeemed = await redemptions.redeem(club, me, await _reward(club), key="tg:1:1:1")

    cancelled = await redemptions.cancel_code(club, me, redeemed.redemption.id)

    assert cancelled.member.balance == 500
    assert cancelled.redemption.status == RedemptionStatus.CANCELLED
    with pytest.raises(CodeCancelled):
        await redemptions.cancel_code(club, me, redeemed.redemption.id)
    assert (await reload_member(club.sessions, member.id)).balance == 500


async def test_nobody_cancels_someone_elses_code(club: Club) -> None:
    _, owner = await _member_with_points(club)
    _, stranger = await _member_with_points(club)
    redeemed = await redemptions.redeem(club, owner, await _reward(club), key="tg:1:1:1")

    with pytest.raises(CodeNotFound):
        await redemptions.cancel_code(club, stranger, redeemed.redemption.id)
    assert (await reload_member(club.sessions, redeemed.member.id)).balance == 400


async def test_entering_a_lottery_twice_gives_one_ticket(club: Club) -> None:
    member, me = await _member_with_points(club)
    prize_id = await _reward(club, title="Room", cost=1, stock=1, allocation="lottery")

    entered = await redemptions.enter_lottery(club, me, prize_id)
    await redemptions.enter_lottery(club, me, prize_id)

    assert entered.member.id == member.id and entered.reward.title == "Room"
    assert await _count(club, LotteryEntry) == 1


async def test_handing_a_reward_over_is_audited_once(club: Club) -> None:
    member, me = await _member_with_points(club)
    redeemed = await redemptions.redeem(club, me, await _reward(club), key="tg:1:1:1")

    handed = await redemptions.confirm(club, STAFF, redeemed.redemption.code.lower())

    assert handed.member.id == member.id and handed.reward.title == "Coffee"
    assert handed.redemption.status == RedemptionStatus.CONFIRMED
    with pytest.raises(AlreadyConfirmed):
        await redemptions.confirm(club, STAFF, redeemed.redemption.code)
    [entry] = await _audit(club, "confirm")
    assert (entry.actor_id, entry.actor_name, entry.member_id) == (601, "Staff", member.id)
    assert entry.after == {"code": redeemed.redemption.code, "reward": "Coffee"}


async def test_erasing_keeps_no_personal_data_in_the_audit_entry(club: Club) -> None:
    member, _ = await _member_with_points(club)

    erased = await membership.erase(club, ADMIN, f"#{member.id}")

    assert erased.member.id == member.id and erased.member.status == MemberStatus.ERASED
    [entry] = await _audit(club, "erase")
    assert entry.before == {"status": "active", "balance": 500}
    assert entry.after == {"status": "erased"} and entry.actor_id == ADMIN.id
    with pytest.raises(MemberNotFound):
        await membership.erase(club, ADMIN, f"#{member.id}")
    assert len(await _audit(club, "erase")) == 1


async def test_forgetting_erases_the_member_and_a_second_press_finds_nobody(club: Club) -> None:
    member, me = await _member_with_points(club)
    redeemed = await redemptions.redeem(club, me, await _reward(club), key="tg:1:1:1")

    forgotten = await membership.forget(club, me)

    assert forgotten.member.id == member.id
    stored = await reload_member(club.sessions, member.id)
    assert stored.status == MemberStatus.ERASED and stored.telegram_id is None
    async with club.sessions() as s:
        code = await s.get(Redemption, redeemed.redemption.id)
        assert code is not None and code.status == RedemptionStatus.VOID
    with pytest.raises(NotJoined):
        await membership.forget(club, me)


async def test_an_export_is_audited_with_its_kind_and_rows(club: Club) -> None:
    await _member_with_points(club)
    out = io.BytesIO()

    rows = await exports.export(club, ADMIN, "members", out)

    assert rows == 1 and out.getvalue().startswith(exports.BOM.encode())
    [entry] = await _audit(club, "export")
    assert entry.after == {"kind": "members", "rows": 1} and entry.member_id is None
