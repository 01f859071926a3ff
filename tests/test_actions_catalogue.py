"""Staff managing the catalogue through core.actions.catalogue: each change audited with the
reward before and after, a mistake refused before anything changes, the listing with its codes.

The ``club`` fixture here is shared by test_actions_draws and test_actions_campaigns."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core import purchases, redemptions
from core.actions import catalogue
from core.actions.catalogue import RewardDraft
from core.audit import Actor
from core.club import Club
from core.errors import InvalidInput, RewardNotFound
from core.models import AuditEntry, Reward, utcnow
from tests.helpers import audit_entries, new_member

OWNER = Actor(502, "Owner")


async def _stored(club: Club, reward_id: int) -> Reward:
    async with club.sessions() as s:
        reward = await s.get(Reward, reward_id)
        assert reward is not None
        return reward


async def _mug(club: Club) -> int:
    added = await catalogue.add_reward(club, OWNER, RewardDraft(title="Mug", cost=100, stock=2))
    return added.reward.id


async def test_a_new_reward_is_written_with_its_audit_entry(club: Club) -> None:
    draft = RewardDraft(
        title="  Coffee   & cake ", cost=300, description="Any size", stock=10, min_tier="silver",
        allocation="lottery", ends_at=utcnow(),
    )  # fmt: skip
    added = await catalogue.add_reward(club, OWNER, draft)

    stored = await _stored(club, added.reward.id)
    assert (stored.title, stored.cost, stored.stock, stored.min_tier, stored.allocation) == (
        "Coffee & cake", 300, 10, "silver", "lottery",
    )  # fmt: skip
    [entry] = await audit_entries(club, "reward_add")
    assert (entry.actor_id, entry.actor_name) == (502, "Owner")
    assert entry.after == {"reward_id": stored.id, "title": "Coffee & cake", "cost": 300,
                           "stock": 10}  # fmt: skip


@pytest.mark.parametrize(
    "draft",
    [
        RewardDraft(title="", cost=10),
        RewardDraft(title="Tea", cost=0),
        RewardDraft(title="Tea", cost=10, min_tier="diamond"),
        RewardDraft(title="Tea", cost=10, allocation="lottery"),  # a lottery needs a stock
    ],
)
async def test_a_bad_reward_is_refused_and_nothing_is_written(
    club: Club, draft: RewardDraft
) -> None:
    with pytest.raises(InvalidInput):
        await catalogue.add_reward(club, OWNER, draft)
    assert (await catalogue.catalogue(club, OWNER)).rewards == []
    assert await audit_entries(club, "reward_add") == []


async def test_edit_restock_and_withdraw_are_audited_before_and_after(club: Club) -> None:
    reward_id = await _mug(club)

    edited = await catalogue.edit_reward(club, OWNER, reward_id, {"cost": 150, "min_tier": "gold"})
    restocked = await catalogue.restock(club, OWNER, reward_id, 25)
    withdrawn = await catalogue.withdraw(club, OWNER, reward_id)

    stored = await _stored(club, reward_id)
    assert (stored.cost, stored.min_tier, stored.stock, stored.active) == (150, "gold", 25, False)
    assert edited.before["cost"] == 100 and edited.reward.cost == 150
    assert restocked.before["stock"] == 2 and withdrawn.before["active"] is True
    [edit] = await audit_entries(club, "reward_edit")
    assert (edit.before["cost"], edit.after["cost"], edit.after["min_tier"]) == (100, 150, "gold")
    [stock] = await audit_entries(club, "reward_stock")
    assert (stock.before["stock"], stock.after["stock"]) == (2, 25)
    [off] = await audit_entries(club, "reward_off")
    assert (off.before["active"], off.after["active"], off.actor_id) == (True, False, 502)


async def test_the_same_change_twice_changes_nothing_more(club: Club) -> None:
    reward_id = await _mug(club)
    await catalogue.restock(club, OWNER, reward_id, 7)
    again = await catalogue.restock(club, OWNER, reward_id, 7)
    assert again.before == catalogue.view(again.reward)
    assert (await _stored(club, reward_id)).stock == 7


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"cost": 0}, InvalidInput),
        ({"min_tier": "diamond"}, InvalidInput),
        ({"active": False}, InvalidInput),  # withdrawing is /reward_off's, not an edit's
        ({"allocation": "lottery"}, InvalidInput),
    ],
)
async def test_a_bad_edit_is_refused_and_nothing_changes(
    club: Club, changes: dict[str, object], error: type[Exception]
) -> None:
    reward_id = await _mug(club)
    with pytest.raises(error):
        await catalogue.edit_reward(club, OWNER, reward_id, changes)
    stored = await _stored(club, reward_id)
    assert (stored.cost, stored.min_tier, stored.active) == (100, None, True)
    assert await audit_entries(club, "reward_edit") == []


async def test_an_unknown_reward_is_not_found(club: Club) -> None:
    for change in (
        catalogue.edit_reward(club, OWNER, 999, {"cost": 5}),
        catalogue.restock(club, OWNER, 999, None),
        catalogue.withdraw(club, OWNER, 999),
    ):
        with pytest.raises(RewardNotFound):
            await change
    async with club.sessions() as s:
        assert list(await s.scalars(select(AuditEntry))) == []


async def test_the_listing_puts_offered_rewards_first_and_counts_open_codes(club: Club) -> None:
    first = await _mug(club)
    second = (await catalogue.add_reward(club, OWNER, RewardDraft(title="Tea", cost=1))).reward.id
    await catalogue.withdraw(club, OWNER, first)
    async with club.sessions() as s, s.begin():
        member = await new_member(s, club.rules, utcnow())
        await purchases.record(s, club.rules, member.id, 100_000)
        for n in range(2):
            await redemptions.redeem(s, club.rules, member.id, second, request_key=f"tea:{n}")

    listed = await catalogue.catalogue(club, OWNER)

    assert [r.id for r in listed.rewards] == [second, first]
    assert listed.open_codes == {second: 2}
