"""Staff commands that move points: purchases, refunds, awards, deductions, handing over rewards.

Each command is one transaction with its audit entry. The Telegram message that asked is the
idempotency key (a purchase without a reference uses it as the reference), so a redelivered update
changes nothing the second time. The member is told after the commit.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, CommandHandler

from bot.context import BotContext
from bot.handlers.staff_access import Role, actor, role_of, staff_only
from bot.handlers.staff_args import UsageError, positive, shape, split_member
from bot.notifications.direct import tell_member
from core import adjustments, audit, ledger, members, purchases, redemptions, rewards
from core.codes import format_redemption_code
from core.errors import IdempotencyConflict
from core.models import Member


def _request_key(update: Update) -> str:
    message = update.effective_message
    return f"tg:{message.chat_id}:{message.message_id}"


def _snapshot(member: Member) -> dict[str, object]:
    return {"balance": member.balance, "tier": member.tier}


@staff_only()
async def purchase(update: Update, context: BotContext) -> None:
    """/purchase <member> <amount> [reference]"""
    rules = context.club.rules
    try:
        query, rest = split_member(context.args)
        amount_text, *reference = shape("purchase", rest, 1, 2)
    except IndexError:
        raise UsageError("purchase") from None
    amount = positive(amount_text, rules.earn.max_purchase_amount)
    async with context.db() as s:
        member = await members.find(s, query)
        before = _snapshot(member)
        result = await purchases.record(
            s, rules, member.id, amount,
            reference=reference[0] if reference else _request_key(update),
            actor_id=update.effective_user.id,
        )  # fmt: skip
        await audit.record(
            s, action="purchase", member_id=member.id, before=before,
            after={**_snapshot(member), "amount": amount, "reference": result.purchase.reference,
                   "points": result.points},
            **actor(update),
        )  # fmt: skip
    await context.say(update, "staff/purchase_recorded", result=result, member=member)
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
            **actor(update),
        )  # fmt: skip
    await context.say(update, "staff/refunded", result=result, member=member)
    await tell_member(context, member, "notify/refund", result=result)
    if referrer is not None:
        await tell_member(context, referrer, "notify/clawback", clawback=clawback)


async def _adjust(update: Update, context: BotContext, command: str, sign: int) -> None:
    rules = context.club.rules
    try:
        query, rest = split_member(context.args)
        points_text, *reason = shape(command, rest, 2)
    except IndexError:
        raise UsageError(command) from None
    points = positive(points_text, rules.adjust.max_points)
    if points > rules.adjust.staff_limit and await role_of(update, context) is not Role.ADMIN:
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
        )  # fmt: skip
        await audit.record(
            s, action=command, member_id=member.id, before=before,
            after={**_snapshot(member), "points": sign * points, "reason": " ".join(reason)},
            **actor(update),
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
            **actor(update),
        )  # fmt: skip
    await context.say(
        update, "staff/confirmed",
        member=member, reward=reward, code=format_redemption_code(redemption.code),
    )  # fmt: skip


def register(app: Application) -> None:
    for name, handler in (
        ("purchase", purchase),
        ("refund", refund),
        ("award", award),
        ("deduct", deduct),
        ("confirm", confirm),
    ):
        app.add_handler(CommandHandler(name, handler))
