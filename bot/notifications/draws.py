"""Running a draw and telling everyone: by a staff command, or when a lottery's deadline passes.

The draw commits first; then each winner gets their code and every other entrant a kind word, and
the staff group sees who won and the seed anyone can re-run the draw with.
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from bot.context import BotContext
from bot.notifications.direct import tell_member
from core import allocation, audit, members, rewards
from core.audit import Actor
from core.codes import format_redemption_code
from core.errors import BashgahError
from core.models import Draw, Redemption, Reward, utcnow

log = logging.getLogger(__name__)
SWEEP_SECONDS = 5 * 60


async def draw_and_announce(
    context: BotContext, reward_id: int, *, seed: str | None, actor: Actor
) -> tuple[Reward, Draw]:
    async with context.db() as s:
        record = await allocation.draw(
            s, context.club.rules, reward_id, seed=seed, actor_id=actor.id or None
        )
        reward = await rewards.get(s, reward_id)
        winners = [await members.get(s, i) for i in record.winners["ids"]]
        codes = {
            r.member_id: format_redemption_code(r.code)
            for r in await s.scalars(
                select(Redemption).where(Redemption.request_key.like(f"draw:{record.id}:%"))
            )
        }
        others = [await members.get(s, i) for i in await allocation.losers(s, record)]
        await audit.record(
            s, actor, action="draw",
            after={"reward_id": reward_id, "seed": record.seed, "winners": record.winners["ids"]},
        )  # fmt: skip
    staff_chat = context.bot_data["settings"].staff_chat_id
    if staff_chat is not None:
        text = context.t(
            context.bot_data["settings"].locale, "staff/drawn",
            reward=reward, draw=record, winners=winners,
        )  # fmt: skip
        await context.bot.send_message(staff_chat, text)
    for member in winners:
        await tell_member(context, member, "notify/won", reward=reward, code=codes[member.id])
    for member in others:
        await tell_member(context, member, "notify/not_won", reward=reward)
    return reward, record


async def draw_due_lotteries(context: BotContext) -> None:
    """Job: draw every lottery whose deadline has passed, each in its own transaction."""
    async with context.db() as s:
        due = [r.id for r in await allocation.due_lotteries(s, utcnow())]
    for reward_id in due:
        try:
            await draw_and_announce(context, reward_id, seed=None, actor=audit.SYSTEM)
        except BashgahError:  # drawn meanwhile by hand, or withdrawn: nothing to do
            log.info("lottery %s was not drawn by the sweep", reward_id, exc_info=True)
