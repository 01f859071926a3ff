"""Tests for core.config.Settings: environment variables, defaults and validation."""

from __future__ import annotations

import os
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError
from sqlalchemy.engine import make_url

from core.config import DEFAULT_API_BASE_URL, Settings

TOKEN = "123456:ABC-secret-token"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No BASHGAH_* variable from the shell and no .env from the repository leaks in."""
    for name in list(os.environ):
        if name.upper().startswith("BASHGAH_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_defaults() -> None:
    settings = Settings()
    url = make_url(settings.database_url)
    assert (url.drivername, url.database) == ("sqlite+aiosqlite", "bashgah.db")
    assert settings.bot_token is None
    assert settings.staff_chat_id is None
    assert settings.timezone == "Asia/Tehran"
    assert settings.tz == ZoneInfo("Asia/Tehran")
    assert settings.locale == "fa"
    assert settings.rules is None
    assert settings.api_base_url == DEFAULT_API_BASE_URL == "https://api.telegram.org"


def test_reads_every_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {
        "BASHGAH_DATABASE_URL": "postgresql+asyncpg://u:p@db/club",
        "BASHGAH_BOT_TOKEN": TOKEN,
        "BASHGAH_STAFF_CHAT_ID": "-1001234567890",
        "BASHGAH_TIMEZONE": "Europe/Berlin",
        "BASHGAH_LOCALE": "en",
        "BASHGAH_RULES": "/etc/bashgah/rules.toml",
        "BASHGAH_API_BASE_URL": "http://localhost:8081",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.database_url == "postgresql+asyncpg://u:p@db/club"
    assert settings.bot_token is not None
    assert settings.bot_token.get_secret_value() == TOKEN
    assert settings.staff_chat_id == -1001234567890
    assert settings.tz == ZoneInfo("Europe/Berlin")
    assert settings.locale == "en"
    assert settings.rules == Path("/etc/bashgah/rules.toml")
    assert settings.api_base_url == "http://localhost:8081"


def test_token_is_not_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BASHGAH_BOT_TOKEN", TOKEN)
    settings = Settings()
    assert TOKEN not in repr(settings)
    assert TOKEN not in str(settings)
    assert TOKEN not in repr(settings.model_dump())


def test_dotenv_is_read_and_environment_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    Path(".env").write_text("BASHGAH_LOCALE=en\nBASHGAH_STAFF_CHAT_ID=42\n", encoding="utf-8")
    monkeypatch.setenv("BASHGAH_STAFF_CHAT_ID", "7")
    settings = Settings()
    assert (settings.locale, settings.staff_chat_id) == ("en", 7)


@pytest.mark.parametrize(
    ("root", "url"),
    [
        (None, f"https://api.telegram.org/bot{TOKEN}/getMe"),
        ("http://localhost:8081", f"http://localhost:8081/bot{TOKEN}/getMe"),
        ("http://localhost:8081/", f"http://localhost:8081/bot{TOKEN}/getMe"),
        ("https://tg.example/api//", f"https://tg.example/api/bot{TOKEN}/getMe"),
    ],
)
def test_bot_api_url(monkeypatch: pytest.MonkeyPatch, root: str | None, url: str) -> None:
    monkeypatch.setenv("BASHGAH_BOT_TOKEN", TOKEN)
    if root is not None:
        monkeypatch.setenv("BASHGAH_API_BASE_URL", root)
    assert Settings().bot_api_url("getMe") == url


@pytest.mark.parametrize("locale", ["de", "FA", "fa_IR", "", "fa\n"])
def test_unknown_locale_is_rejected(monkeypatch: pytest.MonkeyPatch, locale: str) -> None:
    monkeypatch.setenv("BASHGAH_LOCALE", locale)
    with pytest.raises(ValidationError, match="locale"):
        Settings()


@pytest.mark.parametrize("zone", ["UTC", "Asia/Tehran", "America/Argentina/Buenos_Aires"])
def test_known_timezone_is_accepted(monkeypatch: pytest.MonkeyPatch, zone: str) -> None:
    monkeypatch.setenv("BASHGAH_TIMEZONE", zone)
    assert Settings().tz == ZoneInfo(zone)


@pytest.mark.parametrize(
    "zone",
    [
        "",
        "../etc/passwd",
        "Asia/Tehrn",
        "Mars/Olympus",
    ],
)
def test_unknown_timezone_is_a_validation_error(monkeypatch: pytest.MonkeyPatch, zone: str) -> None:
    """A plain typo must fail like every other bad setting: a ValidationError naming the field."""
    monkeypatch.setenv("BASHGAH_TIMEZONE", zone)
    with pytest.raises(ValidationError, match="timezone"):
        Settings()
