"""The joining and profile use cases (core.actions.joining), driven as the chat drives them: the
person acts as themselves (their Telegram id), a verified number moves from a typist (audited,
named in the outcome for staff), a typed one never says whose it is, a repeat changes nothing."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from core import profile
from core.actions import joining
from core.audit import Actor
from core.club import Club
from core.errors import InvalidInput, NotJoined, RegistrationClosed
from core.models import AuditEntry, LedgerEntry, Member
from tests.helpers import reload_member

NUMBER = "+989121234567"
OWNER = Actor(801, "Owner")
TYPIST = Actor(802, "Typist")
FRIEND = Actor(803, "Friend")


async def _join(
    club: Club, actor: Actor, phone: str = NUMBER, *, verified: bool, code: str | None = None
) -> joining.Joined:
    return await joining.join(
        club, actor, name=actor.name or "Sara", phone=phone, phone_verified=verified,
        birthday=None, locale="fa", username=None, referral_code=code,
    )  # fmt: skip


async def _count(club: Club, model: type) -> int:
    async with club.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


async def _moves(club: Club) -> list[AuditEntry]:
    async with club.sessions() as s:
        query = select(AuditEntry).where(AuditEntry.action == "phone_moved")
        return list(await s.scalars(query))


async def test_joining_twice_makes_one_member_and_one_welcome_bonus(club: Club) -> None:
    inviter = await _join(club, FRIEND, "+989350000000", verified=True)
    code = inviter.member.referral_code

    first = await _join(club, OWNER, verified=True, code=code)
    again = await _join(club, OWNER, verified=True, code=code)

    assert (first.created, again.created) == (True, False)
    assert first.bonus == club.rules.referral.welcome_bonus
    assert again.member.id == first.member.id
    assert await _count(club, Member) == 2
    assert await _count(club, LedgerEntry) == 1
    owner = await reload_member(club.sessions, first.member.id)
    assert (owner.balance, owner.phone, owner.phone_verified) == (first.bonus, NUMBER, True)


async def test_a_verified_join_takes_a_typed_number_and_names_who_lost_it(club: Club) -> None:
    typist = await _join(club, TYPIST, verified=False)

    owner = await _join(club, OWNER, verified=True)

    assert owner.displaced is not None and owner.displaced.id == typist.member.id
    assert owner.bonus == 0
    lost = await reload_member(club.sessions, typist.member.id)
    assert (lost.phone, lost.phone_verified) == (None, False)
    [moved] = await _moves(club)
    assert (moved.member_id, moved.after["taken_by"]) == (typist.member.id, owner.member.id)


async def test_a_typed_join_of_a_held_number_says_nothing_and_takes_nothing(club: Club) -> None:
    owner = await _join(club, OWNER, verified=True)

    typist = await _join(club, TYPIST, verified=False)

    assert (typist.created, typist.displaced, typist.bonus) == (True, None, 0)
    assert (await reload_member(club.sessions, typist.member.id)).phone is None
    assert (await reload_member(club.sessions, owner.member.id)).phone == NUMBER
    assert await _moves(club) == []


async def test_verifying_from_the_profile_moves_the_number_once(club: Club) -> None:
    typist = await _join(club, TYPIST, verified=False)
    owner = await _join(club, OWNER, "+989351112233", verified=False)

    first = await joining.verify_phone(club, OWNER, "0912 123 4567")
    again = await joining.verify_phone(club, OWNER, NUMBER)

    assert first.displaced is not None and first.displaced.id == typist.member.id
    assert again.displaced is None
    assert first.member.id == owner.member.id
    mine = await reload_member(club.sessions, owner.member.id)
    assert (mine.phone, mine.phone_verified) == (NUMBER, True)
    assert len(await _moves(club)) == 1


async def test_only_a_member_verifies_a_phone(club: Club) -> None:
    with pytest.raises(NotJoined):
        await joining.verify_phone(club, Actor(999_999), NUMBER)


async def test_the_invitation_knows_members_and_who_may_join(club: Club, limited: Club) -> None:
    joined = await _join(club, FRIEND, verified=True)

    assert (await joining.invitation(club, FRIEND, None)).member.id == joined.member.id
    stranger = await joining.invitation(club, OWNER, None)
    assert (stranger.member, stranger.referrer, stranger.open) == (None, None, True)
    assert not (await joining.invitation(limited, OWNER, "NOPE")).open
    invited = await joining.invitation(limited, OWNER, joined.member.referral_code)
    assert invited.open and invited.referrer.id == joined.member.id


async def test_a_closed_club_refuses_a_join_without_an_inviter(limited: Club) -> None:
    with pytest.raises(RegistrationClosed):
        await _join(limited, OWNER, verified=True, code="NOPE")
    assert await _count(limited, Member) == 0


async def test_profile_buttons_set_one_answer_or_toggle_several(club: Club) -> None:
    await _join(club, OWNER, verified=True)

    saved = await joining.answer_profile(club, OWNER, "frequency", "weekly")
    assert saved.member.profile["frequency"] == "weekly"
    await joining.answer_profile(club, OWNER, "interests", "vip")
    both = await joining.answer_profile(club, OWNER, "interests", "events")
    assert both.member.profile["interests"] == ["vip", "events"]
    toggled = await joining.answer_profile(club, OWNER, "interests", "vip")
    assert toggled.member.profile == {"frequency": "weekly", "interests": ["events"]}

    with pytest.raises(InvalidInput):
        await joining.answer_profile(club, OWNER, "frequency", "hourly")
    again = await reload_member(club.sessions, toggled.member.id)
    assert again.profile == toggled.member.profile


async def test_the_city_is_folded_and_a_bad_one_changes_nothing(club: Club) -> None:
    await _join(club, OWNER, verified=True)

    saved = await joining.set_city(club, OWNER, "  Tehran \n  North ")
    assert saved.member.city == "Tehran North"

    for bad in ("   ", "x" * (profile.MAX_CITY + 1)):
        with pytest.raises(InvalidInput):
            await joining.set_city(club, OWNER, bad)
    assert (await reload_member(club.sessions, saved.member.id)).city == "Tehran North"


async def test_a_birthday_and_a_language_are_kept(club: Club) -> None:
    joined = await joining.join(
        club, OWNER, name="  Sara  ", phone=NUMBER, phone_verified=False,
        birthday=date(1990, 3, 21), locale="en", username="@Sara_K", referral_code=None,
    )  # fmt: skip

    member = joined.member
    assert (member.name, member.birthday, member.locale) == ("Sara", date(1990, 3, 21), "en")
    assert member.username == "sara_k"
