"""What a member asks in a private chat: points, history, rewards, codes, invite, card, help.

Each handler reads the update, calls core, renders one template. Buttons carry ids only; what they
name is looked up again, so an old button cannot do more than the same action done fresh.
"""

from __future__ import annotations

from telegram import InlineKeyboardMarkup, InputFile, Update
from telegram.ext import filters

from bot import callbacks, keyboards
from bot.context import BotContext
from bot.images import member_card_png, qr_png
from bot.staff_access import actor
from core import referrals
from core.actions import cards, standing
from core.actions import redemptions as redeeming
from core.codes import format_redemption_code
from core.digits import format_number
from core.rules import Allocation

HISTORY_PAGE = 10
PRIVATE = filters.ChatType.PRIVATE


async def points(update: Update, context: BotContext) -> None:
    """/points: the most asked command, read in one statement outside a transaction."""
    rules = context.club.rules
    member = await standing.points(context.club, actor(update))
    context.remember_locale(member.locale)
    next_tier = rules.next_tier(member.tier)
    await context.say(
        update,
        "points",
        _app_button(update, context),
        member=member,
        qualifying=member.qualifying,
        next_tier=next_tier.key if next_tier else None,
        to_next=rules.points_to_next(member.tier, member.qualifying),
        expiring=member.expiring,
        pending=member.pending,
    )


async def history(update: Update, context: BotContext) -> None:
    [page] = callbacks.HISTORY.of(update) if update.callback_query else (0,)
    shown = await standing.history(context.club, actor(update), page=page, per_page=HISTORY_PAGE)
    context.remember_locale(shown.member.locale)
    text = context.text(update, "history", entries=shown.entries, page=page, pending=shown.pending)
    markup = keyboards.pager(
        lambda k: context.text(update, k), callbacks.HISTORY, page, shown.has_more
    )
    await _show(update, context, text, markup)


async def catalogue(update: Update, context: BotContext) -> None:
    shown = await redeeming.catalogue(context.club, actor(update))
    context.remember_locale(shown.member.locale)
    buttons = [
        [(context.text(update, "buttons/reward", reward=r), callbacks.REWARD.pack(r.id))]
        for r in shown.rewards
    ]
    await _show(
        update,
        context,
        context.text(update, "rewards", member=shown.member, rewards=shown.rewards),
        _app_button(update, context, keyboards.inline(buttons) if buttons else None),
    )


async def reward_details(update: Update, context: BotContext) -> None:
    [reward_id] = callbacks.REWARD.of(update)
    offered = await redeeming.reward_details(context.club, actor(update), reward_id)
    context.remember_locale(offered.member.locale)
    reward = offered.reward
    policy = Allocation(reward.allocation)
    action = []  # top spenders are chosen, not asked
    if policy is Allocation.FIRST_COME:
        action = [
            (context.text(update, "buttons/confirm_redeem"), callbacks.REDEEM.pack(reward.id))
        ]
    elif policy is Allocation.LOTTERY and not offered.entered:
        action = [
            (context.text(update, "buttons/enter_lottery"), callbacks.LOTTERY.pack(reward.id))
        ]
    markup = keyboards.inline(
        [[*action, (context.text(update, "buttons/back"), callbacks.CATALOGUE.pack())]]
    )
    text = context.text(
        update, "reward", reward=reward, member=offered.member, entered=offered.entered
    )
    await _show(update, context, text, markup)


async def enter_lottery(update: Update, context: BotContext) -> None:
    [reward_id] = callbacks.LOTTERY.of(update)
    entered = await redeeming.enter_lottery(context.club, actor(update), reward_id)
    context.remember_locale(entered.member.locale)
    text = context.text(update, "lottery_entered", reward=entered.reward)
    await _show(update, context, text, None)


