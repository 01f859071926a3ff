"""The harness of the end-to-end tests: ``bashgah run`` as a subprocess against the fake Bot API.

The fake (:mod:`bench.fake_bot_api`) serves from a thread of the test process; the bot is a child
process started with ``[sys.executable, "-m", "bot.cli", "run"]`` and its settings in the
environment. Tests talk to the bot only through the fake: they push updates as members and staff
would and read what the bot sent. Every wait is bounded: a condition is polled until it holds or its
time runs out (the bot's log is shown then). Each test has its own SQLite file, built from the
migrated template of ``tests/conftest.py``, which a test may read with :mod:`sqlite3`.

The rules file sets quiet hours to nothing (``quiet_start == quiet_end``), so no message waits for
the morning, and asks the CSAT right after a purchase.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import itertools
import os
import re
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from bench.fake_bot_api import FakeBotApi, SentMessage
from core.db import make_engine, make_sessionmaker
from core.rules import Rules, load_rules
from tests.conftest import fresh_sqlite_url

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "123456:e2e-fake-token"
STAFF_CHAT = -1001234567890
RULES_TOML = """\
[surveys]
csat_delay_minutes = 0

[messaging]
quiet_start = 0
quiet_end = 0
"""
START_TIMEOUT = 30.0
T = TypeVar("T")


def plain(text: str) -> str:
    """What a person reads: HTML tags removed, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", text))


