"""Purchases recorded per second on SQLite: through ``/purchase`` and through the core alone.

- bot: a staff member in the staff group sends ``/purchase <member> <amount> <reference>`` to the
  real Application (``build_application`` over the in-process Bot API stand-in, which answers
  ``getChatMember`` with ``member``); each update is the whole staff path: the role check, the
  purchase, the audit entry, the staff reply and the message to the member;
- core: ``core.purchases.record`` in its own transaction per purchase (``core.db.transaction``),
  as the handler's unit of work, without Telegram, audit or replies.

Each runs on its own fresh SQLite file built by the migrations, with the same members joined by
``core.members.join``; the purchases go to the members in turn. Chunks of both are run
alternately, so a machine that slows down for a while slows both alike. The last line printed::

    purchases: bot_per_s=850 core_per_s=2400

    python -m bench.purchase_bench                    # 2,000 purchases each, 200 members
    python -m bench.purchase_bench --purchases 200
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: ``python bench/purchase_bench.py``
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select
from telegram import Update

from bench.update_bench import (
    STAFF_CHAT,
    command_update,
    join_members,
    log,
    settings_for,
)
from bot.app import build_application, running
from bot.context import club_of
from bot.standin import BotApiStandin
from core import purchases
from core.club import Club
from core.db import transaction
from core.models import Member, Purchase

STAFF_USER = {"id": 2002, "is_bot": False, "first_name": "Reza", "language_code": "fa"}
STAFF_GROUP = {"id": STAFF_CHAT, "type": "supergroup", "title": "Staff"}
CHUNKS = 4
WARMUP = 20


def amount_of(i: int) -> int:
    return 50_000 + (i % 40) * 25_000


def purchase_updates(count: int, member_ids: list[int], first: int) -> list[dict[str, Any]]:
    """``/purchase`` updates from the staff group, each with its own reference."""
    return [
        command_update(
            first + i,
            STAFF_USER,
            STAFF_GROUP,
            f"/purchase {member_ids[(first + i) % len(member_ids)]} {amount_of(first + i)} "
            f"BOT-{first + i}",
        )
        for i in range(count)
    ]


async def _count(club: Club) -> int:
    async with club.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Purchase)) or 0)


async def _member_ids(club: Club) -> list[int]:
    async with club.sessions() as session:
        return list(await session.scalars(select(Member.id).order_by(Member.id)))


async def measure(count: int, member_count: int, folder: Path) -> dict[str, float]:
    log(f"purchase bench: {count} purchases each way, {member_count} members")
    standin = BotApiStandin()
    standin.chat_member_status[(STAFF_CHAT, STAFF_USER["id"])] = "member"
    app = build_application(settings_for(folder / "bot.db"), request=standin)
    async with running(app):
        bot_club = club_of(app)
        await join_members(bot_club, member_count)
        core_club = await Club.open(settings_for(folder / "core.db"))
        try:
            await join_members(core_club, member_count)
            bot_ids, core_ids = await _member_ids(bot_club), await _member_ids(core_club)
            rules = core_club.rules

            async def bot_part(updates: list[dict[str, Any]]) -> float:
                started = time.perf_counter()
                for data in updates:
                    await app.process_update(Update.de_json(data, app.bot))
                return time.perf_counter() - started

            async def core_part(numbers: range) -> float:
                started = time.perf_counter()
                for i in numbers:
                    async with transaction(core_club.sessions) as session:
                        await purchases.record(
                            session,
                            rules,
                            core_ids[i % len(core_ids)],
                            amount_of(i),
                            reference=f"CORE-{i}",
                            actor_id=STAFF_USER["id"],
                        )
                return time.perf_counter() - started

            log("  warming up")
            warmup = min(WARMUP, count)
            await bot_part(purchase_updates(warmup, bot_ids, 1))
            await core_part(range(1, warmup + 1))
            updates = purchase_updates(count, bot_ids, warmup + 1)
            bot_seconds = core_seconds = 0.0
            size = max(1, -(-count // CHUNKS))
            for start in range(0, count, size):
                part = updates[start : start + size]
                gc.collect()
                bot_seconds += await bot_part(part)
                gc.collect()
                first = warmup + 1 + start
                core_seconds += await core_part(range(first, first + len(part)))
                log(f"  {min(start + size, count)}/{count} purchases each way")
            recorded = await _count(bot_club), await _count(core_club)
        finally:
            await core_club.close()
    if recorded != (count + warmup, count + warmup):
        raise RuntimeError(f"expected {count + warmup} purchases each way, got {recorded}")
    return {"bot_per_s": count / bot_seconds, "core_per_s": count / core_seconds}


def line(result: dict[str, float]) -> str:
    return f"purchases: bot_per_s={result['bot_per_s']:.0f} core_per_s={result['core_per_s']:.0f}"


def run(count: int = 2000, member_count: int = 200) -> str:
    with tempfile.TemporaryDirectory(prefix="bashgah-purchase-bench-") as folder:
        result = asyncio.run(measure(count, member_count, Path(folder)))
    return line(result)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--purchases", type=int, default=2000)
    parser.add_argument("--members", type=int, default=200)
    args = parser.parse_args(argv)
    print(run(args.purchases, args.members), flush=True)


if __name__ == "__main__":
    main()
