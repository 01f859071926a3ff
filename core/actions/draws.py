"""Running a draw: the prizes allocated, the draw audited, and everyone's notice in the outbox.

One transaction draws (:func:`core.allocation.draw`), writes the audit entry and one outbox row per
person to tell: the staff group (who won, and the seed anyone can re-run the draw with), each
winner (their code) and each other entrant (a kind word). So nobody hears of a draw that rolled
back, and a crash after the commit loses no notice: the sender sends them later. A reward is
drawn once (a second draw is :class:`~core.errors.AlreadyDrawn`), and the rows' dedupe keys name
the draw, so nothing is ever written twice.

The texts are the face's: it passes ``render(key, member, **values)``, which renders the template
``key`` in ``member``'s language, or in the club's for the staff group (``member`` None).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol

from core import allocation, audit, members, notices, rewards
from core.audit import Actor
from core.club import Club
from core.codes import format_redemption_code
from core.db import transaction
from core.errors import BashgahError
from core.models import Draw, Member, Reward, utcnow
from core.notices import KIND as KIND  # the rows' kind, re-exported for their readers

log = logging.getLogger(__name__)
WON, NOT_WON, DRAWN = "notify/won", "notify/not_won", "staff/drawn"  # the templates


class Render(Protocol):
    def __call__(self, key: str, member: Member | None, /, **values: Any) -> str: ...


@dataclass(frozen=True)
class Drawn:
    reward: Reward
    draw: Draw
    winners: list[Member]
    notices: int  # outbox rows written


async def run_draw(
    club: Club, actor: Actor, reward_id: int, *, seed: str | None, render: Render
) -> Drawn:
    """Draw the reward's winners (a lottery, or its top spenders) and queue every notice.

    ``seed`` fixes a lottery's randomness (default: a random one, recorded on the draw).
    :data:`core.audit.SYSTEM` is the actor when a lottery's deadline draws it.
    """
    now = utcnow()
    async with transaction(club.sessions) as session:
        record = await allocation.draw(
            session, club.rules, reward_id, seed=seed, actor_id=actor.id or None, now=now
        )
        reward = await rewards.get(session, reward_id)
        winners = [await members.get(session, i) for i in record.winners["ids"]]
        others = [await members.get(session, i) for i in await allocation.losers(session, record)]
        codes = await allocation.prize_codes(session, record)
        await audit.record(
            session, actor, action="draw",
            after={"reward_id": reward_id, "seed": record.seed, "winners": record.winners["ids"]},
        )  # fmt: skip
        key, written = f"draw:{record.id}", 0
        staff_chat = club.settings.staff_chat_id
        if staff_chat is not None:
            text = render(DRAWN, None, reward=reward, draw=record, winners=winners)
            written += await notices.write(session, staff_chat, f"{key}:staff", text, now=now)
        for member in winners:
            code = format_redemption_code(codes[member.id])
            text = render(WON, member, reward=reward, code=code)
            written += await notices.write_to(
                session, member, f"{key}:won:{member.id}", text, now=now
            )
        for member in others:
            text = render(NOT_WON, member, reward=reward)
            written += await notices.write_to(
                session, member, f"{key}:not_won:{member.id}", text, now=now
            )
    return Drawn(reward, record, winners, written)


async def draw_due(club: Club, *, render: Render) -> list[Drawn]:
    """The job: draw every lottery whose deadline has passed, as :data:`core.audit.SYSTEM`.

    Each draw is its own transaction (:func:`run_draw`), so one that fails rolls back alone. One
    drawn by hand meanwhile, or withdrawn, raises a :class:`~core.errors.BashgahError`: it is
    logged and skipped, and the sweep goes on.
    """
    async with transaction(club.sessions) as session:
        due = [r.id for r in await allocation.due_lotteries(session, utcnow())]
    drawn = []
    for reward_id in due:
        try:
            drawn.append(await run_draw(club, audit.SYSTEM, reward_id, seed=None, render=render))
        except BashgahError:
            log.info("lottery %s was not drawn by the sweep", reward_id, exc_info=True)
    return drawn
