"""The rules file seeds the catalogue; staff keep it. A restart never undoes a staff edit.

The club is opened as ``bashgah run`` opens it (:meth:`core.club.Club.open`, which syncs the rules
file's rewards), staff change a seeded reward through the core actions, and the club is opened
again.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from core.actions import catalogue
from core.audit import Actor
from core.club import Club
from core.config import Settings
from core.models import Reward
from tests.conftest import STAFF_CHAT_ID

OWNER = Actor(502, "Owner")
COFFEE = '[[rewards]]\nkey = "coffee"\ntitle = "Free coffee"\ncost = 300\nstock = 10\n'
MUG = '[[rewards]]\nkey = "mug"\ntitle = "Mug"\ncost = 900\n'


async def _catalogue_after_start(settings: Settings) -> dict[str | None, Reward]:
    club = await Club.open(settings)
    try:
        return {r.key: r for r in (await catalogue.catalogue(club, OWNER)).rewards}
    finally:
        await club.close()


@pytest.mark.usefixtures("engine")  # on PostgreSQL, empties the tables afterwards
async def test_a_staff_edit_to_a_seeded_reward_survives_the_next_start(
    database_url: str, tmp_path: Path
) -> None:
    rules_file = tmp_path / "rules.toml"
    rules_file.write_text(COFFEE)
    settings = Settings(
        _env_file=None, database_url=database_url, rules=rules_file, staff_chat_id=STAFF_CHAT_ID
    )
    club = await Club.open(settings)
    try:
        [seeded] = (await catalogue.catalogue(club, OWNER)).rewards
        assert (seeded.key, seeded.title, seeded.cost, seeded.stock) == (
            "coffee",
            "Free coffee",
            300,
            10,
        )
        await catalogue.edit_reward(
            club, OWNER, seeded.id, {"title": "Coffee of the day", "cost": 250}
        )
        await catalogue.restock(club, OWNER, seeded.id, 4)
        await catalogue.withdraw(club, OWNER, seeded.id)
    finally:
        await club.close()

    rules_file.write_text(COFFEE + MUG)  # the owner adds a reward to the file meanwhile
    rewards = await _catalogue_after_start(settings)

    coffee = rewards["coffee"]
    assert (coffee.id, coffee.title, coffee.cost, coffee.stock, coffee.active) == (
        seeded.id, "Coffee of the day", 250, 4, False,
    )  # fmt: skip
    assert (rewards["mug"].title, rewards["mug"].cost) == ("Mug", 900)  # a new key is seeded
    assert set(rewards) == {"coffee", "mug"}
