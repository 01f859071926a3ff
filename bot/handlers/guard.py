"""The first handler every update meets: drop what Telegram would never send, before any work.

Forged or broken updates (a message with no chat, a private message or button with no sender, ids
beyond Telegram's range, a button with no data, a private chat that is not the sender's own, a
change of the bot's membership without its chat or statuses) and edits of old messages
(re-running an edited ``/purchase`` would record it twice) stop here with a logged warning, so no
handler has to defend against them and nothing changes.
"""

from __future__ import annotations

import logging

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import ApplicationHandlerStop

from bot.context import BotContext

log = logging.getLogger(__name__)
MAX_ID = 2**52  # Telegram's ids fit in 52 bits


def problem(update: Update) -> str | None:
    """Why this update must not be handled, or None."""
    if update.edited_message is not None or update.edited_channel_post is not None:
        return "an edit of an earlier message"
    user, chat = update.effective_user, update.effective_chat
    for found in (user, chat):
        if found is not None and not -MAX_ID < found.id < MAX_ID:
            return "an id outside Telegram's range"
    change = update.my_chat_member
    if change is not None and None in (change.chat, change.old_chat_member, change.new_chat_member):
        return "a membership change without its chat or statuses"
    query = update.callback_query
    if query is not None:
        if user is None:
            return "a button press without a sender"
        if query.data is None:
            return "a button press without data"
        if query.message is not None and query.message.chat is None:
            return "a button under a message without a chat"
        return None
    message = update.effective_message  # a message, business message, channel post...
    if message is not None:
        if message.chat is None:
            return "a message without a chat"
        if message.chat.type == ChatType.PRIVATE and (user is None or user.id != message.chat.id):
            return "a private message not from the chat's own user"
    return None


async def guard(update: object, context: BotContext) -> None:
    if not isinstance(update, Update):
        return
    reason = problem(update)
    if reason is not None:
        log.warning("dropped update %s: %s", update.update_id, reason)
        raise ApplicationHandlerStop


async def stale_button(update: Update, context: BotContext) -> None:
    """Last resort for a button no handler knows (an old version's, or forged)."""
    log.warning("button with unknown data %r", (update.callback_query.data or "")[:64])
    await update.callback_query.answer(context.text(update, "stale_button"))
