"""Staff commands for the catalogue: list, edit, restock, withdraw, and run a draw.

Changing rewards is for the staff group's administrators; listing is for all staff. A draw tells
every winner their code and every other entrant that they were not drawn this time.
"""

from __future__ import annotations

from sqlalchemy import func, select
from telegram import Update

from bot.context import BotContext
from bot.notifications.draws import draw_and_announce
from bot.staff_access import actor, staff_only
from bot.staff_args import UsageError, positive, shape
from core import audit, jalali, rewards
from core.clock import end_of_local_day
from core.models import Redemption, RedemptionStatus, Reward
from core.rewards import MAX_COST, MAX_STOCK

EDITABLE = ("title", "description", "cost", "tier", "ends")
UNSET = ("-", "\u2014")


def _reward_id(command: str, text: str) -> int:
    try:
        return positive(text.lstrip("#"), 10**12)
    except ValueError:
        raise UsageError(command) from None


def _view(reward: Reward) -> dict[str, object]:
    return {"title": reward.title, "cost": reward.cost, "stock": reward.stock,
            "min_tier": reward.min_tier, "active": reward.active}  # fmt: skip


@staff_only()
async def list_rewards(update: Update, context: BotContext) -> None:
    """/rewards_admin"""
    async with context.db() as s:
        catalogue = list(await s.scalars(select(Reward).order_by(Reward.active.desc(), Reward.id)))
        counts = dict(
            (await s.execute(
                select(Redemption.reward_id, func.count())
                .where(Redemption.status.in_([RedemptionStatus.RESERVED,
                                              RedemptionStatus.CONFIRMED]))
                .group_by(Redemption.reward_id)
            )).all()
        )  # fmt: skip
    await context.say(update, "staff/rewards", rewards=catalogue, counts=counts)


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
    async with context.db() as s:
        before = _view(await rewards.get(s, reward_id))
        reward = await rewards.update(s, context.club.rules, reward_id, **changes)
        await audit.record(s, action="reward_edit", before=before, after=_view(reward),
                           actor=actor(update))  # fmt: skip
    await context.say(update, "staff/reward_changed", reward=reward)


@staff_only(admin=True)
async def restock(update: Update, context: BotContext) -> None:
    """/reward_stock <id> <n|->"""
    reward_text, amount = shape("reward_stock", context.args, 2, 2)
    reward_id = _reward_id("reward_stock", reward_text)
    stock = None if amount in UNSET else _stock(amount)
    async with context.db() as s:
        before = _view(await rewards.get(s, reward_id))
        reward = await rewards.update(s, context.club.rules, reward_id, stock=stock)
        await audit.record(s, action="reward_stock", before=before, after=_view(reward),
                           actor=actor(update))  # fmt: skip
    await context.say(update, "staff/reward_changed", reward=reward)


def _stock(text: str) -> int:
    text = text.strip()
    return 0 if text in ("0", "\u06f0", "\u0660") else positive(text, MAX_STOCK)


@staff_only(admin=True)
async def withdraw(update: Update, context: BotContext) -> None:
    """/reward_off <id>: no longer offered; open codes stay valid."""
    [reward_text] = shape("reward_off", context.args, 1, 1)
    reward_id = _reward_id("reward_off", reward_text)
    async with context.db() as s:
        before = _view(await rewards.get(s, reward_id))
        reward = await rewards.update(s, context.club.rules, reward_id, active=False)
        await audit.record(s, action="reward_off", before=before, after=_view(reward),
                           actor=actor(update))  # fmt: skip
    await context.say(update, "staff/reward_changed", reward=reward)


@staff_only(admin=True)
async def run_draw(update: Update, context: BotContext) -> None:
    """/draw <id> [seed]: the staff group is answered by the announcement itself."""
    reward_text, *seed = shape("draw", context.args, 1, 2)
    await draw_and_announce(
        context, _reward_id("draw", reward_text), seed=seed[0] if seed else None,
        actor=actor(update),
    )  # fmt: skip
