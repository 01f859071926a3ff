"""Tier evaluation and points expiry over a big synthetic club on SQLite: seconds and peak memory.

    python -m bench.sweep_bench                    # 1,000,000 members, 10,000,000 ledger rows
    python -m bench.sweep_bench --members 20000    # a quick run

The database is made by the real migrations (``core.db.upgrade``), then filled with the raw
``sqlite3`` module in big ``executemany`` transactions, in a child process (so the memory reported
is the sweeps', not the generator's): ``--lots`` purchases a member on average (10 by default),
generated day by day over the two years before the sweep so that ids grow with time as in a real
database, each with its ``earn`` ledger entry and its points lot; every member's balance is the
sum of their lots. Tiers are set so that the evaluation has upgrades, downgrades, warnings and
cleared warnings to do. With points lasting a year, about half of the lots are past their date:
the expiry sweep is the worst case, a year's backlog (about 5,000,000 lots for 1,000,000 members).

The built file is kept under ``bench/.cache/`` keyed by its size and the schema revision, and each
run works on a fresh copy of it, because the sweeps change it. Then, through the application's own
async engine:

- ``tier_seconds``: ``core.housekeeping.evaluate_tiers`` (the monthly ``tiers.evaluate_all`` in one
  transaction, as the housekeeping runs it);
- ``expiry_seconds``: ``core.expiry.expire_due`` in a loop, ``--batch`` lots per transaction
  (1,000,000 by default; the bot's own sweep takes 1,000 at a time), until nothing is left to
  expire; the books are checked afterwards (balance = ledger = open lots, no due lot left open).

Progress goes to stderr; the last line printed is::

    sweeps: members=1000000 ledger_rows=10000000 tier_seconds=12.3 expiry_seconds=40.1 peak_mib=700

(goals: under 60 s each and under 1 GiB).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

if __package__ in (None, ""):  # run as a script: ``python bench/sweep_bench.py``
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text
from sqlalchemy.pool import NullPool

from core import expiry, housekeeping, lifecycle
from core.db import make_engine, make_sessionmaker, transaction, upgrade
from core.rules import Rules

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
SPAN_DAYS = 730  # purchases over the two years before NOW
CACHE_DIR = Path(__file__).resolve().parent / ".cache"
BUILD_VERSION = 3  # bump when the generated data changes
EXPIRE_BATCH = 1_000_000  # lots a transaction: about 25 s of the write lock here
TZ = ZoneInfo("Asia/Tehran")
STATUSES = (("active", 0.97), ("blocked", 0.01), ("left", 0.01), ("erased", 0.01))


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- building the database (in a child process) -------------------------------------------


def _schema_revision() -> str:
    versions = Path(lifecycle.__file__).with_name("migrations") / "versions"
    return sorted(p.stem.split("_")[0] for p in versions.glob("*.py"))[-1]


def cache_path(members: int, lots: int, cache_dir: Path = CACHE_DIR) -> Path:
    name = f"sweep-m{members}-l{lots}-r{_schema_revision()}-v{BUILD_VERSION}.db"
    return cache_dir / name


def _tier_rows(rules: Rules) -> list[tuple[str, int]]:
    return [(t.key, t.threshold) for t in rules.tiers]


def _tier_index(tiers: list[tuple[str, int]], points: int) -> int:
    index = 0
    for i, (_, threshold) in enumerate(tiers):
        if points >= threshold:
            index = i
    return index


def build(path: Path, members: int, lots: int, seed: int = 7) -> None:
    """Make the database at ``path``: migrations first, then the rows with raw ``sqlite3``.

    Purchases are generated day by day, so ids grow with time as in a real database; each goes
    to a member picked at random (``lots`` a member on average). Members come last, with their
    balance (the sum of their lots) and a tier near the one their qualifying points deserve.
    """
    started = time.perf_counter()
    path.unlink(missing_ok=True)

    async def migrate() -> None:
        engine = make_engine(f"sqlite+aiosqlite:///{path}", poolclass=NullPool)
        await upgrade(engine)
        await engine.dispose()

    asyncio.run(migrate())
    rules = Rules()
    tiers = _tier_rows(rules)
    period_before = (NOW.astimezone(TZ).replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    first_day = NOW.date() - timedelta(days=SPAN_DAYS)  # midnight UTC, two years back
    window_start = NOW - timedelta(days=rules.tier_policy.qualifying_window_days)
    window_second = int((window_start - datetime.combine(first_day, datetime.min.time(), UTC))
                        .total_seconds())  # fmt: skip
    expiry_days = rules.expiry.days
    clock = [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}.000000" for s in range(86400)]
    days = [(first_day + timedelta(days=d)).isoformat() for d in range(SPAN_DAYS + expiry_days)]
    rng = random.Random(seed)
    balance = [0] * (members + 1)
    qualifying = [0] * (members + 1)

    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA synchronous=OFF")
    db.execute("PRAGMA cache_size=-1000000")  # 1 GB
    db.execute("PRAGMA temp_store=MEMORY")

    [main] = db.execute("SELECT id FROM branches WHERE code = 'main'").fetchone()
    total = members * lots
    row_id = 0
    db.execute("BEGIN")
    for day in range(SPAN_DAYS):
        count = (total * (day + 1)) // SPAN_DAYS - (total * day) // SPAN_DAYS
        purchase_rows, entry_rows, lot_rows = [], [], []
        for second in sorted(rng.randrange(86400) for _ in range(count)):
            row_id += 1
            member_id = rng.randrange(members) + 1
            at = f"{days[day]} {clock[second]}"
            expires = f"{days[day + expiry_days]} {clock[second]}"
            amount = int(10 ** rng.uniform(4, 6.3)) // 1000 * 1000
            points = amount // rules.earn.amount_per_point
            reference = f"B{row_id:011d}"
            purchase_rows.append((row_id, member_id, amount, rules.currency, reference, points, at))
            entry_rows.append(
                (row_id, member_id, points, f"purchase {reference}", f"purchase:{row_id}", at)
            )
            lot_rows.append((row_id, member_id, row_id, points, points, at, expires))
            balance[member_id] += points
            if day * 86400 + second > window_second:
                qualifying[member_id] += points
        db.executemany(
            "INSERT INTO purchases (id, member_id, amount, currency, reference, points, status,"
            " created_at, points_reversed, points_unrecovered, branch_id)"
            f" VALUES (?, ?, ?, ?, ?, ?, 'completed', ?, 0, 0, {int(main)})",
            purchase_rows,
        )
        db.executemany(
            "INSERT INTO ledger_entries (id, member_id, delta, kind, reason, idempotency_key,"
            " created_at) VALUES (?, ?, ?, 'earn', ?, ?, ?)",
            entry_rows,
        )
        db.executemany(
            "INSERT INTO points_lots (id, member_id, entry_id, points, remaining, earned_at,"
            " expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            lot_rows,
        )
        if day % 73 == 72:
            db.execute("COMMIT")
            log(f"  built {row_id:,}/{total:,} purchases ({time.perf_counter() - started:.0f} s)")
            db.execute("BEGIN")

    statuses = [s for s, _ in STATUSES]
    weights = [w for _, w in STATUSES]
    joined = f"{(first_day - timedelta(days=30)).isoformat()} {clock[36000]}"
    member_rows = []
    for member_id in range(1, members + 1):
        deserved = _tier_index(tiers, qualifying[member_id])
        warning = None
        roll = rng.random()
        if roll < 0.15 and deserved > 0:
            tier = deserved - 1  # the evaluation moves them up
        elif roll < 0.30 and deserved < len(tiers) - 1:
            tier = deserved + 1  # above their points: warned, or moved down if warned before
            warning = period_before if rng.random() < 0.5 else None
        else:
            tier = deserved
            warning = period_before if rng.random() < 0.02 else None  # a warning to clear
        member_rows.append(
            (
                member_id,
                1_000_000_000 + member_id,
                f"Member {member_id}",
                f"+98912{member_id:07d}",
                "fa" if member_id % 5 else "en",
                joined,
                rng.choices(statuses, weights)[0],
                tiers[tier][0],
                warning,
                balance[member_id],
                f"B{member_id:08d}",
            )
        )
        if len(member_rows) == 100_000 or member_id == members:
            db.executemany(
                "INSERT INTO members (id, telegram_id, name, phone, locale, joined_at, status,"
                " tier, tier_warning, balance, referral_code, profile, offers_enabled,"
                " surveys_enabled) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '{}', 1, 1)",
                member_rows,
            )
            member_rows = []
    db.execute("COMMIT")
    db.execute("PRAGMA journal_mode=WAL")
    db.close()
    log(f"  database built in {time.perf_counter() - started:.0f} s")


def ensure_database(members: int, lots: int, cache_dir: Path, use_cache: bool) -> Path:
    """The cached database for this size, built first (in a child process) if missing."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_path(members, lots, cache_dir)
    if use_cache and path.exists():
        log(f"  using cached {path}")
        return path
    log(f"  building {path.name}: {members:,} members, {members * lots:,} ledger rows")
    partial = path.with_suffix(".partial")
    subprocess.run(
        [sys.executable, "-m", "bench.sweep_bench", "--build", str(partial),
         "--members", str(members), "--lots", str(lots)],
        check=True,
        cwd=Path(__file__).resolve().parent.parent,
    )  # fmt: skip
    os.replace(partial, path)
    return path


