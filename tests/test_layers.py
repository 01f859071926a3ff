"""The layers hold, and the contract that keeps them is real: it breaks on a handler's SQL.

``lint-imports`` reads the contracts in pyproject.toml (``[tool.importlinter]``): bot sits above
core, inside bot each layer imports only those below it, core imports no Telegram code, and bot
runs no SQL of its own beyond the listed debt.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINT = [
    sys.executable,
    "-c",
    "from importlinter.cli import lint_imports_command; lint_imports_command()",
]


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [*LINT, "--no-cache"], cwd=tree, env=env, capture_output=True, text=True, check=False
    )


def _copy(tmp_path: Path) -> Path:
    tree = tmp_path / "tree"
    for package in ("core", "bot", "web", "texts"):
        shutil.copytree(ROOT / package, tree / package, ignore=shutil.ignore_patterns("assets"))
    shutil.copy(ROOT / "pyproject.toml", tree / "pyproject.toml")
    return tree


def test_the_layer_contracts_are_kept() -> None:
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_a_handler_that_imports_sqlalchemy_breaks_the_contract(tmp_path: Path) -> None:
    tree = _copy(tmp_path)
    handler = tree / "bot" / "handlers" / "staff_points.py"
    handler.write_text(handler.read_text() + "\nfrom sqlalchemy import select  # noqa\n")

    result = _lint(tree)

    assert result.returncode != 0
    assert "bot.handlers.staff_points -> sqlalchemy" in result.stdout


def test_core_importing_telegram_breaks_the_contract(tmp_path: Path) -> None:
    tree = _copy(tmp_path)
    ledger = tree / "core" / "ledger.py"
    ledger.write_text(ledger.read_text() + "\nimport telegram  # noqa\n")

    result = _lint(tree)

    assert result.returncode != 0
    assert "core.ledger -> telegram" in result.stdout


def test_a_notification_importing_a_handler_breaks_the_contract(tmp_path: Path) -> None:
    """The upward imports inside bot/ (notifications → handlers and the like) stay gone."""
    tree = _copy(tmp_path)
    notice = tree / "bot" / "notifications" / "surveys.py"
    notice.write_text(notice.read_text() + "\nfrom bot.handlers import member  # noqa\n")

    result = _lint(tree)

    assert result.returncode != 0
    assert "bot.notifications.surveys -> bot.handlers.member" in result.stdout
