"""Who may run staff commands: members of the staff group, in the staff group, and for the most
powerful commands only its administrators; the till's commands also in a branch's own group.

The club's staff group is branch ``main``'s desk and sees every branch. A branch's cashiers' group
(``bashgah branch add … --staff-chat``) runs the till's commands (:func:`at_the_till`) for that
branch alone; everything else stays in the club's staff group. Which group is a branch's is read
from the database and remembered for :data:`BRANCH_CACHE_SECONDS`, so a group added while the bot
runs works within that time, without a restart.

Membership is asked of Telegram (``getChatMember`` of the group the command came from) and
remembered briefly, so someone removed from the group loses access within a minute. Outside the
staff groups a staff command gets one neutral sentence: it reveals nothing about members or about
the club's staff.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import Any

from telegram import Bot, Update
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import TelegramError
from telegram.ext import Application

from bot.context import BotContext
from core import branches
from core.audit import Actor
from web.launch import IsAdmin

CACHE_SECONDS = 60
BRANCH_CACHE_SECONDS = 30
_CACHE_KEY = "staff_roles"
_BRANCH_GROUPS_KEY = "branch_groups"
log = logging.getLogger(__name__)


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


class Access(StrEnum):
    """Who may run a guarded handler, as the staff's /help tells them."""

    STAFF = "staff"  # anyone in the club's staff group
    ADMIN = "admin"  # the club's staff group's administrators
    TILL = "till"  # staff of the club's staff group or of a branch's own group


_ACCESS: dict[Callable[..., object], Access] = {}  # each guarded handler's, set by its guard


def access_of(handler: Callable[..., object]) -> Access | None:
    """Who may run ``handler`` (None: it is no staff command); read off the guard it wears, so
    the help can never disagree with what the command does."""
    return _ACCESS.get(handler)


@dataclass(frozen=True)
class Desk:
    """The staff group a command came from: the club's (``main``, sees every branch) or a
    branch's own, and the sender's role there."""

    branch: str  # the code of the branch it acts for
    whole_club: bool  # the club's staff group
    role: Role


DeskHandler = Callable[[Update, BotContext, Desk], Awaitable[object]]


async def role_of(update: Update, context: BotContext) -> Role:
    """The sender's role in the staff group, if this update comes from the staff group."""
    staff_chat = context.bot_data["settings"].staff_chat_id
    chat = update.effective_chat
    if staff_chat is None or chat is None or chat.id != staff_chat:
        return Role.NONE
    return await _role_in(update, context, staff_chat)


async def desk_of(update: Update, context: BotContext) -> Desk | None:
    """The staff group this update comes from, and the sender's role in it; None elsewhere."""
    chat = update.effective_chat
    if chat is None or chat.type == ChatType.PRIVATE:
        return None
    if chat.id == context.bot_data["settings"].staff_chat_id:
        return Desk(branches.MAIN, True, await _role_in(update, context, chat.id))
    branch = await _branch_of_group(context, chat.id)
    if branch is None:
        return None
    return Desk(branch, False, await _role_in(update, context, chat.id))


async def _role_in(update: Update, context: BotContext, chat_id: int) -> Role:
    user = update.effective_user
    if user is None:
        return Role.NONE
    return await role_in_chat(context.bot, context.bot_data, chat_id, user.id)


async def role_in_chat(bot: Bot, bot_data: dict[str, Any], chat_id: int, user_id: int) -> Role:
    """A user's role in a group, asked of Telegram and remembered in ``bot_data`` for
    :data:`CACHE_SECONDS`: the chat's staff commands and the Mini App's dashboard share it."""
    cache: dict[tuple[int, int], tuple[Role, float]] = bot_data.setdefault(_CACHE_KEY, {})
    cached = cache.get((chat_id, user_id))
    if cached and cached[1] > time.monotonic():
        return cached[0]
    member = await bot.get_chat_member(chat_id, user_id)
    role = _ROLES.get(member.status, Role.NONE)
    if member.status == ChatMemberStatus.RESTRICTED and getattr(member, "is_member", False):
        role = Role.STAFF
    cache[(chat_id, user_id)] = (role, time.monotonic() + CACHE_SECONDS)
    return role


def staff_admin_check(app: Application[Any, Any, Any, Any, Any, Any]) -> IsAdmin:
    """The Mini App's dashboard check: is this Telegram user an administrator of the club's
    staff group? The same question, and the same cache, as the chat's administrators' commands;
    web has no bot of its own, so the composition root hands it this."""

    async def is_admin(user_id: int) -> bool:
        staff_chat = app.bot_data["settings"].staff_chat_id
        if staff_chat is None:
            return False
        try:
            role = await role_in_chat(app.bot, app.bot_data, staff_chat, user_id)
        except TelegramError as error:  # not in the group, or the group is gone: no dashboard
            log.info("no dashboard for %d: %s", user_id, error)
            return False
        return role is Role.ADMIN

    return is_admin


async def _branch_of_group(context: BotContext, chat_id: int) -> str | None:
    """The code of the branch whose cashiers' group ``chat_id`` is, remembered briefly."""
    cache: dict[int, tuple[str | None, float]] = context.bot_data.setdefault(_BRANCH_GROUPS_KEY, {})
    cached = cache.get(chat_id)
    if cached and cached[1] > time.monotonic():
        return cached[0]
    branch = await branches.of_chat(context.club, chat_id)
    code = branch.code if branch is not None else None
    cache[chat_id] = (code, time.monotonic() + BRANCH_CACHE_SECONDS)
    return code


def staff_only(admin: bool = False) -> Callable[[Handler], Handler]:
    """Run the handler only for staff (or administrators); refuse everyone else the same way."""

    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def guarded(update: Update, context: BotContext) -> object:
            role = await role_of(update, context)
            if role is Role.NONE:
                desk = await desk_of(update, context)
                at_branch = desk is not None and desk.role is not Role.NONE
                await context.say(
                    update, "staff/club_group_only" if at_branch else "staff/not_allowed"
                )
                return None
            if admin and role is not Role.ADMIN:
                await context.say(update, "staff/admins_only")
                return None
            return await handler(update, context)

        _ACCESS[guarded] = Access.ADMIN if admin else Access.STAFF
        return guarded

    return wrap


def at_the_till(handler: DeskHandler) -> Handler:
    """A till's command (a sale, a refund, a member at the counter, a reward handed over, the
    branch's numbers): for staff of the club's staff group or of a branch's own group, and the
    handler is told which (:class:`Desk`), to act for that branch."""

    @functools.wraps(handler)
    async def guarded(update: Update, context: BotContext) -> object:
        desk = await desk_of(update, context)
        if desk is None or desk.role is Role.NONE:
            await context.say(update, "staff/not_allowed")
            return None
        return await handler(update, context, desk)

    _ACCESS[guarded] = Access.TILL
    return guarded


def actor(update: Update) -> Actor:
    """Who did it, for the audit log and every core action."""
    user = update.effective_user
    return Actor(user.id, user.full_name)
