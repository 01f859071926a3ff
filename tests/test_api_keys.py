"""API keys: shown once, stored only as a hash, refused once revoked, and named in the audit log."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core import api_keys, branches
from core.club import Club
from core.errors import InvalidInput
from core.models import ApiKey


async def test_a_new_key_opens_the_api_and_only_its_hash_is_kept(club: Club) -> None:
    await branches.add(club, "north", "North")  # a key names a real branch (issue 13)
    made = await api_keys.create(club, "till-1", branch="north")

    assert made.secret.startswith(api_keys.KEY_PREFIX)
    found = await api_keys.authenticate(club, made.secret)
    assert found is not None and (found.name, found.branch) == ("till-1", "north")
    async with club.sessions() as s:
        row = await s.scalar(select(ApiKey))
    stored = [str(value) for value in vars(row).values()]
    assert all(made.secret not in value for value in stored)
    assert row.prefix == made.secret[: api_keys.PREFIX_SHOWN]


@pytest.mark.parametrize(
    "secret", ["", "bgh_", "bgh_wrong", "Bearer bgh_x", "not-a-key", "bgh_" + "x" * 500]
)
async def test_unknown_or_malformed_keys_open_nothing(club: Club, secret: str) -> None:
    await api_keys.create(club, "till-1")

    assert await api_keys.authenticate(club, secret) is None


async def test_a_revoked_key_is_refused_and_stays_listed(club: Club) -> None:
    made = await api_keys.create(club, "web-shop")

    revoked = await api_keys.revoke(club, "web-shop")
    again = await api_keys.revoke(club, "web-shop")

    assert await api_keys.authenticate(club, made.secret) is None
    assert revoked.revoked_at is not None and again.revoked_at == revoked.revoked_at
    assert [k.name for k in await api_keys.listing(club)] == ["web-shop"]


async def test_names_are_unique_and_required(club: Club) -> None:
    await api_keys.create(club, "till-1")

    for name in ("till-1", " till-1 ", "", "   ", "x" * 65):
        with pytest.raises(InvalidInput):
            await api_keys.create(club, name)
    with pytest.raises(InvalidInput):
        await api_keys.revoke(club, "nobody")
    assert [k.name for k in await api_keys.listing(club)] == ["till-1"]


async def test_a_key_acts_under_its_own_name_never_as_a_telegram_user(club: Club) -> None:
    made = await api_keys.create(club, "till-1")

    actor = api_keys.actor_of(made.key)

    assert actor.id < 0 and actor.name == "api:till-1"


async def test_a_branch_code_longer_than_its_column_is_refused_on_every_engine(club: Club) -> None:
    for branch in ("", "b" * (api_keys.MAX_BRANCH + 1)):
        with pytest.raises(InvalidInput):
            await api_keys.create(club, "till-1", branch=branch)
    assert await api_keys.listing(club) == []
