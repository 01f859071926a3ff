"""Tests for core.members: joining, finding, the profile, forgetting on request, limited clubs."""

from __future__ import annotations

import asyncio
from datetime import date, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import ledger, members, purchases
from core.codes import ALPHABET
from core.errors import (
    InvalidInput,
    InvalidPhone,
    MemberInactive,
    MemberNotFound,
    RegistrationClosed,
)
from core.models import LedgerEntry, Member, MemberStatus, Referral
from core.referrals import Attribution
from core.rules import Rules
from tests.helpers import assert_books_balance, new_member

PHONE = "+989121234567"
OTHER_PHONE = "+989351112233"
LIMITED = Rules(club_mode="limited")


async def count_members(session: AsyncSession) -> int:
    return await session.scalar(select(func.count()).select_from(Member))


async def count_rows(session: AsyncSession, model: type) -> int:
    return await session.scalar(select(func.count()).select_from(model))


async def stored(session: AsyncSession, member_id: int, *columns):  # type: ignore[no-untyped-def]
    """Column values as they are in the database (not the identity map's copy of the object)."""
    row = (await session.execute(select(*columns).where(Member.id == member_id))).one()
    return tuple(row)


# --- joining --------------------------------------------------------------------------------


async def test_join_creates_a_member_with_base_tier_code_and_e164_phone(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    result = await members.join(
        session,
        rules,
        telegram_id=111,
        name="Sara",
        phone="0912 123 4567",
        username="@Sara_Shop",
        now=now,
    )

    assert result.created is True
    assert result.attribution is Attribution.NONE
    assert result.referral is None
    member = result.member
    assert member.id is not None
    phone, tier, code, status, balance, username, joined_at, locale, telegram_id = await stored(
        session,
        member.id,
        Member.phone,
        Member.tier,
        Member.referral_code,
        Member.status,
        Member.balance,
        Member.username,
        Member.joined_at,
        Member.locale,
        Member.telegram_id,
    )
    assert phone == PHONE
    assert tier == rules.base_tier == "bronze"
    assert len(code) == 8
    assert set(code) <= set(ALPHABET)
    assert status == MemberStatus.ACTIVE
    assert balance == 0
    assert username == "sara_shop"
    assert joined_at == now
    assert locale == "fa"
    assert telegram_id == 111
    assert await count_rows(session, LedgerEntry) == 0
    await assert_books_balance(session, member.id)


@pytest.mark.parametrize(
    "raw",
    [
        "09121234567",
        "+98 912 123 4567",
        "989121234567",
        "0098 912 123 4567",
        "۰۹۱۲۱۲۳۴۵۶۷",
        "٠٩١٢١٢٣٤٥٦٧",
    ],
)
async def test_join_stores_phone_as_e164(
    session: AsyncSession, rules: Rules, now: datetime, raw: str
) -> None:
    result = await members.join(session, rules, telegram_id=1, name="Sara", phone=raw, now=now)
    assert await stored(session, result.member.id, Member.phone) == (PHONE,)


async def test_join_without_phone_is_allowed(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    a = await members.join(session, rules, telegram_id=1, name="A", now=now)
    b = await members.join(session, rules, telegram_id=2, name="B", now=now)
    assert a.created and b.created
    assert a.member.phone is None and b.member.phone is None
    assert a.member.referral_code != b.member.referral_code
    assert await count_members(session) == 2


async def test_second_join_with_same_telegram_id_returns_the_same_member_unchanged(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    first = await members.join(
        session, rules, telegram_id=42, name="Sara", phone="09121234567", now=now
    )
    code = first.member.referral_code

    again = await members.join(
        session,
        rules,
        telegram_id=42,
        name="Somebody Else",
        phone="09351112233",
        username="other_name",
        locale="en",
        now=now,
    )

    assert again.created is False
    assert again.member.id == first.member.id
    assert again.attribution is Attribution.NONE
    assert again.referral is None
    assert await count_members(session) == 1
    assert await stored(
        session,
        first.member.id,
        Member.name,
        Member.phone,
        Member.username,
        Member.locale,
        Member.referral_code,
    ) == ("Sara", PHONE, None, "fa", code)


async def test_concurrent_joins_with_same_telegram_id_make_one_member(
    sessions: async_sessionmaker[AsyncSession], rules: Rules, now: datetime
) -> None:
    async def join(name: str) -> tuple[bool, int]:
        async with sessions() as s, s.begin():
            result = await members.join(s, rules, telegram_id=7, name=name, now=now)
            return result.created, result.member.id

    outcomes = await asyncio.gather(join("first"), join("second"))

    assert sorted(created for created, _ in outcomes) == [False, True]
    assert len({member_id for _, member_id in outcomes}) == 1
    async with sessions() as s:
        assert await count_members(s) == 1
        assert await s.scalar(select(Member.telegram_id)) == 7


async def test_concurrent_typed_joins_with_same_phone_give_it_to_one_and_tell_neither(
    sessions: async_sessionmaker[AsyncSession], rules: Rules, now: datetime
) -> None:
    async def join(telegram_id: int, phone: str) -> bool:
        async with sessions() as s, s.begin():
            result = await members.join(
                s, rules, telegram_id=telegram_id, name="Twin", phone=phone, now=now
            )
            return result.created

    outcomes = await asyncio.gather(join(1, "09121234567"), join(2, "+98 912 123 4567"))

    assert outcomes == [True, True]
    async with sessions() as s:
        assert await count_members(s) == 2
        holders = (await s.scalars(select(Member.telegram_id).where(Member.phone == PHONE))).all()
        assert len(holders) == 1


async def test_a_verified_join_takes_a_number_typed_concurrently(
    sessions: async_sessionmaker[AsyncSession], rules: Rules, now: datetime
) -> None:
    async def join(telegram_id: int, verified: bool) -> None:
        async with sessions() as s, s.begin():
            await members.join(
                s, rules, telegram_id=telegram_id, name="N", phone=PHONE,
                phone_verified=verified, now=now,
            )  # fmt: skip

    await asyncio.gather(join(1, False), join(2, True))

    async with sessions() as s:
        owner = await members.by_phone(s, PHONE)
        assert (owner.telegram_id, owner.phone_verified) == (2, True)


@pytest.mark.parametrize("owner_verified", [False, True])
async def test_a_typed_number_already_held_joins_without_it_and_is_not_told(
    session: AsyncSession, rules: Rules, now: datetime, owner_verified: bool
) -> None:
    owner = await members.join(
        session, rules, telegram_id=1, name="Owner", phone=PHONE, phone_verified=owner_verified,
        now=now,
    )  # fmt: skip

    typist = await members.join(
        session, rules, telegram_id=2, name="Intruder", phone="۰۹۱۲۱۲۳۴۵۶۷", now=now
    )

    assert typist.created is True
    assert typist.displaced is None
    assert await stored(session, typist.member.id, Member.phone, Member.phone_verified) == (
        None,
        False,
    )
    assert await stored(session, owner.member.id, Member.phone, Member.phone_verified) == (
        PHONE,
        owner_verified,
    )


async def test_a_typed_free_number_is_attached_unverified(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    joined = await members.join(session, rules, telegram_id=1, name="Sara", phone=PHONE, now=now)

    assert await stored(session, joined.member.id, Member.phone, Member.phone_verified) == (
        PHONE,
        False,
    )


@pytest.mark.parametrize("raw", ["0912", "0912123456", "12345678901234", "phone please", "+98"])
async def test_join_with_malformed_phone_raises_invalid_phone_and_creates_nothing(
    session: AsyncSession, rules: Rules, now: datetime, raw: str
) -> None:
    with pytest.raises(InvalidPhone) as caught:
        await members.join(session, rules, telegram_id=1, name="Sara", phone=raw, now=now)
    assert isinstance(caught.value, InvalidInput)
    assert await count_members(session) == 0


# --- names ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("<b>Ali</b> & co", "<b>Ali</b> & co"),
        ("  Ali    Reza  ", "Ali Reza"),
        ("Ali\n\tReza", "Ali Reza"),
        ("علی   رضایی", "علی رضایی"),
        ("a" * 128, "a" * 128),
        ("  " + "a" * 128 + "\n", "a" * 128),
        ("ب" * 128, "ب" * 128),
    ],
)
async def test_name_is_stored_as_typed_with_whitespace_folded(
    session: AsyncSession, rules: Rules, now: datetime, typed: str, kept: str
) -> None:
    result = await members.join(session, rules, telegram_id=1, name=typed, now=now)
    assert await stored(session, result.member.id, Member.name) == (kept,)


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("\n\t ", "empty"),
        ("a" * 129, "too_long"),
        ("ب" * 129, "too_long"),
        ("a " * 64 + "b", "too_long"),  # 129 after folding
    ],
)
async def test_bad_name_is_refused_on_join_and_on_update(
    session: AsyncSession, rules: Rules, now: datetime, typed: str, reason: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        await members.join(session, rules, telegram_id=1, name=typed, now=now)
    assert caught.value.reason == reason
    assert await count_members(session) == 0

    member = await new_member(session, rules, now, name="Sara")
    with pytest.raises(InvalidInput) as caught:
        await members.update_profile(session, member.id, name=typed)
    assert caught.value.reason == reason
    assert await stored(session, member.id, Member.name) == ("Sara",)


# --- finding --------------------------------------------------------------------------------


@pytest.fixture
async def sara(session: AsyncSession, rules: Rules, now: datetime) -> Member:
    # A couple of other members first, so that a lookup returning "any member" would be caught.
    await new_member(session, rules, now, name="Other", phone=OTHER_PHONE)
    await new_member(session, rules, now, name="Another")
    result = await members.join(
        session,
        rules,
        telegram_id=5005,
        name="Sara",
        phone="09121234567",
        username="Sara_Shop",
        now=now,
    )
    return result.member


@pytest.mark.parametrize(
    "query",
    [
        "09121234567",
        "+98 912 123 4567",
        "+989121234567",
        "989121234567",
        "9121234567",
        "0912-123-4567",
        "۰۹۱۲۱۲۳۴۵۶۷",
        "٠٩١٢١٢٣٤٥٦٧",
        "  09121234567 ",
    ],
)
async def test_find_by_phone_in_every_usual_form(
    session: AsyncSession, sara: Member, query: str
) -> None:
    assert (await members.find(session, query)).id == sara.id


@pytest.mark.parametrize("template", ["{n}", "#{n}", "{fa}", "#{fa}", "{ar}", " #{n} "])
async def test_find_by_member_number(session: AsyncSession, sara: Member, template: str) -> None:
    n = str(sara.id)
    fa = n.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
    ar = n.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    assert (await members.find(session, template.format(n=n, fa=fa, ar=ar))).id == sara.id


@pytest.mark.parametrize("query", ["@sara_shop", "@Sara_Shop", "@SARA_SHOP", " @sara_shop "])
async def test_find_by_username_ignores_case(
    session: AsyncSession, sara: Member, query: str
) -> None:
    assert (await members.find(session, query)).id == sara.id


@pytest.mark.parametrize(
    "query",
    [
        "09129999999",  # valid phone, nobody's
        "+98 935 999 9999",
        "#999999",
        "999999",
        "۹۹۹۹۹۹",
        "@nobody_here",
        "@ab",  # not a valid username at all
    ],
)
async def test_find_unknown_raises_member_not_found(
    session: AsyncSession, sara: Member, query: str
) -> None:
    with pytest.raises(MemberNotFound):
        await members.find(session, query)


@pytest.mark.parametrize("query", ["0912123456", "09121234567890", "0912-abc-4567", "+98 912"])
async def test_find_with_malformed_phone_raises_invalid_phone(
    session: AsyncSession, sara: Member, query: str
) -> None:
    with pytest.raises(InvalidPhone) as caught:
        await members.find(session, query)
    assert isinstance(caught.value, InvalidInput)


async def test_get_unknown_id_raises_member_not_found(session: AsyncSession) -> None:
    with pytest.raises(MemberNotFound):
        await members.get(session, 12345)


# --- the profile ----------------------------------------------------------------------------


async def test_update_profile_changes_fields(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    member = await new_member(session, rules, now, name="Sara")

    await members.update_profile(
        session,
        member.id,
        name="  Sara   Ahmadi ",
        phone="۰۹۱۲۱۲۳۴۵۶۷",
        birthday=date(1990, 5, 17),
        locale="en",
        username="@New_Name",
        city="Shiraz",
        offers_enabled=False,
        surveys_enabled=False,
        quiet_start=22,
        quiet_end=7,
        max_offers_per_week=2,
    )

    assert await stored(
        session,
        member.id,
        Member.name,
        Member.phone,
        Member.birthday,
        Member.locale,
        Member.username,
        Member.city,
        Member.offers_enabled,
        Member.surveys_enabled,
        Member.quiet_start,
        Member.quiet_end,
        Member.max_offers_per_week,
    ) == (
        "Sara Ahmadi",
        PHONE,
        date(1990, 5, 17),
        "en",
        "new_name",
        "Shiraz",
        False,
        False,
        22,
        7,
        2,
    )


async def test_update_profile_merges_answers_into_profile(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    member = await new_member(session, rules, now)

    await members.update_profile(
        session, member.id, answers={"taste": "bitter", "visits": "weekly"}
    )
    await members.update_profile(session, member.id, answers={"visits": "daily", "budget": "mid"})
    await members.update_profile(session, member.id, city="Tabriz")  # no answers: profile kept

    assert await stored(session, member.id, Member.profile, Member.city) == (
        {"taste": "bitter", "visits": "daily", "budget": "mid"},
        "Tabriz",
    )


@pytest.mark.parametrize(
    "field", ["balance", "tier", "status", "telegram_id", "referral_code", "referred_by_id", "x"]
)
async def test_update_profile_refuses_unknown_fields(
    session: AsyncSession, rules: Rules, now: datetime, field: str
) -> None:
    member = await new_member(session, rules, now, name="Sara")
    before = await stored(
        session, member.id, Member.balance, Member.tier, Member.status, Member.name
    )

    with pytest.raises(ValueError, match=field):
        await members.update_profile(session, member.id, name="Changed", **{field: 1_000_000})

    assert (
        await stored(session, member.id, Member.balance, Member.tier, Member.status, Member.name)
        == before
    )


@pytest.mark.parametrize(
    ("field", "value", "ok"),
    [
        ("quiet_start", -1, False),
        ("quiet_start", 0, True),
        ("quiet_start", 23, True),
        ("quiet_start", 24, False),
        ("quiet_end", -1, False),
        ("quiet_end", 0, True),
        ("quiet_end", 23, True),
        ("quiet_end", 24, False),
        ("quiet_end", 100, False),
    ],
)
async def test_quiet_hours_must_be_hours_of_the_day(
    session: AsyncSession, rules: Rules, now: datetime, field: str, value: int, ok: bool
) -> None:
    member = await new_member(session, rules, now, name="Sara")
    column = getattr(Member, field)
    if ok:
        await members.update_profile(session, member.id, **{field: value})
        assert await stored(session, member.id, column) == (value,)
        await members.update_profile(session, member.id, **{field: None})
        assert await stored(session, member.id, column) == (None,)
    else:
        with pytest.raises(InvalidInput) as caught:
            await members.update_profile(session, member.id, name="Changed", **{field: value})
        assert caught.value.reason == "out_of_range"
        assert await stored(session, member.id, column, Member.name) == (None, "Sara")


@pytest.mark.parametrize(
    ("locale", "ok"),
    [("fa", True), ("en", True), ("de", False), ("FA", False), ("", False), ("fa_IR", False)],
)
async def test_locale_must_be_fa_or_en(
    session: AsyncSession, rules: Rules, now: datetime, locale: str, ok: bool
) -> None:
    member = await new_member(session, rules, now)
    if ok:
        await members.update_profile(session, member.id, locale=locale)
        assert await stored(session, member.id, Member.locale) == (locale,)
        result = await members.join(session, rules, telegram_id=1, name="N", locale=locale, now=now)
        assert result.member.locale == locale
    else:
        with pytest.raises(InvalidInput) as caught:
            await members.update_profile(session, member.id, locale=locale)
        assert caught.value.reason == "unknown_locale"
        assert await stored(session, member.id, Member.locale) == ("fa",)
        with pytest.raises(InvalidInput):
            await members.join(session, rules, telegram_id=1, name="N", locale=locale, now=now)
        assert await members.by_telegram_id(session, 1) is None


async def test_update_profile_to_a_taken_phone_leaves_it_with_its_holder_silently(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    owner = await new_member(session, rules, now, name="Owner", phone=PHONE)
    member = await new_member(session, rules, now, name="Sara", phone=OTHER_PHONE)

    await members.update_profile(session, member.id, phone="0912 123 4567", city="Yazd")

    # A typed change is a claim: the old number is given up, the held one not taken.
    assert await stored(session, member.id, Member.phone, Member.city) == (None, "Yazd")
    assert await stored(session, owner.id, Member.phone) == (PHONE,)
    # Typing a free number again attaches it, unverified.
    await members.update_profile(session, member.id, phone="+98 935 111 2233")
    assert await stored(session, member.id, Member.phone, Member.phone_verified) == (
        OTHER_PHONE,
        False,
    )


async def test_setting_ones_own_verified_number_again_keeps_it_verified(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    member = await new_member(session, rules, now, name="Sara")
    await members.verify_phone(session, member.id, "09121234567", now)

    await members.update_profile(session, member.id, phone="+98 912 123 4567")

    assert await stored(session, member.id, Member.phone, Member.phone_verified) == (PHONE, True)


async def test_update_profile_phone_none_clears_the_phone(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    a = await new_member(session, rules, now, name="A", phone=PHONE)
    b = await new_member(session, rules, now, name="B", phone=OTHER_PHONE)

    await members.update_profile(session, a.id, phone=None)
    await members.update_profile(session, b.id, phone=None)

    assert await stored(session, a.id, Member.phone) == (None,)
    assert await stored(session, b.id, Member.phone) == (None,)
    # The freed number can be taken by someone else.
    joined = await members.join(session, rules, telegram_id=1, name="C", phone=PHONE, now=now)
    assert joined.created is True


async def test_update_profile_empty_phone_is_no_phone_or_refused(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    a = await new_member(session, rules, now, name="A", phone=PHONE)
    b = await new_member(session, rules, now, name="B", phone=OTHER_PHONE)

    for member, original in ((a, PHONE), (b, OTHER_PHONE)):
        try:
            await members.update_profile(session, member.id, phone="")
        except InvalidInput:  # refusing "" is fine...
            assert await stored(session, member.id, Member.phone) == (original,)
        else:  # ...and so is clearing, but never storing an empty string
            assert await stored(session, member.id, Member.phone) == (None,)


async def test_update_profile_of_unknown_member_raises(session: AsyncSession) -> None:
    with pytest.raises(MemberNotFound):
        await members.update_profile(session, 999, city="Yazd")


# --- forgetting -----------------------------------------------------------------------------


async def test_anonymize_erases_personal_data_and_keeps_the_books(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    referrer = await new_member(session, rules, now, name="Referrer")
    joined = await members.join(
        session,
        rules,
        telegram_id=777,
        name="Sara",
        phone="09121234567",
        username="sara_shop",
        birthday=date(1990, 5, 17),
        referral_code=referrer.referral_code,
        now=now,
    )
    member = joined.member
    await members.update_profile(session, member.id, city="Shiraz", answers={"taste": "sweet"})
    await purchases.record(session, rules, member.id, 250_000, reference="R-1", now=now)
    balance = await stored(session, member.id, Member.balance)
    assert balance == (50 + 250,)
    entries_before = await session.scalar(
        select(func.count()).where(LedgerEntry.member_id == member.id)
    )

    await members.anonymize(session, member.id)

    assert await stored(
        session,
        member.id,
        Member.name,
        Member.phone,
        Member.telegram_id,
        Member.username,
        Member.birthday,
        Member.city,
        Member.profile,
        Member.status,
        Member.balance,
    ) == (None, None, None, None, None, None, {}, MemberStatus.ERASED, 300)
    assert (
        await session.scalar(select(func.count()).where(LedgerEntry.member_id == member.id))
        == entries_before
    )
    assert await ledger.ledger_sum(session, member.id) == 300
    assert await ledger.lots_sum(session, member.id) == 300
    await assert_books_balance(session, member.id)
    await assert_books_balance(session, referrer.id)

    for query in ("09121234567", "+98 912 123 4567", str(member.id), f"#{member.id}", "@sara_shop"):
        with pytest.raises(MemberNotFound):
            await members.find(session, query)
    assert await members.by_telegram_id(session, 777) is None
    with pytest.raises(MemberInactive):
        await purchases.record(session, rules, member.id, 100_000, reference="R-2", now=now)


async def test_anonymized_telegram_user_can_join_again_as_a_new_member(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    first = await members.join(
        session, rules, telegram_id=777, name="Sara", phone="09121234567", now=now
    )
    await purchases.record(session, rules, first.member.id, 100_000, reference="R-1", now=now)
    await members.anonymize(session, first.member.id)

    again = await members.join(
        session, rules, telegram_id=777, name="Sara", phone="09121234567", now=now
    )

    assert again.created is True
    assert again.member.id != first.member.id
    assert await stored(session, again.member.id, Member.balance, Member.phone) == (0, PHONE)
    assert await stored(session, first.member.id, Member.balance, Member.telegram_id) == (
        100,
        None,
    )
    assert (await members.find(session, "09121234567")).id == again.member.id
    assert await count_members(session) == 2
    await assert_books_balance(session, first.member.id)
    await assert_books_balance(session, again.member.id)


async def test_anonymized_members_code_no_longer_refers(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    gone = await new_member(session, rules, now, name="Gone")
    code = gone.referral_code
    await members.anonymize(session, gone.id)

    result = await members.join(
        session, rules, telegram_id=1, name="New", referral_code=f"ref_{code}", now=now
    )

    assert result.created is True
    assert result.attribution is Attribution.UNKNOWN_CODE
    assert result.member.referred_by_id is None
    assert await ledger.ledger_sum(session, result.member.id) == 0


# --- limited club ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "attribution"),
    [(None, Attribution.NONE), ("", Attribution.NONE), ("ref_NOTACODE", Attribution.UNKNOWN_CODE)],
)
async def test_limited_club_refuses_join_without_valid_code(
    session: AsyncSession,
    rules: Rules,
    now: datetime,
    code: str | None,
    attribution: Attribution,
) -> None:
    referrer = await new_member(session, rules, now, name="Founder")  # joined while it was open

    with pytest.raises(RegistrationClosed) as caught:
        await members.join(
            session,
            LIMITED,
            telegram_id=1,
            name="New",
            phone="09121234567",
            referral_code=code,
            now=now,
        )

    assert caught.value.details["attribution"] == attribution
    assert await count_members(session) == 1
    assert await members.by_telegram_id(session, 1) is None
    assert await count_rows(session, Referral) == 0
    assert await count_rows(session, LedgerEntry) == 0
    await assert_books_balance(session, referrer.id)


async def test_limited_club_accepts_join_with_valid_code(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    referrer = await new_member(session, rules, now, name="Founder")

    result = await members.join(
        session,
        LIMITED,
        telegram_id=1,
        name="New",
        referral_code=f"ref_{referrer.referral_code}",
        now=now,
    )

    assert result.created is True
    assert result.attribution is Attribution.ATTRIBUTED
    assert result.member.referred_by_id == referrer.id
    assert await ledger.ledger_sum(session, result.member.id) == 50
    assert await count_members(session) == 2
    # An existing member coming back needs no code.
    again = await members.join(session, LIMITED, telegram_id=1, name="New", now=now)
    assert again.created is False
    assert again.member.id == result.member.id
    for member_id in (referrer.id, result.member.id):
        await assert_books_balance(session, member_id)


async def test_limited_club_refuses_an_erased_members_code(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    gone = await new_member(session, rules, now, name="Gone")
    await members.anonymize(session, gone.id)

    with pytest.raises(RegistrationClosed):
        await members.join(
            session, LIMITED, telegram_id=1, name="New", referral_code=gone.referral_code, now=now
        )
    assert await count_members(session) == 1
