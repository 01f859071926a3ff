"""``/reward_add``: a new reward in seven short answers, for the staff group's administrators.

In a group the bot only sees replies to its own messages (privacy mode), so every question comes
with ``ForceReply``. Nothing is written until the last answer; ``/cancel`` leaves at any step.
"""

from __future__ import annotations

from telegram import ForceReply, Update
from telegram.ext import (
    BaseHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot import callbacks, keyboards
from bot.context import BotContext
from bot.conversations import keyed_per_user
from bot.staff_access import actor, staff_only
from bot.staff_args import positive
from core import jalali
from core.actions import catalogue
from core.clock import end_of_local_day
from core.errors import InvalidInput
from core.rewards import MAX_COST, MAX_STOCK
from core.rules import Allocation

TITLE, DESCRIPTION, COST, STOCK, TIER, ALLOCATION, ENDS = range(7)
_DRAFT = "reward_draft"
TIMEOUT_SECONDS = 15 * 60


async def _ask(update: Update, context: BotContext, key: str, markup=None) -> None:
    await context.say(update, key, markup or ForceReply(selective=True))


def _text(update: Update) -> str:
    return " ".join((update.effective_message.text or "").split())


@staff_only(admin=True)
async def start(update: Update, context: BotContext) -> int:
    context.user_data[_DRAFT] = {}
    await _ask(update, context, "reward_add/title")
    return TITLE


async def title(update: Update, context: BotContext) -> int:
    text = _text(update)
    if not 0 < len(text) <= 120:
        await _ask(update, context, "reward_add/bad_title")
        return TITLE
    context.user_data[_DRAFT]["title"] = text
    await _ask(update, context, "reward_add/description")
    return DESCRIPTION


async def description(update: Update, context: BotContext) -> int:
    text = (update.effective_message.text or "").strip()
    context.user_data[_DRAFT]["description"] = "" if text in ("-", "\u2014") else text[:1000]
    await _ask(update, context, "reward_add/cost")
    return COST


async def cost(update: Update, context: BotContext) -> int:
    try:
        value = positive(_text(update), MAX_COST)
    except InvalidInput:
        await _ask(update, context, "reward_add/bad_number")
        return COST
    context.user_data[_DRAFT]["cost"] = value
    await _ask(update, context, "reward_add/stock")
    return STOCK


async def stock(update: Update, context: BotContext) -> int:
    text = _text(update)
    if text in ("-", "\u2014"):
        value = None
    else:
        try:
            value = positive(text, MAX_STOCK)
        except InvalidInput:
            await _ask(update, context, "reward_add/bad_number")
            return STOCK
    context.user_data[_DRAFT]["stock"] = value
    tiers = [(context.text(update, "buttons/any_tier"), callbacks.REWARD_TIER.pack("-"))] + [
        (context.text(update, "labels/tier", tier=key), callbacks.REWARD_TIER.pack(key))
        for key in context.club.rules.tier_keys
    ]
    await _ask(update, context, "reward_add/tier", keyboards.inline([[b] for b in tiers]))
    return TIER


async def tier(update: Update, context: BotContext) -> int:
    query = update.callback_query
    [key] = callbacks.REWARD_TIER.of(update)
    if key != "-" and key not in context.club.rules.tier_keys:
        await query.answer(context.text(update, "stale_button"))
        return TIER
    await query.answer()
    context.user_data[_DRAFT]["min_tier"] = None if key == "-" else key
    buttons = [
        [
            (
                context.text(update, "labels/allocation", allocation=a.value),
                callbacks.REWARD_ALLOCATION.pack(a.value),
            )
        ]
        for a in Allocation
    ]
    await query.edit_message_text(
        context.text(update, "reward_add/allocation"), reply_markup=keyboards.inline(buttons)
    )
    return ALLOCATION


async def allocation(update: Update, context: BotContext) -> int:
    query = update.callback_query
    [value] = callbacks.REWARD_ALLOCATION.of(update)
    if value not in {a.value for a in Allocation}:
        await query.answer(context.text(update, "stale_button"))
        return ALLOCATION
    await query.answer()
    context.user_data[_DRAFT]["allocation"] = value
    await query.edit_message_text(
        context.text(update, "reward_add/allocation_chosen", allocation=value)
    )
    await _ask(update, context, "reward_add/ends")
    return ENDS


async def ends(update: Update, context: BotContext) -> int:
    text = _text(update)
    draft = context.user_data[_DRAFT]
    if text in ("-", "\u2014"):
        draft["ends_at"] = None
    else:
        try:
            day = jalali.parse_date(text)
        except InvalidInput:
            await _ask(update, context, "reward_add/bad_date")
            return ENDS
        draft["ends_at"] = end_of_local_day(day, context.t.tz)
    context.user_data.pop(_DRAFT)
    added = await catalogue.add_reward(context.club, actor(update), catalogue.RewardDraft(**draft))
    await context.say(update, "reward_add/done", reward=added.reward)
    return ConversationHandler.END


async def cancel(update: Update, context: BotContext) -> int:
    context.user_data.pop(_DRAFT, None)
    await context.say(update, "reward_add/cancelled")
    return ConversationHandler.END


def handler() -> BaseHandler:
    text = filters.TEXT & ~filters.COMMAND
    return keyed_per_user(
        entry_points=[CommandHandler("reward_add", start)],
        states={
            TITLE: [MessageHandler(text, title)],
            DESCRIPTION: [MessageHandler(text, description)],
            COST: [MessageHandler(text, cost)],
            STOCK: [MessageHandler(text, stock)],
            TIER: [callbacks.REWARD_TIER.handler(tier)],
            ALLOCATION: [callbacks.REWARD_ALLOCATION.handler(allocation)],
            ENDS: [MessageHandler(text, ends)],
        },
        fallbacks=[CommandHandler("cancel", cancel)],
        conversation_timeout=TIMEOUT_SECONDS,
        name="reward_add",
        persistent=True,
    )
