"""Run every benchmark and print one Markdown table of the figures, their goals, and the machine.

    python -m bench.run_all            # the full sizes: several minutes (longer the first time,
                                       # while the 1,000,000-member sweep database is built)
    python -m bench.run_all --quick    # small sizes, well under a minute: to see that all run

Each benchmark runs as its own process (so one's memory is not another's peak); its progress goes
to stderr as it runs, and its last line on stdout (``name: key=value ...``) is what the table
shows. The other campaigns benchmarks (``bench/segment_bench.py``, ``bench/broadcast_bench.py``)
are included when present. The exit status is 1 if a benchmark failed or printed no result line.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: An empty PostgreSQL database to run the API benchmark on too (left out when unset).
POSTGRES_URL = os.environ.get("BASHGAH_BENCH_POSTGRES_URL", "")
BENCH = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Goal:
    """A figure's goal: how it reads in the table, and whether a value meets it."""

    text: str
    met: Callable[[float], bool]


def at_most(limit: float, unit: str = "") -> Goal:
    return Goal(f"≤ {limit:g}{unit}", lambda value: value <= limit)


def below(limit: float, unit: str = "") -> Goal:
    return Goal(f"< {limit:g}{unit}", lambda value: value < limit)


def at_least(limit: float, unit: str = "") -> Goal:
    return Goal(f"≥ {limit:g}{unit}", lambda value: value >= limit)


def exactly(target: float) -> Goal:
    return Goal(f"= {target:g}", lambda value: value == target)


@dataclass(frozen=True)
class Benchmark:
    name: str  # the prefix of its result line
    script: str  # under bench/
    full: list[str]
    quick: list[str]
    figures: dict[str, str]  # key in the line -> what the table calls it
    goals: dict[str, Goal] = field(default_factory=dict)
    optional: bool = False  # somebody else's: skipped if the file is not there

    def command(self, quick: bool) -> list[str]:
        if self.optional:  # other engineers' scripts are run by path, as their docs say
            return [sys.executable, str(BENCH / self.script), *(self.quick if quick else self.full)]
        module = f"bench.{Path(self.script).stem}"
        return [sys.executable, "-m", module, *(self.quick if quick else self.full)]


QUICK_API = ["--clients", "4", "--purchases", "100", "--members", "20"]
#: The API benchmark again on PostgreSQL (``BASHGAH_BENCH_POSTGRES_URL``), where writers of
#: different members run in parallel.
API_ON_POSTGRESQL = Benchmark(
    "api",
    "api_bench.py",
    full=["--database-url", POSTGRES_URL],
    quick=[*QUICK_API, "--database-url", POSTGRES_URL],
    figures={
        "purchases_per_s": "API purchases a second on PostgreSQL (--clients at once)",
        "p99_ms": "API purchase p99 on PostgreSQL (ms)",
    },
    goals={"purchases_per_s": at_least(1000), "p99_ms": below(50, " ms")},
)

BENCHMARKS = (
    Benchmark(
        "per-update",
        "update_bench.py",
        full=[],
        quick=["--updates", "300", "--members", "100"],
        figures={
            "bashgah_us": "Per update, Bashgah (µs)",
            "bare_us": "Per update, bare PTB handler (µs)",
            "ratio": "Per update, Bashgah ÷ bare",
        },
        goals={"ratio": at_most(1.5)},
    ),
    Benchmark(
        "purchases",
        "purchase_bench.py",
        full=[],
        quick=["--purchases", "100", "--members", "50"],
        figures={
            "core_per_s": "Purchases a second, core use case (SQLite)",
            "bot_per_s": "Purchases a second, through /purchase",
            "ceiling_per_s": "Purchases a second, the same writes in plain sqlite3",
            "ratio": "Purchases, core ÷ plain sqlite3",
        },
        goals={
            "core_per_s": at_least(3000),
            "bot_per_s": at_least(1000),
            "ratio": at_least(0.3),
        },
    ),
    Benchmark(
        "api",
        "api_bench.py",
        full=[],
        quick=QUICK_API,
        figures={
            "purchases_per_s": "API purchases a second (real HTTP, --clients at once)",
            "p50_ms": "API purchase p50 (ms)",
            "p99_ms": "API purchase p99 (ms)",
        },
        goals={"purchases_per_s": at_least(1000), "p99_ms": below(50, " ms")},
    ),
    *([API_ON_POSTGRESQL] if POSTGRES_URL else []),
    Benchmark(
        "export",
        "export_bench.py",
        full=[],
        quick=["--rows", "20000"],
        figures={
            "rows": "Export: ledger rows",
            "purchase_alone_ms": "A /purchase alone (ms)",
            "purchase_p99_ms": "A /purchase during the export, p99 (ms)",
            "purchase_max_ms": "A /purchase during the export, slowest (ms)",
        },
        goals={"purchase_max_ms": at_most(200, " ms")},
    ),
    Benchmark(
        "sweeps",
        "sweep_bench.py",
        full=[],
        quick=["--members", "20000"],
        figures={
            "members": "Sweeps: members",
            "ledger_rows": "Sweeps: ledger rows",
            "tier_seconds": "Tier evaluation (s)",
            "expiry_seconds": "Points expiry (s)",
            "peak_mib": "Sweeps: peak memory (MiB)",
        },
        goals={
            "tier_seconds": below(60, " s"),
            "expiry_seconds": below(60, " s"),
            "peak_mib": below(1024, " MiB"),
        },
    ),
    Benchmark(
        "segment",
        "segment_bench.py",
        full=[],
        quick=["--members", "20000"],
        figures={
            "members": "Segment: members",
            "seconds": "Segment selection (s)",
            "peak_mib": "Segment: peak memory (MiB)",
        },
        goals={"seconds": below(2, " s")},
        optional=True,
    ),
    Benchmark(
        "broadcast",
        "broadcast_bench.py",
        full=[],
        quick=["--deliveries", "150"],
        figures={
            "sent": "Broadcast: sent",
            "rate": "Broadcast: messages a second",
            "ratio": "Broadcast: rate ÷ limit",
            "429s": "Broadcast: 429s",
        },
        goals={"ratio": at_least(0.97), "429s": exactly(0)},
        optional=True,
    ),
    Benchmark(
        "miniapp",
        "miniapp_bench.py",
        full=[],
        quick=["--runs", "3"],
        figures={
            "first_render_p50_ms": "Mini App: first view, the card on screen, p50 (ms)",
            "first_render_max_ms": "Mini App: first view, slowest (ms)",
            "first_view_kb": "Mini App: first view transferred, fonts included (KB)",
        },
        goals={"first_render_max_ms": below(300, " ms"), "first_view_kb": below(150, " KB")},
    ),
)

