"""The outbox sender against a scripted Bot API: 429, 403, 400, timeouts, pacing, crashes.

Time is a fake clock the sender sleeps on, so pacing is measured exactly and nothing waits for real.
The scripted API sits at PTB's HTTP boundary (a ``BaseRequest``), so the real ``Bot`` parses every
answer into the same exceptions Telegram's would become.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import Bot
from telegram.error import RetryAfter, TimedOut
from telegram.ext import AIORateLimiter, ExtBot
from telegram.request import HTTPXRequest, RequestData

from bench.fake_bot_api import FakeBotApi
from bot.notifications.sender import Sender, sender_of
from bot.notifications.sender_task import dedicated_bot, start_sender, stop_sender
from bot.standin import BotApiStandin
from core import outbox
from core.models import Campaign, Delivery, DeliveryStatus, Member, MemberStatus
from core.rules import Rules
from tests.conftest import BotHarness
from tests.helpers import new_member

TOKEN = "123:abc"

# PTB's own RetryAfter constructor reads its deprecated int ``retry_after``; the sender does not.
pytestmark = pytest.mark.filterwarnings(
    "ignore:.*retry_after:telegram.warnings.PTBDeprecationWarning"
)


class FakeClock:
    """Monotonic and wall time that move only when the sender sleeps."""

    def __init__(self, start: datetime) -> None:
        self.start = start
        self.t = 0.0

    def monotonic(self) -> float:
        return self.t

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.t)

    async def sleep(self, seconds: float) -> None:
        self.t += max(0.0, seconds)
        await asyncio.sleep(0)


@dataclass
class Attempt:
    at: float
    chat_id: int
    outcome: str
    params: dict[str, Any] = field(default_factory=dict)


def _error(code: int, description: str, **parameters: Any) -> tuple[int, bytes]:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return code, json.dumps(body).encode()


class ScriptedApi(BotApiStandin):
    """The stand-in, with a script of answers per chat: each ``sendMessage`` to a chat takes the
    next outcome of its script (``ok`` once the script runs out).

    Outcomes: ``ok``, ``429`` (retry after 3), ``403``, ``400``, ``500``, ``timeout``, and
    ``hang`` (Telegram got the message, but the answer never comes back).
    """

    def __init__(self, clock: FakeClock) -> None:
        super().__init__()
        self.clock = clock
        self.script: dict[int, list[str]] = {}
        self.attempts: list[Attempt] = []
        self.before_send: Callable[[int], Any] | None = None

    def plan(self, chat_id: int, *outcomes: str) -> None:
        self.script[chat_id] = list(outcomes)

    @property
    def delivered(self) -> list[int]:
        return [a.chat_id for a in self.attempts if a.outcome in ("ok", "hang")]

    async def do_request(
        self, url: str, method: str, request_data: RequestData | None = None, **kwargs: Any
    ) -> tuple[int, bytes]:
        if url.endswith("/sendMessage") and request_data is not None:
            params = dict(request_data.parameters)
            chat_id = int(params["chat_id"])
            if self.before_send is not None:
                await self.before_send(chat_id)
            plan = self.script.get(chat_id)
            outcome = plan.pop(0) if plan else "ok"
            self.attempts.append(Attempt(self.clock.monotonic(), chat_id, outcome, params))
            if outcome == "429":
                return _error(429, "Too Many Requests: retry after 3", retry_after=3)
            if outcome == "403":
                return _error(403, "Forbidden: bot was blocked by the user")
            if outcome == "400":
                return _error(400, "Bad Request: chat not found")
            if outcome == "500":
                return _error(500, "Internal Server Error")
            if outcome == "timeout":
                raise TimedOut()
            if outcome == "hang":
                await asyncio.Event().wait()
        return await super().do_request(url, method, request_data, **kwargs)


@dataclass
class Rig:
    sessions: async_sessionmaker[AsyncSession]
    clock: FakeClock
    api: ScriptedApi
    bot: Bot
    rules: Rules
    now: datetime

    def sender(self, **options: Any) -> Sender:
        options.setdefault("rate", 30)
        options.setdefault("max_attempts", 5)
        options.setdefault("clock", self.clock)
        return Sender(self.bot, self.sessions, **options)

    async def members(self, n: int, *, rows: int = 1, campaign_id: int | None = None) -> list[int]:
        """``n`` members with ``rows`` pending messages each; their chat ids."""
        async with self.sessions() as s, s.begin():
            chats = []
            for i in range(n):
                member = await new_member(s, self.rules, self.now, name=f"m{i}")
                assert member.telegram_id is not None
                for r in range(rows):
                    await outbox.enqueue(
                        s, chat_id=member.telegram_id, member_id=member.id, kind="offer",
                        dedupe_key=f"offer:{member.id}:{r}", text=f"<b>hello</b> {i}/{r}",
                        campaign_id=campaign_id, now=self.now,
                    )  # fmt: skip
                chats.append(member.telegram_id)
            return chats

    async def rows(self) -> list[Delivery]:
        async with self.sessions() as s:
            return list(await s.scalars(select(Delivery).order_by(Delivery.id)))

    async def by_chat(self) -> dict[int, list[Delivery]]:
        grouped: dict[int, list[Delivery]] = {}
        for row in await self.rows():
            grouped.setdefault(row.chat_id, []).append(row)
        return grouped


async def _bot(api: BotApiStandin) -> Bot:
    bot = Bot(TOKEN, request=api, get_updates_request=api)
    await bot.initialize()
    return bot


@pytest.fixture
async def rig(
    sessions: async_sessionmaker[AsyncSession], rules: Rules, now: datetime
) -> AsyncIterator[Rig]:
    clock = FakeClock(now)
    api = ScriptedApi(clock)
    bot = await _bot(api)
    yield Rig(sessions, clock, api, bot, rules, now)
    await bot.shutdown()


def _statuses(rows: list[Delivery]) -> Counter[str]:
    return Counter(str(r.status) for r in rows)


async def test_sends_every_row_once_in_html_with_its_button(rig: Rig) -> None:
    chats = await rig.members(3)
    button = {"inline_keyboard": [[{"text": "Redeem", "callback_data": "redeem:4"}]]}
    async with rig.sessions() as s, s.begin():
        await outbox.enqueue(
            s, chat_id=chats[0], kind="offer", dedupe_key="button", text="with a button",
            reply_markup=button, now=rig.now,
        )  # fmt: skip

    handled = await rig.sender().drain()

    assert handled == 4
    assert sorted(rig.api.delivered) == sorted([*chats, chats[0]])
    assert {a.params["parse_mode"] for a in rig.api.attempts} == {"HTML"}
    [with_button] = [a for a in rig.api.attempts if a.params["text"] == "with a button"]
    assert with_button.params["reply_markup"] == button
    rows = await rig.rows()
    assert _statuses(rows) == {"sent": 4}
    assert all(r.sent_at is not None and r.attempts == 1 for r in rows)


async def test_429_pauses_the_whole_sender_and_resends_without_doubles(rig: Rig) -> None:
    chats = await rig.members(8)
    rig.api.plan(chats[2], "429")
    sender = rig.sender()

    await sender.drain()

    assert Counter(rig.api.delivered) == Counter(chats)  # everyone once, nobody twice
    [flood] = [a for a in rig.api.attempts if a.outcome == "429"]
    later = [a for a in rig.api.attempts if a.at > flood.at]
    assert later and min(a.at for a in later) >= flood.at + 3  # nothing at all during the pause
    resend = [a for a in later if a.chat_id == chats[2]]
    assert len(resend) == 1
    rows = await rig.by_chat()
    assert [r.status for r in rows[chats[2]]] == [DeliveryStatus.SENT]
    assert rows[chats[2]][0].attempts == 2
    assert sender.stats.flood_waits == 1
    assert _statuses(await rig.rows()) == {"sent": 8}


async def test_403_blocks_the_member_and_nothing_more_is_sent_to_them(rig: Rig) -> None:
    chats = await rig.members(4, rows=3)
    gone = chats[1]
    rig.api.plan(gone, "403")

    await rig.sender().drain()

    assert [a.outcome for a in rig.api.attempts if a.chat_id == gone] == ["403"]  # only once
    assert Counter(rig.api.delivered) == Counter({c: 3 for c in chats if c != gone})
    rows = await rig.by_chat()
    assert {r.status for r in rows[gone]} == {DeliveryStatus.UNREACHABLE}
    async with rig.sessions() as s:
        member = await s.scalar(select(Member).where(Member.telegram_id == gone))
        assert member is not None and member.status == MemberStatus.BLOCKED

    # a message written for them afterwards is not sent either
    async with rig.sessions() as s, s.begin():
        await outbox.enqueue(
            s, chat_id=gone, member_id=member.id, kind="notice", dedupe_key="after",
            text="still there?", now=rig.clock.now(),
        )  # fmt: skip
    await rig.clock.sleep(60)
    await rig.sender().drain()
    assert [a.chat_id for a in rig.api.attempts].count(gone) == 1
    assert {r.status for r in (await rig.by_chat())[gone]} == {DeliveryStatus.UNREACHABLE}


async def test_400_fails_the_row_with_telegrams_error_and_goes_on(rig: Rig) -> None:
    chats = await rig.members(3)
    rig.api.plan(chats[0], "400")

    await rig.sender().drain()

    [row] = (await rig.by_chat())[chats[0]]
    assert row.status == DeliveryStatus.FAILED
    assert row.last_error == "BadRequest: Chat not found"
    assert row.attempts == 1
    assert sorted(rig.api.delivered) == sorted(chats[1:])


async def test_a_broken_button_fails_its_row_only(rig: Rig) -> None:
    [chat] = await rig.members(1)
    async with rig.sessions() as s, s.begin():
        await outbox.enqueue(
            s, chat_id=chat + 1, kind="offer", dedupe_key="broken", text="x",
            reply_markup={"inline_keyboard": "not rows"}, now=rig.now,
        )  # fmt: skip

    await rig.sender().drain()

    rows = await rig.rows()
    assert [r.status for r in rows] == [DeliveryStatus.SENT, DeliveryStatus.FAILED]
    assert rows[1].last_error is not None and rows[1].last_error.startswith("bad reply_markup")


async def test_timeouts_are_retried_with_backoff_then_given_up(rig: Rig) -> None:
    chats = await rig.members(3)
    never, once, fine = chats
    rig.api.plan(never, *["timeout"] * 10)
    rig.api.plan(once, "500", "ok")

    await rig.sender(max_attempts=4).drain(max_wait=3600)

    tries = [a.at for a in rig.api.attempts if a.chat_id == never]
    assert len(tries) == 4  # max_attempts, never more
    gaps = [b - a for a, b in pairwise(tries)]
    assert [round(g) for g in gaps] == [2, 4, 8]  # exponential backoff
    rows = await rig.by_chat()
    [given_up] = rows[never]
    assert given_up.status == DeliveryStatus.FAILED and given_up.attempts == 4
    assert given_up.last_error is not None and "TimedOut" in given_up.last_error
    assert [(r.status, r.attempts) for r in rows[once]] == [(DeliveryStatus.SENT, 2)]
    assert [(r.status, r.attempts) for r in rows[fine]] == [(DeliveryStatus.SENT, 1)]


async def test_an_outage_pauses_the_sender_instead_of_burning_attempts(rig: Rig) -> None:
    chats = await rig.members(20)
    for chat in chats:
        rig.api.plan(chat, "timeout", "ok")

    sender = rig.sender(max_attempts=3)
    await sender.drain(max_wait=3600)

    assert Counter(rig.api.delivered) == Counter(chats)
    assert _statuses(await rig.rows()) == {"sent": 20}
    # three failures in a row stop the batch: the rest were put back with their attempt refunded
    assert max(r.attempts for r in await rig.rows()) == 2
    first_three = sorted(a.at for a in rig.api.attempts)[:4]
    assert first_three[3] - first_three[2] >= 1  # paused after the third timeout in a row


@pytest.mark.parametrize("rate", [30, 60])
async def test_pacing_overall_and_per_chat(rig: Rig, rate: int) -> None:
    """Never more than ``rate`` sends in any one-second window, never two to one chat within a
    second, and no slower than the rate needs."""
    chats = await rig.members(40, rows=3)

    await rig.sender(rate=rate).drain()

    times = sorted(a.at for a in rig.api.attempts)
    assert len(times) == 120
    assert all(b - a >= 1.0 for a, b in zip(times, times[rate:], strict=False))
    for chat in chats:
        own = [a.at for a in rig.api.attempts if a.chat_id == chat]
        assert len(own) == 3
        assert all(b - a >= 1.0 for a, b in pairwise(own))
    # as fast as the limits allow: 119 gaps at the overall pace, or three waves of the 40 chats
    # a second (and the guard) apart, whichever is longer
    fastest = max(119 / rate * 1.015, 2 * 1.015 + 39 / rate)
    assert times[-1] - times[0] <= fastest + 0.05
    assert _statuses(await rig.rows()) == {"sent": 120}


async def test_a_killed_sender_loses_nothing_and_doubles_only_what_was_in_flight(
    rig: Rig,
) -> None:
    chats = await rig.members(12)
    in_flight = {chats[3], chats[7]}
    for chat in in_flight:
        rig.api.plan(chat, "hang")  # Telegram got it; the answer never came: then we die

    first = asyncio.create_task(rig.sender().drain_once())
    for _ in range(1000):  # until every send went out and all but the two hanging are settled
        if len(rig.api.attempts) == len(chats) and _statuses(await rig.rows())["sent"] == 10:
            break
        await asyncio.sleep(0.01)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    rows = await rig.by_chat()
    assert {c for c, [r] in rows.items() if r.status == DeliveryStatus.SENDING} == in_flight

    # a new sender a minute later leaves the claims alone: their sender might still be alive
    await rig.clock.sleep(60)
    assert await rig.sender().drain() == 0
    # after two minutes they are stale: released and sent
    await rig.clock.sleep(70)
    restarted = rig.sender()
    await restarted.drain()

    assert restarted.stats.released == 2
    received = Counter(rig.api.delivered)
    assert set(received) == set(chats)  # everyone got it
    assert {c for c, n in received.items() if n > 1} <= in_flight  # doubles only those in flight
    assert _statuses(await rig.rows()) == {"sent": 12}


async def test_rows_claimed_by_a_dead_sender_are_sent_once_after_release(rig: Rig) -> None:
    chats = await rig.members(5)
    async with rig.sessions() as s, s.begin():
        await outbox.claim(s, 3, now=rig.now)  # claimed, committed, and then the sender died

    await rig.clock.sleep(121)
    await rig.sender().drain()

    assert Counter(rig.api.delivered) == Counter(chats)
    assert _statuses(await rig.rows()) == {"sent": 5}


async def test_two_senders_share_the_outbox_without_doubles(
    sessions: async_sessionmaker[AsyncSession], rules: Rules, now: datetime, rig: Rig
) -> None:
    """Both draining at once (on PostgreSQL truly in parallel, SQLite serializes their claims):
    the first sender's first send waits until the second one has sent, so they overlap."""
    chats = await rig.members(60)
    second_clock = FakeClock(now)
    second_api = ScriptedApi(second_clock)
    second_bot = await _bot(second_api)
    second_sent = asyncio.Event()

    async def wait_for_the_other(chat_id: int) -> None:
        await asyncio.wait_for(second_sent.wait(), timeout=10)

    async def note(chat_id: int) -> None:
        second_sent.set()

    rig.api.before_send = wait_for_the_other
    second_api.before_send = note
    one = rig.sender(rate=1000, batch_size=7)
    two = Sender(second_bot, sessions, rate=1000, batch_size=7, clock=second_clock)
    try:
        handled = await asyncio.gather(one.drain(), two.drain())
    finally:
        await second_bot.shutdown()

    assert all(n > 0 for n in handled)
    assert Counter(rig.api.delivered + second_api.delivered) == Counter(chats)
    assert _statuses(await rig.rows()) == {"sent": 60}


