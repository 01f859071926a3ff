"""Per-update cost: the real Application against a bare python-telegram-bot handler.

The same N ``/points`` updates (default 5,000, from 1,000 members) go through

- Bashgah: ``build_application(settings, request=BotApiStandin())`` over a fresh SQLite file built
  by the migrations, with the members joined by ``core.members.join``;
- bare: a plain PTB ``Application`` with one ``CommandHandler`` that replies with fixed text
  through the same kind of stand-in.

Both are fed sequentially with ``app.process_update(Update.de_json(...))``; the update dicts are
built up front. The timed updates are split into chunks run alternately (bare, Bashgah, bare, ...)
so a machine that slows down for a while slows both alike. The last line printed is::

    per-update: bashgah_us=140 bare_us=95 ratio=1.47

(microseconds per update; goal ratio <= 1.5).

    python -m bench.update_bench                       # 5,000 updates from 1,000 members
    python -m bench.update_bench --updates 500 --members 100
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: ``python bench/update_bench.py``
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from telegram import Update
from telegram.ext import Application, ApplicationBuilder, CommandHandler, ContextTypes

from bot.app import SHELL_TOKEN, build_application, running
from bot.context import club_of
from bot.standin import BotApiStandin
from core import members
from core.club import Club
from core.config import Settings
from core.db import transaction

FIRST_USER = 300_000_000
STAFF_CHAT = -1001234567890
CHUNKS = 5
BARE_TEXT = "Your balance is 120 points."


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def settings_for(db_path: Path) -> Settings:
    """Settings for a bot over ``db_path`` that never touches the network."""
    return Settings(
        _env_file=None,
        database_url=f"sqlite+aiosqlite:///{db_path}",
        staff_chat_id=STAFF_CHAT,
        api_base_url="http://127.0.0.1:9/unused",
    )


def user(number: int) -> dict[str, Any]:
    """The Telegram user of synthetic member ``number`` (half Persian, half English clients)."""
    return {
        "id": FIRST_USER + number,
        "is_bot": False,
        "first_name": f"Member{number}",
        "language_code": "fa" if number % 2 == 0 else "en",
    }


def command_update(
    update_id: int, sender: dict[str, Any], chat: dict[str, Any], text: str
) -> dict[str, Any]:
    """A message update with ``text``; a leading ``/command`` carries its entity."""
    message: dict[str, Any] = {
        "message_id": update_id,
        "date": int(time.time()),
        "chat": chat,
        "from": sender,
        "text": text,
    }
    if text.startswith("/"):
        length = len(text.split()[0])
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
    return {"update_id": update_id, "message": message}


def private_chat(sender: dict[str, Any]) -> dict[str, Any]:
    return {"id": sender["id"], "type": "private", "first_name": sender["first_name"]}


def points_updates(count: int, member_count: int, first_id: int = 1) -> list[dict[str, Any]]:
    """``count`` ``/points`` updates, the members taking turns."""
    updates = []
    for i in range(count):
        sender = user(i % member_count)
        updates.append(command_update(first_id + i, sender, private_chat(sender), "/points"))
    return updates


async def join_members(club: Club, count: int) -> None:
    """Join ``count`` members through core, as the join conversation does."""
    now = datetime.now(UTC)
    async with transaction(club.sessions) as session:
        for number in range(count):
            sender = user(number)
            await members.join(
                session,
                club.rules,
                telegram_id=sender["id"],
                name=sender["first_name"],
                phone=f"+98912{number:07d}",
                locale=sender["language_code"],
                now=now - timedelta(days=30),
            )


def bare_application(standin: BotApiStandin) -> Application:
    """A plain PTB application: one command, one fixed reply, through the same stand-in."""

    async def reply(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.effective_message.reply_text(BARE_TEXT)

    app = (
        ApplicationBuilder()
        .token(SHELL_TOKEN)
        .request(standin)
        .get_updates_request(standin)
        .build()
    )
    app.add_handler(CommandHandler("points", reply))
    return app


async def feed(app: Application, updates: list[dict[str, Any]]) -> float:
    """Seconds to process ``updates`` one after another."""
    bot = app.bot
    started = time.perf_counter()
    for data in updates:
        await app.process_update(Update.de_json(data, bot))
    return time.perf_counter() - started


async def compare(
    apps: dict[str, Application],
    updates: list[dict[str, Any]],
    chunks: int = CHUNKS,
    progress: Callable[[str], None] = log,
) -> dict[str, float]:
    """Seconds each app spends on all ``updates``, fed in alternating chunks."""
    totals = dict.fromkeys(apps, 0.0)
    size = max(1, -(-len(updates) // chunks))
    for start in range(0, len(updates), size):
        part = updates[start : start + size]
        for name, app in apps.items():
            gc.collect()
            totals[name] += await feed(app, part)
        progress(f"  {start + len(part)}/{len(updates)} updates")
    return totals


async def measure(updates: int, member_count: int, folder: Path) -> dict[str, float]:
    """Microseconds per update for both apps, and the ratio."""
    log(f"update bench: {member_count} members, {updates} /points updates")
    bashgah_standin, bare_standin = BotApiStandin(), BotApiStandin()
    bashgah = build_application(settings_for(folder / "bashgah.db"), request=bashgah_standin)
    bare = bare_application(bare_standin)
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(running(bashgah))
        await stack.enter_async_context(bare)
        log("  joining members")
        await join_members(club_of(bashgah), member_count)
        warmup = points_updates(min(200, updates), member_count, first_id=1)
        timed = points_updates(updates, member_count, first_id=len(warmup) + 1)
        log("  warming up")
        await compare({"bare": bare, "bashgah": bashgah}, warmup, chunks=1, progress=lambda _: None)
        sent_before = len(bashgah_standin.sent()), len(bare_standin.sent())
        totals = await compare({"bare": bare, "bashgah": bashgah}, timed)
        answered = len(bashgah_standin.sent()) - sent_before[0]
        bare_answered = len(bare_standin.sent()) - sent_before[1]
    if answered != updates or bare_answered != updates:
        raise RuntimeError(f"expected {updates} answers, got {answered} and {bare_answered}")
    if "/points" in bashgah_standin.sent()[-1].text or not bashgah_standin.sent()[-1].text:
        raise RuntimeError("Bashgah did not answer /points with a balance")
    bashgah_us = totals["bashgah"] / updates * 1e6
    bare_us = totals["bare"] / updates * 1e6
    return {"bashgah_us": bashgah_us, "bare_us": bare_us, "ratio": bashgah_us / bare_us}


def line(result: dict[str, float]) -> str:
    return (
        f"per-update: bashgah_us={result['bashgah_us']:.0f} bare_us={result['bare_us']:.0f} "
        f"ratio={result['ratio']:.2f}"
    )


def run(updates: int = 5000, member_count: int = 1000) -> str:
    with tempfile.TemporaryDirectory(prefix="bashgah-update-bench-") as folder:
        result = asyncio.run(measure(updates, member_count, Path(folder)))
    return line(result)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--updates", type=int, default=5000)
    parser.add_argument("--members", type=int, default=1000)
    args = parser.parse_args(argv)
    print(run(args.updates, args.members), flush=True)


if __name__ == "__main__":
    main()