_PAIR = re.compile(r"([\w-]+)=(-?[\d.]+)")


def parse(name: str, stdout: str) -> dict[str, float] | None:
    """The key=value figures of the last ``name: ...`` line, or None if there is none."""
    for raw in reversed(stdout.splitlines()):
        if raw.startswith(f"{name}: "):
            return {key: float(value) for key, value in _PAIR.findall(raw)}
    return None


@dataclass
class Outcome:
    bench: Benchmark
    line: str | None
    figures: dict[str, float] | None
    seconds: float
    error: str | None = None


def run_one(bench: Benchmark, quick: bool, number: int, total: int) -> Outcome:
    command = bench.command(quick)
    print(
        f"\n[{number}/{total}] {bench.name}: {' '.join(command[1:])}", file=sys.stderr, flush=True
    )
    started = time.perf_counter()
    process = subprocess.run(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=None, text=True, check=False
    )  # stderr goes straight through: that is the benchmark's progress
    seconds = time.perf_counter() - started
    lines = [line for line in process.stdout.splitlines() if line.startswith(f"{bench.name}: ")]
    line = lines[-1] if lines else None
    figures = parse(bench.name, process.stdout)
    error = None
    if process.returncode != 0:
        error = f"exit status {process.returncode}"
    elif figures is None:
        error = "no result line"
    status = error or line
    print(f"[{number}/{total}] {bench.name} done in {seconds:.0f} s: {status}", file=sys.stderr)
    return Outcome(bench, line, figures, seconds, error)


def _value(value: float, raw: str) -> str:
    """As the benchmark printed it, with thousands separated: ``1,000,000``, ``23.0``."""
    whole, dot, fraction = raw.partition(".")
    return f"{int(whole):,}{dot}{fraction}" if whole.lstrip("-").isdigit() else f"{value:g}"


def table(outcomes: list[Outcome]) -> str:
    rows = ["| Figure | Value | Goal | Met? |", "|---|---:|---|:---:|"]
    for outcome in outcomes:
        bench = outcome.bench
        printed = dict(_PAIR.findall(outcome.line or ""))
        if outcome.figures is None:
            rows.append(f"| {bench.name} | failed ({outcome.error}) | | no |")
            continue
        for key, label in bench.figures.items():
            value = outcome.figures.get(key)
            goal = bench.goals.get(key)
            if value is None:
                rows.append(f"| {label} | missing | {goal.text if goal else ''} | no |")
                continue
            met = ("yes" if goal.met(value) else "**no**") if goal else ""
            shown = _value(value, printed.get(key, f"{value:g}"))
            rows.append(f"| {label} | {shown} | {goal.text if goal else ''} | {met} |")
    return "\n".join(rows)


def machine() -> str:
    model = "unknown CPU"
    try:
        for raw in Path("/proc/cpuinfo").read_text().splitlines():
            if raw.lower().startswith("model name"):
                model = raw.split(":", 1)[1].strip()
                break
    except OSError:
        model = platform.processor() or model
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
        ram = f", {memory:.0f} GiB RAM"
    except (ValueError, OSError, AttributeError):
        ram = ""
    return (
        f"{model}, {os.cpu_count()} cores{ram}; Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}, {platform.system()} {platform.release()}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: seconds, not minutes")
    args = parser.parse_args(argv)
    chosen = [b for b in BENCHMARKS if not b.optional or (BENCH / b.script).exists()]
    started = time.perf_counter()
    outcomes = [
        run_one(bench, args.quick, number, len(chosen)) for number, bench in enumerate(chosen, 1)
    ]
    minutes = (time.perf_counter() - started) / 60
    print(file=sys.stderr)
    command = "python -m bench.run_all" + (" --quick" if args.quick else "")
    print(f"Benchmarks{' (quick sizes)' if args.quick else ''}: `{command}`, {minutes:.1f} min\n")
    print(table(outcomes))
    print(f"\nMachine: {machine()}\n")
    print("Result lines:\n")
    print("```")
    for outcome in outcomes:
        print(outcome.line or f"{outcome.bench.name}: failed ({outcome.error})")
    print("```")
    return 1 if any(o.error for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
