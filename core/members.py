"""Members: joining, finding, keeping a profile, and forgetting on request.

Joining is idempotent on the Telegram user id, so a repeated ``/start`` or a retried update never
makes a second member. Erasing removes personal data but keeps the ledger, whose sums the club's
accounts depend on.

A phone number belongs to whoever Telegram says owns it (:func:`claim_phone`). A number shared with
the contact button by its owner is *verified*; a typed one is a claim only. A verified claim takes
the number from anyone else who holds it: they lose it, the move is audited, and their points stay
with them (staff are told, and move anything only after looking into it). A typed number is
attached only while nobody holds it; otherwise it is left unattached *without saying so*, so the
answer to a typist is the same for a member's number and a free one and nothing leaks.

A member may also be registered at the till (:func:`register`): a phone, no Telegram id, points
from the first purchase. Such a number is unverified (nobody proved it), but it is the customer's
own, so when its owner joins in Telegram and shares it with the contact button they *become* that
member (:func:`join` claims the row: points, lots, purchases and history stay where they are). A
typed number claims nothing; it is treated like any other held number.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core import audit, identities, outbox, redemptions, referrals
from core.codes import new_code
from core.digits import to_latin_digits
from core.errors import InvalidInput, MemberNotFound, PhoneTaken, RegistrationClosed
from core.locales import DEFAULT_LOCALE, LOCALES
from core.models import Member, MemberStatus, Referral, SurveyAnswer, utcnow
from core.phones import normalize_phone
from core.referrals import Attribution
from core.rules import ClubMode, Rules

MAX_NAME_LENGTH = 128
# Zero-width non-joiner and joiner: invisible, but Persian spelling needs them between letters.
_JOINERS = frozenset("\u200c\u200d")
# A member number has at most nine digits and no leading zero: ``0912…`` and a ten-digit
# ``912…`` are phone numbers. ASCII digits only (``\d`` would let other scripts' digits in).
_MEMBER_NUMBER = re.compile(r"^#?[1-9][0-9]{0,8}$")
_USERNAME = re.compile(r"^@?([A-Za-z][A-Za-z0-9_]{3,31})$")
CLAIM_ATTEMPTS = 3


@dataclass(frozen=True)
class PhoneClaim:
    """How a claim on a number ended: ``displaced`` is the member who lost it to a verified one."""

    attached: bool
    displaced: Member | None = None


@dataclass(frozen=True)
class JoinResult:
    """``returning``: the Telegram id or verified phone was a forgotten member's, so no bonus and
    no referral; ``displaced``: the member whose unverified number this verified newcomer took;
    ``claimed``: the verified number was a till member's, and the newcomer became that member."""

    member: Member
    created: bool
    attribution: Attribution = Attribution.NONE
    referral: Referral | None = None
    returning: bool = False
    displaced: Member | None = None
    claimed: bool = False


async def join(
    session: AsyncSession,
    rules: Rules,
    *,
    telegram_id: int,
    name: str,
    phone: str | None = None,
    phone_verified: bool = False,
    birthday: date | None = None,
    locale: str = DEFAULT_LOCALE,
    username: str | None = None,
    referral_code: str | None = None,
    invited: bool = False,
    now: datetime | None = None,
) -> JoinResult:
    """Make ``telegram_id`` a member, or return the member they already are.

    ``invited``: the newcomer came through a staff join link (:mod:`core.invitations`), which
    opens a club by invitation like a member's referral; the caller takes its use.

    ``phone_verified`` says the number came from the contact button of its owner. A typed number
    that is already held is not attached, and nothing in the result a face shows says so. Only
    evidence counts against a newcomer: a forgotten Telegram id or verified phone makes them a
    returning person (no welcome bonus, no referral), and a verified phone equal to the referrer's
    is a self-referral. A typed number does neither, or the answer would tell a stranger whose
    number it is. A verified phone of a till member (:func:`register`) makes the newcomer that
    member (``claimed``), even in a club by invitation: they are a member already.
    """
    now = now or utcnow()
    existing = await by_telegram_id(session, telegram_id)
    if existing is not None:
        return JoinResult(existing, created=False)
    normalized_phone = normalize_phone(phone) if phone else None
    verified_phone = normalized_phone if phone_verified else None
    registered = await _registered_at_till(session, verified_phone) if verified_phone else None
    if registered is not None:
        return await _claim_registered(
            session, registered, telegram_id=telegram_id, name=name, birthday=birthday,
            locale=locale, username=username, now=now,
        )  # fmt: skip
    referrer = await referrals.find_referrer(session, referral_code)
    if referrer is not None and verified_phone and referrer.phone == verified_phone:
        referrer, attribution = None, Attribution.SELF
    elif referrer is not None:
        attribution = Attribution.ATTRIBUTED
    else:
        attribution = Attribution.UNKNOWN_CODE if referral_code else Attribution.NONE
    if rules.club_mode is ClubMode.LIMITED and referrer is None and not invited:
        raise RegistrationClosed(attribution=attribution)
    returning = await identities.is_forgotten(
        session, telegram_id=telegram_id, verified_phone=verified_phone
    )

    member = _new_member(
        rules, telegram_id=telegram_id, username=_clean_username(username),
        name=clean_name(name), birthday=birthday, locale=locale, now=now,
    )  # fmt: skip
    # The same person pressed /start twice at once: the other update created them.
    stored = await _insert_or_find(session, member, lambda: by_telegram_id(session, telegram_id))
    if stored is not member:
        return JoinResult(stored, created=False)
    claim = PhoneClaim(attached=False)
    if normalized_phone:
        claim = await claim_phone(
            session, member, normalized_phone, verified=phone_verified, now=now
        )
    if returning:
        attribution = Attribution.NONE
    referral = None
    if referrer is not None and not returning:
        referral = await referrals.attribute(session, rules, member, referrer, now)
    return JoinResult(
        member, created=True, attribution=attribution, referral=referral,
        returning=returning, displaced=claim.displaced,
    )  # fmt: skip


