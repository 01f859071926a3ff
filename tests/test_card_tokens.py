"""The member card's code: the pure rules of :mod:`core.card_tokens` by tables and properties, then
the use cases on both engines (:mod:`core.actions.cards`, ``reports.member_file``) with a fake
clock: one code a minute, accepted that minute and the next, refused after; a forged one never."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from core import card_tokens, club_secrets, members
from core.actions import cards, reports
from core.audit import Actor
from core.card_tokens import issue, looks_like, resolve
from core.club import Club
from core.errors import CardTokenExpired, CardTokenInvalid, MemberNotFound, NotJoined
from core.models import ClubSecret, Member, utcnow
from tests.conftest import NOW
from tests.helpers import new_member

SECRET = "a" * 64
OTHER_CLUB = "b" * 64
MINUTE = timedelta(seconds=60)
STAFF = Actor(701, "Reza")

# --- the pure rules -------------------------------------------------------------------------------


def test_one_code_a_minute() -> None:
    first = issue(SECRET, 42, NOW)

    assert issue(SECRET, 42, NOW + timedelta(seconds=59)) == first
    assert issue(SECRET, 42, NOW + MINUTE).text != first.text
    assert issue(SECRET, 43, NOW).text != first.text
    assert first.valid_until == NOW + 2 * MINUTE


@pytest.mark.parametrize(
    ("seconds_later", "accepted"),
    [(0, True), (59, True), (60, True), (119, True), (120, False), (3600, False)],
)
def test_a_code_is_accepted_in_its_minute_and_the_next(seconds_later: int, accepted: bool) -> None:
    """Shown at second 59 of its minute, a code still works at the till a minute later."""
    token = issue(SECRET, 42, NOW + timedelta(seconds=59)).text
    later = NOW + timedelta(seconds=seconds_later)
    if accepted:
        assert resolve(SECRET, token, later) == 42
    else:
        with pytest.raises(CardTokenExpired):
            resolve(SECRET, token, later)


def test_a_till_whose_clock_is_a_minute_behind_still_accepts_a_fresh_code() -> None:
    token = issue(SECRET, 42, NOW + MINUTE).text

    assert resolve(SECRET, token, NOW) == 42
    with pytest.raises(CardTokenInvalid):  # two minutes ahead: made by no honest clock
        resolve(SECRET, issue(SECRET, 42, NOW + 2 * MINUTE).text, NOW)


def _respelled(token: str, part: int, value: str) -> str:
    parts = token.split(".")
    parts[part] = value
    return ".".join(parts)


def _forgeries() -> dict[str, str]:
    token = issue(SECRET, 42, NOW).text
    mac = token.rsplit(".", 1)[1]
    return {
        "changed MAC": _respelled(token, 2, ("A" if mac[0] != "A" else "B") + mac[1:]),
        "changed member": token.replace("C:16.", "C:17.", 1),
        "another club's key": issue(OTHER_CLUB, 42, NOW).text,
        "a leading zero": token.replace("C:16.", "C:016.", 1),
        "short MAC": token[:-1],
        "no prefix": token.removeprefix("C:"),
        "the old card": "#42",
        "empty": "",
        "underscore in a number": token.replace("C:16.", "C:1_6.", 1),
    }


@pytest.mark.parametrize("name", list(_forgeries()))
def test_a_forged_or_garbled_code_is_invalid_never_merely_stale(name: str) -> None:
    forged = _forgeries()[name]
    for when in (NOW, NOW + 10 * MINUTE):
        with pytest.raises(CardTokenInvalid):
            resolve(SECRET, forged, when)


def test_a_code_is_read_in_any_case_with_spaces_around() -> None:
    token = issue(SECRET, 42, NOW).text

    assert resolve(SECRET, f"  {token.lower()}\n", NOW) == 42


@pytest.mark.parametrize(
    ("query", "is_code"),
    [
        ("C:16.HTPIW.B7GE6K3SGEGZ", True),
        ("c:16.htpiw.b7ge6k3sgegz", True),
        ("#42", False),
        ("42", False),
        ("09121234567", False),
        ("+98 912 123 4567", False),
        ("۰۹۱۲۱۲۳۴۵۶۷", False),
        ("@sara_ahmadi", False),
        ("Sara", False),
    ],
)
def test_a_code_is_never_a_phone_number_or_username(query: str, is_code: bool) -> None:
    assert looks_like(query) is is_code


moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
)
member_ids = st.integers(min_value=1, max_value=999_999_999)


@given(member_id=member_ids, now=moments)
def test_any_member_at_any_moment_round_trips_until_valid_until(
    member_id: int, now: datetime
) -> None:
    token = issue(SECRET, member_id, now)

    assert looks_like(token.text) and len(token.text) <= 30
    assert resolve(SECRET, token.text, now) == member_id
    assert resolve(SECRET, token.text, token.valid_until - timedelta(microseconds=1)) == member_id
    assert MINUTE < token.valid_until - now <= 2 * MINUTE
    with pytest.raises(CardTokenExpired):
        resolve(SECRET, token.text, token.valid_until)


@given(text=st.text(max_size=40), now=moments)
def test_any_text_that_no_card_showed_is_invalid(text: str, now: datetime) -> None:
    with pytest.raises(CardTokenInvalid):
        resolve(SECRET, text, now)


# --- the use cases, on both engines -----------------------------------------------------------


async def _member(club: Club, name: str = "Sara") -> tuple[Member, Actor]:
    async with club.sessions() as s, s.begin():
        member = await new_member(s, club.rules, utcnow(), name=name)
    return member, Actor(member.telegram_id, name)


async def _secrets(club: Club) -> int:
    async with club.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(ClubSecret)) or 0)


async def test_the_first_card_makes_the_key_and_later_cards_only_read(
    club: Club, monkeypatch: pytest.MonkeyPatch
) -> None:
    sara, as_sara = await _member(club)
    ali, as_ali = await _member(club, "Ali")

    first = await cards.issue(club, as_sara, NOW)
    writes: list[object] = []
    monkeypatch.setattr(club, "write", lambda unit: writes.append(unit))
    again = await cards.issue(club, as_sara, NOW + timedelta(seconds=30))
    alis = await cards.issue(club, as_ali, NOW)

    assert (first.member.id, first.valid_until) == (sara.id, NOW + 2 * MINUTE)
    assert again == cards.IssuedCard(again.member, first.token, first.valid_until)
    assert alis.member.id == ali.id and alis.token != first.token
    assert writes == [] and await _secrets(club) == 1


async def test_a_card_rotates_and_staff_read_it_for_two_minutes(club: Club) -> None:
    sara, as_sara = await _member(club)
    shown = await cards.issue(club, as_sara, NOW + timedelta(seconds=59))
    rotated = await cards.issue(club, as_sara, NOW + MINUTE)

    assert rotated.token != shown.token
    for later in (NOW + timedelta(seconds=59), NOW + timedelta(seconds=119)):
        read = await reports.member_file(club, STAFF, shown.token, later)
        assert read.member.id == sara.id
        assert (
            await reports.card_holder_file(club, STAFF, shown.token, later)
        ).member.id == sara.id
    with pytest.raises(CardTokenExpired):
        await reports.member_file(club, STAFF, shown.token, NOW + 2 * MINUTE)
    with pytest.raises(CardTokenExpired):
        await reports.card_holder_file(club, STAFF, shown.token, NOW + 2 * MINUTE)


def _member_part(member_id: int) -> str:
    """``C:<member in base 36>``, which anyone can read and write: only the MAC is secret."""
    return card_tokens.issue(OTHER_CLUB, member_id, NOW).text.split(".")[0]


async def test_forged_codes_name_nobody(club: Club) -> None:
    sara, as_sara = await _member(club)
    ali, _ = await _member(club, "Ali")
    token = (await cards.issue(club, as_sara, NOW)).token
    body, mac = token.rsplit(".", 1)
    forged = [
        f"{body}.{'A' if mac[0] != 'A' else 'B'}{mac[1:]}",  # a changed MAC
        ".".join([_member_part(ali.id), *token.split(".")[1:]]),  # Sara's code, made Ali's
        card_tokens.issue(OTHER_CLUB, sara.id, NOW).text,  # another club's key
    ]
    for text in forged:
        with pytest.raises(CardTokenInvalid):
            await reports.member_file(club, STAFF, text, NOW)
        with pytest.raises(MemberNotFound):  # what a till that knows only "not found" sees
            await reports.card_holder_file(club, STAFF, text, NOW)
    with pytest.raises(CardTokenInvalid):  # only a card's code here, never a member number
        await reports.card_holder_file(club, STAFF, f"#{sara.id}", NOW)
    assert (await reports.member_file(club, STAFF, f"#{sara.id}", NOW)).member.id == sara.id


async def test_before_any_card_was_opened_no_code_is_genuine(club: Club) -> None:
    sara, _ = await _member(club)
    anything = card_tokens.issue(OTHER_CLUB, sara.id, NOW).text

    with pytest.raises(CardTokenInvalid):
        await reports.member_file(club, STAFF, anything, NOW)
    assert await _secrets(club) == 0  # reading makes no key


async def test_an_erased_members_code_names_nobody(club: Club) -> None:
    sara, as_sara = await _member(club)
    token = (await cards.issue(club, as_sara, NOW)).token
    async with club.sessions() as s, s.begin():
        await members.anonymize(s, sara.id)

    with pytest.raises(CardTokenInvalid):
        await reports.member_file(club, STAFF, token, NOW)
    with pytest.raises(NotJoined):
        await cards.issue(club, as_sara, NOW)


async def test_someone_who_never_joined_has_no_card(club: Club) -> None:
    with pytest.raises(NotJoined):
        await cards.issue(club, Actor(999_999, "Stranger"), NOW)
    assert await _secrets(club) == 0


async def test_the_card_key_and_the_forgotten_salt_are_two_secrets(club: Club) -> None:
    async with club.sessions() as s, s.begin():
        card = await club_secrets.get_or_make(s, cards.SECRET_NAME)
        assert await club_secrets.get_or_make(s, cards.SECRET_NAME) == card
        assert await club_secrets.read(s, "forgotten_salt") is None
        assert await club_secrets.get_or_make(s, "forgotten_salt") != card
