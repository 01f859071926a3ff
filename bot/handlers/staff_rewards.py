"""Staff commands for the catalogue: list, edit, restock, withdraw, and run a draw.

Changing rewards is for the staff group's administrators; listing is for all staff. A draw tells
every winner their code and every other entrant that they were not drawn this time.
"""

from __future__ import annotations

from telegram import Update

from bot.context import BotContext
from bot.notifications.draws import draw_and_announce
from bot.staff_access import actor, staff_only
from bot.staff_args import UsageError, positive, shape
from core import jalali
from core.actions import catalogue
from core.clock import end_of_local_day
from core.rewards import MAX_COST, MAX_STOCK

EDITABLE = ("title", "description", "cost", "tier", "ends")
UNSET = ("-", "\u2014")


def _reward_id(command: str, text: str) -> int:
    try:
        return positive(text.lstrip("#"), 10**12)
    except ValueError:
        raise UsageError(command) from None


@staff_only()
async def list_rewards(update: Update, context: BotContext) -> None:
    """/rewards_admin"""
    found = await catalogue.catalogue(context.club, actor(update))
    await context.say(update, "staff/rewards", rewards=found.rewards, counts=found.open_codes)


@staff_only(admin=True)
async def edit(update: Update, context: BotContext) -> None:
    """/reward_edit <id> <field> <value…>"""
    reward_text, field, *value = shape("reward_edit", context.args, 3)
    if field not in EDITABLE:
        raise UsageError("reward_edit")
    reward_id = _reward_id("reward_edit", reward_text)
    text = " ".join(value)
    changes: dict[str, object]
    if field == "cost":
        changes = {"cost": positive(text, MAX_COST)}
    elif field == "tier":
        changes = {"min_tier": None if text in UNSET else text}
    elif field == "ends":
        ends = None if text in UNSET else end_of_local_day(jalali.parse_date(text), context.t.tz)
        changes = {"ends_at": ends}
    else:
        changes = {field: "" if field == "description" and text in UNSET else text}
    changed = await catalogue.edit_reward(context.club, actor(update), reward_id, changes)
    await context.say(update, "staff/reward_changed", reward=changed.reward)


@staff_only(admin=True)
async def restock(update: Update, context: BotContext) -> None:
    """/reward_stock <id> <n|->"""
    reward_text, amount = shape("reward_stock", context.args, 2, 2)
    reward_id = _reward_id("reward_stock", reward_text)
    stock = None if amount in UNSET else _stock(amount)
    changed = await catalogue.restock(context.club, actor(update), reward_id, stock)
    await context.say(update, "staff/reward_changed", reward=changed.reward)


def _stock(text: str) -> int:
    text = text.strip()
    return 0 if text in ("0", "\u06f0", "\u0660") else positive(text, MAX_STOCK)


@staff_only(admin=True)
async def withdraw(update: Update, context: BotContext) -> None:
    """/reward_off <id>: no longer offered; open codes stay valid."""
    [reward_text] = shape("reward_off", context.args, 1, 1)
    reward_id = _reward_id("reward_off", reward_text)
    changed = await catalogue.withdraw(context.club, actor(update), reward_id)
    await context.say(update, "staff/reward_changed", reward=changed.reward)


@staff_only(admin=True)
async def run_draw(update: Update, context: BotContext) -> None:
    """/draw <id> [seed]: the staff group is answered by the announcement itself."""
    reward_text, *seed = shape("draw", context.args, 1, 2)
    await draw_and_announce(
        context, _reward_id("draw", reward_text), seed=seed[0] if seed else None,
        actor=actor(update),
    )  # fmt: skip
