"""A loopback fake of the Telegram Bot API that enforces the flood limits: for the broadcast
benchmark and end-to-end tests of the outbox sender.

Standard library only (asyncio streams, HTTP/1.1 with keep-alive). It answers enough of the Bot
API for a ``telegram.Bot`` pointed at ``base_url`` (``http://127.0.0.1:<port>/bot``): ``getMe``,
``sendMessage`` (and the other ``send*``/``edit*`` methods, ``sendPhoto``/``sendDocument`` as
multipart), ``getUpdates``, ``getChatMember``, ``setMyCommands``/``getMyCommands``,
``setWebhook``/``deleteWebhook``/``getWebhookInfo``, ``answerCallbackQuery``, and ``true`` for the
other ``set*``/``delete*``/``answer*``.

For end-to-end tests of a whole bot process it is also the other side of the chat:

- :meth:`push_update` queues an update (``update_id`` assigned if missing); ``getUpdates``
  long-polls for them (up to ``updates_wait``) and keeps each one until a later call confirms it
  with ``offset`` > its ``update_id``, as Telegram does (a bot that dies before confirming gets it
  again); while a webhook is set, ``getUpdates`` is a ``409 Conflict``, and
  :meth:`post_to_webhook` delivers like Telegram would;
- :attr:`messages` records every message the bot sent or edited (:class:`SentMessage`: method, chat,
  text or caption, reply markup, files), :meth:`message` is a message as it stands now (to press
  its buttons), :attr:`callback_answers` the ``answerCallbackQuery`` calls;
- :attr:`chat_members` sets what ``getChatMember`` says (``"left"`` by default);
- :attr:`send_delay` answers every ``sendMessage`` that much later (the message counts as delivered
  at once: a bot killed meanwhile has a message in flight); :attr:`fault_methods` says which
  methods :meth:`fail_for`/:meth:`fail_next` break (``{"sendMessage"}``; ``{"*"}``: all of them).

What it enforces on ``sendMessage``, the way Telegram answers:

- more than ``overall_limit`` (30) accepted messages in any ``window`` (1 s), or a second message
  to one chat less than ``per_chat_interval`` (1 s) after the last: ``429`` with
  ``{"ok": false, "error_code": 429, "description": "Too Many Requests: retry after N",
  "parameters": {"retry_after": N}}`` (N whole seconds, at least 1);
- chats in ``forbidden_chats``: ``403`` (blocked by the user); in ``bad_chats``: ``400``;
- :meth:`fail_for` / :meth:`fail_next`: ``500``s, or requests that are never answered (``timeout``),
  or messages delivered whose answer is lost (``lost_answer``), for a while or a number of times.

It counts everything (:attr:`sent`, :attr:`too_many`, …) and records each delivered message, so a
test can tell doubles (:attr:`received` per chat).

    async with FakeBotApi() as api:              # in this event loop
        bot = Bot("123:abc", base_url=api.base_url)

    with FakeBotApiProcess() as api:             # its own process, as Telegram would be
        bot = Bot("123:abc", base_url=api.base_url)
        api.control(forbidden_chats=[42], fail_for={"seconds": 5, "kind": "500"})
        api.stats()                              # {"sent": ..., "too_many": ..., ...}

    python bench/fake_bot_api.py --limit 30      # prints "port=<n>", serves until stopped

A separate process is what the benchmark uses: in a thread of the same process the interpreter's
lock delays requests by tens of milliseconds now and then, which a 1-second window notices.
``/_fake/stats``, ``/_fake/control``, ``/_fake/updates`` (push) and ``/_fake/messages`` are how
another process reads and steers it. From another thread of the same process, use
:meth:`FakeBotApi.threadsafe` (with :meth:`FakeBotApi.in_thread`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import math
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qsl, urlsplit

BOT_USER = {
    "id": 7_000_000_001,
    "is_bot": True,
    "first_name": "Bashgah",
    "username": "bashgah_fake_bot",
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}
REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    429: "Too Many Requests",
    500: "Internal Server Error",
}
FAULTS = ("500", "timeout", "lost_answer")
REGISTERED = object()  # post_to_webhook: the secret token given to setWebhook
# What getChatMember needs besides status and user, per status, for a strict client to parse it.
_ADMIN_RIGHTS = {
    "can_be_edited": False, "is_anonymous": False, "can_manage_chat": True,
    "can_delete_messages": True, "can_manage_video_chats": True, "can_restrict_members": True,
    "can_promote_members": False, "can_change_info": True, "can_invite_users": True,
    "can_post_stories": False, "can_edit_stories": False, "can_delete_stories": False,
}  # fmt: skip
_RESTRICTED = {
    "is_member": True, "until_date": 0, "can_send_messages": True, "can_send_audios": True,
    "can_send_documents": True, "can_send_photos": True, "can_send_videos": True,
    "can_send_video_notes": True, "can_send_voice_notes": True, "can_send_polls": True,
    "can_send_other_messages": True, "can_add_web_page_previews": True, "can_change_info": False,
    "can_invite_users": True, "can_pin_messages": False, "can_manage_topics": False,
}  # fmt: skip
_MEMBER_EXTRA: dict[str, dict[str, Any]] = {
    "creator": {"is_anonymous": False},
    "administrator": _ADMIN_RIGHTS,
    "restricted": _RESTRICTED,
    "kicked": {"until_date": 0},
}


@dataclass(frozen=True)
class Delivered:
    at: float  # the server's monotonic clock
    chat_id: int
    text: str
    message_id: int


@dataclass(frozen=True)
class SentMessage:
    """One message the bot sent (``send*``) or edited (``edit*``), as the fake received it."""

    at: float  # the server's monotonic clock
    method: str
    chat_id: int
    message_id: int
    text: str  # the text, or the caption of a photo or document
    reply_markup: dict[str, Any] | None
    files: tuple[str, ...] = ()  # the names of the uploaded parts
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def buttons(self) -> list[dict[str, Any]]:
        """Every button, inline or reply keyboard, row after row."""
        markup = self.reply_markup or {}
        rows = markup.get("inline_keyboard") or markup.get("keyboard") or []
        return [{"text": b} if isinstance(b, str) else b for row in rows for b in row]

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["files"] = list(self.files)
        return data


class FakeBotApi:
    def __init__(
        self,
        *,
        token: str | None = None,
        overall_limit: int = 30,
        window: float = 1.0,
        per_chat_interval: float = 1.0,
        updates_wait: float = 0.2,
        hang_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.token = token  # None: any token is accepted
        self.overall_limit = overall_limit
        self.window = window
        self.per_chat_interval = per_chat_interval
        self.updates_wait = updates_wait
        self.hang_seconds = hang_seconds
        self.clock = clock
        self.forbidden_chats: set[int] = set()
        self.bad_chats: set[int] = set()
        # counters
        self.requests = 0
        self.sent = 0
        self.too_many = 0
        self.forbidden = 0
        self.bad_request = 0
        self.server_errors = 0
        self.timeouts = 0
        self.lost_answers = 0
        self.received: Counter[int] = Counter()
        self.delivered: list[Delivered] = []
        self.floods: list[tuple[float, int, str]] = []  # each 429: when, chat, which limit
        self._accepted: deque[float] = deque()
        self._last_by_chat: dict[int, float] = {}
        self._fault: str | None = None
        self._fault_until = -math.inf
        self._fault_left = 0
        self._next_message_id = 1
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.port = 0
        # the other side of the chat, for end-to-end tests
        self.fault_methods: set[str] = {"sendMessage"}
        self.send_delay = 0.0
        self.in_flight = 0  # sendMessage requests delivered and not answered yet
        self.updates: list[dict[str, Any]] = []  # not confirmed yet, by update_id
        self.confirmed_offset = 0  # the highest offset a getUpdates call confirmed
        self.update_polls = 0  # getUpdates calls answered
        self.polls: list[tuple[float, int]] = []  # each getUpdates call: when, its offset
        self._current_poll: asyncio.Event | None = None  # set: a newer getUpdates took over
        self.handed_out: Counter[int] = Counter()  # update_id: how often getUpdates returned it
        self._next_update_id = 1
        self._update_pushed: asyncio.Event | None = None
        self.chat_members: dict[tuple[int, int], str] = {}
        self.messages: list[SentMessage] = []
        self.callback_answers: list[dict[str, Any]] = []
        self.commands: dict[str, list[dict[str, Any]]] = {}  # by scope and language, as JSON
        self.webhook: dict[str, Any] | None = None  # the setWebhook parameters while set
        self.methods: Counter[str] = Counter()  # Bot API calls by method
        # every request: when it came, its method, the status answered (None: never answered)
        self.calls: deque[tuple[float, str, int | None]] = deque(maxlen=100_000)
        self._stored: dict[tuple[int, int], dict[str, Any]] = {}  # messages as they stand

    # -- control ---------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def doubles(self) -> dict[int, int]:
        """Chats that received more than one message, and how many."""
        return {chat: n for chat, n in self.received.items() if n > 1}

    def fail_for(self, seconds: float, kind: str = "500") -> None:
        """Every ``sendMessage`` (every call of :attr:`fault_methods`) fails this way for
        ``seconds`` from now."""
        self._set_fault(kind)
        self._fault_until = self.clock() + seconds
        self._fault_left = 0

    def fail_next(self, count: int, kind: str = "500") -> None:
        """The next ``count`` ``sendMessage`` requests (calls of :attr:`fault_methods`) fail this
        way."""
        self._set_fault(kind)
        self._fault_until = -math.inf
        self._fault_left = count

    def heal(self) -> None:
        self._fault, self._fault_until, self._fault_left = None, -math.inf, 0

    @property
    def failing(self) -> bool:
        """A fault set with :meth:`fail_for` or :meth:`fail_next` still applies."""
        return self._fault is not None and (
            self.clock() < self._fault_until or self._fault_left > 0
        )

    def _faulty(self, method: str) -> bool:
        return "*" in self.fault_methods or method in self.fault_methods

    def _set_fault(self, kind: str) -> None:
        if kind not in FAULTS:
            raise ValueError(f"unknown fault {kind!r}; one of {FAULTS}")
        self._fault = kind

    def _take_fault(self, now: float) -> str | None:
        if self._fault is None:
            return None
        if now < self._fault_until:
            return self._fault
        if self._fault_left > 0:
            self._fault_left -= 1
            return self._fault
        return None

    # -- life ------------------------------------------------------------------------------------

    async def start(self) -> int:
        """Listen on 127.0.0.1, on a free port; returns it."""
        self._closing = asyncio.Event()
        self._update_pushed = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._server = await asyncio.start_server(self._connection, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        if self._closing is not None:
            self._closing.set()
        if self._server is not None:
            self._server.close()
            for writer in list(self._writers):
                writer.close()
            if self._tasks:  # let every connection see the end, then cancel the stragglers
                _, pending = await asyncio.wait(list(self._tasks), timeout=1)
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> FakeBotApi:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @contextlib.contextmanager
    def in_thread(self) -> Iterator[FakeBotApi]:
        """Serve from a thread with its own event loop (its timestamps then do not depend on how
        busy the client's loop is)."""
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="fake-bot-api", daemon=True)
        thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self.start(), loop).result(timeout=10)
            yield self
        finally:
            asyncio.run_coroutine_threadsafe(self.stop(), loop).result(timeout=10)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10)
            loop.close()

    def threadsafe(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call ``fn`` in the fake's event loop (from another thread, e.g. with :meth:`in_thread`)
        and return its result; called from the loop itself, it simply calls ``fn``."""
        loop = self._loop
        with contextlib.suppress(RuntimeError):
            if loop is None or asyncio.get_running_loop() is loop:
                return fn(*args, **kwargs)

        async def call() -> Any:
            return fn(*args, **kwargs)

        assert loop is not None
        return asyncio.run_coroutine_threadsafe(call(), loop).result(timeout=10)

    # -- the other side of the chat ----------------------------------------------------------------

    def push_update(self, update: dict[str, Any]) -> int:
        """Queue an update for ``getUpdates``; returns its ``update_id`` (assigned if missing)."""
        update = dict(update)
        if "update_id" not in update:
            update["update_id"] = self.next_update_id()
        else:
            self._next_update_id = max(self._next_update_id, int(update["update_id"]) + 1)
        self.updates.append(update)
        self.updates.sort(key=lambda u: int(u["update_id"]))
        if self._update_pushed is not None:
            self._update_pushed.set()
        return int(update["update_id"])

    def next_update_id(self) -> int:
        update_id = self._next_update_id
        self._next_update_id += 1
        return update_id

    @property
    def pending_update_ids(self) -> list[int]:
        """Updates not confirmed yet: a bot polling again gets these."""
        return [int(u["update_id"]) for u in self.updates]

    def sent_to(self, chat_id: int, since: int = 0) -> list[SentMessage]:
        """What the bot sent or edited in one chat, in order (from ``messages[since:]``)."""
        return [m for m in self.messages[since:] if m.chat_id == chat_id]

    def message(self, chat_id: int, message_id: int) -> dict[str, Any] | None:
        """A message the bot sent, as it stands now (after edits), as Bot API JSON."""
        stored = self._stored.get((chat_id, message_id))
        return json.loads(json.dumps(stored)) if stored is not None else None

    def post_to_webhook(
        self, update: dict[str, Any], secret: str | object | None = REGISTERED, url: str = ""
    ) -> int:
        """POST an update to the webhook as Telegram would; returns the HTTP status.

        By default with the secret token given to ``setWebhook``; ``secret=None`` sends no token
        header, a string sends that. It blocks: call it from another thread than the fake's loop
        (or from another process)."""
        target = url or (self.webhook or {}).get("url")
        if not target:
            raise RuntimeError("no webhook is set")
        if secret is REGISTERED:
            secret = (self.webhook or {}).get("secret_token")
        if "update_id" not in update:
            update = {"update_id": self.threadsafe(self.next_update_id), **update}
        return post_update(target, update, secret if isinstance(secret, str) else None)

    # -- HTTP ------------------------------------------------------------------------------------

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        try:
            while True:
                request = await _read_request(reader)
                if request is None:
                    break
                verb, target, headers, body = request
                received = self.clock()
                answer = await self._answer(verb, target, headers, body)
                method = urlsplit(target).path.rsplit("/", 1)[-1]
                self.calls.append((received, method, answer[0] if answer else None))
                if answer is None:  # a timeout: never answered, the connection dropped
                    break
                status, payload = answer
                data = json.dumps(payload, ensure_ascii=False).encode()
                head = (
                    f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}\r\n"
                    "Content-Type: application/json\r\n"
                    f"Content-Length: {len(data)}\r\n\r\n"
                )
                writer.write(head.encode("latin-1") + data)
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    break
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _answer(
        self, verb: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, Any] | None:
        url = urlsplit(target)
        parts = url.path.strip("/").split("/")
        if len(parts) == 2 and parts[0] == "_fake":
            return self._control(parts[1], body)
        self.requests += 1
        if len(parts) != 2 or not parts[0].startswith("bot"):
            return 404, _error(404, "Not Found")
        token, method = parts[0][3:], parts[1]
        if self.token is not None and token != self.token:
            return 401, _error(401, "Unauthorized")
        params = dict(parse_qsl(url.query))
        files: list[str] = []
        params.update(_parse_body(headers.get("content-type", ""), body, files))
        self.methods[method] += 1
        if method == "sendMessage":
            return await self._send_message(params)
        lost = False
        if self._faulty(method):
            fault = self._take_fault(self.clock())
            if fault == "500":
                self.server_errors += 1
                return 500, _error(500, "Internal Server Error")
            if fault == "timeout":
                self.timeouts += 1
                await self._wait(self.hang_seconds)
                return None
            lost = fault == "lost_answer"
        answer = await self._dispatch(method, params, files)
        if lost:
            self.lost_answers += 1
            await self._wait(self.hang_seconds)
            return None
        return answer

    async def _dispatch(
        self, method: str, params: dict[str, Any], files: list[str]
    ) -> tuple[int, Any] | None:
        if method == "getMe":
            return 200, _ok(BOT_USER)
        if method == "getUpdates":
            return await self._get_updates(params)
        if method == "getChatMember":
            return self._chat_member(params)
        if method == "setMyCommands":
            self.commands[_commands_key(params)] = json.loads(params.get("commands") or "[]")
            return 200, _ok(True)
        if method == "deleteMyCommands":
            self.commands.pop(_commands_key(params), None)
            return 200, _ok(True)
        if method == "getMyCommands":
            return 200, _ok(self.commands.get(_commands_key(params), []))
        if method == "setWebhook":
            return self._set_webhook(params)
        if method == "deleteWebhook":
            self.webhook = None
            if _true(params.get("drop_pending_updates")):
                self.updates.clear()
            return 200, _ok(True)
        if method == "getWebhookInfo":
            info = {"url": (self.webhook or {}).get("url", ""), "has_custom_certificate": False,
                    "pending_update_count": len(self.updates)}  # fmt: skip
            return 200, _ok(info)
        if method == "answerCallbackQuery":
            self.callback_answers.append(params)
            return 200, _ok(True)
        if method.startswith("edit"):
            return self._edit(method, params)
        if method.startswith(("send", "copy")):
            return 200, _ok(self._record(method, self._message(params, method), params, files))
        if method.startswith(("set", "delete", "answer")):
            return 200, _ok(True)
        return 404, _error(404, "Not Found: method not found")

    async def _get_updates(self, params: dict[str, Any]) -> tuple[int, Any] | None:
        """Telegram's way: ``offset`` confirms every update below it; the rest are returned (at
        most ``limit``) and kept until confirmed; with none waiting, wait up to ``timeout``."""
        if self.webhook is not None:
            return 409, _error(
                409, "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )  # fmt: skip
        offset = int(params.get("offset") or 0)
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        self.polls.append((self.clock(), offset))
        if self._current_poll is not None:
            self._current_poll.set()  # Telegram ends an older long poll still waiting
        mine = self._current_poll = asyncio.Event()
        self._confirm(offset)
        if not self.updates:
            assert self._update_pushed is not None
            self._update_pushed.clear()
            wait = min(float(params.get("timeout") or 0), self.updates_wait)
            assert self._closing is not None
            events = (self._update_pushed, mine, self._closing)
            waits = [asyncio.ensure_future(e.wait()) for e in events]
            try:
                await asyncio.wait(waits, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in waits:
                    task.cancel()
                await asyncio.gather(*waits, return_exceptions=True)
            if mine.is_set():
                return 409, _error(
                    409, "Conflict: terminated by other getUpdates request; make sure that only "
                    "one bot instance is running",
                )  # fmt: skip
            # a fault that began during the long poll hits its answer too
            fault = self._take_fault(self.clock()) if self._faulty("getUpdates") else None
            if fault == "500":
                self.server_errors += 1
                return 500, _error(500, "Internal Server Error")
            if fault == "timeout":
                self.timeouts += 1
                await self._wait(self.hang_seconds)
                return None
            self._confirm(offset)  # a negative offset counts from the end, also after the wait
        batch = self.updates[:limit]
        self.update_polls += 1
        self.handed_out.update(int(u["update_id"]) for u in batch)
        return 200, _ok(batch)

    def _confirm(self, offset: int) -> None:
        if offset > 0:
            self.confirmed_offset = max(self.confirmed_offset, offset)
            self.updates = [u for u in self.updates if int(u["update_id"]) >= offset]
        elif offset < 0:
            self.updates = self.updates[offset:]

    def _chat_member(self, params: dict[str, Any]) -> tuple[int, Any]:
        try:
            chat_id, user_id = int(params["chat_id"]), int(params["user_id"])
        except (KeyError, ValueError):
            return 400, _error(400, "Bad Request: chat_id and user_id are required")
        status = self.chat_members.get((chat_id, user_id), "left")
        user = {"id": user_id, "is_bot": False, "first_name": f"User {user_id}"}
        return 200, _ok({"status": status, "user": user, **_MEMBER_EXTRA.get(status, {})})

    def _set_webhook(self, params: dict[str, Any]) -> tuple[int, Any]:
        url = str(params.get("url") or "")
        if not url:  # Telegram: an empty URL removes the webhook
            self.webhook = None
            return 200, _ok(True)
        secret = params.get("secret_token")
        if secret is not None and not all(c.isalnum() or c in "_-" for c in secret):
            return 400, _error(400, "Bad Request: secret token contains unallowed characters")
        allowed = json.loads(params.get("allowed_updates") or "null")
        self.webhook = {"url": url, "secret_token": secret, "allowed_updates": allowed}
        if _true(params.get("drop_pending_updates")):
            self.updates.clear()
        return 200, _ok(True)

    def _edit(self, method: str, params: dict[str, Any]) -> tuple[int, Any]:
        if params.get("inline_message_id"):
            return 200, _ok(True)
        try:
            key = (int(params["chat_id"]), int(params["message_id"]))
        except (KeyError, ValueError):
            return 400, _error(400, "Bad Request: message identifier is not specified")
        stored = self._stored.get(key)
        message = dict(stored) if stored is not None else self._message(params, method)
        if method == "editMessageText":
            message["text"] = params.get("text", "")
        elif method == "editMessageCaption":
            message["caption"] = params.get("caption", "")
        if method in ("editMessageText", "editMessageCaption", "editMessageReplyMarkup"):
            markup = _markup(params.get("reply_markup"))
            if markup and markup.get("inline_keyboard"):
                message["reply_markup"] = markup
            else:
                message.pop("reply_markup", None)
        message["edit_date"] = int(time.time())
        return 200, _ok(self._record(method, message, params, []))

    def _record(
        self, method: str, message: dict[str, Any], params: dict[str, Any], files: list[str]
    ) -> dict[str, Any]:
        """Keep the message as it stands and log the call; returns the message."""
        chat_id, message_id = int(message["chat"]["id"]), int(message["message_id"])
        self._stored[(chat_id, message_id)] = message
        text = params.get("text") if "text" in params else params.get("caption", "")
        self.messages.append(SentMessage(
            self.clock(), method, chat_id, message_id, str(text or ""),
            _markup(params.get("reply_markup")), tuple(files), dict(params),
        ))  # fmt: skip
        return message

    async def _send_message(self, params: dict[str, Any]) -> tuple[int, Any] | None:
        now = self.clock()
        try:
            chat_id = int(params["chat_id"])
        except (KeyError, ValueError):
            self.bad_request += 1
            return 400, _error(400, "Bad Request: chat_id is empty")
        fault = self._take_fault(now) if self._faulty("sendMessage") else None
        if fault == "500":
            self.server_errors += 1
            return 500, _error(500, "Internal Server Error")
        if fault == "timeout":
            self.timeouts += 1
            await self._wait(self.hang_seconds)
            return None
        while self._accepted and self._accepted[0] <= now - self.window:
            self._accepted.popleft()
        if len(self._accepted) >= self.overall_limit:
            self.floods.append((now, chat_id, "overall"))
            return self._too_many(self._accepted[0] + self.window - now)
        last = self._last_by_chat.get(chat_id)
        if last is not None and now - last < self.per_chat_interval:
            self.floods.append((now, chat_id, "chat"))
            return self._too_many(last + self.per_chat_interval - now)
        self._accepted.append(now)
        self._last_by_chat[chat_id] = now
        if chat_id in self.forbidden_chats:
            self.forbidden += 1
            return 403, _error(403, "Forbidden: bot was blocked by the user")
        if chat_id in self.bad_chats:
            self.bad_request += 1
            return 400, _error(400, "Bad Request: chat not found")
        message = self._record("sendMessage", self._message(params), params, [])
        self.sent += 1
        self.received[chat_id] += 1
        self.delivered.append(
            Delivered(now, chat_id, str(params.get("text", "")), message["message_id"])
        )
        if fault == "lost_answer":
            self.lost_answers += 1
            await self._wait(self.hang_seconds)
            return None
        if self.send_delay > 0:  # delivered, the answer still on its way
            self.in_flight += 1
            try:
                await self._wait(self.send_delay)
            finally:
                self.in_flight -= 1
        return 200, _ok(message)

    def stats(self) -> dict[str, Any]:
        return {
            "requests": self.requests, "sent": self.sent, "too_many": self.too_many,
            "forbidden": self.forbidden, "bad_request": self.bad_request,
            "server_errors": self.server_errors, "timeouts": self.timeouts,
            "lost_answers": self.lost_answers, "doubles": self.doubles,
            "floods": self.floods[-100:], "in_flight": self.in_flight,
            "messages": len(self.messages), "updates_pending": len(self.updates),
            "confirmed_offset": self.confirmed_offset, "update_polls": self.update_polls,
            "methods": dict(self.methods), "webhook": self.webhook,
        }  # fmt: skip

    def _control(self, action: str, body: bytes) -> tuple[int, Any]:
        """``/_fake/stats``; ``/_fake/updates`` with an update or a list of them to queue (their
        ids back); ``/_fake/messages`` with ``{"chat_id", "since"}`` (both optional): the
        messages sent; and ``/_fake/control`` with a JSON body: ``forbidden_chats``,
        ``bad_chats`` (lists), ``chat_members`` (``[[chat_id, user_id, status], ...]``),
        ``send_delay`` (seconds), ``fault_methods`` (a list, ``["*"]`` for all), ``fail_for`` /
        ``fail_next`` (``{"seconds"|"count", "kind"}``), ``heal``."""
        if action == "stats":
            return 200, _ok(self.stats())
        if action == "updates":
            pushed = json.loads(body or b"[]")
            updates = pushed if isinstance(pushed, list) else [pushed]
            return 200, _ok([self.push_update(u) for u in updates])
        if action == "messages":
            query = json.loads(body or b"{}")
            since, chat = int(query.get("since", 0)), query.get("chat_id")
            found = self.messages[since:] if chat is None else self.sent_to(int(chat), since)
            return 200, _ok([m.to_json() for m in found])
        if action != "control":
            return 404, _error(404, "Not Found")
        orders = json.loads(body or b"{}")
        if "chat_members" in orders:  # [[chat_id, user_id, status], ...]
            for chat_id, user_id, status in orders["chat_members"]:
                self.chat_members[(int(chat_id), int(user_id))] = str(status)
        if "send_delay" in orders:
            self.send_delay = float(orders["send_delay"])
        if "fault_methods" in orders:
            self.fault_methods = {str(m) for m in orders["fault_methods"]}
        if "forbidden_chats" in orders:
            self.forbidden_chats = {int(c) for c in orders["forbidden_chats"]}
        if "bad_chats" in orders:
            self.bad_chats = {int(c) for c in orders["bad_chats"]}
        if "fail_for" in orders:
            self.fail_for(
                float(orders["fail_for"]["seconds"]), orders["fail_for"].get("kind", "500")
            )
        if "fail_next" in orders:
            self.fail_next(
                int(orders["fail_next"]["count"]), orders["fail_next"].get("kind", "500")
            )
        if orders.get("heal"):
            self.heal()
        return 200, _ok(True)

    def _too_many(self, seconds: float) -> tuple[int, Any]:
        self.too_many += 1
        retry_after = max(1, math.ceil(seconds))
        return 429, _error(
            429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after
        )

    def _message(self, params: dict[str, Any], method: str = "sendMessage") -> dict[str, Any]:
        chat_id = int(params.get("chat_id") or 0)
        message_id = params.get("message_id")
        if message_id is None:
            message_id = self._next_message_id
            self._next_message_id += 1
        message: dict[str, Any] = {
            "message_id": int(message_id),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup"},
            "from": BOT_USER,
        }
        for key in ("text", "caption"):
            if key in params:
                message[key] = params[key]
        markup = _markup(params.get("reply_markup"))
        if markup and markup.get("inline_keyboard"):  # a message carries only inline keyboards
            message["reply_markup"] = markup
        n = message["message_id"]
        if method == "sendPhoto":
            message["photo"] = [{"file_id": f"photo{n}", "file_unique_id": f"p{n}",
                                 "width": 1000, "height": 600}]  # fmt: skip
        elif method == "sendDocument":
            message["document"] = {"file_id": f"doc{n}", "file_unique_id": f"d{n}"}
        return message

    async def _wait(self, seconds: float) -> None:
        assert self._closing is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), timeout=seconds)


def _ok(result: Any) -> dict[str, Any]:
    return {"ok": True, "result": result}


def _error(code: int, description: str, **parameters: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return body


async def _read_request(
    reader: asyncio.StreamReader,
) -> tuple[str, str, dict[str, str], bytes] | None:
    line = await reader.readline()
    if not line.strip():
        return None
    verb, target, _version = line.decode("latin-1").split(maxsplit=2)
    headers: dict[str, str] = {}
    while True:
        raw = await reader.readline()
        if raw in (b"\r\n", b"\n", b""):
            break
        name, _, value = raw.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        chunks = []
        while True:
            size = int((await reader.readline()).split(b";")[0], 16)
            if size == 0:
                await reader.readline()
                break
            chunks.append(await reader.readexactly(size))
            await reader.readline()
        body = b"".join(chunks)
    else:
        body = b""
    return verb, target, headers, body


def _markup(raw: Any) -> dict[str, Any] | None:
    if not raw:
        return None
    return json.loads(raw) if isinstance(raw, str) else raw


def _true(raw: Any) -> bool:
    return str(raw).lower() in ("true", "1")


def _commands_key(params: dict[str, Any]) -> str:
    scope = json.loads(params.get("scope") or '{"type": "default"}')
    return json.dumps([scope, params.get("language_code") or ""], sort_keys=True)


def post_update(url: str, update: dict[str, Any], secret: str | None) -> int:
    """POST one update to a webhook URL (``http://`` only), with the secret token header if
    given; the HTTP status. Blocking."""
    parts = urlsplit(url)
    body = json.dumps(update).encode()
    headers = {"Content-Type": "application/json", "Content-Length": str(len(body))}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
    try:
        connection.request("POST", parts.path or "/", body=body, headers=headers)
        return connection.getresponse().status
    finally:
        connection.close()


def _parse_body(content_type: str, body: bytes, files: list[str] | None = None) -> dict[str, Any]:
    """Bot API parameters: form-encoded (PTB's way), JSON, or multipart (files are skipped; their
    part names are added to ``files``)."""
    if not body:
        return {}
    kind = content_type.split(";")[0].strip().lower()
    if kind == "application/json":
        data = json.loads(body)
        return {k: v if isinstance(v, str) else json.dumps(v) for k, v in data.items()}
    if kind == "multipart/form-data":
        message = BytesParser(policy=HTTP).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode("latin-1") + body
        )
        params: dict[str, Any] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if name and not part.get_filename():
                params[str(name)] = part.get_content()
            elif name and files is not None:
                files.append(str(name))
        return params
    return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))


class FakeBotApiProcess:
    """The fake in a child process, steered over HTTP: ``with FakeBotApiProcess() as api``."""

    def __init__(self, *options: str) -> None:
        self.options = list(options)  # command-line options, e.g. "--limit", "30"
        self.port = 0
        self._process: subprocess.Popen[str] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    def __enter__(self) -> FakeBotApiProcess:
        self._process = subprocess.Popen(
            [sys.executable, __file__, *self.options], stdout=subprocess.PIPE, text=True
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line.startswith("port="):
            self._process.kill()
            raise RuntimeError(f"the fake Bot API did not start: {line!r}")
        self.port = int(line.removeprefix("port=").strip())
        return self

    def __exit__(self, *exc: object) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()

    def _call(self, action: str, orders: dict[str, Any] | None = None) -> Any:
        data = json.dumps(orders).encode() if orders is not None else None
        url = f"http://127.0.0.1:{self.port}/_fake/{action}"
        with urllib.request.urlopen(url, data=data, timeout=10) as response:
            return json.loads(response.read())["result"]

    def stats(self) -> dict[str, Any]:
        return self._call("stats")

    def control(self, **orders: Any) -> None:
        self._call("control", orders)

    def push_update(self, update: dict[str, Any]) -> int:
        return int(self._call("updates", [update])[0])

    def messages(self, chat_id: int | None = None, since: int = 0) -> list[dict[str, Any]]:
        return list(self._call("messages", {"chat_id": chat_id, "since": since}))


async def _serve(args: argparse.Namespace) -> None:
    api = FakeBotApi(
        token=args.token, overall_limit=args.limit, per_chat_interval=args.per_chat_interval,
        updates_wait=args.updates_wait,
    )  # fmt: skip
    port = await api.start()
    print(f"port={port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    await api.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description="A loopback fake Bot API with flood limits.")
    parser.add_argument("--limit", type=int, default=30, help="messages in any second overall")
    parser.add_argument("--per-chat-interval", type=float, default=1.0)
    parser.add_argument("--updates-wait", type=float, default=0.2)
    parser.add_argument("--token", default=None, help="accept only this token")
    asyncio.run(_serve(parser.parse_args()))


if __name__ == "__main__":
    main()
