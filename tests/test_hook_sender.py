"""The hook sender against a real receiver on 127.0.0.1: a tiny ASGI app under uvicorn that checks
each post's signature with the hook's secret, as a shop's receiver would, and records what came.

Events arrive signed, with their id and type; a receiver that fails gets the same event again
(same id, same bytes) after the backoff; one hook's events arrive in the order they happened; a
sender stopped with a post in flight loses nothing; ``bashgah run``'s background work posts them.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
import uvicorn
from sqlalchemy import select

from bot.app import build_application, running
from bot.standin import BotApiStandin
from core import hook_outbox, hooks
from core.actions import joining, purchases
from core.audit import Actor
from core.club import Club
from core.config import Settings
from core.models import Hook, HookDelivery, HookDeliveryStatus, Member, utcnow
from tests.conftest import STAFF_CHAT_ID
from tests.helpers import new_member
from web.hook_sender import HookSender, start

CASHIER = Actor(501, "Cashier")
NUMBER = "+989121234567"


@dataclass
class Post:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """The shop's side. It answers the next of ``statuses`` (200 once they run out); while
    ``hold`` is clear it keeps each post waiting for its answer."""

    url: str = ""
    secret: str = ""
    posts: list[Post] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    hold: asyncio.Event = field(default_factory=asyncio.Event)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.hold.set()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        self.posts.append(Post(headers, body))
        self.arrived.set()
        await self.hold.wait()
        status = self.statuses.pop(0) if self.statuses else 200
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    def verifies(self, post: Post, secret: str | None = None) -> bool:
        """What a receiver does with the secret ``bashgah hooks add`` printed: the HMAC of the raw
        body, compared in constant time with the header."""
        key = (secret or self.secret).encode()
        expected = "sha256=" + hmac.new(key, post.body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, post.headers["x-bashgah-signature"])

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(post.body) for post in self.posts]


class _QuietServer(uvicorn.Server):
    """uvicorn inside the test's loop: the test runner keeps its signal handlers."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    app = Receiver()
    sock = socket.create_server(("127.0.0.1", 0))
    config = uvicorn.Config(app, lifespan="off", log_level="warning", timeout_graceful_shutdown=1)
    server = _QuietServer(config)
    # Already listening: a post made before uvicorn accepts waits in the socket's backlog.
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    app.url = f"http://127.0.0.1:{sock.getsockname()[1]}/bashgah/events"
    yield app
    app.hold.set()
    server.should_exit = True
    await serving
    sock.close()