async def test_progress_hook_runs_after_each_batch_with_the_rows_settled(rig: Rig) -> None:
    async with rig.sessions() as s, s.begin():
        campaign = Campaign(name="spring", template="t", segment="all")
        s.add(campaign)
    await rig.members(12, campaign_id=campaign.id)
    seen: list[dict[str, int]] = []

    async def progress(campaign_id: int) -> None:
        assert campaign_id == campaign.id
        async with rig.sessions() as s:
            seen.append(await outbox.counts(s, campaign_id))

    await rig.sender(rate=30, batch_size=5, on_progress=progress).drain()

    assert seen == [
        {"pending": 7, "sent": 5},
        {"pending": 2, "sent": 10},
        {"sent": 12},
    ]


async def test_run_wakes_for_new_rows_and_stops_cleanly(
    sessions: async_sessionmaker[AsyncSession], rules: Rules, now: datetime
) -> None:
    """The real clock: the loop idles, notices a row written later, and ends when told."""
    api = BotApiStandin()
    bot = await _bot(api)
    sender = Sender(bot, sessions, rate=100, idle_interval=0.05)
    stop = asyncio.Event()
    task = asyncio.create_task(sender.run(stop))
    try:
        await asyncio.sleep(0.1)
        assert api.sent() == []
        async with sessions() as s, s.begin():
            await outbox.enqueue(s, chat_id=42, kind="notice", dedupe_key="late", text="hi")
        sender.wake()
        for _ in range(500):
            if api.sent():
                break
            await asyncio.sleep(0.01)
        assert [c.params["chat_id"] for c in api.sent()] == [42]
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=10)
        await bot.shutdown()
    async with sessions() as s:
        assert [d.status for d in await s.scalars(select(Delivery))] == [DeliveryStatus.SENT]


