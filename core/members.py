"""Members: joining, finding, keeping a profile, and forgetting on request.

Joining is idempotent on the Telegram user id, so a repeated ``/start`` or a retried update never
makes a second member. Erasing removes personal data but keeps the ledger, whose sums the club's
accounts depend on.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core import referrals
from core.codes import new_code
from core.digits import to_latin_digits
from core.errors import InvalidInput, MemberNotFound, PhoneTaken, RegistrationClosed
from core.models import Member, MemberStatus, Referral, SurveyAnswer, utcnow
from core.phones import normalize_phone
from core.referrals import Attribution
from core.rules import ClubMode, Rules

LOCALES = ("fa", "en")
MAX_NAME_LENGTH = 128
# Zero-width non-joiner and joiner: invisible, but Persian spelling needs them between letters.
_JOINERS = frozenset("\u200c\u200d")
_MEMBER_NUMBER = re.compile(r"^#?\d{1,9}$")
_USERNAME = re.compile(r"^@?([A-Za-z][A-Za-z0-9_]{3,31})$")


@dataclass(frozen=True)
class JoinResult:
    member: Member
    created: bool
    attribution: Attribution = Attribution.NONE
    referral: Referral | None = None


async def join(
    session: AsyncSession,
    rules: Rules,
    *,
    telegram_id: int,
    name: str,
    phone: str | None = None,
    birthday: date | None = None,
    locale: str = "fa",
    username: str | None = None,
    referral_code: str | None = None,
    now: datetime | None = None,
) -> JoinResult:
    """Make ``telegram_id`` a member, or return the member they already are."""
    now = now or utcnow()
    existing = await by_telegram_id(session, telegram_id)
    if existing is not None:
        return JoinResult(existing, created=False)
    referrer = await referrals.find_referrer(session, referral_code)
    normalized_phone = normalize_phone(phone) if phone else None
    if referrer is not None and normalized_phone and referrer.phone == normalized_phone:
        referrer, attribution = None, Attribution.SELF
    elif referrer is not None:
        attribution = Attribution.ATTRIBUTED
    else:
        attribution = Attribution.UNKNOWN_CODE if referral_code else Attribution.NONE
    if rules.club_mode is ClubMode.LIMITED and referrer is None:
        raise RegistrationClosed(attribution=attribution)
    if normalized_phone and await by_phone(session, normalized_phone) is not None:
        raise PhoneTaken(attribution=attribution)

    member = Member(
        telegram_id=telegram_id,
        username=_clean_username(username),
        name=clean_name(name),
        phone=normalized_phone,
        birthday=birthday,
        locale=_check_locale(locale),
        joined_at=now,
        tier=rules.base_tier,
        referral_code=new_code(8),
        profile={},
    )
    try:
        async with session.begin_nested():
            session.add(member)
            await session.flush()
    except IntegrityError:
        # The same person pressed /start twice at once; the other update created them.
        existing = await by_telegram_id(session, telegram_id)
        if existing is None:
            raise PhoneTaken() from None
        return JoinResult(existing, created=False)
    referral = None
    if referrer is not None:
        referral = await referrals.attribute(session, rules, member, referrer, now)
    return JoinResult(member, created=True, attribution=attribution, referral=referral)


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
    """Staff name a member by @username, member number (``#42`` or ``42``), or phone."""
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
    """Change profile fields; ``answers`` are merged into the four-dimension profile."""
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
    if "phone" in changes and not changes["phone"]:
        changes["phone"] = None
    if changes.get("phone"):
        phone = normalize_phone(changes["phone"])
        other = await by_phone(session, phone)
        if other is not None and other.id != member.id:
            raise PhoneTaken()
        changes["phone"] = phone
    for key in ("quiet_start", "quiet_end"):
        if changes.get(key) is not None and not 0 <= changes[key] <= 23:
            raise InvalidInput("out_of_range", str(changes[key]))
    for key, value in changes.items():
        setattr(member, key, value)
    if answers:
        member.profile = {**member.profile, **answers}
    await session.flush()
    return member


async def anonymize(session: AsyncSession, member_id: int) -> Member:
    """Erase personal data on request. Points, ledger and purchases stay for the club's books."""
    member = await get(session, member_id)
    member.telegram_id = None
    member.username = None
    member.name = None
    member.phone = None
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
