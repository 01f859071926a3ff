"""Running a draw: by a staff command, or when a lottery's deadline passes.

:func:`core.actions.draws.run_draw` draws and writes every notice to the outbox in one
transaction (the staff group's announcement with the seed, each winner's code, a kind word to
every other entrant); this module gives it the texts. The outbox sender sends them.
"""

from __future__ import annotations

import logging
from typing import Any

from bot.context import BotContext
from core import allocation, audit
from core.actions import draws
from core.audit import Actor
from core.errors import BashgahError
from core.models import Member, utcnow

log = logging.getLogger(__name__)
SWEEP_SECONDS = 5 * 60


async def draw_and_announce(
    context: BotContext, reward_id: int, *, seed: str | None, actor: Actor
) -> draws.Drawn:
    """Draw the reward, with every notice in the outbox in the members' and the club's words."""
    return await draws.run_draw(context.club, actor, reward_id, seed=seed, render=_render(context))


def _render(context: BotContext) -> draws.Render:
    """Templates in the member's language, or the club's for the staff group."""

    def render(key: str, member: Member | None, /, **values: Any) -> str:
        if member is None:
            return context.t(context.club.settings.locale, key, **values)
        return context.t(member.locale, key, member=member, **values)

    return render


async def draw_due_lotteries(context: BotContext) -> None:
    """Job: draw every lottery whose deadline has passed, each in its own transaction."""
    async with context.db() as s:
        due = [r.id for r in await allocation.due_lotteries(s, utcnow())]
    for reward_id in due:
        try:
            await draw_and_announce(context, reward_id, seed=None, actor=audit.SYSTEM)
        except BashgahError:  # drawn meanwhile by hand, or withdrawn: nothing to do
            log.info("lottery %s was not drawn by the sweep", reward_id, exc_info=True)