async def test_progress_hears_of_a_campaign_whose_rows_a_403_settled(rig: Rig) -> None:
    """A member's offer from campaign A is refused (403); their row of campaign B is settled
    unreachable without a send, and B's progress is reported too, so B can finish."""
    async with rig.sessions() as s, s.begin():
        a = Campaign(name="a", template="t", segment="all")
        b = Campaign(name="b", template="t", segment="all")
        s.add_all([a, b])
        await s.flush()
        member = await new_member(s, rig.rules, rig.now)
        assert member.telegram_id is not None
        for campaign in (a, b):
            await outbox.enqueue(
                s, chat_id=member.telegram_id, member_id=member.id, kind="offer",
                dedupe_key=f"c{campaign.id}", text="offer", campaign_id=campaign.id, now=rig.now,
            )  # fmt: skip
    rig.api.plan(member.telegram_id, "403")
    heard: dict[int, dict[str, int]] = {}

    async def progress(campaign_id: int) -> None:
        async with rig.sessions() as s:
            heard[campaign_id] = await outbox.counts(s, campaign_id)

    await rig.sender(on_progress=progress).drain()

    assert len(rig.api.attempts) == 1
    assert heard == {a.id: {"unreachable": 1}, b.id: {"unreachable": 1}}


async def test_the_application_runs_a_sender_for_its_life(bot: BotHarness) -> None:
    """Wired as ``bot/app.py`` will: started after the club opens, stopped before it closes."""
    club = bot.club
    sender = await start_sender(bot.app, idle_interval=0.05)
    try:
        assert sender_of(bot.app) is sender
        assert sender.bot is bot.app.bot  # the stand-in bot has no rate limiter to bypass
        assert sender.rate == club.rules.messaging.rate_per_second
        before = len(bot.standin.sent())
        async with club.sessions() as s, s.begin():
            await outbox.enqueue(s, chat_id=77, kind="notice", dedupe_key="n", text="<i>hi</i>")
        sender.wake()
        for _ in range(500):
            if len(bot.standin.sent()) > before:
                break
            await asyncio.sleep(0.01)
        [call] = bot.standin.sent(before)
        assert (call.params["chat_id"], call.text) == (77, "<i>hi</i>")
    finally:
        await stop_sender(bot.app)
    assert sender_of(bot.app) is None


