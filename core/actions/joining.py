"""Becoming a member and saying who you are: the invitation, the join, the phone confirmed with
Telegram's contact button, and the profile's answers; and the staff's join links
(:func:`make_invite_link`), how a club by invitation gets its first members.

The actor is the person in their own chat (their Telegram user id). Joining is idempotent on it:
a repeated last answer or a retried update returns the member already made. A verified number is
taken from anyone who merely typed it (:func:`core.members.claim_phone`, which audits the move as
the club's rules' own doing); the outcome names who lost it, so the face can tell the staff group.
A typed number is attached only if free, and no outcome says which, so nothing leaks to a typist.

Staff (or the till, through the API) register a customer without Telegram by phone
(:func:`register`); when that customer joins and shares the same number with the contact button,
they become that member, points and history intact (``Joined.claimed``). A member who joined
without the number and verifies it later in /profile takes the number as from anyone else (the
till member keeps their points, staff are told): two ledgers are never merged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from core import audit, events, invitations, members, profile, referrals
from core.actions.membership import member_of
from core.audit import Actor
from core.club import Club
from core.db import Session, snapshot, transaction
from core.errors import RegistrationClosed
from core.models import Member, MemberStatus, StaffInvitation, utcnow
from core.rules import ClubMode


@dataclass(frozen=True)
class Invitation:
    """What ``/start`` finds: ``member`` if they joined already (welcome back), else whether the
    club takes them (``open``: it does, or the club is by invitation and ``referrer`` invited, or
    the staff link ``staff_code`` did; the join takes that link's use)."""

    member: Member | None
    referrer: Member | None
    open: bool
    staff_code: str | None = None


@dataclass(frozen=True)
class InviteLinkMade:
    invitation: StaffInvitation


@dataclass(frozen=True)
class Joined:
    """``bonus``: the welcome points a referral brought (0 without one); ``displaced``: the member
    whose number this verified newcomer took; ``claimed``: the newcomer became the member the till
    had registered with this verified number."""

    member: Member
    created: bool
    bonus: int
    displaced: Member | None
    claimed: bool = False


@dataclass(frozen=True)
class Registered:
    """A member registered at the till; ``created`` False: the number was a member's already."""

    member: Member
    created: bool


@dataclass(frozen=True)
class PhoneVerified:
    member: Member
    displaced: Member | None  # who held the number until now, told to staff


@dataclass(frozen=True)
class ProfileSaved:
    member: Member


async def invitation(club: Club, actor: Actor, code: str | None) -> Invitation:
    """``/start [code]``: a member already, or may this person join (with whose invitation)?

    ``code`` is a member's referral code or a staff link's ``inv_<code>``.

    :raises InviteLinkExpired: a staff link to a club by invitation whose days are over.
    :raises InviteLinkUsedUp: a staff link to a club by invitation with no use left.
    """
    limited = club.rules.club_mode is ClubMode.LIMITED
    staff_code = invitations.code_of(code)
    async with snapshot(club.sessions) as session:
        member = await members.by_telegram_id(session, actor.id)
        if member is not None and member.status != MemberStatus.ERASED:
            return Invitation(member, None, open=True)
        if staff_code is not None:
            invited = limited and await invitations.usable(session, staff_code, utcnow())
            return Invitation(None, None, open=bool(invited) or not limited,
                              staff_code=staff_code if invited else None)  # fmt: skip
        referrer = await referrals.find_referrer(session, code)
    return Invitation(None, referrer, open=referrer is not None or not limited)


async def make_invite_link(club: Club, actor: Actor, *, uses: int, days: int) -> InviteLinkMade:
    """``/invite_link [uses] [days]``: a join link that lets ``uses`` newcomers into the club
    within ``days`` days, even by invitation only (:mod:`core.invitations`). Audited as
    ``invite_link`` (the counts, never the code: the audit log is read more widely than links).

    :raises InvalidNumber: ``uses`` or ``days`` outside 1 to their maximum.
    """
    invitations.check_bounds(uses, days)

    async def unit(session: Session) -> InviteLinkMade:
        made = await invitations.create(
            session, uses=uses, days=days, created_by=actor.id, now=utcnow()
        )
        await audit.record(
            session, actor, action="invite_link",
            after={"invitation": made.id, "uses": uses, "days": days},
        )  # fmt: skip
        return InviteLinkMade(made)

    return await club.write(unit)


async def join(
    club: Club,
    actor: Actor,
    *,
    name: str,
    phone: str,
    phone_verified: bool,
    birthday: date | None,
    locale: str,
    username: str | None,
    referral_code: str | None,
    staff_code: str | None = None,
) -> Joined:
    """The last answer of joining: make the actor a member (:func:`core.members.join`).

    ``staff_code``: the staff link the newcomer came through (:attr:`Invitation.staff_code`). In
    a club by invitation the new member takes one of its uses, in this transaction, and the join
    is audited as ``invite_link_join``.

    :raises RegistrationClosed: the club is by invitation and the inviter left meanwhile.
    :raises InviteLinkExpired: the staff link's days ran out meanwhile.
    :raises InviteLinkUsedUp: others took the staff link's last use meanwhile.
    """
    invited = staff_code is not None and club.rules.club_mode is ClubMode.LIMITED
    async with transaction(club.sessions) as session:
        result = await members.join(
            session, club.rules, telegram_id=actor.id, name=name, phone=phone,
            phone_verified=phone_verified, birthday=birthday, locale=locale, username=username,
            referral_code=referral_code, invited=invited,
        )  # fmt: skip
        if result.created and invited:
            await _take_invitation(session, actor, result.member, staff_code)
        if result.created:
            await events.emit(
                session, events.MEMBER_JOINED, events.about(result.member, source="telegram")
            )
        if result.claimed:
            await events.emit(session, events.MEMBER_CLAIMED, events.about(result.member))
    bonus = club.rules.referral.welcome_bonus if result.referral else 0
    return Joined(result.member, result.created, bonus, result.displaced, result.claimed)


async def _take_invitation(session: Session, actor: Actor, member: Member, code: str) -> None:
    taken = await invitations.take_one(session, code, utcnow())
    if taken is None:  # nobody made this code: it never opened the club
        raise RegistrationClosed()
    await audit.record(
        session, actor, action="invite_link_join", member_id=member.id,
        after={"invitation": taken.id, "uses_left": taken.uses_left},
    )  # fmt: skip


async def register(
    club: Club, actor: Actor, *, phone: str, name: str | None = None, birthday: date | None = None
) -> Registered:
    """``/member_add`` or the till's ``POST /members``: a member by phone, without Telegram, who
    earns from the first purchase (:func:`core.members.register`).

    Staff may register in a club by invitation too: that is how it invites. Idempotent on the
    number: an existing member is returned and nothing changes or is audited; a new one is audited
    as ``member_add`` by the staff member or key (without the number).

    :raises InvalidPhone: the phone is not a valid number.
    :raises InvalidInput: the name is empty or too long.
    """

    async def unit(session: Session) -> Registered:
        member, created = await members.register(
            session, club.rules, phone=phone, name=name, birthday=birthday,
            locale=club.settings.locale,
        )  # fmt: skip
        if created:
            await audit.record(
                session, actor, action="member_add", member_id=member.id,
                after={"named": member.name is not None, "birthday": birthday is not None},
            )  # fmt: skip
            await events.emit(session, events.MEMBER_JOINED, events.about(member, source="till"))
        return Registered(member, created)

    return await club.write(unit)


async def verify_phone(club: Club, actor: Actor, phone: str) -> PhoneVerified:
    """The member shared their own contact: the number is theirs, verified, whoever held it."""

    async def unit(session: Session) -> PhoneVerified:
        member = await member_of(session, actor)
        claim = await members.verify_phone(session, member.id, phone)
        return PhoneVerified(member, claim.displaced)

    return await club.write(unit)


async def answer_profile(club: Club, actor: Actor, section: str, option: str) -> ProfileSaved:
    """A profile button: the option becomes the section's answer, or is toggled in a section of
    several (:func:`core.profile.profile_answer`); an unknown one is :class:`InvalidInput`."""

    async def unit(session: Session) -> ProfileSaved:
        member = await member_of(session, actor)
        value = profile.profile_answer(member.profile, section, option)
        member = await members.update_profile(session, member.id, answers={section: value})
        return ProfileSaved(member)

    return await club.write(unit)


async def set_city(club: Club, actor: Actor, city: str) -> ProfileSaved:
    """The typed city (:func:`core.profile.clean_city`, else :class:`InvalidInput`)."""
    cleaned = profile.clean_city(city)

    async def unit(session: Session) -> ProfileSaved:
        member = await member_of(session, actor)
        member = await members.update_profile(session, member.id, city=cleaned)
        return ProfileSaved(member)

    return await club.write(unit)