def wait_until(
    condition: Callable[[], T],
    timeout: float,
    what: str,
    *,
    bot: BotProcess | None = None,
    interval: float = 0.05,
) -> T:
    """Poll ``condition`` until it is truthy (returned) or ``timeout`` seconds pass (fails, with
    the bot's log). A bot that died meanwhile fails at once."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if CANCELLED.is_set():
            raise Cancelled(f"cancelled while waiting for {what}")
        if bot is not None and bot.started and not bot.alive:
            raise AssertionError(f"the bot died while waiting for {what}:\n{bot.log_tail()}")
        if time.monotonic() > deadline:
            tail = f"\n{bot.log_tail()}" if bot is not None else ""
            raise AssertionError(f"waited {timeout:.0f} s for {what}, in vain{tail}")
        time.sleep(interval)


# --- long scenarios beside the other tests ------------------------------------------------------

CANCELLED = threading.Event()  # set at the end of the session: background waits give up


class Cancelled(Exception):
    """The session ended before a background scenario did."""


Scenario = Callable[[Path, Path], Any]  # (migrated template, its own folder) -> what it saw
SCENARIOS: dict[str, Scenario] = {}


def background_scenario(name: str) -> Callable[[Scenario], Scenario]:
    """Register a scenario that mostly waits (for a sweep, a stale claim, a sender's pause). Tests
    marked ``@pytest.mark.background(name)`` get it started in a thread at the start of the
    session, are run last, and check what :meth:`Background.result` returns, so the waiting
    overlaps the other tests."""

    def register(scenario: Scenario) -> Scenario:
        SCENARIOS[name] = scenario
        return scenario

    return register


class Background:
    """One scenario running in its own (daemon) thread."""

    def __init__(self, name: str, template: Path, folder: Path) -> None:
        self.name = name
        self._result: Any = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, args=(SCENARIOS[name], template, folder), name=name, daemon=True
        )

    def _run(self, scenario: Scenario, template: Path, folder: Path) -> None:
        try:
            self._result = scenario(template, folder)
        except BaseException as exc:  # handed to the test that asks for the result
            self._error = exc

    def start(self) -> Background:
        self._thread.start()
        return self

    def result(self, timeout: float = 600.0) -> Any:
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise AssertionError(f"the {self.name} scenario did not end in {timeout:.0f} s")
        if self._error is not None:
            raise self._error
        return self._result

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- the fake, seen from the test's thread -------------------------------------------------------


class Telegram:
    """The fake Bot API as the test sees it: updates in, the bot's messages out."""

    def __init__(self, api: FakeBotApi) -> None:
        self.api = api
        self._message_ids = itertools.count(1)

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn`` in the fake's event loop (its state belongs to that thread)."""
        return self.api.threadsafe(fn, *args, **kwargs)

    def push(self, update: dict[str, Any]) -> int:
        return self.call(self.api.push_update, update)

    def push_many(self, updates: list[dict[str, Any]]) -> list[int]:
        return self.call(lambda: [self.api.push_update(u) for u in updates])

    def next_message_id(self) -> int:
        return next(self._message_ids)

    def mark(self) -> int:
        """A bookmark in the log of sent messages: ``since`` for the waits below."""
        return len(self.api.messages)

    def messages(self, chat_id: int | None = None, since: int = 0) -> list[SentMessage]:
        found = list(self.api.messages[since:])
        return found if chat_id is None else [m for m in found if m.chat_id == chat_id]

    def wait_message(
        self,
        chat_id: int,
        contains: str = "",
        *,
        since: int = 0,
        timeout: float = 15.0,
        method: str | None = None,
        bot: BotProcess | None = None,
    ) -> SentMessage:
        """The first message sent (or edited) in ``chat_id`` after ``since`` whose plain text
        contains ``contains``."""

        def found() -> SentMessage | None:
            for message in self.messages(chat_id, since):
                if (method is None or message.method == method) and contains in plain(message.text):
                    return message
            return None

        return wait_until(found, timeout, f"a message to {chat_id} with {contains!r}", bot=bot)

    def stored(self, chat_id: int, message_id: int) -> dict[str, Any]:
        message = self.call(self.api.message, chat_id, message_id)
        assert message is not None, f"the fake has no message {message_id} in {chat_id}"
        return message

    def set_member(self, chat_id: int, user_id: int, status: str) -> None:
        self.call(self.api.chat_members.__setitem__, (chat_id, user_id), status)

    def polls_since(self, moment: float) -> list[tuple[float, int]]:
        return [p for p in list(self.api.polls) if p[0] >= moment]


@dataclass
class Person:
    id: int
    first_name: str
    last_name: str = ""
    language_code: str = "en"

    @property
    def user(self) -> dict[str, Any]:
        user: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.last_name:
            user["last_name"] = self.last_name
        user["language_code"] = self.language_code
        return user

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


STAFF = Person(2002, "Reza", "Staff")


@dataclass
class Chat:
    """One person typing in one chat: a member in private, or staff in the staff group."""

    tg: Telegram
    person: Person
    chat_id: int
    bot: BotProcess | None = None
    _chat: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        if self.chat_id > 0:
            self._chat = {"id": self.chat_id, "type": "private",
                          "first_name": self.person.first_name}  # fmt: skip
        else:
            self._chat = {"id": self.chat_id, "type": "supergroup", "title": "Staff"}

    def message(self, **content: Any) -> dict[str, Any]:
        return {"message_id": self.tg.next_message_id(), "date": int(time.time()),
                "chat": self._chat, "from": self.person.user, **content}  # fmt: skip

    def text_update(self, text: str) -> dict[str, Any]:
        message = self.message(text=text)
        if text.startswith("/"):
            command = text.split()[0]
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        return {"message": message}

    def send(self, text: str) -> int:
        return self.tg.push(self.text_update(text))

    def share_contact(self, phone: str) -> int:
        contact = {"phone_number": phone, "first_name": self.person.first_name,
                   "user_id": self.person.id}  # fmt: skip
        return self.tg.push({"message": self.message(contact=contact)})

    def press(self, message: SentMessage, data: str) -> int:
        """Press the inline button whose callback data starts with ``data`` on ``message``, as
        the message stands now in the fake."""
        stored = self.tg.stored(message.chat_id, message.message_id)
        buttons = [b for row in stored.get("reply_markup", {}).get("inline_keyboard", [])
                   for b in row]  # fmt: skip
        matching = [b for b in buttons if str(b.get("callback_data", "")).startswith(data)]
        assert matching, f"no button {data!r} on {plain(stored.get('text', ''))!r}: {buttons}"
        query = {"id": str(self.tg.next_message_id()), "from": self.person.user,
                 "chat_instance": f"ci{self.chat_id}", "data": matching[0]["callback_data"],
                 "message": stored}  # fmt: skip
        return self.tg.push({"callback_query": query})

    def ask(self, text: str, expect: str = "", timeout: float = 15.0) -> SentMessage:
        """Send ``text`` and wait for the bot's answer in this chat containing ``expect``."""
        since = self.tg.mark()
        self.send(text)
        return self.expect(expect, since=since, timeout=timeout)

    def tap(self, message: SentMessage, data: str, expect: str = "") -> SentMessage:
        since = self.tg.mark()
        self.press(message, data)
        return self.expect(expect, since=since)

    def expect(self, contains: str = "", *, since: int = 0, timeout: float = 15.0) -> SentMessage:
        return self.tg.wait_message(
            self.chat_id, contains, since=since, timeout=timeout, bot=self.bot
        )


# --- the bot process -----------------------------------------------------------------------------


class BotProcess:
    """``bashgah run`` in a child process, with its settings in the environment and its output in
    a log file per start."""

    def __init__(
        self, tg: Telegram, folder: Path, database_url: str, rules_path: Path, *args: str
    ) -> None:
        self.tg = tg
        self.folder = folder
        self.database_url = database_url
        self.rules_path = rules_path
        self.args = list(args)
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.started_at = 0.0
        self._logs: list[Path] = []

    @property
    def started(self) -> bool:
        return self.process is not None

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def webhook(self) -> bool:
        return "--webhook-url" in self.args

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("BASHGAH_")}
        env.update(
            BASHGAH_DATABASE_URL=self.database_url,
            BASHGAH_BOT_TOKEN=TOKEN,
            BASHGAH_STAFF_CHAT_ID=str(STAFF_CHAT),
            BASHGAH_API_BASE_URL=f"http://127.0.0.1:{self.tg.api.port}",
            BASHGAH_RULES=str(self.rules_path),
            BASHGAH_LOCALE="en",
            PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
            PYTHONUNBUFFERED="1",
        )
        return env

    def start(self, *, wait: bool = True) -> BotProcess:
        assert not self.alive, "the bot is already running"
        self.starts += 1
        log = self.folder / f"bot-{id(self):x}-{self.starts}.log"  # processes may share a folder
        self._logs.append(log)
        self.started_at = time.monotonic()
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bot.cli", "run", *self.args],
                env=self.environment(),
                cwd=self.folder,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        """Polling: the first getUpdates of this start. Webhook: set, and its port open."""
        if self.webhook:
            port = int(self.args[self.args.index("--port") + 1])
            wait_until(lambda: self.tg.api.webhook and _port_open(port), timeout, "the webhook",
                       bot=self)  # fmt: skip
        else:
            wait_until(lambda: self.tg.polls_since(self.started_at), timeout, "polling", bot=self)

    def kill(self) -> None:
        """kill -9."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
        if self.process is not None:
            self.process.wait(timeout=10)

    def log(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')}"
            for path in self._logs
            if path.exists()
        )

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log().splitlines()[-lines:])


def run_cli(bot: BotProcess, *args: str) -> subprocess.CompletedProcess[str]:
    """``bashgah ARGS`` over the bot's database and settings, as the owner runs it beside the
    bot; fails the test if it fails."""
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        env=bot.environment(), cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done


@contextlib.contextmanager
def silent_connections(port: int, count: int, closed_within: float) -> Iterator[None]:
    """``count`` connections to ``port`` that send nothing while the block runs; then each must
    have been closed by the server within ``closed_within`` seconds of the block's start."""
    silent = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(count)]
    deadline = time.monotonic() + closed_within
    try:
        yield
        for sock in silent:
            sock.settimeout(max(deadline - time.monotonic(), 0.1))
            assert sock.recv(1) == b"", "the server closes a connection that sends nothing"
    finally:
        for sock in silent:
            sock.close()


