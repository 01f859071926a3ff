"""Events for the shop's systems, as rows of the hooks' outbox: every one of the eight is written by
the real action that causes it, with its data, in the action's own transaction, for exactly the
live hooks that take it. (Posting them is tests/test_hook_sender.py.)"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update

from bot.shell import MEMBER, STAFF
from core import branches, hooks, housekeeping, rewards
from core.actions import adjustments, joining, purchases, redemptions
from core.audit import Actor
from core.club import Club
from core.errors import HookNotFound, InvalidHookUrl, UnknownEventType
from core.event_types import EVENT_TYPES
from core.models import Hook, HookDelivery, HookDeliveryStatus, Member, utcnow
from tests.conftest import STAFF_CHAT_ID, BotHarness
from tests.helpers import new_member
from tests.test_web_api import connected

CASHIER = Actor(501, "Cashier")
ADMIN = Actor(502, "Admin")
NUMBER = "+989121234567"
URL = "https://shop.example/bashgah"
TZ = ZoneInfo("Asia/Tehran")


async def _events(club: Club, hook: Hook | None = None) -> list[dict[str, Any]]:
    """The events written so far (for ``hook``, or for any), oldest first, as their bodies say."""
    async with club.sessions() as s:
        query = select(HookDelivery).order_by(HookDelivery.id)
        if hook is not None:
            query = query.where(HookDelivery.hook_id == hook.id)
        rows = list(await s.scalars(query))
    events = []
    for row in rows:
        event = json.loads(row.body)
        assert (event["id"], event["type"]) == (row.event_id, row.event_type)
        assert row.status == HookDeliveryStatus.PENDING and row.attempts == 0
        events.append(event)
    return events


async def _types(club: Club, hook: Hook | None = None) -> list[str]:
    return [event["type"] for event in await _events(club, hook)]


async def _count(club: Club) -> int:
    async with club.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(HookDelivery)) or 0)


async def _member(club: Club, phone: str | None = NUMBER) -> Member:
    async with club.sessions() as s, s.begin():
        return await new_member(s, club.rules, utcnow(), phone=phone)


async def _buy(club: Club, member: Member, amount: int, reference: str) -> purchases.Recorded:
    outcome = await purchases.purchase(
        club, CASHIER, f"#{member.id}", amount, reference=reference, key=f"k:{reference}"
    )
    assert isinstance(outcome, purchases.Recorded)
    return outcome


async def test_without_a_hook_nothing_is_written(club: Club) -> None:
    member = await _member(club)

    await _buy(club, member, 250_000, "INV-1")
    await purchases.refund(club, CASHIER, "INV-1")

    assert await _count(club) == 0


async def test_a_join_a_till_registration_and_its_claim_are_events(club: Club) -> None:
    await hooks.add(club, URL)

    till = await joining.register(club, CASHIER, phone="0912 123 4567", name="Maryam")
    again = await joining.register(club, CASHIER, phone=NUMBER)  # the same number: nothing new
    claimed = await joining.join(
        club, Actor(7001, "Sara"), name="Sara", phone=NUMBER, phone_verified=True,
        birthday=None, locale="fa", username=None, referral_code=None,
    )  # fmt: skip
    joined = await joining.join(
        club, Actor(7002, "Reza"), name="Reza", phone="+989350000000", phone_verified=False,
        birthday=None, locale="en", username=None, referral_code=None,
    )  # fmt: skip

    assert not again.created and claimed.claimed and joined.created
    events = await _events(club)
    assert [(e["type"], e["data"]) for e in events] == [
        ("member.joined", {"member": till.member.id, "phone": NUMBER, "source": "till"}),
        ("member.claimed", {"member": till.member.id, "phone": NUMBER}),
        ("member.joined",
         {"member": joined.member.id, "phone": "+989350000000", "source": "telegram"}),
    ]  # fmt: skip
    assert len({e["id"] for e in events}) == 3
    for event in events:  # never the Telegram id, whatever the event
        assert "7001" not in json.dumps(event) and "7002" not in json.dumps(event)


async def test_the_body_is_compact_json_with_sorted_keys_and_a_utc_time(club: Club) -> None:
    await hooks.add(club, URL)
    before = utcnow()

    await joining.register(club, CASHIER, phone=NUMBER)

    async with club.sessions() as s:
        row = await s.scalar(select(HookDelivery))
    assert row is not None
    event = json.loads(row.body)
    assert row.body == json.dumps(event, sort_keys=True, separators=(",", ":"))
    assert list(event) == ["created_at", "data", "id", "type"]
    assert event["created_at"].endswith("Z")
    assert row.created_at - before < timedelta(seconds=5)
    assert row.not_before == row.created_at  # due at once


async def test_a_purchase_is_recorded_at_once_or_when_its_button_confirms_it(club: Club) -> None:
    await hooks.add(club, URL)
    member = await _member(club)

    await _buy(club, member, 250_000, "INV-1")
    large = club.rules.purchase.confirm_above + 1_000
    await branches.add(club, "north", "North shop")
    held = await purchases.purchase(
        club, CASHIER, f"#{member.id}", large, reference="INV-2", key="k:2", branch="north"
    )
    assert isinstance(held, purchases.Held)
    assert await _types(club) == ["purchase.recorded"]  # a held purchase is not recorded yet

    await purchases.decide_purchase(club, ADMIN, held.request.id, confirm=True)

    recorded = [e["data"] for e in await _events(club) if e["type"] == "purchase.recorded"]
    assert recorded == [
        {"member": member.id, "phone": NUMBER, "reference": "INV-1", "amount": 250_000,
         "currency": club.rules.currency, "points": 250, "status": "completed",
         "branch": "main"},
        {"member": member.id, "phone": NUMBER, "reference": "INV-2", "amount": large,
         "currency": club.rules.currency, "points": large // 1000,
         "status": "completed", "branch": "north"},
    ]  # fmt: skip


async def test_a_refund_is_an_event_with_the_points_it_reversed(club: Club) -> None:
    await hooks.add(club, URL, ["purchase.refunded"])
    member = await _member(club)
    await _buy(club, member, 250_000, "INV-1")

    await purchases.refund(club, CASHIER, "INV-1")

    [event] = await _events(club)
    assert event["type"] == "purchase.refunded"
    assert event["data"] == {
        "member": member.id, "phone": NUMBER, "reference": "INV-1", "amount": 250_000,
        "points_reversed": 250, "points_unrecovered": 0, "branch": "main",
    }  # fmt: skip


async def test_an_expiry_sweep_is_one_event_per_member(club: Club) -> None:
    first, second = await _member(club), await _member(club, phone=None)
    await _buy(club, first, 100_000, "INV-1")
    await _buy(club, first, 200_000, "INV-2")
    await _buy(club, second, 50_000, "INV-3")
    await hooks.add(club, URL, ["points.expired"])

    later = utcnow() + timedelta(days=club.rules.expiry.days + 1)
    expired = await housekeeping.expire_points(club.sessions, club.rules, later, TZ)

    assert expired == 350
    assert [e["data"] for e in await _events(club)] == [
        {"member": first.id, "phone": NUMBER, "points": 300},
        {"member": second.id, "phone": None, "points": 50},
    ]
    assert await housekeeping.expire_points(club.sessions, club.rules, later, TZ) == 0
    assert await _count(club) == 2  # nothing expired the second time, nothing said


async def test_a_tier_changes_up_at_a_purchase_and_down_at_the_evaluation(club: Club) -> None:
    await hooks.add(club, URL, ["tier.changed"])
    member = await _member(club)

    await _buy(club, member, 1_200_000, "INV-1")  # 1,200 points: silver

    [up] = await _events(club)
    assert up["data"] == {
        "member": member.id, "phone": NUMBER, "from": "bronze", "to": "silver",
        "reason": "purchase",
    }  # fmt: skip
    async with club.sessions() as s, s.begin():  # warned a period ago, and nothing bought since
        await s.execute(update(Member).values(tier="gold", tier_warning="2000-01"))
    later = utcnow() + timedelta(days=club.rules.tier_policy.qualifying_window_days + 40)
    assert await housekeeping.evaluate_tiers(club.sessions, club.rules, later, TZ) == 1

    [_, down] = await _events(club)
    assert down["data"] == {
        "member": member.id, "phone": NUMBER, "from": "gold", "to": "bronze",
        "reason": "evaluation",
    }  # fmt: skip


async def test_a_redemption_and_its_hand_over_are_events_and_a_replay_is_not(club: Club) -> None:
    member = await _member(club)
    await adjustments.adjust(
        club, ADMIN, f"#{member.id}", 500, reason="seed", key="seed", admin=True
    )
    async with club.sessions() as s, s.begin():
        reward = await rewards.create(s, club.rules, title="Coffee", cost=100, stock=5)
    await hooks.add(club, URL, ["reward.redeemed", "reward.confirmed"])
    me = Actor(member.telegram_id or 0, member.name)

    redeemed = await redemptions.redeem(club, me, reward.id, key="tg:1:1:1")
    await redemptions.redeem(club, me, reward.id, key="tg:1:1:1")  # the same press again
    await branches.add(club, "north", "North shop")
    await redemptions.confirm(club, CASHIER, redeemed.redemption.code, branch="north")

    data = {"member": member.id, "phone": NUMBER, "code": redeemed.redemption.code,
            "reward_id": reward.id, "reward": "Coffee", "points": 100}  # fmt: skip
    assert [(e["type"], e["data"]) for e in await _events(club)] == [
        ("reward.redeemed", data),  # a member redeems in no branch
        ("reward.confirmed", {**data, "branch": "north"}),  # where it was handed over
    ]


async def test_the_tills_api_calls_are_the_same_events_and_a_retry_is_none(club: Club) -> None:
    await hooks.add(club, URL, ["member.joined", "purchase.recorded", "purchase.refunded"])

    async with connected(club) as api:
        joined = await api.post("/members", {"phone": "0912 123 4567"}, idem="m-1")
        number = joined.json()["number"]
        sale = {"member": str(number), "amount": 250_000, "reference": "INV-1"}
        first = await api.post("/purchases", sale, idem="p-1")
        retried = await api.post("/purchases", sale, idem="p-1")
        refunded = await api.post("/purchases/INV-1/refund", idem="r-1")

    assert (joined.status_code, first.status_code, refunded.status_code) == (201, 201, 200)
    assert retried.json() == first.json()
    events = await _events(club)
    assert [(e["type"], e["data"]["member"]) for e in events] == [
        ("member.joined", number),
        ("purchase.recorded", number),
        ("purchase.refunded", number),
    ]
    assert events[0]["data"]["source"] == "till"


async def test_the_staff_groups_commands_and_the_members_contact_are_events(
    bot: BotHarness,
) -> None:
    await hooks.add(bot.club, URL)
    bot.standin.chat_member_status[(STAFF_CHAT_ID, STAFF["id"])] = "member"
    bot.chat.as_staff(STAFF_CHAT_ID)

    await bot.chat.send("/member_add 0912 123 4567 مریم")
    await bot.chat.send("/purchase #1 250000 INV-1")
    bot.chat.as_member(MEMBER)
    await bot.chat.send("/start")
    await bot.chat.share_contact(NUMBER)  # the till member's own number, verified: now theirs
    await bot.chat.press(1)  # the name Telegram suggests
    await bot.chat.press("رد شدن")  # no birthday

    assert [(e["type"], e["data"]["member"]) for e in await _events(bot.club)] == [
        ("member.joined", 1),
        ("purchase.recorded", 1),
        ("member.claimed", 1),
    ]


async def test_each_hook_gets_the_types_it_takes_under_one_event_id(club: Club) -> None:
    everything = await hooks.add(club, URL)
    purchases_only = await hooks.add(club, "http://10.0.0.5:8080/in", ["purchase.recorded"])
    member = await _member(club)

    await _buy(club, member, 1_200_000, "INV-1")  # a purchase and the tier it reached
    await purchases.refund(club, CASHIER, "INV-1")

    assert await _types(club, everything) == [
        "tier.changed",
        "purchase.recorded",
        "purchase.refunded",
    ]
    [recorded] = await _events(club, purchases_only)
    assert recorded["type"] == "purchase.recorded"
    [same] = [e for e in await _events(club, everything) if e["type"] == "purchase.recorded"]
    assert same == recorded  # one event, the same id and body for every hook


async def test_a_removed_hook_gets_nothing_and_what_waited_for_it_is_not_sent(club: Club) -> None:
    hook = await hooks.add(club, URL)
    member = await _member(club)
    await _buy(club, member, 250_000, "INV-1")

    removed = await hooks.remove(club, hook.id)
    await _buy(club, member, 250_000, "INV-2")

    assert removed.removed_at is not None
    async with club.sessions() as s:
        [row] = list(await s.scalars(select(HookDelivery)))
    assert (row.status, row.last_error) == (HookDeliveryStatus.FAILED, hooks.REMOVED_ERROR)
    again = await hooks.remove(club, hook.id)  # removing again changes nothing
    assert again.removed_at == removed.removed_at
    [listed] = await hooks.listing(club)
    assert listed.removed_at == removed.removed_at


async def test_an_action_that_rolls_back_leaves_no_event(club: Club) -> None:
    await hooks.add(club, URL)
    member = await _member(club)

    def render(*_: object, **__: object) -> str:
        raise RuntimeError("the notice could not be written")

    with pytest.raises(RuntimeError):
        await purchases.purchase(
            club, CASHIER, f"#{member.id}", 250_000, reference="INV-1", key="k", render=render
        )

    assert await _count(club) == 0


@pytest.mark.parametrize(
    "url",
    [
        "",
        "shop.example/bashgah",
        "ftp://shop.example/in",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "https://",
        "https:///path-only",
        "http://shop.example:99999/in",
        "https://shop example/in",
        "https://shop.example/\nin",
        "https://" + "a" * 2048 + ".example",
    ],
)
async def test_a_bad_url_is_refused_and_nothing_is_added(club: Club, url: str) -> None:
    with pytest.raises(InvalidHookUrl) as refused:
        await hooks.add(club, url)

    assert refused.value.details["url"] == url
    assert await hooks.listing(club) == []


async def test_an_unknown_event_type_is_refused_and_nothing_is_added(club: Club) -> None:
    with pytest.raises(UnknownEventType) as refused:
        await hooks.add(club, URL, ["purchase.recorded", "purchase.made"])

    assert refused.value.details["event_type"] == "purchase.made"
    assert await hooks.listing(club) == []


async def test_a_hook_keeps_its_url_secret_and_types(club: Club) -> None:
    first = await hooks.add(club, f"  {URL}  ", ["reward.redeemed", "reward.redeemed"])
    second = await hooks.add(club, "http://127.0.0.1:8000/hooks")

    assert (first.url, first.events) == (URL, ["reward.redeemed"])
    assert second.events == [] and all(hooks.subscribes(second, t) for t in EVENT_TYPES)
    assert len(first.secret) >= 43 and first.secret != second.secret
    assert [h.id for h in await hooks.listing(club)] == [first.id, second.id]
    with pytest.raises(HookNotFound):
        await hooks.remove(club, second.id + 1)


def test_a_signature_is_the_hmac_of_the_exact_bytes() -> None:
    body = b'{"data":{},"id":"x","type":"member.joined"}'

    signed = hooks.signature("s3cret", body)

    assert signed.startswith("sha256=") and len(signed) == len("sha256=") + 64
    assert signed == hooks.signature("s3cret", body)
    assert signed != hooks.signature("s3cret", body.replace(b"x", b"y"))
    assert signed != hooks.signature("other", body)
