"""Answers in group chats (the staff group), sent beside the handler and merged when held back.

Telegram lets a bot send about 20 messages a minute to one group; PTB's ``AIORateLimiter`` keeps
that by waiting inside the call. Awaited in a handler, that wait held the update (and, updates of a
chat being handled in order, every later command of the staff group) for three seconds per answer
after the twentieth. Here a handler posts its answer and goes on: one writer per chat sends the
answers in order, and those that piled up while it waited go out together in one message (up to
Telegram's 4,096 characters), so a rush of forty purchases is confirmed in a few messages, not over
two minutes. An answer with buttons, a photo or a document is always sent on its own.

With ``paced`` (a bot that talks to Telegram, not a stand-in), the writer keeps under the limit
itself rather than leaving it to the rate limiter, whose bucket lets a 21st message through three
seconds after a burst of twenty: the first :data:`BURST` messages of a minute go at once, then one
every :data:`PACE_SECONDS`, each carrying every answer that piled up meanwhile. No minute ever sees
more than :data:`GROUP_MESSAGES_PER_MINUTE`, and a rush is answered within seconds either way.

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

from core import telegram_html

log = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = telegram_html.MESSAGE_LIMIT
SEPARATOR = "\n\n"
GROUP_MESSAGES_PER_MINUTE = 20  # Telegram's limit for one group chat
BURST = GROUP_MESSAGES_PER_MINUTE // 2  # sent at once in a quiet minute
PACE_SECONDS = 60 / (GROUP_MESSAGES_PER_MINUTE - BURST)  # then one message this often


@dataclass(frozen=True)
class Answer:
    """A message: ``text``, or a photo or document with ``text`` as its caption.

    Sent whole, whatever its length: a text over Telegram's limit goes out in parts cut at line
    ends (:func:`core.telegram_html.split`), a caption over a caption's limit is continued in
    messages after the photo or document, and the buttons go with the last part, under the end of
    what they are about. A document given as an open file (:mod:`bot.uploads`) is closed once
    sent.
    """

    text: str
    reply_markup: ReplyMarkup | None = None
    photo: InputFile | None = None
    document: InputFile | None = None

    @property
    def plain(self) -> bool:
        """Text alone: it may share a message with other plain answers."""
        return self.reply_markup is None and self.photo is None and self.document is None

    async def send(self, bot: Bot, chat_id: int) -> None:
        if self.photo is None and self.document is None:
            following = telegram_html.split(self.text)
        else:
            caption, *following = telegram_html.split(
                self.text, telegram_html.CAPTION_LIMIT, telegram_html.MESSAGE_LIMIT
            )
            markup = None if following else self.reply_markup
            if self.photo is not None:
                await bot.send_photo(chat_id, self.photo, caption=caption, reply_markup=markup)
            else:
                try:
                    await bot.send_document(
                        chat_id, self.document, caption=caption, reply_markup=markup
                    )
                finally:
                    _close(self.document)
        for number, part in enumerate(following, 1):
            markup = self.reply_markup if number == len(following) else None
            await bot.send_message(chat_id, part, reply_markup=markup)


class GroupReplies:
    """One ordered, merging queue of answers per group chat."""

    def __init__(self, bot: Bot, *, paced: bool = False) -> None:
        self.bot = bot
        self.paced = paced
        self._queues: dict[int, deque[Answer]] = {}
        self._writers: dict[int, asyncio.Task[None]] = {}
        self._sent: dict[int, deque[float]] = {}  # when each chat's latest messages went out

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
        sent = self._sent.setdefault(chat_id, deque(maxlen=GROUP_MESSAGES_PER_MINUTE))
        clock = asyncio.get_running_loop().time
        try:
            while queue:
                if self.paced:
                    await asyncio.sleep(pause_before_next(sent, clock()))
                answer = next_message(queue)  # after the pause: with what piled up during it
                try:
                    await answer.send(self.bot, chat_id)
                except TelegramError as exc:
                    log.warning("an answer to chat %s was not sent: %s", chat_id, exc)
                sent.append(clock())
        finally:
            del self._writers[chat_id]
            del self._queues[chat_id]


def _close(document: InputFile) -> None:
    content = document.input_file_content
    if not isinstance(content, bytes):
        content.close()


def pause_before_next(sent: deque[float], now: float) -> float:
    """Seconds to wait before the next message to a chat whose last messages went out at
    ``sent``: none while fewer than :data:`BURST` went out in the last minute, else until
    :data:`PACE_SECONDS` after the latest."""
    recent = [at for at in sent if now - at < 60]
    if len(recent) < BURST:
        return 0.0
    return max(0.0, recent[-1] + PACE_SECONDS - now)


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
