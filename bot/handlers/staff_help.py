"""The staff groups' ``/help``, and their answer to a command nobody routes.

Both read the staff commands off the routes themselves (:func:`commands_of`): a command is in the
help because a route runs it, marked for administrators because its handler's guard says so
(:func:`bot.staff_access.access_of`), and listed in a branch's cashiers' group only when it works at
the till there. The words are the command menus Telegram shows (``menus/staff``, ``menus/branch``,
in their order) and one example each (``labels/staff_example``), so there is no second list to
keep in step. A mistyped command gets "unknown command" with the nearest one the group can run,
a members' command (``/points``) is pointed to the private chat, a command meant for another bot
(``/cmd@otherbot``) is left to it, and groups that are not the club's staff groups hear nothing.
"""

from __future__ import annotations

import difflib
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from telegram import Update
from telegram.ext import BaseHandler, CommandHandler, ConversationHandler, MessageHandler, filters

from bot.context import BotContext
from bot.staff_access import Access, Desk, Role, access_of, desk_of
from texts import commands_from

GROUPS = ~filters.ChatType.PRIVATE
HELP = ("help", "start")  # /start in a staff group is someone looking for the commands too
NEAREST_CUTOFF = 0.6  # difflib's similarity below which a typo is not worth a guess
_LONGEST_COMMAND = 32  # Telegram's limit on a command's name


@dataclass(frozen=True)
class StaffCommand:
    name: str
    access: Access


def commands_of(handlers: Iterable[BaseHandler]) -> tuple[StaffCommand, ...]:
    """The staff commands among ``handlers``: commands and conversations' entry commands whose
    handler wears a staff guard, in route order."""
    found: list[StaffCommand] = []
    for handler in handlers:
        entries = handler.entry_points if isinstance(handler, ConversationHandler) else [handler]
        for entry in entries:
            access = access_of(entry.callback) if isinstance(entry, CommandHandler) else None
            if access is not None:
                found += [StaffCommand(name, access) for name in sorted(entry.commands)]
    return tuple(found)


def routes(commands: tuple[StaffCommand, ...], members: Iterable[str]) -> list[BaseHandler]:
    """``/help`` in a staff group, then the answer to any other command there (``members``: the
    members' own commands): placed after every route that could take a command."""
    return [
        CommandHandler(HELP, _help_for(commands), filters=GROUPS),
        MessageHandler(GROUPS & filters.COMMAND, _unknown_for(commands, frozenset(members))),
    ]


Answer = Callable[[Update, BotContext], Awaitable[None]]


def _runnable(commands: tuple[StaffCommand, ...], desk: Desk) -> list[StaffCommand]:
    """What this group can run: everything in the club's staff group, the till in a branch's."""
    return [c for c in commands if desk.whole_club or c.access is Access.TILL]


def _help_for(commands: tuple[StaffCommand, ...]) -> Answer:
    async def staff_help(update: Update, context: BotContext) -> None:
        desk = await desk_of(update, context)
        if desk is None:
            return
        if desk.role is Role.NONE:
            await context.say(update, "staff/not_allowed")
            return
        runnable = {c.name: c for c in _runnable(commands, desk)}
        menu_key = "menus/staff" if desk.whole_club else "menus/branch"
        menu = commands_from(context.text(update, menu_key))
        listed = [
            {
                "name": name,
                "description": description,
                "example": context.text(update, "labels/staff_example", command=name),
                "admin": runnable[name].access is Access.ADMIN,
            }
            for name, description in menu
            if name in runnable
        ]
        branch = None if desk.whole_club else desk.branch
        await context.say(update, "staff/help", commands=listed, branch=branch)

    return staff_help


def _unknown_for(commands: tuple[StaffCommand, ...], members: frozenset[str]) -> Answer:
    async def unknown_command(update: Update, context: BotContext) -> None:
        words = (update.effective_message.text or "").split(maxsplit=1)
        if not words:  # a command entity over no text: nothing was typed
            return
        name, _, addressee = words[0].lstrip("/").partition("@")
        if addressee and addressee.lower() != (context.bot.username or "").lower():
            return  # another bot's command
        desk = await desk_of(update, context)
        if desk is None:
            return
        if name.lower() in members:
            await context.say(update, "staff/members_command", command=name.lower())
            return
        known = [c.name for c in _runnable(commands, desk)] + [HELP[0]]
        nearest = difflib.get_close_matches(name.lower(), known, n=1, cutoff=NEAREST_CUTOFF)
        await context.say(
            update, "staff/unknown_command", command=name[:_LONGEST_COMMAND],
            nearest=nearest[0] if nearest else None,
        )  # fmt: skip

    return unknown_command