async def test_a_rate_limited_bot_gets_a_plain_twin_for_the_sender() -> None:
    """PTB's AIORateLimiter would retry 429s out of the sender's sight: the sender gets its own
    plain ``Bot`` to the same API server."""
    limited = ExtBot(
        TOKEN, base_url="http://127.0.0.1:9/bot", rate_limiter=AIORateLimiter(max_retries=2)
    )
    twin = dedicated_bot(limited)

    assert twin is not None and not isinstance(twin, ExtBot)
    assert (twin.token, twin.base_url) == (TOKEN, f"http://127.0.0.1:9/bot{TOKEN}")
    assert dedicated_bot(Bot(TOKEN)) is None


async def test_the_fake_bot_api_enforces_the_flood_limits() -> None:
    """The benchmark's fake answers like Telegram: a 31st message within a second, or a second one
    to a chat within a second, is a 429 with ``retry_after``, which PTB raises as RetryAfter.

    The fake's clock stands still, so every message arrives within the second however long a
    loaded machine takes to pass them (31 connections, one event loop)."""
    async with (
        FakeBotApi(token=TOKEN, clock=lambda: 0.0) as api,
        Bot(TOKEN, base_url=api.base_url, request=HTTPXRequest()) as bot,
    ):
        results = await asyncio.gather(
            *(bot.send_message(1000 + i, "x") for i in range(31)), return_exceptions=True
        )
    async with (
        FakeBotApi(token=TOKEN, clock=lambda: 0.0) as per_chat,
        Bot(TOKEN, base_url=per_chat.base_url, request=HTTPXRequest()) as bot,
    ):
        await bot.send_message(7, "first")
        with pytest.raises(RetryAfter):
            await bot.send_message(7, "too soon")

    assert len([r for r in results if isinstance(r, RetryAfter)]) == 1
    assert (api.sent, api.too_many, [f[2] for f in api.floods]) == (30, 1, ["overall"])
    assert (per_chat.sent, per_chat.too_many, [f[2] for f in per_chat.floods]) == (1, 1, ["chat"])