async def redeem(update: Update, context: BotContext) -> None:
    """Confirming on one message redeems once, however many times the button is pressed."""
    query = update.callback_query
    [reward_id] = callbacks.REDEEM.of(update)
    if query.message is None:  # pressed in an inline message: no chat to key the request by
        await query.answer(context.text(update, "stale_button"))
        return
    key = f"tg:{query.message.chat.id}:{query.message.message_id}:{reward_id}"
    redeemed = await redeeming.redeem(context.club, actor(update), reward_id, key=key)
    context.remember_locale(redeemed.member.locale)
    text = context.text(
        update,
        "redeemed",
        reward=redeemed.reward,
        code=format_redemption_code(redeemed.redemption.code),
        expires_at=redeemed.redemption.expires_at,
        balance=redeemed.member.balance,
    )
    await _show(update, context, text, None)


async def my_rewards(update: Update, context: BotContext) -> None:
    held = await redeeming.my_codes(context.club, actor(update))
    context.remember_locale(held.member.locale)
    items = [
        {"code": format_redemption_code(r.code), "title": title, "redemption": r}
        for r, title in held.codes
    ]
    buttons = [
        [
            (
                context.text(update, "buttons/cancel_code", item=item),
                callbacks.CANCEL_CODE.pack(item["redemption"].id),
            )
        ]
        for item in items
    ]
    await _show(
        update,
        context,
        context.text(update, "my_rewards", items=items),
        keyboards.inline(buttons) if buttons else None,
    )


async def cancel_code(update: Update, context: BotContext) -> None:
    [redemption_id] = callbacks.CANCEL_CODE.of(update)
    cancelled = await redeeming.cancel_code(context.club, actor(update), redemption_id)
    context.remember_locale(cancelled.member.locale)
    text = context.text(
        update,
        "code_cancelled",
        code=format_redemption_code(cancelled.redemption.code),
        points=cancelled.redemption.points,
        balance=cancelled.member.balance,
    )
    await _show(update, context, text, None)


async def invite(update: Update, context: BotContext) -> None:
    brought = await standing.invitations(context.club, actor(update))
    context.remember_locale(brought.member.locale)
    link = referrals.invite_link(context.bot.username, brought.member)
    await context.bot.send_photo(
        update.effective_chat.id,
        InputFile(qr_png(link), filename="invite.png"),
        caption=context.text(
            update, "invite", link=link, stats=brought.stats, referral=context.club.rules.referral
        ),
    )


async def card(update: Update, context: BotContext) -> None:
    """/card: the member's card, its QR code a fresh code (:mod:`core.card_tokens`) that the till
    accepts for a minute or two, so a screenshot of yesterday's card names nobody."""
    issued = await cards.issue(context.club, actor(update))
    member = issued.member
    context.remember_locale(member.locale)
    locale = context.locale(update)
    tier_label = context.text(update, "labels/tier", tier=member.tier)
    png = member_card_png(
        club_name=context.club.rules.club_name or context.text(update, "image/club_name"),
        member_name=member.name or "",
        member_number_text=format_number(member.id, locale),
        tier_key=member.tier,
        tier_label=tier_label,
        points_text=format_number(member.balance, locale),
        qr_data=issued.token,
        labels={
            "points": context.text(update, "image/points"),
            "member_number": context.text(update, "image/member_number"),
        },
    )
    await context.bot.send_photo(
        update.effective_chat.id,
        InputFile(png, filename="card.png"),
        caption=context.text(
            update, "card_caption", member=member, tier_label=tier_label, token=issued.token
        ),
        reply_markup=_app_button(update, context),
    )


async def help_text(update: Update, context: BotContext) -> None:
    await context.say(update, "help", rules=context.club.rules)


async def unknown_command(update: Update, context: BotContext) -> None:
    await context.say(update, "unknown_command")


def _app_button(
    update: Update, context: BotContext, markup: InlineKeyboardMarkup | None = None
) -> InlineKeyboardMarkup | None:
    """``markup`` and a button opening the Mini App, where the club has one: the same answer,
    live and browsable."""
    return keyboards.with_app(
        lambda key: context.text(update, key), context.club.settings.miniapp_url, markup
    )


async def _show(update: Update, context: BotContext, text: str, markup) -> None:
    """Edit the message a button sits on, or answer a command with a new message."""
    query = update.callback_query
    if query is not None:
        await query.answer()
        await query.edit_message_text(text, reply_markup=markup)
    else:
        await update.effective_message.reply_text(text, reply_markup=markup)
