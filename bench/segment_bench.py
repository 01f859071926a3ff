"""Segment selection on SQLite over synthetic members: the time of ``segments.count``, and memory.

    python bench/segment_bench.py                   # 1,000,000 members
    python bench/segment_bench.py --members 20000   # a quick run

The database is built by the real migrations (``core.db.upgrade``) in a temporary folder (or
``--db PATH``, reused when it already holds that many members), then filled with the raw
``sqlite3`` module in big ``executemany`` batches: members in every tier and status, about half of
them with one to six purchases over the last 400 days. The filling runs in a child process, so the
peak memory reported (``ru_maxrss`` of this process) is that of running the segment, not of
generating the data. The time is the median of three runs of ``count()`` through the application's
own async engine. It prints one line::

    segment: members=1000000 seconds=1.4 peak_mib=310
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import random
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core import segments
from core.db import make_engine, make_sessionmaker, upgrade
from core.rules import Rules

RULE = "tier >= silver and days_inactive > 30 and spend_90d > 100000"
NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
BATCH = 50_000
RUNS = 3
TIERS = (("bronze", 0.60), ("silver", 0.25), ("gold", 0.11), ("platinum", 0.04))
STATUSES = (("active", 0.95), ("blocked", 0.03), ("left", 0.01), ("erased", 0.01))
CITIES = ("Tehran", "Mashhad", "Isfahan", "Shiraz", "Tabriz", "Karaj", None)
INTERESTS = ("discounts", "new_products", "events", "gifts", "vip")


def _pick(choices: tuple[tuple[str, float], ...], r: float) -> str:
    for value, weight in choices:
        if r < weight:
            return value
        r -= weight
    return choices[-1][0]


def _stamp(moment: datetime) -> str:
    """How SQLAlchemy stores a UTC datetime in SQLite (naive, with microseconds)."""
    return moment.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def _members(count: int, rng: random.Random) -> Iterator[tuple[object, ...]]:
    for number in range(1, count + 1):
        joined = NOW - timedelta(seconds=rng.randrange(3 * 365 * 86_400))
        born = date(1950, 1, 1) + timedelta(days=rng.randrange(55 * 365))
        interests = rng.sample(INTERESTS, rng.randrange(3))
        yield (
            number,  # id
            number,  # telegram_id
            f"member {number}",  # name
            born.isoformat() if rng.random() < 0.7 else None,
            "fa",
            _stamp(joined),
            _pick(STATUSES, rng.random()),
            _pick(TIERS, rng.random()),
            rng.randrange(5_000),  # balance
            f"R{number:09d}",  # referral_code
            rng.choice(CITIES),
            json.dumps({"interests": interests} if interests else {}),
            1 if rng.random() < 0.9 else 0,  # offers_enabled
            1,  # surveys_enabled
        )


def _purchases(count: int, rng: random.Random) -> Iterator[tuple[object, ...]]:
    reference = 0
    for member in range(1, count + 1):
        if rng.random() >= 0.5:
            continue
        for _ in range(rng.randint(1, 6)):
            reference += 1
            amount = rng.randrange(20_000, 1_000_000)
            refunded = rng.random() < 0.03
            at = NOW - timedelta(seconds=rng.randrange(400 * 86_400))
            yield (
                member,
                amount,
                "Toman",
                f"P{reference}",
                amount // 1000,
                "refunded" if refunded else "completed",
                _stamp(at),
                _stamp(at) if refunded else None,
                0,
                0,
            )


def _batches(rows: Iterator[tuple[object, ...]]) -> Iterator[list[tuple[object, ...]]]:
    batch: list[tuple[object, ...]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def populate(path: Path, count: int, seed: int = 6) -> None:
    """The schema by the real migrations, then ``count`` members and their purchases."""

    async def migrate() -> None:
        engine = make_engine(f"sqlite+aiosqlite:///{path}")
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()

    asyncio.run(migrate())
    rng = random.Random(seed)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA synchronous=OFF")
    [main] = db.execute("SELECT id FROM branches WHERE code = 'main'").fetchone()
    db.execute("BEGIN")
    for batch in _batches(_members(count, rng)):
        db.executemany(
            "INSERT INTO members (id, telegram_id, name, birthday, locale, joined_at, status, tier,"
            " balance, referral_code, city, profile, offers_enabled, surveys_enabled)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            batch,
        )
    for batch in _batches(_purchases(count, rng)):
        db.executemany(
            "INSERT INTO purchases (member_id, amount, currency, reference, points, status,"
            " created_at, refunded_at, points_reversed, points_unrecovered, branch_id)"
            f" VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, {int(main)})",
            batch,
        )
    db.execute("COMMIT")
    db.execute("PRAGMA journal_mode=WAL")
    db.close()


def _existing_members(path: Path) -> int:
    if not path.exists():
        return -1
    try:
        with sqlite3.connect(path) as db:
            return int(db.execute("SELECT count(*) FROM members").fetchone()[0])
    except sqlite3.Error:
        return -1


async def measure(path: Path, rule: str) -> tuple[int, float]:
    """Median seconds of ``RUNS`` runs of ``segments.count`` and the count it gave."""
    engine = make_engine(f"sqlite+aiosqlite:///{path}")
    sessions = make_sessionmaker(engine)
    segment = segments.parse(rule, Rules())
    timings, found = [], 0
    try:
        for _ in range(RUNS):
            async with sessions() as session, session.begin():
                started = time.perf_counter()
                found = await segments.count(session, segment, NOW)
                timings.append(time.perf_counter() - started)
    finally:
        await engine.dispose()
    return found, statistics.median(timings)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--db", type=Path, help="database file (kept; reused if it fits)")
    parser.add_argument("--rule", default=RULE)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="segment-bench-") as folder:
        path = args.db or Path(folder) / "segments.db"
        if _existing_members(path) != args.members:
            path.unlink(missing_ok=True)
            child = multiprocessing.get_context("spawn").Process(
                target=populate, args=(path, args.members)
            )
            child.start()
            child.join()
            if child.exitcode != 0:
                raise SystemExit(f"populating the database failed ({child.exitcode})")
        _found, seconds = asyncio.run(measure(path, args.rule))
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(f"segment: members={args.members} seconds={seconds:.2f} peak_mib={peak_mib:.0f}")


if __name__ == "__main__":
    main()