async def test_the_sender_against_the_fake_over_http(
    sessions: async_sessionmaker[AsyncSession], rules: Rules, now: datetime
) -> None:
    """Real HTTP, the real clock, no 429: the refused, the broken and the retried end right."""
    async with sessions() as s, s.begin():
        members = [await new_member(s, rules, now, name=f"m{i}") for i in range(36)]
        for member in members:
            assert member.telegram_id is not None
            await outbox.enqueue(
                s, chat_id=member.telegram_id, member_id=member.id, kind="offer",
                dedupe_key=f"o{member.id}", text="<b>offer</b>",
            )  # fmt: skip
    gone, broken = members[0].telegram_id, members[1].telegram_id
    async with FakeBotApi(token=TOKEN) as api:
        api.forbidden_chats.add(gone)
        api.bad_chats.add(broken)
        api.fail_next(2, "500")
        async with Bot(TOKEN, base_url=api.base_url, request=HTTPXRequest()) as bot:
            await Sender(bot, sessions, rate=30).drain()

    assert (api.too_many, api.server_errors, api.sent) == (0, 2, 34)
    assert not api.doubles
    async with sessions() as s:
        rows = {d.chat_id: d for d in await s.scalars(select(Delivery))}
        assert rows[gone].status == DeliveryStatus.UNREACHABLE
        assert rows[broken].status == DeliveryStatus.FAILED
        assert Counter(d.status for d in rows.values())[DeliveryStatus.SENT] == 34
        assert sorted(d.attempts for d in rows.values())[-2:] == [2, 2]  # the two 500s
