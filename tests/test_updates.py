"""How updates reach the handlers (:mod:`bot.updates`): in order within a chat, side by side across
chats, and confirmed to Telegram only once handled.

The Application here is a bare python-telegram-bot one whose handler waits for the test's word,
so the test decides when each update is done; :func:`bot.updates.poll` talks HTTP to the loopback
fake Bot API (:mod:`bench.fake_bot_api`), which keeps every update until a ``getUpdates`` offset
confirms it, as Telegram does.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from telegram import Update
from telegram.ext import Application, ApplicationBuilder, ContextTypes, MessageHandler, filters

from bench.fake_bot_api import FakeBotApi
from bot.updates import UpdateFlow, poll

TOKEN = "123456:updates-test"


@dataclass
class Gate:
    """Handler that records when each text starts and ends, and ends only when released."""

    started: list[str] = field(default_factory=list)
    ended: list[str] = field(default_factory=list)
    _open: dict[str, asyncio.Event] = field(default_factory=dict)

    def release(self, text: str) -> None:
        self._event(text).set()

    def _event(self, text: str) -> asyncio.Event:
        return self._open.setdefault(text, asyncio.Event())

    async def handle(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        text = update.effective_message.text
        self.started.append(text)
        await self._event(text).wait()
        self.ended.append(text)


@dataclass
class Rig:
    api: FakeBotApi
    app: Application[Any, Any, Any, Any, Any, Any]
    gate: Gate

    def message(self, chat_id: int, text: str) -> dict[str, Any]:
        chat = {"id": chat_id, "type": "private", "first_name": "M"}
        user = {"id": chat_id, "is_bot": False, "first_name": "M"}
        return {"message": {"message_id": 1, "date": 0, "chat": chat, "from": user, "text": text}}

    def update(self, update_id: int, chat_id: int, text: str) -> Update:
        return Update.de_json({"update_id": update_id, **self.message(chat_id, text)}, self.app.bot)


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    gate = Gate()
    async with FakeBotApi() as api:
        app = ApplicationBuilder().token(TOKEN).base_url(api.base_url).build()
        app.add_handler(MessageHandler(filters.TEXT, gate.handle))
        async with app:
            yield Rig(api, app, gate)


async def until(condition: Any, seconds: float = 5.0) -> None:
    """Poll ``condition`` (state of the fake and the gate, which signal nothing) until it holds."""
    async with asyncio.timeout(seconds):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def test_updates_of_one_chat_wait_for_each_other_and_other_chats_do_not(rig: Rig) -> None:
    flow = UpdateFlow(rig.app)
    flow.start(rig.update(1, 10, "a1"))
    flow.start(rig.update(2, 10, "a2"))
    flow.start(rig.update(3, 20, "b1"))
    await until(lambda: len(rig.gate.started) == 2)

    assert rig.gate.started == ["a1", "b1"], "a2 must wait for a1; b1 must not"
    rig.gate.release("b1")
    rig.gate.release("a2")  # released early: it still runs only after a1
    await until(lambda: rig.gate.ended == ["b1"])
    assert rig.gate.started == ["a1", "b1"]

    rig.gate.release("a1")
    await until(lambda: len(rig.gate.ended) == 3)
    assert rig.gate.ended == ["b1", "a1", "a2"]


async def test_the_offset_stops_at_the_oldest_update_not_handled(rig: Rig) -> None:
    flow = UpdateFlow(rig.app)
    for update_id, chat in ((5, 10), (6, 20), (7, 30)):
        flow.start(rig.update(update_id, chat, f"u{update_id}"))
    await until(lambda: len(rig.gate.started) == 3)

    rig.gate.release("u6")
    rig.gate.release("u7")
    await until(lambda: len(rig.gate.ended) == 2)
    assert flow.offset == 5, "update 5 is still in flight: nothing from it on may be confirmed"

    rig.gate.release("u5")
    await until(lambda: not flow.busy)
    assert flow.offset == 8


async def test_a_failing_update_does_not_hold_its_chat_up(rig: Rig) -> None:
    async def broken(update: Update, _context: Any) -> None:
        if update.effective_message.text == "boom":
            raise RuntimeError("a bug")

    rig.app.add_handler(MessageHandler(filters.Regex("^boom$"), broken), group=-1)
    flow = UpdateFlow(rig.app)
    flow.start(rig.update(1, 10, "boom"))
    rig.gate.release("boom")
    rig.gate.release("after")
    await flow.start(rig.update(2, 10, "after"))
    assert rig.gate.ended == ["boom", "after"] and not flow.busy


async def test_polling_confirms_an_update_only_once_it_is_handled(rig: Rig) -> None:
    rig.api.push_update(rig.message(10, "slow"))
    rig.api.push_update(rig.message(20, "quick"))
    rig.gate.release("quick")
    stop = asyncio.Event()
    polling = asyncio.create_task(poll(rig.app, UpdateFlow(rig.app), stop))
    await until(lambda: rig.gate.ended == ["quick"])
    await until(lambda: rig.api.handed_out[1] >= 3)  # a few more getUpdates while "slow" runs

    assert rig.api.pending_update_ids == [1, 2], "an update in flight was confirmed"
    assert rig.api.handed_out[1] > 1, "Telegram kept offering the update in flight"
    assert rig.gate.started.count("slow") == 1, "an update in flight was started twice"

    rig.gate.release("slow")
    await until(lambda: rig.api.pending_update_ids == [])
    stop.set()
    await asyncio.wait_for(polling, 5)
    assert rig.gate.ended == ["quick", "slow"]


async def test_polling_killed_mid_update_gets_it_again(rig: Rig) -> None:
    rig.api.push_update(rig.message(10, "in flight"))
    polling = asyncio.create_task(poll(rig.app, UpdateFlow(rig.app), asyncio.Event()))
    await until(lambda: rig.gate.started == ["in flight"])
    polling.cancel()  # the process dies: no clean stop, nothing more confirmed

    assert rig.api.pending_update_ids == [1]
    rig.gate.release("in flight")
    stop = asyncio.Event()
    restarted = asyncio.create_task(poll(rig.app, UpdateFlow(rig.app), stop))
    await until(lambda: rig.api.pending_update_ids == [])
    stop.set()
    await asyncio.wait_for(restarted, 5)
    assert rig.gate.started == ["in flight", "in flight"]


async def test_polling_rides_out_server_errors(rig: Rig) -> None:
    rig.api.fault_methods = {"getUpdates"}
    rig.api.fail_next(2, "500")
    rig.api.push_update(rig.message(10, "hello"))
    rig.gate.release("hello")
    stop = asyncio.Event()
    polling = asyncio.create_task(poll(rig.app, UpdateFlow(rig.app), stop))
    await until(lambda: rig.gate.ended == ["hello"], seconds=10)
    stop.set()
    await asyncio.wait_for(polling, 5)
    assert rig.api.server_errors == 2
