"""The benchmarks run and print their result line, at tiny sizes. No timing is asserted here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bench import api_bench, miniapp_bench, purchase_bench, run_all, sweep_bench, update_bench

NUMBER = r"\d+(?:\.\d+)?"


def test_update_bench_prints_its_line() -> None:
    line = update_bench.run(updates=50, member_count=10)
    assert re.fullmatch(rf"per-update: bashgah_us={NUMBER} bare_us={NUMBER} ratio={NUMBER}", line)


def test_purchase_bench_prints_its_line() -> None:
    line = purchase_bench.run(count=20, member_count=5)
    assert re.fullmatch(
        rf"purchases: core_per_s={NUMBER} bot_per_s={NUMBER} ceiling_per_s={NUMBER}"
        rf" ratio={NUMBER}",
        line,
    )


def test_api_bench_prints_its_line() -> None:
    line = api_bench.run(clients=2, count=10, member_count=3)
    assert re.fullmatch(
        rf"api: clients=2 purchases_per_s={NUMBER} p50_ms={NUMBER} p99_ms={NUMBER} engine=sqlite",
        line,
    )


def test_miniapp_bench_prints_its_line() -> None:
    if not Path(miniapp_bench.CHROMIUM).exists():
        pytest.skip("the Mini App benchmark needs Debian's chromium")
    line = miniapp_bench.run(runs=1)
    assert re.fullmatch(
        rf"miniapp: first_render_p50_ms={NUMBER} first_render_max_ms={NUMBER}"
        rf" first_view_kb={NUMBER} runs=1",
        line,
    )


def test_sweep_bench_prints_its_line(tmp_path: Path) -> None:
    line = sweep_bench.run(members=200, lots=10, batch=500, cache_dir=tmp_path)
    assert re.fullmatch(
        rf"sweeps: members=200 ledger_rows=2000 tier_seconds={NUMBER} "
        rf"expiry_seconds={NUMBER} peak_mib={NUMBER}",
        line,
    )
    assert sweep_bench.cache_path(200, 10, tmp_path).exists()  # kept for the next run
    assert sweep_bench.run(members=200, lots=10, batch=500, cache_dir=tmp_path).startswith(
        "sweeps: members=200 ledger_rows=2000 "
    )  # from the cache, on a fresh copy: the same books again


@pytest.mark.parametrize(
    ("name", "stdout", "expected"),
    [
        ("per-update", "noise\nper-update: bashgah_us=140 bare_us=95 ratio=1.47\n",
         {"bashgah_us": 140, "bare_us": 95, "ratio": 1.47}),
        ("broadcast", "broadcast: sent=3000 seconds=101.2 rate=29.6 limit=30 ratio=0.987 429s=0",
         {"sent": 3000, "seconds": 101.2, "rate": 29.6, "limit": 30, "ratio": 0.987, "429s": 0}),
        ("sweeps", "per-update: ratio=1\n", None),
    ],
)  # fmt: skip
def test_run_all_reads_result_lines(
    name: str, stdout: str, expected: dict[str, float] | None
) -> None:
    assert run_all.parse(name, stdout) == expected


def test_run_all_table_marks_goals() -> None:
    bench = next(b for b in run_all.BENCHMARKS if b.name == "per-update")
    line = "per-update: bashgah_us=1400 bare_us=95 ratio=1.47"
    good = run_all.Outcome(bench, line, run_all.parse("per-update", line), 1.0)
    bad = run_all.Outcome(bench, None, None, 1.0, error="exit status 1")
    table = run_all.table([good, bad])
    assert "| Per update, Bashgah ÷ bare | 1.47 | ≤ 1.5 | yes |" in table
    assert "| Per update, Bashgah (µs) | 1,400 |  |  |" in table
    assert "| per-update | failed (exit status 1) | | no |" in table
    assert "cores" in run_all.machine()
