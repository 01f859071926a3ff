"""Who may run staff commands: members of the staff group, in the staff group, and for the most
powerful commands only its administrators.

Membership is asked of Telegram (``getChatMember``) and remembered briefly, so someone removed from
the group loses access within a minute. Outside the staff group a staff command gets one neutral
sentence: it reveals nothing about members or about the club's staff.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable
from enum import IntEnum

from telegram import Update
from telegram.constants import ChatMemberStatus

from bot.context import BotContext
from core.audit import Actor

CACHE_SECONDS = 60
_CACHE_KEY = "staff_roles"


class Role(IntEnum):
    NONE = 0
    STAFF = 1
    ADMIN = 2


_ROLES = {
    ChatMemberStatus.OWNER: Role.ADMIN,
    ChatMemberStatus.ADMINISTRATOR: Role.ADMIN,
    ChatMemberStatus.MEMBER: Role.STAFF,
}

Handler = Callable[[Update, BotContext], Awaitable[object]]


async def role_of(update: Update, context: BotContext) -> Role:
    """The sender's role in the staff group, if this update comes from the staff group."""
    staff_chat = context.bot_data["settings"].staff_chat_id
    chat, user = update.effective_chat, update.effective_user
    if staff_chat is None or chat is None or user is None or chat.id != staff_chat:
        return Role.NONE
    cache: dict[int, tuple[Role, float]] = context.bot_data.setdefault(_CACHE_KEY, {})
    cached = cache.get(user.id)
    if cached and cached[1] > time.monotonic():
        return cached[0]
    member = await context.bot.get_chat_member(staff_chat, user.id)
    role = _ROLES.get(member.status, Role.NONE)
    if member.status == ChatMemberStatus.RESTRICTED and getattr(member, "is_member", False):
        role = Role.STAFF
    cache[user.id] = (role, time.monotonic() + CACHE_SECONDS)
    return role


def staff_only(admin: bool = False) -> Callable[[Handler], Handler]:
    """Run the handler only for staff (or administrators); refuse everyone else the same way."""

    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def guarded(update: Update, context: BotContext) -> object:
            role = await role_of(update, context)
            if role is Role.NONE:
                await context.say(update, "staff/not_allowed")
                return None
            if admin and role is not Role.ADMIN:
                await context.say(update, "staff/admins_only")
                return None
            return await handler(update, context)

        return guarded

    return wrap


def actor(update: Update) -> Actor:
    """Who did it, for the audit log and every core action."""
    user = update.effective_user
    return Actor(user.id, user.full_name)
