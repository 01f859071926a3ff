"""``bashgah shell``: chat with the real bot in a terminal, offline, with no token.

The real Application runs against the in-process Bot API stand-in. You type as a member (``/as
member NAME`` opens another member's private chat; ``/as staff`` the staff group); the bot's
messages are printed with their buttons numbered, and the alerts and toasts of button presses
too. ``/advance 31d`` moves time on, with every sweep that falls due (:mod:`bot.shell_time`);
``--out DIR`` keeps every photo and document the bot sends. The same driver plays scripted
conversations (``--script FILE``) and serves the update-level tests, so what the tests check is
what a person sees here.
"""

from __future__ import annotations

import asyncio
import html
import itertools
import re
import time
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from telegram import Update
from telegram.ext import Application

from bot.context import group_replies_of
from bot.shell_time import advance, parse_span
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
    people: list[dict[str, Any]] = field(default_factory=list)  # members met by ``/as member``
    # Message ids are unique per chat in Telegram; a new shell session must not reuse old ones.
    _ids: Iterable[int] = field(default_factory=lambda: itertools.count(time.time_ns() // 10**6))

    @classmethod
    def for_member(cls, app: Application, standin: BotApiStandin) -> Driver:
        return cls(app, standin, Speaker(MEMBER, _private(MEMBER)))

    def as_member(self, user: dict[str, Any] | None = None) -> None:
        user = user or MEMBER
        self.speaker = Speaker(user, _private(user))

    def as_member_named(self, name: str) -> None:
        """The private chat of the member called ``name`` (a new person the first time)."""
        known = [MEMBER, *self.people]
        user = next((u for u in known if u["first_name"] == name), None)
        if user is None:
            user = {"id": MEMBER["id"] + 100 + len(self.people), "is_bot": False,
                    "first_name": name, "language_code": MEMBER["language_code"]}  # fmt: skip
            self.people.append(user)
        phone = f"+98912{user['id']:07d}" if user is not MEMBER else Speaker.phone
        self.speaker = Speaker(user, _private(user), phone)

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

    def shown(self, since: int) -> list[ApiCall]:
        """What a person sees of the calls since ``since``: messages, edits, and the alerts and
        toasts of button presses."""
        return [c for c in self.standin.calls[since:]
                if c in self.standin.sent(since) or _toast(c)]  # fmt: skip

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


def _toast(call: ApiCall) -> bool:
    return call.method == "answerCallbackQuery" and bool(call.params.get("text"))


def render(calls: Iterable[ApiCall], saved: dict[int, list[Path]] | None = None) -> str:
    """The bot's messages as a transcript: text, then buttons numbered from 1; ``saved``: the
    files kept of a call (by its ``id()``), printed after it."""
    lines = []
    for call in calls:
        if _toast(call):
            alert = str(call.params.get("show_alert")).lower() == "true"
            lines.append(f"bot ({'alert' if alert else 'toast'}): {plain(call.text)}")
        elif call.method == "editMessageReplyMarkup":
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
        lines.extend(f"  (saved {path})" for path in (saved or {}).get(id(call), []))
    return "\n".join(lines)


async def play(
    driver: Driver,
    lines: Iterable[str] | AsyncIterable[str],
    out: TextIO,
    staff_chat_id: int,
    files: Path | None = None,
) -> None:
    """Run a script (or typed input): one step a line, echoed, then what the bot answered; with
    ``files``, every photo and document the bot sends is saved there."""
    keep = _Keeper(files)
    async for raw in _lines(lines):
        line = raw.rstrip("\n")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        who = "staff" if driver.speaker.chat["id"] == staff_chat_id else "you"
        print(f"{who}> {line}", file=out)
        before = len(driver.standin.calls)
        try:
            if not await _step(driver, line.split(), line, staff_chat_id):
                continue
        except LookupError as exc:
            print(f"  ({exc})", file=out)
            continue
        calls = driver.shown(before)
        text = render(calls, keep.save(calls))
        if text:
            print(text, file=out)
        out.flush()


async def _step(driver: Driver, words: list[str], line: str, staff_chat_id: int) -> bool:
    """One line of the shell's own commands, or the text typed; False if nothing was sent."""
    if words[0] == "/as" and words[1:] == ["staff"]:
        driver.as_staff(staff_chat_id)
        return False
    if words[0] == "/as" and len(words) >= 2 and words[1] == "member":
        if len(words) > 2:
            driver.as_member_named(" ".join(words[2:]))
        else:
            driver.as_member()
        return False
    if words[0] == "/advance":
        span = parse_span(" ".join(words[1:]))
        if span is None:
            raise LookupError("say how long: /advance 31d, /advance 2h or /advance 30m")
        await advance(driver.app, span)
    elif words[0] == "/contact":
        await driver.share_contact(words[1] if len(words) > 1 else driver.speaker.phone)
    elif words[0] == "/press" and len(words) == 2 and words[1].isdigit():
        await driver.press(int(words[1]))
    else:
        await driver.send(line)
    return True


class _Keeper:
    """Saves the files of the bot's photos and documents under a folder, numbered in order."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self._count = itertools.count(1)
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)

    def save(self, calls: Iterable[ApiCall]) -> dict[int, list[Path]]:
        saved: dict[int, list[Path]] = {}
        if self.folder is None:
            return saved
        for call in calls:
            for part, content in call.files.items():
                name = Path(call.file_names.get(part, part)).name
                path = self.folder / f"{next(self._count):03d}-{name}"
                path.write_bytes(content)
                saved.setdefault(id(call), []).append(path)
        return saved


async def _lines(lines: Iterable[str] | AsyncIterable[str]) -> AsyncIterator[str]:
    if isinstance(lines, AsyncIterable):
        async for line in lines:
            yield line
    else:
        for line in lines:
            yield line


async def interactive_lines(prompt: str = "> ") -> AsyncIterator[str]:
    """Typed lines, read in a thread: while the shell waits for you, the bot's jobs run."""
    print(
        "bashgah shell: type as a member; /contact [phone], /press N, /as staff, "
        "/as member [NAME], /advance 31d|2h|30m; Ctrl-D quits"
    )
    while True:
        try:  # input() also reads piped input; EOFError at its end or on Ctrl-D
            yield await asyncio.to_thread(input, prompt)
        except EOFError:
            return
