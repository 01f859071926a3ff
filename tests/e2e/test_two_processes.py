"""Two ``bashgah run`` processes behind one webhook, on one PostgreSQL database.

The test plays Telegram and the load balancer between it and the processes. Like Telegram, it
sends a chat's next update once the previous one is answered, chats side by side; each update goes
to either process, and one in eight is delivered twice at the same moment, one copy to each (as
Telegram does when an answer is slow). Afterwards every update is delivered again, as after a
lost batch of answers. 1,000 updates in all, from 50 members: each is handled once (one answer
each), and every chat's answers come in the order of its updates.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from bench.fake_bot_api import post_update
from core import members
from core.db import make_engine
from core.rules import Rules
from tests.conftest import POSTGRES_URL, empty_tables
from tests.e2e.harness import (
    RULES_TOML,
    BotProcess,
    Club,
    Person,
    Telegram,
    bot_processes,
    fake_telegram,
    free_port,
    member_chat,
    plain,
)

pytestmark = pytest.mark.skipif(POSTGRES_URL is None, reason="needs BASHGAH_TEST_POSTGRES_URL")

SECRET = "two-processes-S3cret"
CHATS = 50
UPDATES_PER_CHAT = 20
# What each command answers, told apart by a phrase of its answer.
ANSWERS = {"/points": "you have", "/history": "Points history", "/help": "what I can do"}
PEOPLE = [Person(5000 + n, f"Member{n}") for n in range(CHATS)]


def _run(work: Callable[[AsyncConnection], Awaitable[Any]]) -> Any:
    """``work`` on a connection to the test database, in one transaction."""

    async def main() -> Any:
        engine = make_engine(str(POSTGRES_URL))
        try:
            async with engine.begin() as connection:
                return await work(connection)
        finally:
            await engine.dispose()

    return asyncio.run(main())


@pytest.fixture
def tg() -> Iterator[Telegram]:
    """Telegram that takes what both processes send: each keeps to 30 messages a second."""
    with fake_telegram(overall_limit=60) as telegram:
        yield telegram


@pytest.fixture
def pg_club(postgres_ready: str, tmp_path: Path) -> Iterator[Club]:
    _run(empty_tables)
    rules_path = tmp_path / "rules.toml"
    rules_path.write_text(RULES_TOML, encoding="utf-8")
    yield Club(tmp_path, postgres_ready, rules_path)
    _run(empty_tables)


async def _seed(session: AsyncSession, rules: Rules) -> None:
    for n, person in enumerate(PEOPLE):
        await members.join(
            session, rules, telegram_id=person.id, name=person.full_name,
            phone=f"+98912{n:07d}", phone_verified=True, locale="en",
        )  # fmt: skip


def test_two_processes_handle_each_update_once_and_each_chat_in_order(
    tg: Telegram, pg_club: Club
) -> None:
    pg_club.seed(_seed)
    urls = []
    with bot_processes(tg, pg_club) as make:
        processes: list[BotProcess] = []
        for _ in range(2):
            port = free_port()
            urls.append(f"http://127.0.0.1:{port}/telegram")
            processes.append(make("--webhook-url", urls[-1], "--webhook-secret", SECRET,
                                  "--listen", "127.0.0.1", "--port", str(port)))  # fmt: skip
            processes[-1].start()

        luck = random.Random(13)
        commands = {p.id: [luck.choice(list(ANSWERS)) for _ in range(UPDATES_PER_CHAT)]
                    for p in PEOPLE}  # fmt: skip
        delivered: list[dict[str, Any]] = []

        def deliver(update: dict[str, Any], twice: bool, pool: ThreadPoolExecutor) -> None:
            targets = urls if twice else [luck.choice(urls)]
            statuses = list(pool.map(lambda url: post_update(url, update, SECRET), targets))
            assert statuses == [200] * len(targets), (update["update_id"], statuses)

        def one_chat(person: Person) -> None:
            chat = member_chat(tg, person)
            with ThreadPoolExecutor(2) as pool:
                for command in commands[person.id]:
                    update = {"update_id": tg.call(tg.api.next_update_id),
                              **chat.text_update(command)}  # fmt: skip
                    delivered.append(update)
                    deliver(update, luck.random() < 1 / 8, pool)

        with ThreadPoolExecutor(16) as chats:
            list(chats.map(one_chat, PEOPLE))
        with ThreadPoolExecutor(8) as pool:  # every update again, wherever it lands
            statuses = pool.map(lambda u: post_update(luck.choice(urls), u, SECRET), delivered)
            assert set(statuses) == {200}

        assert len(delivered) == CHATS * UPDATES_PER_CHAT == 1000
        for person in PEOPLE:
            answers = [plain(m.text) for m in tg.messages(person.id)]
            kinds = [next((c for c, phrase in ANSWERS.items() if phrase in a), a)
                     for a in answers]  # fmt: skip
            assert kinds == commands[person.id], person
        handled = _run(lambda s: s.execute(text(
            "SELECT COUNT(*), COUNT(handled_at), COUNT(DISTINCT worker) FROM telegram_updates"
        )))  # fmt: skip
        assert handled.one() == (1000, 1000, 2), "both processes took updates, all handled"
        assert all(p.alive for p in processes)
