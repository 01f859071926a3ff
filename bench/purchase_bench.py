"""Purchases recorded per second on SQLite: through ``/purchase``, through the core alone, and the
same writes in plain ``sqlite3``: the ceiling the storage engine sets.

- bot: a staff member in the staff group sends ``/purchase <member> <amount> <reference>`` to the
  real Application (``build_application`` over the in-process Bot API stand-in, which answers
  ``getChatMember`` with ``member``); each update is the whole staff path: the role check, the
  purchase, the audit entry, the staff reply and the message to the member;
- core: the use case the handler calls (``core.actions.purchases.purchase``), one unit of work per
  purchase: the member found, the purchase, its points, tier, survey invite, audit entry and
  events, without Telegram;
- ceiling: one ``BEGIN IMMEDIATE`` transaction per purchase in plain ``sqlite3`` doing the same
  writes (the member row read, the unique purchase, the ledger entry, its lot, the balance and the
  audit entry) on the same schema, WAL and ``synchronous=NORMAL`` as the club's own connections.

Each runs on its own fresh SQLite file built by the migrations, with the same members joined by
``core.members.join``; the purchases go to the members in turn. Chunks of the three are run
alternately, so a machine that slows down for a while slows all alike. The last line printed
(``ratio`` is core ÷ ceiling)::

    purchases: core_per_s=2400 bot_per_s=850 ceiling_per_s=9600 ratio=0.25

    python -m bench.purchase_bench                    # 2,000 purchases each, 200 members
    python -m bench.purchase_bench --purchases 200
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import sqlite3
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
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
from core.actions.purchases import purchase
from core.audit import Actor
from core.club import Club
from core.db import SQLITE_WRITER_PRAGMAS
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


class Ceiling:
    """A purchase's writes in plain ``sqlite3``, one ``BEGIN IMMEDIATE`` transaction each."""

    def __init__(self, path: Path, member_ids: list[int]) -> None:
        self.connection = sqlite3.connect(path, isolation_level=None)
        for pragma in SQLITE_WRITER_PRAGMAS:
            self.connection.execute(pragma)
        self.member_ids = member_ids

    def record(self, i: int) -> None:
        member_id = self.member_ids[i % len(self.member_ids)]
        amount = amount_of(i)
        points = amount // 10_000
        now = datetime.now(UTC).replace(tzinfo=None)
        stamp, expires = now.isoformat(" "), (now + timedelta(days=365)).isoformat(" ")
        sql = self.connection.execute
        sql("BEGIN IMMEDIATE")
        balance, tier, _status = sql(
            "SELECT balance, tier, status FROM members WHERE id = ?", (member_id,)
        ).fetchone()
        purchase_id = sql(
            "INSERT INTO purchases (member_id, branch_id, amount, currency, reference, points,"
            " status, actor_id, created_at, points_reversed, points_unrecovered)"
            " VALUES (?, 1, ?, 'IRT', ?, ?, 'completed', ?, ?, 0, 0)",
            (member_id, amount, f"CEIL-{i}", points, STAFF_USER["id"], stamp),
        ).lastrowid
        entry_id = sql(
            "INSERT INTO ledger_entries (member_id, delta, kind, reason, actor_id,"
            " idempotency_key, created_at) VALUES (?, ?, 'earn', ?, ?, ?, ?)",
            (member_id, points, f"purchase CEIL-{i}", STAFF_USER["id"], f"purchase:{purchase_id}",
             stamp),
        ).lastrowid  # fmt: skip
        sql("UPDATE members SET balance = ? WHERE id = ?", (balance + points, member_id))
        sql(
            "INSERT INTO points_lots (member_id, entry_id, points, remaining, earned_at,"
            " expires_at, owed) VALUES (?, ?, ?, ?, ?, ?, 0)",
            (member_id, entry_id, points, points, stamp, expires),
        )
        sql(
            "INSERT INTO audit_entries (actor_id, actor_name, action, member_id, \"before\","
            " \"after\", created_at) VALUES (?, NULL, 'purchase', ?, ?, ?, ?)",
            (STAFF_USER["id"], member_id, json.dumps({"balance": balance, "tier": tier}),
             json.dumps({"balance": balance + points, "amount": amount}), stamp),
        )  # fmt: skip
        sql("COMMIT")

    def count(self) -> int:
        return int(self.connection.execute("SELECT count(*) FROM purchases").fetchone()[0])


async def _count(club: Club) -> int:
    async with club.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Purchase)) or 0)


async def _member_ids(club: Club) -> list[int]:
    async with club.sessions() as session:
        return list(await session.scalars(select(Member.id).order_by(Member.id)))


async def _opened(path: Path, member_count: int) -> Club:
    club = await Club.open(settings_for(path))
    await join_members(club, member_count)
    return club


async def measure(count: int, member_count: int, folder: Path) -> dict[str, float]:
    log(f"purchase bench: {count} purchases each way, {member_count} members")
    standin = BotApiStandin()
    standin.chat_member_status[(STAFF_CHAT, STAFF_USER["id"])] = "member"
    app = build_application(settings_for(folder / "bot.db"), request=standin)
    async with running(app):
        bot_club = club_of(app)
        await join_members(bot_club, member_count)
        core_club = await _opened(folder / "core.db", member_count)
        ceiling_club = await _opened(folder / "ceiling.db", member_count)
        ceiling = Ceiling(folder / "ceiling.db", await _member_ids(ceiling_club))
        await ceiling_club.close()
        try:
            bot_ids, core_ids = await _member_ids(bot_club), await _member_ids(core_club)
            staff = Actor(STAFF_USER["id"])

            async def bot_one(i: int) -> None:
                (data,) = purchase_updates(1, bot_ids, i)
                await app.process_update(Update.de_json(data, app.bot))

            async def core_one(i: int) -> None:
                member = str(core_ids[i % len(core_ids)])
                await purchase(
                    core_club, staff, member, amount_of(i), reference=f"CORE-{i}", key=f"k{i}"
                )

            async def ceiling_one(i: int) -> None:
                ceiling.record(i)

            ways: dict[str, Callable[[int], Awaitable[None]]] = {
                "core": core_one, "bot": bot_one, "ceiling": ceiling_one,
            }  # fmt: skip
            seconds = dict.fromkeys(ways, 0.0)
            log("  warming up")
            warmup = min(WARMUP, count)
            for one in ways.values():
                for i in range(1, warmup + 1):
                    await one(i)
            size = max(1, -(-count // CHUNKS))
            for start in range(0, count, size):
                numbers = range(warmup + 1 + start, warmup + 1 + min(start + size, count))
                for way, one in ways.items():
                    gc.collect()
                    started = time.perf_counter()
                    for i in numbers:
                        await one(i)
                    seconds[way] += time.perf_counter() - started
                log(f"  {min(start + size, count)}/{count} purchases each way")
            recorded = (await _count(core_club), await _count(bot_club), ceiling.count())
        finally:
            await core_club.close()
            ceiling.connection.close()
    if recorded != (count + warmup,) * 3:
        raise RuntimeError(f"expected {count + warmup} purchases each way, got {recorded}")
    return {f"{way}_per_s": count / spent for way, spent in seconds.items()}


def line(result: dict[str, float]) -> str:
    ratio = result["core_per_s"] / result["ceiling_per_s"]
    return (
        f"purchases: core_per_s={result['core_per_s']:.0f} bot_per_s={result['bot_per_s']:.0f}"
        f" ceiling_per_s={result['ceiling_per_s']:.0f} ratio={ratio:.3f}"
    )


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