async def register(
    session: AsyncSession,
    rules: Rules,
    *,
    phone: str,
    name: str | None = None,
    birthday: date | None = None,
    locale: str = DEFAULT_LOCALE,
    now: datetime | None = None,
) -> tuple[Member, bool]:
    """A member without Telegram, registered at the till by phone; ``(member, created)``.

    Idempotent on the number: whoever holds it already (a till member, or a Telegram member who
    typed or verified it) is returned unchanged with ``created`` False, as staff would find them
    by that phone anyway. The number is stored unverified: nobody proved it, and the owner's
    contact button later claims the row (:func:`join`). The club's mode does not apply: staff
    registering a customer is how a club by invitation invites them.
    """
    normalized = normalize_phone(phone)
    cleaned = clean_name(name) if name is not None else None
    existing = await by_phone(session, normalized)
    if existing is not None:
        return existing, False
    member = _new_member(
        rules, telegram_id=None, username=None, name=cleaned, birthday=birthday, locale=locale,
        now=now or utcnow(),
    )  # fmt: skip
    member.phone = normalized
    # Two tills registering the same number at once: the unique phone keeps one member.
    stored = await _insert_or_find(session, member, lambda: by_phone(session, normalized))
    return stored, stored is member


def _new_member(
    rules: Rules,
    *,
    telegram_id: int | None,
    username: str | None,
    name: str | None,
    birthday: date | None,
    locale: str,
    now: datetime,
) -> Member:
    return Member(
        telegram_id=telegram_id,
        username=username,
        **new_member_fields(rules, name=name, birthday=birthday, locale=locale, now=now),
    )


def new_member_fields(
    rules: Rules, *, name: str | None, birthday: date | None, locale: str, now: datetime
) -> dict[str, Any]:
    """What every new member starts with, however they come (a join, the till, an import)."""
    return {
        "name": name,
        "birthday": birthday,
        "locale": _check_locale(locale),
        "joined_at": now,
        "tier": rules.base_tier,
        "referral_code": new_code(8),
        "profile": {},
    }


async def _insert_or_find(
    session: AsyncSession, member: Member, find: Callable[[], Awaitable[Member | None]]
) -> Member:
    """Add ``member`` in a savepoint; if a concurrent insert won a unique index first, the member
    that one made (``find``), else the error stands."""
    try:
        async with session.begin_nested():
            session.add(member)
            await session.flush()
    except IntegrityError:
        existing = await find()
        if existing is None:
            raise
        return existing
    return member


async def _registered_at_till(session: AsyncSession, phone: str) -> Member | None:
    """The till member (no Telegram id) holding ``phone``, locked against a concurrent claim."""
    return await session.scalar(
        select(Member)
        .where(
            Member.phone == phone,
            Member.telegram_id.is_(None),
            Member.status != MemberStatus.ERASED,
        )
        .with_for_update()
    )


