"""``bashgah run --listen --port``: the real process answers Telegram and the HTTP API together.

Long polling against the fake Bot API and uvicorn on a free loopback port, in one process over
one club: a key made with ``bashgah api-key create`` records a purchase over real HTTP, and the
member's ``/points`` in Telegram shows it. SIGTERM stops both, and the process exits 0. A flood of
silent connections and an endless request head hold nothing: the API keeps answering, and the
server closes them.
"""

from __future__ import annotations

import re
import signal
import socket
from collections.abc import Callable

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from bot.serving import IDLE_SECONDS, MAX_HEADER_BYTES
from core import members
from core.rules import Rules
from tests.e2e.harness import (
    BotProcess,
    Club,
    Person,
    Telegram,
    free_port,
    member_chat,
    plain,
    run_cli,
    silent_connections,
)

SARA = Person(1001, "Sara", "Ahmadi")
EXIT_SECONDS = 30.0  # a stop waits for the fake's long poll (10 s) to return
SILENT_CONNECTIONS = 1100


async def _seed(session: AsyncSession, rules: Rules) -> None:
    await members.join(
        session, rules, telegram_id=SARA.id, name=SARA.full_name, phone="+989121234567",
        phone_verified=True, locale="en",
    )  # fmt: skip


def new_key(bot: BotProcess, name: str) -> str:
    """``bashgah api-key create``, as the owner runs it: the key it prints."""
    made = run_cli(bot, "api-key", "create", "--name", name)
    found = re.search(r"bgh_\S+", made.stdout)
    assert found, made.stdout
    return found.group(0)


def test_the_api_and_polling_share_one_process_and_stop_together(
    tg: Telegram, bot_factory: Callable[..., BotProcess], club: Club
) -> None:
    club.seed(_seed)
    port = free_port()
    bot = bot_factory("--listen", "127.0.0.1", "--port", str(port))
    key = new_key(bot, "till-1")
    bot.start()
    sara = member_chat(tg, SARA, bot)

    with httpx.Client(base_url=f"http://127.0.0.1:{port}/api/v1", timeout=15.0) as api:
        document = api.get("/openapi.json")
        assert document.status_code == 200
        assert "/api/v1/purchases" in document.json()["paths"]
        assert api.get("/docs").status_code == 200

        sale = {"member": "09121234567", "amount": 250000, "reference": "INV-1"}
        refused = api.post("/purchases", json=sale, headers={"Idempotency-Key": "sale-1"})
        assert refused.status_code == 401
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert club.query("SELECT COUNT(*) FROM purchases") == [(0,)]

        headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": "sale-1"}
        recorded = api.post("/purchases", json=sale, headers=headers)
        assert recorded.status_code == 201, recorded.text
        assert (recorded.json()["points"], recorded.json()["balance"]) == (250, 250)

    points = sara.ask("/points", "you have 250 points")
    assert "Your tier: Bronze" in plain(points.text)
    assert club.query("SELECT reference, amount FROM purchases") == [("INV-1", 250000)]

    assert bot.process is not None
    bot.process.send_signal(signal.SIGTERM)
    assert bot.process.wait(timeout=EXIT_SECONDS) == 0, bot.log_tail()
    assert "Traceback" not in bot.log(), bot.log_tail()
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0, "the API still listens"


def test_a_port_already_taken_stops_the_start_with_its_reason(
    bot_factory: Callable[..., BotProcess],
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        bot = bot_factory("--listen", "127.0.0.1", "--port", str(port)).start(wait=False)

        assert bot.process is not None
        assert bot.process.wait(timeout=EXIT_SECONDS) == 1
    assert f"cannot listen on 127.0.0.1:{port}" in bot.log()


def test_silent_connections_and_endless_heads_do_not_starve_the_api(
    bot_factory: Callable[..., BotProcess],
) -> None:
    port = free_port()
    bot_factory("--listen", "127.0.0.1", "--port", str(port)).start()
    with silent_connections(port, SILENT_CONNECTIONS, closed_within=IDLE_SECONDS + 10):
        with httpx.Client(base_url=f"http://127.0.0.1:{port}/api/v1", timeout=5.0) as api:
            assert api.get("/openapi.json").status_code == 200

        with socket.create_connection(("127.0.0.1", port), timeout=10) as endless:
            padding = "x" * (MAX_HEADER_BYTES + 1024)
            endless.sendall(f"GET /api/v1/openapi.json HTTP/1.1\r\nX-Pad: {padding}".encode())
            assert endless.recv(64).startswith(b"HTTP/1.1 400 ")
