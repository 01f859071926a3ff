"""A purchase's latency while the administrator exports a large ledger, on SQLite.

One member, a ledger of ``--rows`` entries written by one ``INSERT … SELECT`` (:func:`seed_ledger`),
and the real Application over the Bot API stand-in. First ``/purchase`` alone, one after another,
for the figure without an export; then ``/export ledger`` runs and ``/purchase`` is sent again
and again (each after the previous answered) until the file is sent. The export reads from a
snapshot (``core.db.snapshot``), so a purchase waits for no lock, only for its turns of the event
loop between the export's rows. The last line printed::

    export: rows=1000000 export_s=29.7 file_mb=47.9 purchase_alone_ms=3.3 purchase_p50_ms=17.8 \
purchase_p99_ms=88.3 purchase_max_ms=122.9 purchases=1078

    python -m bench.export_bench                  # 1,000,000 ledger rows
    python -m bench.export_bench --rows 100000 --format xlsx
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: ``python bench/export_bench.py``
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import Integer, String, cast, insert, literal, select
from telegram import Update

from bench.purchase_bench import STAFF_GROUP, STAFF_USER
from bench.update_bench import STAFF_CHAT, command_update, join_members, log, settings_for
from bot.app import build_application, running
from bot.context import club_of
from bot.standin import BotApiStandin
from core.club import Club
from core.db import transaction
from core.models import EntryKind, LedgerEntry, Member

ALONE = 20  # purchases measured without an export


async def seed_ledger(club: Club, rows: int, at: datetime) -> None:
    """``rows`` ledger entries (bonuses of one point) for the club's first member, in one
    statement: no balance or lots are kept, an export reads the rows alone."""
    numbers = select(literal(1, Integer).label("n")).cte("numbers", recursive=True)
    numbers = numbers.union_all(select(numbers.c.n + 1).where(numbers.c.n < rows))
    async with transaction(club.sessions) as session:
        member_id = await session.scalar(select(Member.id).order_by(Member.id).limit(1))
        entries = select(
            literal(member_id, Integer), literal(1, Integer), literal(EntryKind.BONUS.value),
            literal("seed"), literal("seed-") + cast(numbers.c.n, String),
            literal(at, LedgerEntry.created_at.type),
        )  # fmt: skip
        columns = ["member_id", "delta", "kind", "reason", "idempotency_key", "created_at"]
        await session.execute(insert(LedgerEntry).from_select(columns, entries))


async def measure(rows: int, folder: Path, file_format: str = "csv") -> dict[str, float]:
    standin = BotApiStandin()
    standin.chat_member_status[(STAFF_CHAT, STAFF_USER["id"])] = "administrator"
    app = build_application(settings_for(folder / "export.db"), request=standin)
    numbers = iter(range(1, 10**9))

    async def send(text: str) -> float:
        started = time.perf_counter()
        update = command_update(next(numbers), STAFF_USER, STAFF_GROUP, text)
        await app.process_update(Update.de_json(update, app.bot))
        return time.perf_counter() - started

    async with running(app):
        club = club_of(app)
        await join_members(club, 1)
        log(f"export bench: seeding {rows} ledger rows")
        await seed_ledger(club, rows, datetime.now(UTC))
        purchase = "/purchase 09120000000 100000 INV-{}"
        alone = [await send(purchase.format(i)) for i in range(ALONE)]
        log("  exporting, purchases alongside")
        export = asyncio.create_task(send(f"/export ledger {file_format}"))
        during: list[float] = []
        while not export.done():
            during.append(await send(purchase.format(ALONE + len(during))))
        export_seconds = await export
    [document] = [call for call in standin.calls if call.method == "sendDocument"]
    return {
        "rows": rows,
        "export_s": export_seconds,
        "file_mb": len(next(iter(document.files.values()))) / 10**6,
        "purchase_alone_ms": statistics.median(alone) * 1000,
        "purchase_p50_ms": statistics.median(during) * 1000,
        "purchase_p99_ms": statistics.quantiles(during, n=100)[98] * 1000,
        "purchase_max_ms": max(during) * 1000,
        "purchases": len(during),
    }


def line(result: dict[str, Any]) -> str:
    return "export: " + " ".join(
        f"{key}={value:.1f}" if isinstance(value, float) else f"{key}={value}"
        for key, value in result.items()
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--format", choices=("csv", "xlsx"), default="csv")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        print(line(asyncio.run(measure(args.rows, Path(folder), args.format))))


if __name__ == "__main__":
    main()
