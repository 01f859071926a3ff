"""Staff commands that move points: purchases, refunds, awards, deductions, handing over rewards.

Each command is one core use case (:mod:`core.actions.purchases`, :mod:`core.actions.adjustments`,
:mod:`core.actions.redemptions`), which owns its transaction and audit entry. The Telegram message
that asked is the idempotency key (a purchase without a reference uses it as the reference), so a
redelivered update changes nothing the second time. The member is told after the commit. How
arguments are read (amounts such as ``250k`` or "2.5 million", phones in groups) is
:mod:`bot.staff_args`; whether the sender is an administrator is asked of Telegram here.

The till's commands (purchase, refund, confirm) run in the club's staff group for ``main`` and in a
branch's own group for that branch (:func:`bot.staff_access.at_the_till`); in the club's staff group
``/refund <reference> <branch>`` finds another branch's purchase.

A purchase above ``purchase.confirm_above``, or for a member named by a phone nobody verified, is
held (:mod:`core.confirmations`) and answered with confirm / cancel buttons (``pcf:<id>`` /
``pcx:<id>``). Any staff member may press them in the staff group; the first press decides, and a
confirm records the held purchase (reference fixed at request time) exactly as the command would.
"""

from __future__ import annotations

from telegram import Update

from bot import callbacks, keyboards
from bot.context import BotContext
from bot.notifications.direct import tell_member
from bot.staff_access import Desk, Role, actor, at_the_till, desk_of, role_of, staff_only
from bot.staff_args import (
    member_and_rest,
    no_digit_group_after,
    positive,
    purchase_args,
    shape,
)
from core import branches
from core.actions import adjustments, purchases, redemptions
from core.codes import format_redemption_code


def _request_key(update: Update) -> str:
    message = update.effective_message
    return f"tg:{message.chat_id}:{message.message_id}"


@at_the_till
async def purchase(update: Update, context: BotContext, desk: Desk) -> None:
    """/purchase <member> <amount> [unit] [Toman] [reference]: recorded in the desk's branch, or
    held for a button."""
    rules = context.club.rules
    args = purchase_args(context.args, rules.earn.max_purchase_amount)
    outcome = await purchases.purchase(
        context.club, actor(update), args.member, args.amount,
        reference=args.reference, key=_request_key(update), branch=desk.branch,
    )  # fmt: skip
    if isinstance(outcome, purchases.Held):
        buttons = keyboards.confirm_cancel(
            lambda key: context.text(update, key),
            callbacks.CONFIRM_PURCHASE.pack(outcome.request.id),
            callbacks.CANCEL_PURCHASE.pack(outcome.request.id),
        )
        await context.say(
            update, "staff/confirm_purchase", buttons, member=outcome.member, held=outcome.held,
            reasons=list(outcome.reasons), limit=rules.purchase.confirm_above,
        )  # fmt: skip
        return
    await context.say(
        update, "staff/purchase_recorded", result=outcome.result, member=outcome.member
    )
    await tell_member(context, outcome.member, "notify/purchase", result=outcome.result)


async def decide_purchase(update: Update, context: BotContext) -> None:
    """A confirm or cancel button of a held purchase: staff only, of the club's staff group or of
    the branch it was held for, and decided once."""
    query = update.callback_query
    desk = await desk_of(update, context)
    if desk is None or desk.role is Role.NONE:
        await query.answer(context.text(update, "staff/not_allowed"), show_alert=True)
        return
    confirming = callbacks.CONFIRM_PURCHASE.matches(query.data)
    kind = callbacks.CONFIRM_PURCHASE if confirming else callbacks.CANCEL_PURCHASE
    [confirmation_id] = kind.of(update)
    decided = await purchases.decide_purchase(
        context.club, actor(update), confirmation_id, confirm=confirming,
        branch=None if desk.whole_club else desk.branch,
    )  # fmt: skip
    if decided is None:  # unknown, forged, too old, or already decided by another press
        await query.answer(context.text(update, "stale_button"))
        return
    await query.answer()
    member, result = decided.member, decided.result
    if result is None:
        text = context.text(
            update, "staff/purchase_cancelled",
            member=member, held=decided.held, decider=update.effective_user,
        )  # fmt: skip
        await query.edit_message_text(text, reply_markup=None)
        return
    text = context.text(update, "staff/purchase_recorded", result=result, member=member)
    await query.edit_message_text(text, reply_markup=None)
    await tell_member(context, member, "notify/purchase", result=result)


@at_the_till
async def refund(update: Update, context: BotContext, desk: Desk) -> None:
    """/refund <reference> [branch]: the purchase of that reference in the desk's branch, or (the
    club's staff group) in the branch named."""
    reference, *named = shape("refund", context.args, 1, 2)
    branch = branches.scope(desk.branch, named[0] if named else None) or desk.branch
    refunded = await purchases.refund(context.club, actor(update), reference, branch=branch)
    result, member = refunded.result, refunded.member
    await context.say(update, "staff/refunded", result=result, member=member)
    await tell_member(context, member, "notify/refund", result=result)
    if refunded.referrer is not None:
        await tell_member(context, refunded.referrer, "notify/clawback", clawback=result.clawback)


async def _adjust(update: Update, context: BotContext, command: str, sign: int) -> None:
    rules = context.club.rules
    query, rest = member_and_rest(command, context.args)
    points_text, *words = shape(command, rest, 2)
    no_digit_group_after(command, [points_text], words)
    points = positive(points_text, rules.adjust.max_points)
    admin = await role_of(update, context) is Role.ADMIN
    try:
        adjusted = await adjustments.adjust(
            context.club, actor(update), query, sign * points,
            reason=" ".join(words), key=_request_key(update), admin=admin,
        )  # fmt: skip
    except adjustments.AdminsOnlyAbove as refused:
        await context.say(update, "staff/admins_only_above", **refused.details)
        return
    await context.say(update, "staff/adjusted", member=adjusted.member, delta=adjusted.delta)
    if not adjusted.replayed:  # a redelivered update: the member was told the first time
        await tell_member(
            context,
            adjusted.member,
            "notify/adjusted",
            delta=adjusted.delta,
            reason=adjusted.reason,
        )


@staff_only()
async def award(update: Update, context: BotContext) -> None:
    """/award <member> <points> <reason>"""
    await _adjust(update, context, "award", +1)


@staff_only()
async def deduct(update: Update, context: BotContext) -> None:
    """/deduct <member> <points> <reason>"""
    await _adjust(update, context, "deduct", -1)


@at_the_till
async def confirm(update: Update, context: BotContext, desk: Desk) -> None:
    """/confirm <code>: handed over at the desk's branch, whichever branch the points came from."""
    code = " ".join(shape("confirm", context.args, 1, 2))
    handed = await redemptions.confirm(context.club, actor(update), code, branch=desk.branch)
    await context.say(
        update, "staff/confirmed", member=handed.member, reward=handed.reward,
        code=format_redemption_code(handed.redemption.code),
    )  # fmt: skip
