"""Staff commands about who is a member: ``/member_add <phone> [name]`` registers a customer
without Telegram at the till, ``/invite_link [uses] [days]`` makes a join link that opens even a
club by invitation, and ``/erase <member>`` lets an administrator erase a member's personal data
(the ledger stays)."""

from __future__ import annotations

from telegram import Update

from bot.context import BotContext
from bot.staff_access import Desk, actor, at_the_till, staff_only
from bot.staff_args import invite_link_args, member_and_rest, shape
from core import invitations
from core.actions import joining, membership


@at_the_till
async def member_add(update: Update, context: BotContext, desk: Desk) -> None:
    """/member_add <phone> [name…]: the phone may be typed in groups (:mod:`bot.staff_args`), the
    rest is the name. The member earns from the next purchase, in any branch (members are the
    club's, not a branch's); their contact button claims it."""
    phone, name = member_and_rest("member_add", context.args)
    registered = await joining.register(
        context.club, actor(update), phone=phone, name=" ".join(name) or None
    )
    answer = "staff/member_added" if registered.created else "staff/member_exists"
    await context.say(update, answer, member=registered.member)


@staff_only(admin=True)
async def invite_link(update: Update, context: BotContext) -> None:
    """/invite_link [uses] [days]: how a club by invitation gets its first members."""
    uses, days = invite_link_args(context.args)
    made = await joining.make_invite_link(context.club, actor(update), uses=uses, days=days)
    invitation = made.invitation
    await context.say(
        update, "staff/invite_link", link=invitations.link(context.bot.username, invitation),
        count=invitation.uses_left, expires_at=invitation.expires_at,
    )  # fmt: skip


@staff_only(admin=True)
async def erase(update: Update, context: BotContext) -> None:
    query = " ".join(shape("erase", context.args, 1))
    erased = await membership.erase(context.club, actor(update), query)
    await context.say(update, "staff/erased", number=erased.member.id)
