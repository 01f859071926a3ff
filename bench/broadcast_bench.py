"""Broadcast benchmark: the real outbox sender against a loopback Bot API that enforces the limits.

A fresh SQLite database built by the migrations, N members and N pending deliveries (one per
member, each to its own chat), drained by :class:`bot.notifications.sender.Sender` through a real
``telegram.Bot`` over real HTTP to :mod:`bench.fake_bot_api` (30 messages in any second overall,
one a second per chat, 429 beyond). Progress goes to stderr; the one line on stdout is

    broadcast: sent=3000 seconds=101.2 rate=29.6 limit=30 ratio=0.987 429s=0

The fake runs in its own process, as Telegram would. ``seconds`` runs from the first claim to the
last row settled; ``rate`` = sent / seconds; ``ratio`` = rate / limit (goal at least 0.97, with no
429s). The exit status is 1 if any delivery was not sent exactly once.

    python bench/broadcast_bench.py                  # 3,000 deliveries, about 100 s
    python bench/broadcast_bench.py --deliveries 300 # a quick look
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import Bot
from telegram.request import HTTPXRequest

from bench.fake_bot_api import FakeBotApiProcess
from bot.notifications.sender import Sender
from core.db import make_engine, make_sessionmaker, upgrade
from core.models import Delivery, DeliveryStatus, Member

TOKEN = "123:abc"
FIRST_CHAT = 500_000_000


async def _seed(sessions: async_sessionmaker[AsyncSession], n: int) -> None:
    now = datetime.now(UTC)
    async with sessions() as s, s.begin():
        await s.execute(
            insert(Member),
            [
                {
                    "telegram_id": FIRST_CHAT + i,
                    "name": f"Member {i}",
                    "tier": "bronze",
                    "referral_code": f"B{i:07d}",
                    "joined_at": now,
                }
                for i in range(n)
            ],
        )
        ids = (await s.scalars(select(Member.id).order_by(Member.id))).all()
        await s.execute(
            insert(Delivery),
            [
                {
                    "member_id": member_id,
                    "chat_id": FIRST_CHAT + i,
                    "kind": "offer",
                    "dedupe_key": f"bench:{member_id}",
                    "text": f"<b>سلام</b> member {i}: 20% off this week",
                    "status": DeliveryStatus.PENDING,
                    "attempts": 0,
                    "not_before": now,
                    "created_at": now,
                }
                for i, member_id in enumerate(ids)
            ],
        )


async def _statuses(sessions: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    async with sessions() as s:
        rows = await s.execute(select(Delivery.status, func.count()).group_by(Delivery.status))
        return {str(status): int(n) for status, n in rows.all()}


async def _report(api: FakeBotApiProcess, total: int, started: float, done: asyncio.Event) -> None:
    while not done.is_set():
        await asyncio.sleep(2)
        stats = await asyncio.to_thread(api.stats)
        elapsed = time.monotonic() - started
        print(
            f"  {elapsed:6.1f}s sent={stats['sent']}/{total} "
            f"rate={stats['sent'] / elapsed:5.2f}/s 429s={stats['too_many']}",
            file=sys.stderr,
            flush=True,
        )


async def bench(deliveries: int, limit: int) -> int:
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}")
        try:
            await upgrade(engine)
            sessions = make_sessionmaker(engine)
            await _seed(sessions, deliveries)
            print(f"seeded {deliveries} members and deliveries", file=sys.stderr, flush=True)
            with FakeBotApiProcess("--token", TOKEN, "--limit", str(limit)) as api:
                request = HTTPXRequest(connection_pool_size=64)
                bot = Bot(TOKEN, base_url=api.base_url, request=request)
                async with bot:
                    sender = Sender(bot, sessions, rate=limit)
                    done = asyncio.Event()
                    started = time.monotonic()
                    reporter = asyncio.create_task(_report(api, deliveries, started, done))
                    await sender.drain()
                    seconds = time.monotonic() - started
                    done.set()
                    await reporter
                stats = api.stats()
            statuses = await _statuses(sessions)
        finally:
            await engine.dispose()
    sent, too_many, doubles = stats["sent"], stats["too_many"], stats["doubles"]
    rate = sent / seconds
    print(f"outbox: {statuses}; chats with doubles: {len(doubles)}", file=sys.stderr)
    if stats["floods"]:
        print(f"429s at the fake (time, chat, limit): {stats['floods'][:10]}", file=sys.stderr)
    print(
        f"broadcast: sent={sent} seconds={seconds:.1f} rate={rate:.1f} limit={limit} "
        f"ratio={rate / limit:.3f} 429s={too_many}",
        flush=True,
    )
    complete = statuses == {"sent": deliveries} and sent == deliveries and not doubles
    return 0 if complete else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deliveries", type=int, default=3000, help="how many (default 3000)")
    parser.add_argument("--limit", type=int, default=30, help="the fake's messages a second")
    args = parser.parse_args()
    sys.exit(asyncio.run(bench(args.deliveries, args.limit)))


if __name__ == "__main__":
    main()
