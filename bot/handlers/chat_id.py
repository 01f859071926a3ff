"""Finding the staff group's chat id: ``/chatid`` in a group, or the bot being added to one,
answers with the id and the exact settings line that makes the group the staff group.

Only while the club has no staff group (setting it up), or in the staff group itself: in any other
group the bot says nothing, so a stranger who adds it to their group learns nothing about it.
The answer is in the club's language: whoever asks is setting up the club, not a member.
"""

from __future__ import annotations

from telegram import Update
from telegram.constants import ChatMemberStatus, ChatType

from bot.context import BotContext

GROUP_TYPES = (ChatType.GROUP, ChatType.SUPERGROUP)
PRESENT = (ChatMemberStatus.MEMBER, ChatMemberStatus.ADMINISTRATOR)


async def command(update: Update, context: BotContext) -> None:
    """``/chatid`` in a group."""
    await _tell(update, context)


async def added(update: Update, context: BotContext) -> None:
    """The bot's own membership changed: answer when it has just come into a group."""
    change = update.my_chat_member
    arrived = (
        change.new_chat_member.status in PRESENT and change.old_chat_member.status not in PRESENT
    )
    if arrived and change.chat.type in GROUP_TYPES:
        await _tell(update, context)


async def _tell(update: Update, context: BotContext) -> None:
    chat = update.effective_chat
    staff_chat = context.bot_data["settings"].staff_chat_id
    if staff_chat is not None and chat.id != staff_chat:
        return
    key = "setup/chat_id" if staff_chat is None else "setup/staff_chat_id"
    await context.answer(chat, context.t(context.t.default_locale, key, number=chat.id))
