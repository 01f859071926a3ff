"""The handler's context: the club, the actor's language, and replies rendered in it.

python-telegram-bot has no middleware; a ``CallbackContext`` subclass (PTB's ``ContextTypes``)
gives every handler the same things: ``context.club`` to pass to the one core action it calls
(the action opens its own transaction: a handler never holds a database session), the member's
locale, and ``context.say()`` to answer with a rendered template.
"""

from __future__ import annotations

from typing import Any

from telegram import Chat, InputFile, Update
from telegram._utils.types import ReplyMarkup
from telegram.constants import ChatType
from telegram.ext import Application, CallbackContext, ExtBot

from bot.group_replies import Answer, GroupReplies
from core import segments
from core.club import Club
from texts import Translator

CLUB_KEY = "club"
TRANSLATOR_KEY = "translator"
LOCALE_KEY = "locale"
GROUP_REPLIES_KEY = "group_replies"


class BotContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    @property
    def club(self) -> Club:
        return self.bot_data[CLUB_KEY]

    @property
    def t(self) -> Translator:
        return self.bot_data[TRANSLATOR_KEY]

    def locale(self, update: Update | None) -> str:
        """The member's chosen language if known, else Telegram's, else the club default."""
        user_data = self.user_data
        if user_data and user_data.get(LOCALE_KEY):
            return str(user_data[LOCALE_KEY])
        user = update.effective_user if update else None
        return self.t.locale_for(user.language_code if user else None)

    def remember_locale(self, locale: str) -> None:
        if self.user_data is not None:
            self.user_data[LOCALE_KEY] = locale

    def text(self, update: Update | None, key: str, /, **values: Any) -> str:
        return self.t(self.locale(update), key, **values)

    def segment_words(self, update: Update | None) -> segments.Vocabulary:
        """The words a segment rule may be written in besides the language's own (the locales'
        field, keyword and tier names), shown in the actor's language."""
        return self.t.segment_words(self.locale(update), self.club.rules.tier_keys)

    async def say(
        self,
        update: Update,
        key: str,
        reply_markup: ReplyMarkup | None = None,
        /,
        **values: Any,
    ) -> None:
        """Answer in the chat the update came from."""
        chat = update.effective_chat
        assert chat is not None
        await self.answer(chat, self.text(update, key, **values), reply_markup)

    async def answer(
        self,
        chat: Chat,
        text: str,
        reply_markup: ReplyMarkup | None = None,
        *,
        photo: InputFile | None = None,
        document: InputFile | None = None,
    ) -> None:
        """Send ``text`` (or a photo or document captioned ``text``) to ``chat``: at once in a
        private chat, through the chat's queue in a group (:mod:`bot.group_replies`),
        so the handler never waits for Telegram's group limit."""
        answer = Answer(text, reply_markup, photo=photo, document=document)
        if chat.type == ChatType.PRIVATE:
            await answer.send(self.bot, chat.id)
        else:
            group_replies_of(self.application).post(chat.id, answer)


def group_replies_of(application: Application[Any, Any, Any, Any, Any, Any]) -> GroupReplies:
    return application.bot_data[GROUP_REPLIES_KEY]


def club_of(application: Application[Any, Any, Any, Any, Any, Any]) -> Club:
    return application.bot_data[CLUB_KEY]
