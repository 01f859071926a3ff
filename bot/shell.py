"""``bashgah shell``: chat with the real bot in a terminal, offline, with no token.

The real Application runs against the in-process Bot API stand-in. You type as a member (or, after
``/as staff``, as a staff member in the staff group); the bot's messages are printed with their
buttons numbered. The same driver plays scripted conversations (``--script FILE``) and serves the
update-level tests, so what the tests check is what a person sees here.
"""

from __future__ import annotations

import html
import itertools
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, TextIO

from telegram import Update
from telegram.ext import Application

from bot.context import group_replies_of
from bot.standin import ApiCall, BotApiStandin

MEMBER = {"id": 1001, "is_bot": False, "first_name": "Sara", "last_name": "Ahmadi",
          "username": "sara_a", "language_code": "fa"}  # fmt: skip
STAFF = {"id": 2002, "is_bot": False, "first_name": "Reza", "username": "reza_staff",
         "language_code": "fa"}  # fmt: skip
DEFAULT_STAFF_CHAT = -1001234567890


@dataclass
class Speaker:
    user: dict[str, Any]
    chat: dict[str, Any]
    phone: str = "+989121234567"  # what the contact button shares


@dataclass
class Driver:
    """Makes Telegram updates the way a client would and feeds them to the Application."""

    app: Application
    standin: BotApiStandin
    speaker: Speaker
    # Message ids are unique per chat in Telegram; a new shell session must not reuse old ones.
    _ids: Iterable[int] = field(default_factory=lambda: itertools.count(time.time_ns() // 10**6))

    @classmethod
    def for_member(cls, app: Application, standin: BotApiStandin) -> Driver:
        return cls(app, standin, Speaker(MEMBER, _private(MEMBER)))

    def as_member(self, user: dict[str, Any] | None = None) -> None:
        user = user or MEMBER
        self.speaker = Speaker(user, _private(user))

    def as_staff(self, chat_id: int, user: dict[str, Any] | None = None) -> None:
        self.speaker = Speaker(
            user or STAFF, {"id": chat_id, "type": "supergroup", "title": "Staff"}
        )

    async def send(self, text: str) -> list[ApiCall]:
        before = len(self.standin.calls)
        await process(self.app, self.text_update(text))
        return self.standin.sent(before)

    def text_update(self, text: str) -> Update:
        """The update of the current speaker typing ``text`` (a command if it starts with /)."""
        message = self._message(text=text)
        if text.startswith("/"):
            command = text.split()[0]
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        return self._update({"message": message})

    async def share_contact(self, phone: str, owner_id: int | None = None) -> list[ApiCall]:
        user = self.speaker.user
        contact = {"phone_number": phone, "first_name": user["first_name"],
                   "user_id": user["id"] if owner_id is None else owner_id}  # fmt: skip
        return await self._feed({"message": self._message(contact=contact)})

    async def press(
        self, button: int | str, message: dict[str, Any] | None = None
    ) -> list[ApiCall]:
        """Press button ``n`` (1-based) or the one labelled ``button`` of the last bot message."""
        message = message or self.last_bot_message()
        buttons = _buttons(message.get("reply_markup") or {}) if message else []
        if message is None or not buttons:
            buttons = self.last_reply_keyboard()
            if not buttons:
                raise LookupError("no buttons to press")
        chosen = _pick(buttons, button)
        if "callback_data" not in chosen:
            if chosen.get("request_contact"):
                return await self.share_contact(self.speaker.phone)
            return await self.send(chosen["text"])
        query = {"id": str(next(self._ids)), "from": self.speaker.user, "chat_instance": "shell",
                 "data": chosen["callback_data"], "message": message}  # fmt: skip
        return await self._feed({"callback_query": query})

    async def send_document(
        self, content: bytes, caption: str, *, name: str = "customers.csv", size: int | None = None
    ) -> list[ApiCall]:
        """Send a document captioned ``caption``; the stand-in serves ``content`` for its file id.
        ``size`` is the size the update claims (Telegram's ``file_size``), ``len(content)`` if
        not given."""
        file_id = f"file{next(self._ids)}"
        self.standin.files[file_id] = content
        document = {"file_id": file_id, "file_unique_id": f"u{file_id}", "file_name": name,
                    "file_size": len(content) if size is None else size}  # fmt: skip
        return await self._feed({"message": self._message(document=document, caption=caption)})

    def last_bot_message(self) -> dict[str, Any] | None:
        """The newest message the bot sent to the current chat, as it stands now."""
        chat_id = self.speaker.chat["id"]
        for message_id in sorted(self.standin.messages, reverse=True):
            if self.standin.messages[message_id]["chat"]["id"] == chat_id:
                return self.standin.messages[message_id]
        return None

    def last_reply_keyboard(self) -> list[dict[str, Any]]:
        for call in reversed(self.standin.calls):
            if call.method == "sendMessage" and call.markup:
                return call.buttons if "keyboard" in call.markup else []
        return []

    async def _feed(self, payload: dict[str, Any]) -> list[ApiCall]:
        before = len(self.standin.calls)
        await process(self.app, self._update(payload))
        return self.standin.sent(before)

    def _update(self, payload: dict[str, Any]) -> Update:
        return Update.de_json({"update_id": next(self._ids), **payload}, self.app.bot)

    def _message(self, **content: Any) -> dict[str, Any]:
        return {"message_id": next(self._ids), "date": int(time.time()), "chat": self.speaker.chat,
                "from": self.speaker.user, **content}  # fmt: skip


async def process(app: Application, update: Update) -> None:
    """Handle one update and send its answers, group answers included (those go out beside the
    handler in a real run): what the shell and the tests wait for before looking."""
    await app.process_update(update)
    await group_replies_of(app).drain()


def _private(user: dict[str, Any]) -> dict[str, Any]:
    return {"id": user["id"], "type": "private", "first_name": user["first_name"]}


def _buttons(markup: dict[str, Any]) -> list[dict[str, Any]]:
    rows = markup.get("inline_keyboard") or markup.get("keyboard") or []
    return [{"text": b} if isinstance(b, str) else b for row in rows for b in row]


def _pick(buttons: list[dict[str, Any]], button: int | str) -> dict[str, Any]:
    if isinstance(button, int):
        if not 1 <= button <= len(buttons):
            raise LookupError(f"there is no button {button}")
        return buttons[button - 1]
    for candidate in buttons:
        if candidate["text"] == button:
            return candidate
    raise LookupError(f"no button labelled {button!r}")


def plain(text: str) -> str:
    """What a person reads: HTML tags removed, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", text))


def render(calls: Iterable[ApiCall]) -> str:
    """The bot's messages as a transcript: text, then buttons numbered from 1."""
    lines = []
    for call in calls:
        if call.method == "editMessageReplyMarkup":
            lines.append("bot (buttons changed):")
        elif call.method == "sendPhoto":
            name = next(iter(call.files), "photo")
            lines.append(f"bot [photo {name}]: {plain(call.text)}")
        elif call.method == "sendDocument":
            lines.append(f"bot [document]: {plain(call.text)}")
        else:
            edited = " (edited)" if call.method.startswith("edit") else ""
            lines.append(f"bot{edited}: {plain(call.text)}")
        for number, button in enumerate(call.buttons, 1):
            lines.append(f"  [{number}] {button['text']}")
    return "\n".join(lines)


async def play(driver: Driver, lines: Iterable[str], out: TextIO, staff_chat_id: int) -> None:
    """Run a script (or typed input): one step a line, echoed, then what the bot answered."""
    for raw in lines:
        line = raw.rstrip("\n")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        who = "staff" if driver.speaker.chat["id"] == staff_chat_id else "you"
        print(f"{who}> {line}", file=out)
        words = line.split()
        try:
            if words[0] == "/as" and len(words) == 2 and words[1] in ("staff", "member"):
                if words[1] == "staff":
                    driver.as_staff(staff_chat_id)
                else:
                    driver.as_member()
                continue
            if words[0] == "/contact":
                calls = await driver.share_contact(words[1] if len(words) > 1 else "+989121234567")
            elif words[0] == "/press" and len(words) == 2 and words[1].isdigit():
                calls = await driver.press(int(words[1]))
            else:
                calls = await driver.send(line)
        except LookupError as exc:
            print(f"  ({exc})", file=out)
            continue
        text = render(calls)
        if text:
            print(text, file=out)
        out.flush()


def interactive_lines(prompt: str = "> ") -> Iterable[str]:
    print(
        "bashgah shell: type as a member; /contact [phone], /press N, /as staff|member; "
        "Ctrl-D quits"
    )
    while True:
        try:
            yield input(prompt)  # also reads piped input; EOFError at its end or on Ctrl-D
        except EOFError:
            return
