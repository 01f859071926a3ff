"""Running a draw: by a staff command (confirmed by a button before the lottery's deadline), or
when a lottery's deadline passes.

:mod:`core.actions.draws` draws and writes every notice to the outbox in one transaction (the staff
group's announcement with the seed, each winner's code and its last day, a kind word to every other
entrant); this module gives it the texts. The outbox sender sends them.
"""

from __future__ import annotations

from typing import Any

from bot.context import BotContext
from core.actions import draws
from core.audit import Actor
from core.models import Member

SWEEP_SECONDS = 5 * 60


async def request_draw(
    context: BotContext, reward_id: int, *, seed: str | None, actor: Actor
) -> draws.Drawn | draws.DrawHeld:
    """Draw the reward now, or hold the draw for a button before the lottery's deadline."""
    return await draws.request_draw(
        context.club, actor, reward_id, seed=seed, render=_render(context)
    )


async def decide_draw(
    context: BotContext, confirmation_id: int, *, confirm: bool, actor: Actor
) -> draws.DrawDecided | None:
    """A held draw's button: drawn (every notice in the outbox) or cancelled, once."""
    return await draws.decide_draw(
        context.club, actor, confirmation_id, confirm=confirm, render=_render(context)
    )


def _render(context: BotContext) -> draws.Render:
    """Templates in the member's language, or the club's for the staff group."""

    def render(key: str, member: Member | None, /, **values: Any) -> str:
        if member is None:
            return context.t(context.club.settings.locale, key, **values)
        return context.t(member.locale, key, member=member, **values)

    return render


async def draw_due_lotteries(context: BotContext) -> None:
    """Job: draw every lottery whose deadline has passed, each in its own transaction."""
    await draws.draw_due(context.club, render=_render(context))