def _port_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
        return True
    return False


# --- the database --------------------------------------------------------------------------------


@dataclass
class Club:
    """One test's club: its database (SQLite file) and rules file."""

    folder: Path
    database_url: str
    rules_path: Path

    @property
    def db_path(self) -> Path:
        return Path(self.database_url.removeprefix("sqlite+aiosqlite:///"))

    @property
    def rules(self) -> Rules:
        return load_rules(self.rules_path)

    def seed(self, work: Callable[[AsyncSession, Rules], Awaitable[T]]) -> T:
        """Run ``work`` in one transaction, through core, before (or beside) the bot."""

        async def main() -> T:
            engine = make_engine(self.database_url)
            try:
                async with make_sessionmaker(engine)() as session, session.begin():
                    return await work(session, self.rules)
            finally:
                await engine.dispose()

        return asyncio.run(main())

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        """Read the bot's database directly (it may be writing: wait for its locks)."""
        with contextlib.closing(sqlite3.connect(self.db_path, timeout=30)) as db:
            return list(db.execute(sql, params).fetchall())

    def scalar(self, sql: str, *params: Any) -> Any:
        rows = self.query(sql, *params)
        return rows[0][0] if rows else None

    def unbalanced_books(self) -> list[tuple[int, int, int, int]]:
        """Members whose balance differs from their ledger or their open lots (should be none)."""
        return [
            row
            for row in self.query(
                """
                SELECT m.id, m.balance,
                       (SELECT COALESCE(SUM(delta), 0) FROM ledger_entries l
                         WHERE l.member_id = m.id),
                       (SELECT COALESCE(SUM(remaining), 0) FROM points_lots p
                         WHERE p.member_id = m.id)
                FROM members m
                """
            )
            if not row[1] == row[2] == row[3] or row[1] < 0
        ]


