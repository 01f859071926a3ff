"""A customer list imported on SQLite: rows read, checked and applied per second.

Writes a CSV of distinct Iranian mobiles (a third with a Jalali birthday, a third Gregorian, most
with an opening balance), reads and checks it with :func:`core.imports.check`, then applies it with
:func:`core.imports.apply` on a fresh SQLite file built by the migrations. The last line printed::

    import: rows=100000 seconds=16.5

    python -m bench.import_bench                 # 100,000 rows
    python -m bench.import_bench --rows 10000
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: ``python bench/import_bench.py``
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.update_bench import log, settings_for
from core import imports
from core.audit import SYSTEM
from core.club import Club


def customer_list(rows: int) -> bytes:
    """A CSV of ``rows`` customers with distinct numbers."""
    lines = ["phone,name,birthday,balance"]
    for i in range(rows):
        birthday = ("1370/05/12", "1991-08-03", "")[i % 3]
        lines.append(f"0912{i:07d},Customer {i},{birthday},{(i % 50) * 10}")
    return ("\n".join(lines) + "\n").encode()


async def bench(rows: int) -> float:
    data = customer_list(rows)
    with tempfile.TemporaryDirectory() as folder:
        club = await Club.open(settings_for(Path(folder) / "import.db"))
        try:
            started = time.perf_counter()
            report = imports.check_file(club, data)
            applied = await imports.apply(
                club, SYSTEM, report, progress=lambda done, total: log(f"{done}/{total}")
            )
            seconds = time.perf_counter() - started
        finally:
            await club.close()
    assert applied.created == rows, applied
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    seconds = asyncio.run(bench(args.rows))
    print(f"import: rows={args.rows} seconds={seconds:.1f}")


if __name__ == "__main__":
    main()
