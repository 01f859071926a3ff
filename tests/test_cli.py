"""The ``bashgah`` command as an operator uses it."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect

from bot.cli import main


@pytest.fixture(autouse=True)
def workdir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in ("BASHGAH_DATABASE_URL", "BASHGAH_RULES"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def test_db_upgrade_creates_the_default_sqlite_file(workdir: Path) -> None:
    assert main(["db", "upgrade"]) == 0
    tables = inspect(create_engine(f"sqlite:///{workdir / 'bashgah.db'}")).get_table_names()
    assert {"members", "ledger_entries", "points_lots", "purchases"} <= set(tables)


def test_rules_check_names_the_bad_key(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = workdir / "rules.toml"
    rules.write_text("[referral]\nwelcome_bonsu = 10\n", encoding="utf-8")
    monkeypatch.setenv("BASHGAH_RULES", str(rules))

    assert main(["rules", "check"]) == 1
    assert "referral.welcome_bonsu" in capsys.readouterr().err


def test_rules_check_prints_the_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "check"]) == 0
    assert '"amount_per_point": 1000' in capsys.readouterr().out


def test_run_without_a_token_says_what_to_do(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("BASHGAH_BOT_TOKEN", raising=False)
    assert main(["run"]) == 1
    assert "BASHGAH_BOT_TOKEN" in capsys.readouterr().err


def test_webhook_mode_needs_a_secret(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BASHGAH_BOT_TOKEN", "123:abc")
    monkeypatch.delenv("BASHGAH_WEBHOOK_SECRET", raising=False)
    assert main(["run", "--webhook-url", "https://example.org/hook"]) == 1
    assert "secret" in capsys.readouterr().err
