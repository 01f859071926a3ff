"""PTB persistence over our own database: half-finished conversations and drafts survive a restart.

python-telegram-bot keeps conversation states and ``user_data`` (the join, reward and campaign
drafts) in memory and hands them to a :class:`~telegram.ext.BasePersistence` only on an interval
and at shutdown, so a ``kill -9`` would lose every step answered since the last flush.
:class:`PromptApplication` therefore flushes right after each update, before
:mod:`bot.updates` confirms it to Telegram: an answered step is on disk before it counts as done.

Members send most updates and most change nothing, yet PTB offers every user it saw for writing.
:class:`DatabasePersistence` remembers the JSON it last stored per user and per conversation and
skips the database when nothing changed, so a plain ``/points`` costs no extra round trip.
"""

from __future__ import annotations

import json
import logging
from datetime import date, datetime
from typing import Any

from telegram.ext import Application, BasePersistence, PersistenceInput

from core import conversation_state
from core.club import Club
from core.conversation_state import ConversationKey, Sessions

log = logging.getLogger(__name__)

# Only conversation timeouts (a job, not an update) wait for this; every update flushes at once.
FLUSH_SECONDS = 5.0
_DATETIME, _DATE = "__datetime__", "__date__"

UserData = dict[Any, Any]
ConversationDict = dict[ConversationKey, object]
CDCData = tuple[list[tuple[str, float, dict[str, Any]]], dict[str, str]]  # PTB's, not stored


class PromptApplication(Application):  # type: ignore[type-arg]
    """An Application that writes its persistence after every update, not once a minute."""

    async def process_update(self, update: object) -> None:
        await super().process_update(update)
        if self.persistence is not None:
            await self.update_persistence()


class DatabasePersistence(BasePersistence[UserData, dict[Any, Any], dict[Any, Any]]):
    """Conversation states and ``user_data`` in ``conversation_states``, via :mod:`core`.

    The database is the club's; :meth:`use` hands over the open club before the application is
    initialized (that is when PTB loads what was stored).
    """

    def __init__(self) -> None:
        super().__init__(
            store_data=PersistenceInput(
                bot_data=False, chat_data=False, user_data=True, callback_data=False
            ),
            update_interval=FLUSH_SECONDS,
        )
        self._club: Club | None = None
        self._stored_users: dict[int, str] = {}
        self._stored_states: dict[tuple[str, ConversationKey], str] = {}

    def use(self, club: Club) -> None:
        self._club = club

    @property
    def _sessions(self) -> Sessions:
        if self._club is None:
            raise RuntimeError("DatabasePersistence.use() was not called before initialize()")
        return self._club.sessions

    async def get_user_data(self) -> dict[int, UserData]:
        stored = await conversation_state.user_data(self._sessions)
        self._stored_users = {user_id: _encode(data) for user_id, data in stored.items()}
        return {user_id: _decode(text) for user_id, text in self._stored_users.items()}

    async def update_user_data(self, user_id: int, data: UserData) -> None:
        try:
            text = _encode(data) if data else ""
        except TypeError:
            log.error("user_data of %s is not JSON; kept in memory only", user_id, exc_info=True)
            return
        if self._stored_users.get(user_id, "") == text:
            return  # the common case: the update changed no draft
        await conversation_state.set_user_data(
            self._sessions, user_id, json.loads(text) if text else None
        )
        if text:
            self._stored_users[user_id] = text
        else:
            self._stored_users.pop(user_id, None)

    async def drop_user_data(self, user_id: int) -> None:
        await self.update_user_data(user_id, {})

    async def refresh_user_data(self, user_id: int, user_data: UserData) -> None:
        """Nothing to do: this process is the only writer, so memory is already current."""

    async def get_conversations(self, name: str) -> ConversationDict:
        stored = await conversation_state.conversations(self._sessions, name)
        for key, state in stored.items():
            self._stored_states[(name, key)] = json.dumps(state)
        return stored

    async def update_conversation(
        self, name: str, key: ConversationKey, new_state: object | None
    ) -> None:
        text = json.dumps(new_state)
        if self._stored_states.get((name, key), "null") == text:
            return
        await conversation_state.set_conversation(self._sessions, name, key, new_state)
        if new_state is None:
            self._stored_states.pop((name, key), None)
        else:
            self._stored_states[(name, key)] = text

    async def flush(self) -> None:
        """Nothing is buffered: every change was written when PTB handed it over."""

    # Bot data, chat data and callback data are not stored (see ``store_data``); PTB never calls
    # these with anything to keep, but the base class requires them.
    async def get_chat_data(self) -> dict[int, dict[Any, Any]]:
        return {}

    async def get_bot_data(self) -> dict[Any, Any]:
        return {}

    async def get_callback_data(self) -> CDCData | None:
        return None

    async def update_chat_data(self, chat_id: int, data: dict[Any, Any]) -> None:
        """Chat data is not stored."""

    async def update_bot_data(self, data: dict[Any, Any]) -> None:
        """Bot data is not stored."""

    async def update_callback_data(self, data: CDCData) -> None:
        """Callback data is not stored."""

    async def drop_chat_data(self, chat_id: int) -> None:
        """Chat data is not stored."""

    async def refresh_chat_data(self, chat_id: int, chat_data: dict[Any, Any]) -> None:
        """Chat data is not stored."""

    async def refresh_bot_data(self, bot_data: dict[Any, Any]) -> None:
        """Bot data is not stored."""


def _encode(data: UserData) -> str:
    """Canonical JSON of a user's drafts; datetimes (a campaign's ``run_at``) are tagged."""
    return json.dumps(data, sort_keys=True, default=_tag, ensure_ascii=False)


def _decode(text: str) -> UserData:
    decoded: UserData = json.loads(text, object_hook=_untag)
    return decoded


def _tag(value: object) -> dict[str, str]:
    if isinstance(value, datetime):
        return {_DATETIME: value.isoformat()}
    if isinstance(value, date):
        return {_DATE: value.isoformat()}
    raise TypeError(f"{type(value).__name__} is not JSON")


def _untag(obj: dict[str, Any]) -> object:
    if obj.keys() == {_DATETIME}:
        return datetime.fromisoformat(obj[_DATETIME])
    if obj.keys() == {_DATE}:
        return date.fromisoformat(obj[_DATE])
    return obj
