"""What a member reads about themselves and their settings (core.actions.standing, the reads of
core.actions.redemptions, core.actions.membership.me, core.actions.settings), driven as the chat
drives them: the member acts as themselves (their Telegram id), someone who never joined or erased
themselves is not joined, a member who had blocked the bot is reachable again, a reward the
member may not have is unavailable, and reading changes nothing else."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from core import rewards
from core.actions import adjustments, membership, redemptions, settings, standing
from core.audit import Actor
from core.club import Club
from core.errors import InvalidInput, NotJoined, RewardUnavailable
from core.models import AuditEntry, Member, MemberStatus, utcnow
from tests.helpers import new_member, reload_member

ADMIN = Actor(602, "Admin")
STRANGER = Actor(999_001, "Stranger")


async def _member(club: Club, points: int = 0, *, referral_code: str | None = None) -> Member:
    async with club.sessions() as s, s.begin():
        member = await new_member(s, club.rules, utcnow(), referral_code=referral_code)
    if points:
        await adjustments.adjust(
            club, ADMIN, f"#{member.id}", points, reason="seed", key=f"seed:{member.id}", admin=True
        )
    return member


def _as(member: Member) -> Actor:
    return Actor(member.telegram_id, member.name)


async def _set(club: Club, member: Member, **fields: object) -> None:
    async with club.sessions() as s, s.begin():
        row = await s.get(Member, member.id)
        for name, value in fields.items():
            setattr(row, name, value)


async def _reward(club: Club, **fields: object) -> int:
    async with club.sessions() as s, s.begin():
        values = {"title": "Coffee", "cost": 100, "stock": 5, **fields}
        return (await rewards.create(s, club.rules, **values)).id


async def _audit_count(club: Club) -> int:
    async with club.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(AuditEntry)) or 0)


async def test_points_show_the_balance_and_bring_a_blocked_member_back(club: Club) -> None:
    member = await _member(club, 300)
    await _set(club, member, status=MemberStatus.BLOCKED)

    shown = await standing.points(club, _as(member))

    assert shown.id == member.id and shown.balance == 300
    assert (await reload_member(club.sessions, member.id)).status == MemberStatus.ACTIVE


@pytest.mark.parametrize(
    "read",
    [
        standing.points,
        membership.me,
        redemptions.catalogue,
        redemptions.my_codes,
        standing.invitations,
        lambda club, actor: standing.history(club, actor, page=0, per_page=10),
        lambda club, actor: settings.change(club, actor, {}),
    ],
)
async def test_no_screen_shows_a_stranger_or_an_erased_member(club: Club, read) -> None:
    with pytest.raises(NotJoined):
        await read(club, STRANGER)
    member = await _member(club)
    await membership.forget(club, _as(member))
    with pytest.raises(NotJoined):
        await read(club, _as(member))


async def test_me_brings_a_blocked_member_back_and_audits_nothing(club: Club) -> None:
    member = await _member(club)
    await _set(club, member, status=MemberStatus.BLOCKED)
    audited = await _audit_count(club)

    shown = await membership.me(club, _as(member))

    assert shown.id == member.id and shown.status == MemberStatus.ACTIVE
    assert (await reload_member(club.sessions, member.id)).status == MemberStatus.ACTIVE
    assert await _audit_count(club) == audited


async def test_history_pages_newest_first(club: Club) -> None:
    member = await _member(club, 100)
    for n in range(2, 4):
        await adjustments.adjust(
            club, ADMIN, f"#{member.id}", n, reason="more", key=f"more:{n}", admin=True
        )

    first = await standing.history(club, _as(member), page=0, per_page=2)
    second = await standing.history(club, _as(member), page=1, per_page=2)

    assert [e.delta for e in first.entries] == [3, 2] and first.has_more
    assert [e.delta for e in second.entries] == [100] and not second.has_more
    assert first.pending.points == 0 and first.member.id == member.id


async def test_invitations_count_the_friends_brought(club: Club) -> None:
    member = await _member(club)
    await _member(club, referral_code=member.referral_code)

    brought = await standing.invitations(club, _as(member))

    assert brought.member.id == member.id and brought.stats.joined == 1


async def test_the_catalogue_shows_only_what_is_open_for_the_tier(club: Club) -> None:
    member = await _member(club)
    open_id = await _reward(club, title="Coffee")
    await _reward(club, title="Suite", min_tier="gold")
    await _reward(club, title="Gone", active=False)

    shown = await redemptions.catalogue(club, _as(member))

    assert [r.id for r in shown.rewards] == [open_id]


@pytest.mark.parametrize(
    "fields",
    [
        {"min_tier": "gold"},
        {"active": False},
        {"ends_at": utcnow() - timedelta(days=1)},
        {"starts_at": utcnow() + timedelta(days=1)},
    ],
)
async def test_a_reward_not_offered_to_the_member_is_unavailable(club: Club, fields) -> None:
    member = await _member(club)
    reward_id = await _reward(club, **fields)

    with pytest.raises(RewardUnavailable):
        await redemptions.reward_details(club, _as(member), reward_id)


async def test_reward_details_say_whether_the_member_entered_its_lottery(club: Club) -> None:
    member = await _member(club, 50)
    prize_id = await _reward(club, title="Room", cost=1, stock=1, allocation="lottery")

    before = await redemptions.reward_details(club, _as(member), prize_id)
    await redemptions.enter_lottery(club, _as(member), prize_id)
    after = await redemptions.reward_details(club, _as(member), prize_id)

    assert before.reward.title == "Room" and not before.entered
    assert after.entered


async def test_my_codes_lists_the_open_codes_with_their_titles(club: Club) -> None:
    member = await _member(club, 500)
    reward_id = await _reward(club, title="Tea")
    redeemed = await redemptions.redeem(club, _as(member), reward_id, key="tg:1:2:3")
    gone = await redemptions.redeem(club, _as(member), reward_id, key="tg:1:2:4")
    await redemptions.cancel_code(club, _as(member), gone.redemption.id)

    held = await redemptions.my_codes(club, _as(member))

    assert [(r.id, title) for r, title in held.codes] == [(redeemed.redemption.id, "Tea")]


async def test_a_setting_changed_twice_is_set_once(club: Club) -> None:
    member = await _member(club)
    audited = await _audit_count(club)
    change = {"locale": "en", "offers_enabled": False, "quiet_start": 22, "quiet_end": 8}

    first = await settings.change(club, _as(member), change)
    again = await settings.change(club, _as(member), change)

    stored = await reload_member(club.sessions, member.id)
    assert first.changed and again.changed
    assert (stored.locale, stored.offers_enabled, stored.quiet_start, stored.quiet_end) == (
        "en",
        False,
        22,
        8,
    )
    assert again.member.locale == "en" and await _audit_count(club) == audited


async def test_no_change_reads_the_member_as_they_are(club: Club) -> None:
    member = await _member(club)

    saved = await settings.change(club, _as(member), {})

    assert not saved.changed and saved.member.locale == member.locale


async def test_settings_change_only_settings_and_only_to_valid_values(club: Club) -> None:
    member = await _member(club)

    with pytest.raises(ValueError, match="not settings"):
        await settings.change(club, _as(member), {"name": "Mallory"})
    with pytest.raises(InvalidInput):
        await settings.change(club, _as(member), {"locale": "xx"})
    with pytest.raises(InvalidInput):
        await settings.change(club, _as(member), {"quiet_start": 30})

    stored = await reload_member(club.sessions, member.id)
    assert (stored.name, stored.locale, stored.quiet_start) == (
        member.name,
        member.locale,
        member.quiet_start,
    )