# --- the sweeps -----------------------------------------------------------------------------


async def sweep(path: Path, batch: int) -> dict[str, float]:
    engine = make_engine(f"sqlite+aiosqlite:///{path}")
    sessions = make_sessionmaker(engine)
    rules = Rules()
    try:
        async with engine.connect() as conn:
            members = (await conn.execute(text("SELECT count(*) FROM members"))).scalar_one()
            entries = (await conn.execute(text("SELECT count(*) FROM ledger_entries"))).scalar_one()

        log("  tier evaluation")
        started = time.perf_counter()
        moved = await housekeeping.evaluate_tiers(sessions, rules, NOW, TZ)
        tier_seconds = time.perf_counter() - started
        log(f"    {moved:,} members moved or warned in {tier_seconds:.1f} s")

        log(f"  points expiry, {batch:,} lots a transaction")
        started = time.perf_counter()
        expired = rounds = 0
        while True:
            async with transaction(sessions) as session:
                points = await expiry.expire_due(session, NOW, limit=batch)
            rounds += 1
            expired += points
            log(f"    round {rounds}: {points:,} points ({time.perf_counter() - started:.1f} s)")
            if not points:
                break
        expiry_seconds = time.perf_counter() - started
        log(f"    {expired:,} points expired in {expiry_seconds:.1f} s")
        await _check_books(engine)
    finally:
        await engine.dispose()
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "members": members,
        "ledger_rows": entries,
        "tier_seconds": tier_seconds,
        "expiry_seconds": expiry_seconds,
        "peak_mib": peak_mib,
    }