def new_club(template: Path, folder: Path, rules: str = RULES_TOML) -> Club:
    """A fresh database (a copy of the migrated template) and rules file in ``folder``."""
    rules_path = folder / "rules.toml"
    rules_path.write_text(rules, encoding="utf-8")
    return Club(folder, fresh_sqlite_url(template, folder), rules_path)


@contextlib.contextmanager
def fake_telegram(overall_limit: int = 30) -> Iterator[Telegram]:
    """The fake Bot API in a thread of this process; getUpdates long-polls up to 10 s.

    30 messages a second overall, as Telegram; its one-a-second-per-chat rule is off: it is meant
    for broadcasts, Telegram tolerates short bursts in a conversation, and the tests type faster
    than people."""
    api = FakeBotApi(
        token=TOKEN, updates_wait=10.0, hang_seconds=30.0, per_chat_interval=0.0,
        overall_limit=overall_limit,
    )  # fmt: skip
    with api.in_thread():
        yield Telegram(api)


@contextlib.contextmanager
def bot_processes(tg: Telegram, club: Club) -> Iterator[Callable[..., BotProcess]]:
    """Makes bot processes (not started); kills whatever is left at the end."""
    made: list[BotProcess] = []

    def make(*args: str) -> BotProcess:
        bot = BotProcess(tg, club.folder, club.database_url, club.rules_path, *args)
        made.append(bot)
        return bot

    try:
        yield make
    finally:
        for bot in made:
            bot.kill()


def staff_chat(tg: Telegram, bot: BotProcess | None = None, status: str = "administrator") -> Chat:
    """A staff member typing in the staff group, with ``status`` there."""
    tg.set_member(STAFF_CHAT, STAFF.id, status)
    return Chat(tg, STAFF, STAFF_CHAT, bot)


def member_chat(tg: Telegram, person: Person, bot: BotProcess | None = None) -> Chat:
    return Chat(tg, person, person.id, bot)


def settle(value: Callable[[], object], quiet: float = 0.5, timeout: float = 10.0) -> None:
    """Wait until ``value()`` stops changing for ``quiet`` seconds (bounded by ``timeout``): for
    requests a killed process had already written to its socket."""
    last, since = value(), time.monotonic()

    def still() -> bool:
        nonlocal last, since
        now = value()
        if now != last:
            last, since = now, time.monotonic()
        return time.monotonic() - since >= quiet

    wait_until(still, timeout, "quiet", interval=0.05)