async def _claim_registered(
    session: AsyncSession,
    member: Member,
    *,
    telegram_id: int,
    name: str,
    birthday: date | None,
    locale: str,
    username: str | None,
    now: datetime,
) -> JoinResult:
    """The owner of a till member's number verified it: the newcomer *is* that member.

    The row gets the Telegram id, the verified mark, the newcomer's language and username, and the
    name and birthday only where the till left them empty (staff asked the customer in person).
    No welcome bonus or referral: they were a member already. Audited as the person's own doing.
    """
    values = {
        "telegram_id": telegram_id,
        "username": _clean_username(username),
        "locale": _check_locale(locale),
        "phone_verified": True,
        "name": member.name or clean_name(name),
        "birthday": member.birthday or birthday,
    }
    try:
        async with session.begin_nested():
            await session.execute(update(Member).where(Member.id == member.id).values(**values))
    except IntegrityError:
        # The same person pressed /start twice at once; the other update claimed the row.
        existing = await by_telegram_id(session, telegram_id)
        if existing is None:
            raise
        return JoinResult(existing, created=False)
    await session.refresh(member)
    await audit.record(
        session, audit.Actor(telegram_id, member.name), action="member_claimed",
        member_id=member.id, before={"telegram": False, "phone_verified": False},
        after={"telegram": True, "phone_verified": True}, now=now,
    )  # fmt: skip
    return JoinResult(member, created=False, claimed=True)


async def claim_phone(
    session: AsyncSession, member: Member, phone: str, *, verified: bool, now: datetime
) -> PhoneClaim:
    """Give ``member`` the (normalized) ``phone`` if the rule allows; see the module docstring.

    Retried when a concurrent claim wins the unique index first: the next round sees its holder.
    """
    for _ in range(CLAIM_ATTEMPTS):
        holder = await session.scalar(
            select(Member).where(Member.phone == phone, Member.id != member.id).with_for_update()
        )
        if holder is not None and not verified:
            return PhoneClaim(attached=False)  # a typed claim never takes a held number
        if await _attach(session, member, phone, verified=verified, holder=holder, now=now):
            return PhoneClaim(attached=True, displaced=holder)
    if not verified:
        return PhoneClaim(attached=False)
    raise PhoneTaken()


async def _attach(
    session: AsyncSession,
    member: Member,
    phone: str,
    *,
    verified: bool,
    holder: Member | None,
    now: datetime,
) -> bool:
    """One try in a savepoint; False if a concurrent claim took the number first."""
    try:
        async with session.begin_nested():
            if holder is not None:
                await _release_phone(session, holder, taken_by=member, now=now)
            await session.execute(
                update(Member)
                .where(Member.id == member.id)
                .values(phone=phone, phone_verified=verified)
            )
    except IntegrityError:
        return False
    await session.refresh(member, ["phone", "phone_verified"])
    return True


async def verify_phone(
    session: AsyncSession, member_id: int, phone: str, now: datetime | None = None
) -> PhoneClaim:
    """The member shared their own contact: the number is theirs, verified, whoever held it."""
    member = await get(session, member_id)
    return await claim_phone(
        session, member, normalize_phone(phone), verified=True, now=now or utcnow()
    )


async def _release_phone(
    session: AsyncSession, holder: Member, *, taken_by: Member, now: datetime
) -> None:
    """``holder`` loses the number to a verified owner; the log says so, without the number."""
    before = {"phone_verified": holder.phone_verified, "had_phone": True}
    await session.execute(
        update(Member).where(Member.id == holder.id).values(phone=None, phone_verified=False)
    )
    await audit.record(
        session, audit.SYSTEM, action="phone_moved", member_id=holder.id,
        before=before, after={"had_phone": False, "taken_by": taken_by.id}, now=now,
    )  # fmt: skip


async def by_telegram_id(session: AsyncSession, telegram_id: int) -> Member | None:
    return await session.scalar(select(Member).where(Member.telegram_id == telegram_id))


async def by_number(session: AsyncSession, number: int) -> Member | None:
    member = await session.get(Member, number)
    return member if member is not None and member.status != MemberStatus.ERASED else None


async def by_phone(session: AsyncSession, phone: str) -> Member | None:
    """Find by phone in any usual form (``0912…``, ``+98 912 …``, ``98912…``, Persian digits)."""
    return await session.scalar(select(Member).where(Member.phone == normalize_phone(phone)))


async def by_username(session: AsyncSession, username: str) -> Member | None:
    cleaned = _clean_username(username)
    if cleaned is None:
        return None
    return await session.scalar(select(Member).where(Member.username == cleaned))


