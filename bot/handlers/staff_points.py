"""Staff commands that move points: purchases, refunds, awards, deductions, handing over rewards.

Each command is one transaction with its audit entry. The Telegram message that asked is the
idempotency key (a purchase without a reference uses it as the reference), so a redelivered update
changes nothing the second time. The member is told after the commit. How arguments are read
(amounts such as ``250k`` or "2.5 million", phones in groups) is :mod:`bot.staff_args`.

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
from bot.staff_access import Role, actor, role_of, staff_only
from bot.staff_args import (
    member_and_rest,
    no_digit_group_after,
    positive,
    purchase_args,
    shape,
)
from core import adjustments, audit, confirmations, ledger, members, purchases, redemptions, rewards
from core.codes import format_redemption_code
from core.confirmations import PendingPurchase
from core.errors import IdempotencyConflict, InvalidPhone
from core.models import Member
from core.phones import normalize_phone


def _request_key(update: Update) -> str:
    message = update.effective_message
    return f"tg:{message.chat_id}:{message.message_id}"


def _snapshot(member: Member) -> dict[str, object]:
    return {"balance": member.balance, "tier": member.tier}


def _named_by_phone(query: str, member: Member) -> bool:
    """Did staff name ``member`` by their phone number (not by number or @username)?"""
    try:
        return member.phone is not None and normalize_phone(query) == member.phone
    except InvalidPhone:
        return False


@staff_only()
async def purchase(update: Update, context: BotContext) -> None:
    """/purchase <member> <amount> [unit] [Toman] [reference]: recorded, or held for a button."""
    rules = context.club.rules
    args = purchase_args(context.args, rules.earn.max_purchase_amount)
    reference = purchases.clean_reference(args.reference or _request_key(update))
    async with context.db() as s:
        member = await members.find(s, args.member)
        held = PendingPurchase(member.id, args.amount, reference)
        reasons = confirmations.purchase_reasons(
            rules, member, args.amount, named_by_phone=_named_by_phone(args.member, member)
        )
        if reasons:
            request = await confirmations.request_purchase(
                s, held, reasons=reasons, requested_by=update.effective_user.id
            )
        else:
            result = await purchases.record_by_staff(
                s, rules, member.id, held.amount, reference=reference, actor=actor(update)
            )
    if reasons:
        buttons = keyboards.confirm_cancel(
            lambda key: context.text(update, key),
            callbacks.CONFIRM_PURCHASE.pack(request.id),
            callbacks.CANCEL_PURCHASE.pack(request.id),
        )
        await context.say(
            update, "staff/confirm_purchase", buttons,
            member=member, held=held, reasons=reasons, limit=rules.purchase.confirm_above,
        )  # fmt: skip
        return
    await context.say(update, "staff/purchase_recorded", result=result, member=member)
    await tell_member(context, member, "notify/purchase", result=result)


async def decide_purchase(update: Update, context: BotContext) -> None:
    """A confirm or cancel button of a held purchase: staff only, and decided once."""
    query = update.callback_query
    if await role_of(update, context) is Role.NONE:
        await query.answer(context.text(update, "staff/not_allowed"), show_alert=True)
        return
    confirming = callbacks.CONFIRM_PURCHASE.matches(query.data)
    kind = callbacks.CONFIRM_PURCHASE if confirming else callbacks.CANCEL_PURCHASE
    [confirmation_id] = kind.of(update)
    decision = confirmations.CONFIRMED if confirming else confirmations.CANCELLED
    result = None
    async with context.db() as s:
        decided = await confirmations.decide(
            s, confirmation_id, decision,
            action=confirmations.PURCHASE, decided_by=update.effective_user.id,
        )  # fmt: skip
        if decided is not None:
            held = PendingPurchase.of(decided)
            member = await members.get(s, held.member_id)
            if decision == confirmations.CONFIRMED:
                result = await purchases.record_by_staff(
                    s, context.club.rules, member.id, held.amount, reference=held.reference,
                    confirmation_id=decided.id, actor=actor(update),
                )  # fmt: skip
    if decided is None:  # unknown, forged, too old, or already decided by another press
        await query.answer(context.text(update, "stale_button"))
        return
    await query.answer()
    if result is None:
        text = context.text(
            update,
            "staff/purchase_cancelled",
            member=member,
            held=held,
            decider=update.effective_user,
        )
        await query.edit_message_text(text, reply_markup=None)
        return
    text = context.text(update, "staff/purchase_recorded", result=result, member=member)
    await query.edit_message_text(text, reply_markup=None)
    await tell_member(context, member, "notify/purchase", result=result)


@staff_only()
async def refund(update: Update, context: BotContext) -> None:
    """/refund <reference>"""
    [reference] = shape("refund", context.args, 1, 1)
    async with context.db() as s:
        result = await purchases.refund(s, reference, actor_id=update.effective_user.id)
        member = await members.get(s, result.purchase.member_id)
        clawback = result.clawback
        referrer = await members.get(s, clawback.referrer_id) if clawback else None
        await audit.record(
            s, action="refund", member_id=member.id,
            before={"balance": member.balance + result.reversed},
            after={**_snapshot(member), "reference": result.purchase.reference,
                   "reversed": result.reversed, "unrecovered": result.unrecovered},
            actor=actor(update),
        )  # fmt: skip
    await context.say(update, "staff/refunded", result=result, member=member)
    await tell_member(context, member, "notify/refund", result=result)
    if referrer is not None:
        await tell_member(context, referrer, "notify/clawback", clawback=clawback)


async def _adjust(update: Update, context: BotContext, command: str, sign: int) -> None:
    rules = context.club.rules
    query, rest = member_and_rest(command, context.args)
    points_text, *reason = shape(command, rest, 2)
    no_digit_group_after(command, [points_text], reason)
    points = positive(points_text, rules.adjust.max_points)
    admin = await role_of(update, context) is Role.ADMIN
    if points > rules.adjust.staff_limit and not admin:
        await context.say(update, "staff/admins_only_above", limit=rules.adjust.staff_limit)
        return
    async with context.db() as s:
        member = await members.find(s, query)
        before = _snapshot(member)
        earlier = await ledger.by_key(s, _request_key(update))
        if earlier is not None:
            # The same message again (a redelivered update): done, audited and told once already.
            if earlier.delta != sign * points:
                raise IdempotencyConflict()
            await context.say(update, "staff/adjusted", member=member, delta=sign * points)
            return
        await adjustments.adjust(
            s, rules, member.id, sign * points, reason=" ".join(reason),
            actor_id=update.effective_user.id, key=_request_key(update),
            limited=not admin, tz=context.club.settings.tz,
        )  # fmt: skip
        await audit.record(
            s, action=command, member_id=member.id, before=before,
            after={**_snapshot(member), "points": sign * points, "reason": " ".join(reason)},
            actor=actor(update),
        )  # fmt: skip
    await context.say(update, "staff/adjusted", member=member, delta=sign * points)
    await tell_member(
        context, member, "notify/adjusted", delta=sign * points, reason=" ".join(reason)
    )


@staff_only()
async def award(update: Update, context: BotContext) -> None:
    """/award <member> <points> <reason>"""
    await _adjust(update, context, "award", +1)


@staff_only()
async def deduct(update: Update, context: BotContext) -> None:
    """/deduct <member> <points> <reason>"""
    await _adjust(update, context, "deduct", -1)


@staff_only()
async def confirm(update: Update, context: BotContext) -> None:
    """/confirm <code>"""
    code = " ".join(shape("confirm", context.args, 1, 2))
    async with context.db() as s:
        redemption = await redemptions.confirm(s, code, actor_id=update.effective_user.id)
        member = await members.get(s, redemption.member_id)
        reward = await rewards.get(s, redemption.reward_id)
        await audit.record(
            s, action="confirm", member_id=member.id,
            after={"code": redemption.code, "reward": reward.title},
            actor=actor(update),
        )  # fmt: skip
    await context.say(
        update, "staff/confirmed",
        member=member, reward=reward, code=format_redemption_code(redemption.code),
    )  # fmt: skip