async def _check_books(engine) -> None:  # type: ignore[no-untyped-def]
    """Balance = ledger = open lots for every member, and nothing due left open."""
    log("  checking the books")
    async with engine.connect() as conn:
        wrong = (
            await conn.execute(
                text(
                    "SELECT count(*) FROM members m"
                    " LEFT JOIN (SELECT member_id, sum(delta) AS s FROM ledger_entries"
                    "            GROUP BY member_id) e ON e.member_id = m.id"
                    " LEFT JOIN (SELECT member_id, sum(remaining) AS s FROM points_lots"
                    "            GROUP BY member_id) l ON l.member_id = m.id"
                    " WHERE m.balance <> coalesce(e.s, 0) OR m.balance <> coalesce(l.s, 0)"
                )
            )
        ).scalar_one()
        left = (
            await conn.execute(
                text("SELECT count(*) FROM points_lots WHERE expires_at <= :now AND remaining > 0"),
                {"now": NOW.replace(tzinfo=None).isoformat(sep=" ")},
            )
        ).scalar_one()
    if wrong or left:
        raise RuntimeError(f"books do not balance: {wrong} members wrong, {left} due lots open")


def line(result: dict[str, float]) -> str:
    return (
        f"sweeps: members={result['members']} ledger_rows={result['ledger_rows']} "
        f"tier_seconds={result['tier_seconds']:.1f} expiry_seconds={result['expiry_seconds']:.1f} "
        f"peak_mib={result['peak_mib']:.0f}"
    )


def run(
    members: int = 1_000_000,
    lots: int = 10,
    batch: int = EXPIRE_BATCH,
    cache_dir: Path = CACHE_DIR,
    use_cache: bool = True,
) -> str:
    log(f"sweep bench: {members:,} members, {members * lots:,} ledger rows")
    source = ensure_database(members, lots, cache_dir, use_cache)
    with tempfile.TemporaryDirectory(prefix="sweep-", dir=cache_dir) as folder:
        work = Path(folder) / "work.db"
        log("  copying the database")
        shutil.copyfile(source, work)
        result = asyncio.run(sweep(work, batch))
    if not use_cache:
        source.unlink(missing_ok=True)
    return line(result)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--lots", type=int, default=10, help="purchases (and lots) per member")
    parser.add_argument("--batch", type=int, default=EXPIRE_BATCH, help="lots per transaction")
    parser.add_argument("--cache-dir", type=Path, default=CACHE_DIR)
    parser.add_argument("--no-cache", action="store_true", help="build afresh, keep nothing")
    parser.add_argument("--build", type=Path, help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args(argv)
    if args.build:
        build(args.build, args.members, args.lots)
        return
    print(run(args.members, args.lots, args.batch, args.cache_dir, not args.no_cache), flush=True)


if __name__ == "__main__":
    main()
