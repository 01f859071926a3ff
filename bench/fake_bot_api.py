"""A loopback fake of the Telegram Bot API that enforces the flood limits: for the broadcast
benchmark and end-to-end tests of the outbox sender.

Standard library only (asyncio streams, HTTP/1.1 with keep-alive). It answers enough of the Bot
API for a ``telegram.Bot`` pointed at ``base_url`` (``http://127.0.0.1:<port>/bot``): ``getMe``,
``sendMessage`` (and the other ``send*``/``edit*`` methods), ``getUpdates`` (an empty list after a
short wait), and ``true`` for ``set*``/``delete*``/``answer*``.

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
``/_fake/stats`` and ``/_fake/control`` are how another process reads and steers it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
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
from dataclasses import dataclass
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
    429: "Too Many Requests",
    500: "Internal Server Error",
}
FAULTS = ("500", "timeout", "lost_answer")


@dataclass(frozen=True)
class Delivered:
    at: float  # the server's monotonic clock
    chat_id: int
    text: str
    message_id: int


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
        self._closing: asyncio.Event | None = None
        self.port = 0

    # -- control ---------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def doubles(self) -> dict[int, int]:
        """Chats that received more than one message, and how many."""
        return {chat: n for chat, n in self.received.items() if n > 1}

    def fail_for(self, seconds: float, kind: str = "500") -> None:
        """Every ``sendMessage`` fails this way for ``seconds`` from now."""
        self._set_fault(kind)
        self._fault_until = self.clock() + seconds
        self._fault_left = 0

    def fail_next(self, count: int, kind: str = "500") -> None:
        """The next ``count`` ``sendMessage`` requests fail this way."""
        self._set_fault(kind)
        self._fault_until = -math.inf
        self._fault_left = count

    def heal(self) -> None:
        self._fault, self._fault_until, self._fault_left = None, -math.inf, 0

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

    # -- HTTP ------------------------------------------------------------------------------------

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                request = await _read_request(reader)
                if request is None:
                    break
                verb, target, headers, body = request
                answer = await self._answer(verb, target, headers, body)
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
        params.update(_parse_body(headers.get("content-type", ""), body))
        if method == "getMe":
            return 200, _ok(BOT_USER)
        if method == "getUpdates":
            wait = min(float(params.get("timeout") or 0), self.updates_wait)
            await self._wait(wait)
            return 200, _ok([])
        if method == "sendMessage":
            return await self._send_message(params)
        if method.startswith(("send", "edit", "copy")):
            return 200, _ok(self._message(params))
        if method.startswith(("set", "delete", "answer")):
            return 200, _ok(True)
        return 404, _error(404, "Not Found: method not found")

    async def _send_message(self, params: dict[str, Any]) -> tuple[int, Any] | None:
        now = self.clock()
        try:
            chat_id = int(params["chat_id"])
        except (KeyError, ValueError):
            self.bad_request += 1
            return 400, _error(400, "Bad Request: chat_id is empty")
        fault = self._take_fault(now)
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
        message = self._message(params)
        self.sent += 1
        self.received[chat_id] += 1
        self.delivered.append(
            Delivered(now, chat_id, str(params.get("text", "")), message["message_id"])
        )
        if fault == "lost_answer":
            self.lost_answers += 1
            await self._wait(self.hang_seconds)
            return None
        return 200, _ok(message)

    def stats(self) -> dict[str, Any]:
        return {
            "requests": self.requests, "sent": self.sent, "too_many": self.too_many,
            "forbidden": self.forbidden, "bad_request": self.bad_request,
            "server_errors": self.server_errors, "timeouts": self.timeouts,
            "lost_answers": self.lost_answers, "doubles": self.doubles,
            "floods": self.floods[-100:],
        }  # fmt: skip

    def _control(self, action: str, body: bytes) -> tuple[int, Any]:
        """``/_fake/stats``, and ``/_fake/control`` with a JSON body: ``forbidden_chats``,
        ``bad_chats`` (lists), ``fail_for`` / ``fail_next`` (``{"seconds"|"count", "kind"}``),
        ``heal``."""
        if action == "stats":
            return 200, _ok(self.stats())
        if action != "control":
            return 404, _error(404, "Not Found")
        orders = json.loads(body or b"{}")
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

    def _message(self, params: dict[str, Any]) -> dict[str, Any]:
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
        markup = params.get("reply_markup")
        if markup:
            message["reply_markup"] = json.loads(markup) if isinstance(markup, str) else markup
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


def _parse_body(content_type: str, body: bytes) -> dict[str, Any]:
    """Bot API parameters: form-encoded (PTB's way), JSON, or multipart (files are skipped)."""
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
