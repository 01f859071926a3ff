"""Staff commands for the catalogue: list, edit, restock, withdraw, and run a draw.

Changing rewards is for the staff group's administrators; listing is for all staff. A draw tells
every winner their code and every other entrant that they were not drawn this time. Before a
lottery's deadline ``/draw`` asks first, with confirm / cancel buttons (``dcf:<id>`` /
``dcx:<id>``, an administrator's press decides once); ``/draw <id> rerun`` repeats a past draw
from its record and shows its winners again.
"""

from __future__ import annotations

from telegram import Update

from bot import callbacks, keyboards
from bot.context import BotContext
from bot.notifications import draws as announced
from bot.staff_access import actor, staff_only
from bot.staff_args import UsageError, positive, shape
from core import jalali
from core.actions import catalogue, draws
from core.clock import end_of_local_day
from core.rewards import MAX_COST, MAX_STOCK

EDITABLE = ("title", "description", "cost", "tier", "ends")
RERUN = "rerun"  # /draw <id> rerun: not a seed
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
    """/draw <id> [seed] | /draw <id> rerun: a draw is answered by its announcement itself (through
    the outbox); before the lottery's deadline, by a question with buttons."""
    reward_text, *rest = shape("draw", context.args, 1, 2)
    reward_id = _reward_id("draw", reward_text)
    if rest == [RERUN]:
        rerun = await draws.rerun_draw(context.club, actor(update), reward_id)
        await context.say(
            update, "staff/draw_rerun", reward=rerun.reward, draw=rerun.draw,
            winners=rerun.winners, same=rerun.same,
        )  # fmt: skip
        return
    outcome = await announced.request_draw(
        context, reward_id, seed=rest[0] if rest else None, actor=actor(update)
    )
    if isinstance(outcome, draws.DrawHeld):
        held = outcome.request.id
        buttons = keyboards.inline(
            [[(context.text(update, "buttons/draw_now"), callbacks.CONFIRM_DRAW.pack(held)),
              (context.text(update, "staff/cancel_button"), callbacks.CANCEL_DRAW.pack(held))]]
        )  # fmt: skip
        await context.say(update, "staff/confirm_draw", buttons, reward=outcome.reward)


@staff_only(admin=True)
async def decide_draw(update: Update, context: BotContext) -> None:
    """The confirm or cancel button of a draw held before its deadline; the first press decides."""
    query = update.callback_query
    confirming = callbacks.CONFIRM_DRAW.matches(query.data)
    kind = callbacks.CONFIRM_DRAW if confirming else callbacks.CANCEL_DRAW
    [confirmation_id] = kind.of(update)
    decided = await announced.decide_draw(
        context, confirmation_id, confirm=confirming, actor=actor(update)
    )
    if decided is None:  # unknown, forged, too old, or already decided by another press
        await query.answer(context.text(update, "stale_button"))
        return
    await query.answer()
    key = "staff/draw_confirmed" if decided.drawn is not None else "staff/draw_cancelled"
    text = context.text(update, key, reward=decided.reward, decider=update.effective_user)
    await query.edit_message_text(text, reply_markup=None)
