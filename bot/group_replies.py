"""Answers in group chats (the staff group), sent beside the handler and merged when held back.

Telegram lets a bot send about 20 messages a minute to one group; PTB's ``AIORateLimiter`` keeps
that by waiting inside the call. Awaited in a handler, that wait held the update (and, updates of a
chat being handled in order, every later command of the staff group) for three seconds per answer
after the twentieth. Here a handler posts its answer and goes on: one writer per chat sends the
answers in order, and those that piled up while it waited go out together in one message (up to
Telegram's 4,096 characters), so a rush of forty purchases is confirmed in a few messages, not over
two minutes. An answer with buttons, a photo or a document is always sent on its own.

Answers live in memory until sent: the work they confirm is already committed, and a bot killed
before sending one loses only the confirmation (``/member`` shows the purchase).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from dataclasses import dataclass

from telegram import Bot, InputFile
from telegram._utils.types import ReplyMarkup
from telegram.error import TelegramError

log = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 4096
SEPARATOR = "\n\n"


@dataclass(frozen=True)
class Answer:
    """A message: ``text``, or a photo or document with ``text`` as its caption."""

    text: str
    reply_markup: ReplyMarkup | None = None
    photo: InputFile | None = None
    document: InputFile | None = None

    @property
    def plain(self) -> bool:
        """Text alone: it may share a message with other plain answers."""
        return self.reply_markup is None and self.photo is None and self.document is None

    async def send(self, bot: Bot, chat_id: int) -> None:
        markup = self.reply_markup
        if self.photo is not None:
            await bot.send_photo(chat_id, self.photo, caption=self.text, reply_markup=markup)
        elif self.document is not None:
            await bot.send_document(chat_id, self.document, caption=self.text, reply_markup=markup)
        else:
            await bot.send_message(chat_id, self.text, reply_markup=markup)


class GroupReplies:
    """One ordered, merging queue of answers per group chat."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot
        self._queues: dict[int, deque[Answer]] = {}
        self._writers: dict[int, asyncio.Task[None]] = {}

    def post(self, chat_id: int, answer: Answer) -> None:
        """Queue an answer to ``chat_id``; it is sent after the ones posted before it."""
        self._queues.setdefault(chat_id, deque()).append(answer)
        if chat_id not in self._writers:
            self._writers[chat_id] = asyncio.create_task(
                self._write(chat_id), name=f"answers to {chat_id}"
            )

    async def drain(self) -> None:
        """Return once every answer posted so far has been sent (or failed)."""
        while self._writers:
            await asyncio.wait(list(self._writers.values()))

    async def close(self, seconds: float) -> None:
        """At shutdown: send what is queued for at most ``seconds`` (Telegram may be down), then
        give up on the rest."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.drain(), seconds)
        for writer in list(self._writers.values()):
            writer.cancel()
        if self._writers:
            await asyncio.wait(list(self._writers.values()))

    async def _write(self, chat_id: int) -> None:
        queue = self._queues[chat_id]
        try:
            while queue:
                answer = next_message(queue)
                try:
                    await answer.send(self.bot, chat_id)
                except TelegramError as exc:
                    log.warning("an answer to chat %s was not sent: %s", chat_id, exc)
        finally:
            del self._writers[chat_id]
            del self._queues[chat_id]


def next_message(queue: deque[Answer]) -> Answer:
    """Take the next message off ``queue``: the first answer, and the plain answers after it that
    still fit in one message with it."""
    first = queue.popleft()
    if not first.plain:
        return first
    parts = [first.text]
    size = len(first.text)
    while queue and queue[0].plain:
        following = queue[0].text
        if size + len(SEPARATOR) + len(following) > MAX_MESSAGE_CHARS:
            break
        parts.append(queue.popleft().text)
        size += len(SEPARATOR) + len(following)
    return Answer(SEPARATOR.join(parts))
