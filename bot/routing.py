"""Which handler answers which update: every command, button and text route of the bot, in order.

PTB tries the handlers of a group in the order they were added and stops at the first that takes
the update; groups run from the lowest number up, and a handler in an early group may stop the
update there (``ApplicationHandlerStop``). So the order below is behaviour, and it lives here
only: a new command is one line in the table of its audience, next to its handler module.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import IntEnum

from telegram import Update
from telegram.ext import (
    Application,
    BaseHandler,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot import callbacks, keyboards
from bot.conversations import campaign_new, join, profile, reward_add
from bot.handlers import (
    chat_id,
    guard,
    member,
    settings,
    staff_campaigns,
    staff_help,
    staff_import,
    staff_info,
    staff_members,
    staff_points,
    staff_rewards,
    surveys,
)

PRIVATE = filters.ChatType.PRIVATE
IMPORT_DOCUMENT = filters.Document.ALL & filters.CaptionRegex(r"^/import(@\w+)?\b")
Labels = Callable[[str], list[str]]  # a menu button's label in every language


class Group(IntEnum):
    """PTB handler groups, lowest first."""

    GUARD = -100  # drops malformed or foreign updates before anything reads them
    SURVEY_COMMENT = -2  # the text after a low survey score is its comment, nothing else
    PROFILE_CITY = -1  # the text after "which city?" is the city, not a chat message
    MAIN = 0  # everything else: first handler that matches wins


# Members' commands: (commands, menu button key or None, handler).
MEMBER_COMMANDS = (
    (["points", "balance"], "buttons/points", member.points),
    (["history"], "buttons/history", member.history),
    (["rewards"], "buttons/rewards", member.catalogue),
    (["myrewards"], None, member.my_rewards),
    (["invite"], "buttons/invite", member.invite),
    (["card"], "buttons/card", member.card),
    (["help"], "buttons/help", member.help_text),
    (["profile"], "buttons/profile", profile.show),
    (["settings"], "buttons/settings", settings.show),
    (["forget"], None, settings.forget),
)

MEMBER_BUTTONS = (
    (callbacks.PROFILE_MENU, profile.show),
    (callbacks.PROFILE_SECTION, profile.section),
    (callbacks.PROFILE_CHOICE, profile.choose),
    (callbacks.PROFILE_PHONE, profile.ask_contact),
    (callbacks.HISTORY, member.history),
    (callbacks.CATALOGUE, member.catalogue),
    (callbacks.REWARD, member.reward_details),
    (callbacks.REDEEM, member.redeem),
    (callbacks.LOTTERY, member.enter_lottery),
    (callbacks.CANCEL_CODE, member.cancel_code),
    (callbacks.SETTING, settings.change),
    (callbacks.FORGET, settings.forget_answer),
    (callbacks.SURVEY_SCORE, surveys.on_score),
    (callbacks.SURVEY_SKIP, surveys.on_skip),
    (callbacks.SURVEY_FOLLOW_UP, surveys.on_follow_up),
)

# Staff commands, each guarded by ``bot.staff_access.staff_only`` in its module.
STAFF_COMMANDS = (
    ("purchase", staff_points.purchase),
    ("refund", staff_points.refund),
    ("award", staff_points.award),
    ("deduct", staff_points.deduct),
    ("confirm", staff_points.confirm),
    ("rewards_admin", staff_rewards.list_rewards),
    ("reward_edit", staff_rewards.edit),
    ("reward_stock", staff_rewards.restock),
    ("reward_off", staff_rewards.withdraw),
    ("draw", staff_rewards.run_draw),
    ("member_add", staff_members.member_add),
    ("invite_link", staff_members.invite_link),
    ("erase", staff_members.erase),
    ("segment", staff_campaigns.segment_preview),
    ("campaigns", staff_campaigns.list_campaigns),
    ("campaign_pause", staff_campaigns.pause),
    ("campaign_resume", staff_campaigns.resume),
    ("campaign_cancel", staff_campaigns.cancel),
    ("member", staff_info.member_file),
    ("stats", staff_info.stats),
    ("export", staff_info.export),
    ("audit", staff_info.audit_log),
    ("nps", surveys.nps),
    ("ces", surveys.ces),
    ("csat", surveys.csat),
    ("import", staff_import.how_to),
)

STAFF_BUTTONS = (
    (callbacks.CONFIRM_PURCHASE, staff_points.decide_purchase),
    (callbacks.CANCEL_PURCHASE, staff_points.decide_purchase),
    (callbacks.IMPORT_APPLY, staff_import.apply),
    (callbacks.CONFIRM_DRAW, staff_rewards.decide_draw),
    (callbacks.CANCEL_DRAW, staff_rewards.decide_draw),
)


def register(app: Application, labels: Labels) -> None:
    """Every route of the bot; ``labels`` gives the menu buttons in every language."""
    app.add_handler(TypeHandler(Update, guard.guard), group=Group.GUARD)
    moved_on = filters.COMMAND | filters.Text(_menu_labels(labels))
    app.add_handler(
        MessageHandler(PRIVATE & moved_on, surveys.moved_on), group=Group.SURVEY_COMMENT
    )
    app.add_handler(
        MessageHandler(PRIVATE & filters.TEXT & ~moved_on, surveys.on_comment),
        group=Group.SURVEY_COMMENT,
    )
    app.add_handler(profile.city_handler(moved_on), group=Group.PROFILE_CITY)
    for handler in _main(labels):
        app.add_handler(handler, group=Group.MAIN)


def _main(labels: Labels) -> list[BaseHandler]:
    """Group MAIN in order: members first (they send most updates), staff, then the fallbacks."""
    handlers: list[BaseHandler] = [join.handler()]
    for commands, button, answer in MEMBER_COMMANDS:
        handlers.append(CommandHandler(commands, answer, filters=PRIVATE))
        if button:
            handlers.append(MessageHandler(PRIVATE & filters.Text(labels(button)), answer))
    handlers.append(MessageHandler(PRIVATE & filters.CONTACT, profile.contact))
    handlers += [kind.handler(answer) for kind, answer in MEMBER_BUTTONS]
    handlers += [reward_add.handler(), campaign_new.handler()]
    handlers += [CommandHandler(command, answer) for command, answer in STAFF_COMMANDS]
    handlers += [kind.handler(answer) for kind, answer in STAFF_BUTTONS]
    # Setting up: the staff group's chat id, told only while none is set, or in that group.
    handlers += [
        CommandHandler("chatid", chat_id.command, filters=filters.ChatType.GROUPS),
        ChatMemberHandler(chat_id.added, ChatMemberHandler.MY_CHAT_MEMBER),
    ]
    handlers.append(MessageHandler(IMPORT_DOCUMENT, staff_import.document))
    handlers += [
        *staff_help.routes(  # after every staff command
            staff_help.commands_of(handlers), [c for names, _, _ in MEMBER_COMMANDS for c in names]
        ),
        MessageHandler(PRIVATE & filters.COMMAND, member.unknown_command),
        MessageHandler(PRIVATE & ~filters.COMMAND, member.help_text),
        CallbackQueryHandler(guard.stale_button),
    ]
    return handlers


def _menu_labels(labels: Labels) -> list[str]:
    return [label for row in keyboards.MAIN_MENU_KEYS for key in row for label in labels(key)]