class Clock:
    """The sender's time, moved by the test past a retry's backoff."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def after(self, delay: timedelta) -> None:
        self.now += delay + timedelta(seconds=1)


async def _hook(club: Club, receiver: Receiver, *events: str) -> Hook:
    hook = await hooks.add(club, receiver.url, events)
    receiver.secret = hook.secret
    return hook


async def _member(club: Club) -> Member:
    async with club.sessions() as s, s.begin():
        return await new_member(s, club.rules, utcnow(), phone=NUMBER)


async def _buy(club: Club, member: Member, reference: str, amount: int = 250_000) -> None:
    await purchases.purchase(
        club, CASHIER, f"#{member.id}", amount, reference=reference, key=f"k:{reference}"
    )


async def _rows(club: Club) -> list[HookDelivery]:
    async with club.sessions() as s:
        return list(await s.scalars(select(HookDelivery).order_by(HookDelivery.id)))


async def _drain(sender: HookSender) -> int:
    total = 0
    while handled := await sender.drain_once():
        total += handled
    return total


async def test_an_event_arrives_signed_with_its_id_and_type(club: Club, receiver: Receiver) -> None:
    await _hook(club, receiver)
    member = await _member(club)
    await _buy(club, member, "INV-1")
    sender = HookSender(club.sessions)

    assert await _drain(sender) == 1
    await sender.aclose()

    [post] = receiver.posts
    [row] = await _rows(club)
    assert post.body == row.body.encode()  # the stored bytes, exactly
    assert receiver.verifies(post)
    assert post.headers["content-type"] == "application/json"
    assert post.headers["x-bashgah-event"] == "purchase.recorded"
    assert post.headers["x-bashgah-delivery"] == row.event_id
    event = json.loads(post.body)
    assert (event["id"], event["type"]) == (row.event_id, "purchase.recorded")
    assert event["data"]["reference"] == "INV-1" and event["data"]["member"] == member.id
    assert (row.status, row.attempts, row.last_error) == (HookDeliveryStatus.SENT, 1, None)
    assert row.sent_at is not None


async def test_a_tampered_body_or_a_wrong_secret_does_not_verify(
    club: Club, receiver: Receiver
) -> None:
    await _hook(club, receiver)
    await joining.register(club, CASHIER, phone=NUMBER)
    sender = HookSender(club.sessions)
    await _drain(sender)
    await sender.aclose()

    [post] = receiver.posts
    assert receiver.verifies(post)
    tampered = Post(post.headers, post.body.replace(b'"till"', b'"tele"'))
    assert tampered.body != post.body and not receiver.verifies(tampered)
    assert not receiver.verifies(post, secret="not-the-hooks-secret")


async def test_a_receiver_that_fails_twice_gets_the_same_event_again_then_it_is_sent(
    club: Club, receiver: Receiver
) -> None:
    await _hook(club, receiver)
    member = await _member(club)
    await _buy(club, member, "INV-1")
    receiver.statuses = [500, 500]
    clock = Clock()
    sender = HookSender(club.sessions, clock=clock)

    assert await sender.drain_once() == 1
    [row] = await _rows(club)
    assert (row.status, row.attempts, row.last_error) == ("pending", 1, "HTTP 500")
    assert row.not_before == clock.now + hook_outbox.retry_delay(1)
    assert await sender.drain_once() == 0  # not before its backoff
    clock.after(hook_outbox.retry_delay(1))
    assert await sender.drain_once() == 1
    clock.after(hook_outbox.retry_delay(2))
    assert await sender.drain_once() == 1
    await sender.aclose()

    assert len(receiver.posts) == 3
    assert len({p.headers["x-bashgah-delivery"] for p in receiver.posts}) == 1
    assert len({p.body for p in receiver.posts}) == 1
    assert all(receiver.verifies(p) for p in receiver.posts)
    [row] = await _rows(club)
    assert (row.status, row.attempts, row.last_error) == ("sent", 3, None)


async def test_an_unreachable_hook_is_retried_then_given_up(club: Club) -> None:
    # A port bound and never listened on: every post is refused, and no test running beside this
    # one (the suite runs in parallel) can take the port meanwhile, as it could a closed one.
    with socket.socket() as unheard:
        unheard.bind(("127.0.0.1", 0))
        await hooks.add(club, f"http://127.0.0.1:{unheard.getsockname()[1]}/in")
        await _buy(club, await _member(club), "INV-1")
        clock = Clock()
        sender = HookSender(club.sessions, clock=clock)

        for attempt in range(1, hook_outbox.MAX_ATTEMPTS + 1):
            assert await sender.drain_once() == 1
            clock.after(hook_outbox.retry_delay(attempt))
        await sender.aclose()

    [row] = await _rows(club)
    assert (row.status, row.attempts) == ("failed", hook_outbox.MAX_ATTEMPTS)
    assert row.last_error is not None and "Connect" in row.last_error
    assert hook_outbox.retry_delay(hook_outbox.MAX_ATTEMPTS) == hook_outbox.LONGEST_RETRY


async def test_one_hooks_events_arrive_in_the_order_they_happened(
    club: Club, receiver: Receiver
) -> None:
    await _hook(club, receiver, "purchase.recorded")
    member = await _member(club)
    references = [f"INV-{n}" for n in range(1, 9)]
    for reference in references:
        await _buy(club, member, reference)
    sender = HookSender(club.sessions, batch_size=3)

    assert await _drain(sender) == len(references)
    await sender.aclose()

    assert [e["data"]["reference"] for e in receiver.events()] == references
    assert all(receiver.verifies(p) for p in receiver.posts)


async def test_a_failure_holds_the_hooks_later_events_behind_it(
    club: Club, receiver: Receiver
) -> None:
    await _hook(club, receiver, "purchase.recorded")
    member = await _member(club)
    for reference in ("INV-1", "INV-2", "INV-3"):
        await _buy(club, member, reference)
    receiver.statuses = [500]
    clock = Clock()
    sender = HookSender(club.sessions, clock=clock)

    assert await sender.drain_once() == 3
    assert len(receiver.posts) == 1  # the two behind it were not posted
    assert [(r.status, r.attempts) for r in await _rows(club)] == [
        ("pending", 1),
        ("pending", 0),
        ("pending", 0),
    ]
    clock.after(hook_outbox.retry_delay(1))
    await _drain(sender)
    await sender.aclose()

    references = [e["data"]["reference"] for e in receiver.events()]
    assert references == ["INV-1", "INV-1", "INV-2", "INV-3"]


async def test_a_sender_stopped_mid_post_puts_it_back_and_the_next_one_sends_it(
    club: Club, receiver: Receiver
) -> None:
    await _hook(club, receiver)
    await _buy(club, await _member(club), "INV-1")
    receiver.hold.clear()  # the receiver takes its time answering
    running = start(club.sessions, poll_interval=0.05)
    await asyncio.wait_for(receiver.arrived.wait(), 5)
    [row] = await _rows(club)
    assert row.status == HookDeliveryStatus.SENDING

    await running.close(grace=0.1)  # the answer does not come within the grace

    [row] = await _rows(club)
    assert (row.status, row.attempts, row.claimed_at) == ("pending", 0, None)
    receiver.hold.set()
    sender = HookSender(club.sessions)
    assert await _drain(sender) == 1
    await sender.aclose()
    [row] = await _rows(club)
    assert row.status == HookDeliveryStatus.SENT
    ids = {p.headers["x-bashgah-delivery"] for p in receiver.posts}
    assert len(receiver.posts) == 2 and ids == {row.event_id}  # at least once, one event


async def test_a_sender_stopped_gracefully_settles_the_post_in_flight_and_keeps_the_rest(
    club: Club, receiver: Receiver
) -> None:
    await _hook(club, receiver, "purchase.recorded")
    member = await _member(club)
    for reference in ("INV-1", "INV-2", "INV-3"):
        await _buy(club, member, reference)
    receiver.hold.clear()
    running = start(club.sessions, poll_interval=0.05)
    await asyncio.wait_for(receiver.arrived.wait(), 5)

    closing = asyncio.create_task(running.close(grace=5))
    await asyncio.sleep(0.05)
    receiver.hold.set()  # the post in flight is answered while the sender stops
    await closing

    assert [(r.status, r.attempts) for r in await _rows(club)] == [
        ("sent", 1),
        ("pending", 0),
        ("pending", 0),
    ]
    assert len(receiver.posts) == 1
    sender = HookSender(club.sessions)
    assert await _drain(sender) == 2
    await sender.aclose()
    assert [e["data"]["reference"] for e in receiver.events()] == ["INV-1", "INV-2", "INV-3"]


async def test_a_claim_left_by_a_dead_sender_is_released_and_sent(
    club: Club, receiver: Receiver
) -> None:
    await _hook(club, receiver)
    await _buy(club, await _member(club), "INV-1")
    clock = Clock()
    [claimed] = await hook_outbox.claim(club.sessions, 10, clock())  # and then the process died
    sender = HookSender(club.sessions, clock=clock, stale_after=timedelta(minutes=10))

    assert await sender.drain_once() == 0  # claimed a moment ago: perhaps still being posted
    clock.after(timedelta(minutes=10))
    sender._next_housekeeping = 0.0  # the next round looks for stale claims again
    assert await _drain(sender) == 1
    await sender.aclose()

    [row] = await _rows(club)
    assert (row.status, row.attempts) == ("sent", 2)
    assert [p.headers["x-bashgah-delivery"] for p in receiver.posts] == [claimed.event_id]


async def test_a_removed_hooks_waiting_events_are_not_posted(
    club: Club, receiver: Receiver
) -> None:
    hook = await _hook(club, receiver)
    await _buy(club, await _member(club), "INV-1")

    await hooks.remove(club, hook.id)
    sender = HookSender(club.sessions)
    assert await _drain(sender) == 0
    await sender.aclose()

    assert receiver.posts == []


async def test_the_bots_background_work_posts_events(
    club: Club, receiver: Receiver, database_url: str
) -> None:
    await _hook(club, receiver)
    settings = Settings(
        _env_file=None,
        database_url=database_url,
        staff_chat_id=STAFF_CHAT_ID,
        api_base_url="http://127.0.0.1:9/unused",
    )
    app = build_application(settings, request=BotApiStandin())
    async with running(app, background_work=True):
        await _buy(club, await _member(club), "INV-1")
        await asyncio.wait_for(receiver.arrived.wait(), 10)
    # stopped with the bot: no sender is left running

    [post] = receiver.posts
    assert receiver.verifies(post) and post.headers["x-bashgah-event"] == "purchase.recorded"
    assert [r.status for r in await _rows(club)] == [HookDeliveryStatus.SENT]


async def test_two_senders_at_once_post_each_event_once(club: Club, receiver: Receiver) -> None:
    for _ in range(3):
        await _hook(club, receiver, "purchase.recorded")
    member = await _member(club)
    for n in range(10):
        await _buy(club, member, f"INV-{n}")
    senders = [HookSender(club.sessions, batch_size=4) for _ in range(2)]

    await asyncio.gather(*(_drain(sender) for sender in senders))
    for sender in senders:
        await sender.aclose()

    assert [r.status for r in await _rows(club)] == [HookDeliveryStatus.SENT] * 30
    assert all(r.attempts == 1 for r in await _rows(club))
    assert len(receiver.posts) == 30  # three hooks, ten events each, none twice