async def find(session: AsyncSession, query: str) -> Member:
    """Staff name a member by @username, member number (``#42`` or ``42``), or phone.

    Anything that is not a username or a member number is read as a phone, so ``9121234567``,
    ``912 123 4567`` and ``0912…`` are always phones, never member #912.
    """
    text = to_latin_digits(query.strip())
    if text.startswith("@"):
        member = await by_username(session, text)
    elif _MEMBER_NUMBER.match(text):
        member = await by_number(session, int(text.lstrip("#")))
    else:
        member = await by_phone(session, text)
    if member is None:
        raise MemberNotFound(query=query)
    return member


async def get(session: AsyncSession, member_id: int) -> Member:
    member = await session.get(Member, member_id)
    if member is None:
        raise MemberNotFound(member_id=member_id)
    return member


PROFILE_FIELDS = frozenset(
    {
        "name",
        "phone",
        "birthday",
        "locale",
        "username",
        "city",
        "offers_enabled",
        "surveys_enabled",
        "quiet_start",
        "quiet_end",
        "max_offers_per_week",
    }
)


async def update_profile(
    session: AsyncSession, member_id: int, *, answers: dict[str, Any] | None = None, **changes: Any
) -> Member:
    """Change profile fields; ``answers`` are merged into the four-dimension profile.

    A phone set here is typed: it is attached only if nobody holds it (:func:`claim_phone`), and a
    held one is silently not attached, as at joining. ``None`` or ``""`` clears the number.
    """
    unknown = set(changes) - PROFILE_FIELDS
    if unknown:
        raise ValueError(f"not profile fields: {sorted(unknown)}")
    member = await get(session, member_id)
    if "name" in changes:
        changes["name"] = clean_name(changes["name"])
    if "locale" in changes:
        changes["locale"] = _check_locale(changes["locale"])
    if "username" in changes:
        changes["username"] = _clean_username(changes["username"])
    typed_phone = changes.pop("phone", member.phone) or None
    if typed_phone is not None:
        typed_phone = normalize_phone(typed_phone)
    for key in ("quiet_start", "quiet_end"):
        if changes.get(key) is not None and not 0 <= changes[key] <= 23:
            raise InvalidInput("out_of_range", str(changes[key]))
    for key, value in changes.items():
        setattr(member, key, value)
    if answers:
        member.profile = {**member.profile, **answers}
    if typed_phone != member.phone:
        member.phone, member.phone_verified = None, False
        await session.flush()
        if typed_phone is not None:
            await claim_phone(session, member, typed_phone, verified=False, now=utcnow())
    await session.flush()
    return member


async def anonymize(session: AsyncSession, member_id: int, now: datetime | None = None) -> Member:
    """Erase personal data on request. Points, ledger and purchases stay for the club's books.

    Before the identity goes, its salted digests are kept (:mod:`core.identities`) so a comeback
    earns no second welcome or referral; the member's queued messages are cancelled and blanked,
    and their open codes made void (their points back in the erased account, the items back on
    the shelf), so nothing of theirs is sent or handed over afterwards.
    """
    now = now or utcnow()
    member = await get(session, member_id)
    await identities.remember(session, member, now)
    await outbox.cancel_for_member(session, member.id, chat_id=member.telegram_id)
    await redemptions.void_for_member(session, member.id, now)
    member.telegram_id = None
    member.username = None
    member.name = None
    member.phone = None
    member.phone_verified = False
    member.birthday = None
    member.city = None
    member.profile = {}
    member.offers_enabled = False
    member.surveys_enabled = False
    member.status = MemberStatus.ERASED
    # Free-text survey comments may name or describe the person: they go too; scores stay.
    await session.execute(
        update(SurveyAnswer).where(SurveyAnswer.member_id == member_id).values(comment=None)
    )
    await session.flush()
    return member


def clean_name(name: str) -> str:
    """A display name: trimmed, inner whitespace folded, not empty, not absurdly long."""
    visible = "".join(ch for ch in (name or "") if ch in _JOINERS or not _invisible(ch))
    cleaned = " ".join(visible.split())
    if not cleaned or all(ch in _JOINERS for ch in cleaned.replace(" ", "")):
        raise InvalidInput("empty", name or "")
    if len(cleaned) > MAX_NAME_LENGTH:
        raise InvalidInput("too_long", cleaned)
    return cleaned


def _invisible(ch: str) -> bool:
    """Control and format characters (bidi overrides, zero-width spaces) draw nothing."""
    return not ch.isspace() and unicodedata.category(ch) in ("Cc", "Cf")


def _check_locale(locale: str) -> str:
    if locale not in LOCALES:
        raise InvalidInput("unknown_locale", locale)
    return locale


def _clean_username(username: str | None) -> str | None:
    if not username:
        return None
    match = _USERNAME.match(username.strip())
    return match.group(1).lower() if match else None
