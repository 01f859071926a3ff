"""The API tells a member what the staff command tells them, in the same words, through the outbox.

Over HTTP on both engines: a recorded purchase, a refund and the referrer's clawback each leave one
``notice`` row for the member, in their language, with the text of the staff command's own notice;
a replayed request leaves nothing more; a customer registered at the till (no Telegram) gets no
row; and the outbox sender delivers the row.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import select, update

from bot.notifications.sender import Sender
from bot.shell import STAFF
from core import members
from core import notices as core_notices
from core.actions import purchases as core_purchases
from core.audit import Actor
from core.club import Club
from core.db import transaction
from core.models import Delivery, Member
from core.notices import KIND
from tests.conftest import STAFF_CHAT_ID, BotHarness
from tests.helpers import reload_member
from tests.test_web_api import Api, a_member, connected
from texts import Translator
from web import notices


@pytest.fixture
async def api(club: Club) -> AsyncIterator[Api]:
    async with connected(club) as api:
        yield api


async def rows_to(club: Club, member: Member) -> list[Delivery]:
    async with club.sessions() as s:
        query = select(Delivery).where(Delivery.member_id == member.id).order_by(Delivery.id)
        return list(await s.scalars(query))


async def every_row(club: Club) -> list[Delivery]:
    async with club.sessions() as s:
        return list(await s.scalars(select(Delivery)))


def rendered(club: Club, member: Member, key: str, **values: Any) -> str:
    """The notice as the staff command renders it: the member's language, the same template."""
    translator = Translator(club.settings.tz, club.settings.locale)
    return translator(member.locale, key, member=member, **values)


async def speaking(club: Club, member: Member, locale: str) -> Member:
    async with club.sessions() as s, s.begin():
        await s.execute(update(Member).where(Member.id == member.id).values(locale=locale))
    return await reload_member(club.sessions, member.id)


async def joined(bot: BotHarness, telegram_id: int, name: str) -> Member:
    async with bot.club.sessions() as s, s.begin():
        return (await members.join(s, bot.club.rules, telegram_id=telegram_id, name=name)).member


async def test_an_api_purchase_queues_the_staff_commands_notice_once_and_the_sender_sends_it(
    bot: BotHarness,
) -> None:
    by_staff, by_api = await joined(bot, 4004, "Sara"), await joined(bot, 4005, "Nima")
    bot.standin.chat_member_status[(STAFF_CHAT_ID, STAFF["id"])] = "member"
    bot.chat.as_staff(STAFF_CHAT_ID)
    calls = await bot.chat.send(f"/purchase #{by_staff.id} 100000 INV-1")
    [told] = [c for c in calls if c.params.get("chat_id") == by_staff.telegram_id]

    async with connected(bot.club) as api:
        body = {"member": str(by_api.id), "amount": 100_000, "reference": "INV-2"}
        first = await api.post("/purchases", body, idem="buy-2")
        again = await api.post("/purchases", body, idem="buy-2")

    assert first.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    [row] = await rows_to(bot.club, by_api)
    assert (row.chat_id, row.kind, row.text) == (by_api.telegram_id, KIND, told.text)
    assert row.dedupe_key.startswith("notice:purchase:")
    assert await rows_to(bot.club, by_staff) == []  # the staff command told Sara directly

    before = len(bot.standin.calls)
    assert await Sender(bot.app.bot, bot.club.sessions).drain() == 1
    [sent] = bot.standin.sent(before)
    assert (sent.params["chat_id"], sent.text) == (by_api.telegram_id, told.text)


async def test_the_notice_is_in_the_members_language_and_written_once(club: Club) -> None:
    member = await speaking(club, await a_member(club), "en")
    async with connected(club) as api:
        body = {"member": str(member.id), "amount": 250_000, "reference": "INV-3"}
        answer = (await api.post("/purchases", body, idem="buy-3")).json()

    after = await reload_member(club.sessions, member.id)
    result = SimpleNamespace(
        points=answer["points"], balance=answer["balance"], pending=answer["pending"],
        purchase=SimpleNamespace(available_at=None), tier_before=after.tier, tier_after=after.tier,
    )  # fmt: skip
    [row] = await rows_to(club, member)
    assert row.text == rendered(club, after, "notify/purchase", result=result)
    assert "points" in row.text  # English, as the member reads
    # The same purchase told again (however it came to be asked twice) writes nothing more.
    async with transaction(club.sessions) as session:
        again = await core_notices.write_to(session, after, row.dedupe_key, row.text)
    assert not again
    assert len(await rows_to(club, member)) == 1


async def test_a_refund_queues_the_refund_and_the_referrers_clawback(api: Api) -> None:
    club = api.club
    referrer = await a_member(club, name="Reza")
    friend = await a_member(club, name="Sara", referral_code=referrer.referral_code)
    body = {"member": str(friend.id), "amount": 100_000, "reference": "INV-4"}
    assert (await api.post("/purchases", body, idem="buy-4")).status_code == 201
    assert (await reload_member(club.sessions, referrer.id)).balance == 200  # the bonus

    refunded = await api.post("/purchases/INV-4/refund", idem="refund-4")
    replayed = await api.post("/purchases/INV-4/refund", idem="refund-4")

    assert refunded.status_code == 200 and replayed.headers["Idempotent-Replayed"] == "true"
    answer = refunded.json()
    result = SimpleNamespace(
        purchase=SimpleNamespace(reference="INV-4"), was_pending=False,
        reversed=answer["reversed"], unrecovered=answer["unrecovered"], balance=answer["balance"],
    )  # fmt: skip
    friend = await reload_member(club.sessions, friend.id)
    [bought, refund] = await rows_to(club, friend)
    assert refund.text == rendered(club, friend, "notify/refund", result=result)
    assert refund.dedupe_key.startswith("notice:refund:") and bought.kind == refund.kind == KIND
    referrer = await reload_member(club.sessions, referrer.id)
    [clawback] = await rows_to(club, referrer)
    expected = rendered(club, referrer, "notify/clawback", clawback=SimpleNamespace(points=200))
    assert (clawback.chat_id, clawback.text) == (referrer.telegram_id, expected)
    assert referrer.balance == 0
    assert len(await every_row(club)) == 3


async def test_a_customer_registered_at_the_till_is_told_nothing(api: Api) -> None:
    registered = await api.post("/members", {"phone": "09121234567", "name": "Till"}, idem="reg")
    number = registered.json()["number"]
    body = {"member": str(number), "amount": 100_000, "reference": "INV-5"}

    bought = await api.post("/purchases", body, idem="buy-5")
    refunded = await api.post("/purchases/INV-5/refund", idem="refund-5")

    assert (bought.status_code, refunded.status_code) == (201, 200)
    assert await every_row(api.club) == []


STAFF_ACTOR = Actor(STAFF["id"], STAFF["first_name"])


async def test_the_notice_commits_with_the_purchase_so_a_crash_after_it_loses_nothing(
    club: Club,
) -> None:
    """The API's process may die the moment the purchase commits: the notice is already in the
    outbox, written in the purchase's own transaction."""
    member = await a_member(club)

    await core_purchases.purchase(
        club, STAFF_ACTOR, str(member.id), 250_000, reference="INV-9", key="k",
        render=notices.renderer(club),
    )  # fmt: skip

    [row] = await rows_to(club, member)
    assert row.dedupe_key.startswith("notice:purchase:") and "۲۵۰" in row.text
