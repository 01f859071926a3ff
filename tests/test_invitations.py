"""Staff join links in core: a link never lets in more newcomers than it was made for, even when
they join at the same moment (on PostgreSQL, truly at once: one transaction each)."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from core.actions import joining
from core.audit import Actor
from core.club import Club
from core.errors import InviteLinkUsedUp
from core.models import Member, StaffInvitation
from tests.helpers import audit_entries

ADMIN = Actor(2002, "Reza")


async def _join(club: Club, n: int, code: str) -> joining.Joined:
    return await joining.join(
        club, Actor(4000 + n, f"Guest{n}"), name=f"Guest{n}", phone=f"+98912000{n:04d}",
        phone_verified=False, birthday=None, locale="fa", username=None, referral_code=None,
        staff_code=code,
    )  # fmt: skip


async def test_racing_newcomers_never_exceed_the_uses(limited: Club) -> None:
    made = await joining.make_invite_link(limited, ADMIN, uses=2, days=7)
    code = made.invitation.code

    outcomes = await asyncio.gather(
        *(_join(limited, n, code) for n in range(6)), return_exceptions=True
    )

    joined = [o for o in outcomes if isinstance(o, joining.Joined)]
    refused = [o for o in outcomes if isinstance(o, InviteLinkUsedUp)]
    assert (len(joined), len(refused)) == (2, 4), outcomes
    async with limited.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Member)) == 2
        assert await s.scalar(select(StaffInvitation.uses_left)) == 0
    audited = await audit_entries(limited, "invite_link_join")
    assert sorted(e.member_id for e in audited) == sorted(j.member.id for j in joined)


async def test_two_newcomers_on_the_last_use_let_exactly_one_in(limited: Club) -> None:
    code = (await joining.make_invite_link(limited, ADMIN, uses=1, days=1)).invitation.code

    first, second = await asyncio.gather(
        _join(limited, 1, code), _join(limited, 2, code), return_exceptions=True
    )

    assert sorted(type(o).__name__ for o in (first, second)) == ["InviteLinkUsedUp", "Joined"]
    async with limited.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Member)) == 1
