"""Running a draw: the prizes allocated, the draw audited, and everyone's notice in the outbox.

One transaction draws (:func:`core.allocation.draw`), writes the audit entry and one outbox row per
person to tell: the staff group (who won, and the seed anyone can re-run the draw with), each
winner (their code, and the day it lapses) and each other entrant (a kind word). So nobody hears
of a draw that rolled back, and a crash after the commit loses no notice: the sender sends them
later. A reward is drawn once (a second draw is :class:`~core.errors.AlreadyDrawn`), and the rows'
dedupe keys name the draw, so nothing is ever written twice.

Staff asking for a draw before the lottery's deadline (:func:`request_draw`) are asked to confirm
first: the request is held (:mod:`core.confirmations`) and a button decides it once
(:func:`decide_draw`), drawing in the same transaction. A past draw can be repeated from its record
(:func:`rerun_draw`): the same seed and entrants give the same winners, which anyone can check.

The texts are the face's: it passes ``render(key, member, **values)``, which renders the template
``key`` in ``member``'s language, or in the club's for the staff group (``member`` None).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from core import allocation, audit, confirmations, members, notices, rewards
from core.audit import Actor
from core.club import Club
from core.codes import format_redemption_code
from core.confirmations import PendingDraw
from core.db import snapshot, transaction
from core.errors import BashgahError, NotDrawn
from core.models import Draw, Member, Reward, StaffConfirmation, utcnow
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


@dataclass(frozen=True)
class DrawHeld:
    """The lottery's deadline is still ahead: the draw waits for a confirm button (``request``)."""

    reward: Reward
    request: StaffConfirmation


@dataclass(frozen=True)
class DrawDecided:
    """An early draw decided: ``drawn`` is the draw, None if staff cancelled it."""

    reward: Reward
    drawn: Drawn | None


@dataclass(frozen=True)
class Rerun:
    """A past draw repeated from its record: the winners it gives, and whether they are the
    winners the draw recorded (they are, unless the record was tampered with)."""

    reward: Reward
    draw: Draw
    winners: list[Member]
    same: bool


async def request_draw(
    club: Club, actor: Actor, reward_id: int, *, seed: str | None, render: Render
) -> Drawn | DrawHeld:
    """``/draw``: draw now, or, before the reward's deadline, hold the draw for a button.

    A draw that could not run is refused at once (:func:`core.allocation.check_drawable`), so
    staff are never asked to confirm one.
    """
    now = utcnow()
    async with transaction(club.sessions) as session:
        reward = await rewards.get(session, reward_id)
        if reward.ends_at is not None and now < reward.ends_at:
            await allocation.check_drawable(session, reward, seed)
            request = await confirmations.request_draw(
                session, PendingDraw(reward_id, seed), requested_by=actor.id, now=now
            )
            return DrawHeld(reward, request)
    return await run_draw(club, actor, reward_id, seed=seed, render=render)


async def decide_draw(
    club: Club, actor: Actor, confirmation_id: int, *, confirm: bool, render: Render
) -> DrawDecided | None:
    """A confirm or cancel button of an early draw; the first press decides, and a confirm
    draws in the same transaction. None if the request is unknown, too old or decided already."""
    decision = confirmations.CONFIRMED if confirm else confirmations.CANCELLED
    now = utcnow()
    async with transaction(club.sessions) as session:
        decided = await confirmations.decide(
            session, confirmation_id, decision, action=confirmations.DRAW, decided_by=actor.id,
            now=now,
        )  # fmt: skip
        if decided is None:
            return None
        held = PendingDraw.of(decided)
        if not confirm:
            return DrawDecided(await rewards.get(session, held.reward_id), None)
        drawn = await _draw(session, club, actor, held.reward_id, held.seed, render, now)
    return DrawDecided(drawn.reward, drawn)


async def run_draw(
    club: Club, actor: Actor, reward_id: int, *, seed: str | None, render: Render
) -> Drawn:
    """Draw the reward's winners (a lottery, or its top spenders) and queue every notice.

    ``seed`` fixes a lottery's randomness (default: a random one, recorded on the draw).
    :data:`core.audit.SYSTEM` is the actor when a lottery's deadline draws it.
    """
    async with transaction(club.sessions) as session:
        return await _draw(session, club, actor, reward_id, seed, render, utcnow())


async def rerun_draw(club: Club, actor: Actor, reward_id: int) -> Rerun:
    """``/draw <id> rerun``: the reward's draw repeated from its record alone.

    :raises NotDrawn: the reward was never drawn.
    """
    async with snapshot(club.sessions) as session:
        reward = await rewards.get(session, reward_id)
        record = await allocation.get_draw(session, reward_id)
        if record is None:
            raise NotDrawn(reward_id=reward_id)
        again = allocation.rerun(record)
        winners = [await members.get(session, i) for i in again]
    return Rerun(reward, record, winners, same=again == record.winners["ids"])


async def draw_due(club: Club, *, render: Render) -> list[Drawn]:
    """The job: draw every lottery whose deadline has passed, as :data:`core.audit.SYSTEM`.

    Each draw is its own transaction (:func:`run_draw`), so one that fails rolls back alone. One
    drawn by hand meanwhile, or withdrawn, raises a :class:`~core.errors.BashgahError`: it is
    logged and skipped, and the sweep goes on.
    """
    async with snapshot(club.sessions) as session:
        due = [r.id for r in await allocation.due_lotteries(session, utcnow())]
    drawn = []
    for reward_id in due:
        try:
            drawn.append(await run_draw(club, audit.SYSTEM, reward_id, seed=None, render=render))
        except BashgahError:
            log.info("lottery %s was not drawn by the sweep", reward_id, exc_info=True)
    return drawn


async def _draw(
    session: AsyncSession,
    club: Club,
    actor: Actor,
    reward_id: int,
    seed: str | None,
    render: Render,
    now: datetime,
) -> Drawn:
    """The draw, its audit entry and every notice, in the caller's transaction."""
    record = await allocation.draw(
        session, club.rules, reward_id, seed=seed, actor_id=actor.id or None, now=now
    )
    reward = await rewards.get(session, reward_id)
    winners = [await members.get(session, i) for i in record.winners["ids"]]
    others = [await members.get(session, i) for i in await allocation.losers(session, record)]
    prizes = await allocation.prizes(session, record)
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
        prize = prizes[member.id]
        text = render(
            WON, member, reward=reward, code=format_redemption_code(prize.code),
            expires_at=prize.expires_at,
        )  # fmt: skip
        written += await notices.write_to(session, member, f"{key}:won:{member.id}", text, now=now)
    for member in others:
        text = render(NOT_WON, member, reward=reward)
        written += await notices.write_to(
            session, member, f"{key}:not_won:{member.id}", text, now=now
        )
    return Drawn(reward, record, winners, written)
