"""Deployment settings, read from the environment (and an optional ``.env`` file).

Secrets and machine-specific values live here; the club's business rules live in the rules TOML
file (see :mod:`core.rules`), so an operator can change one without touching the other.
"""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.locales import DEFAULT_LOCALE, LOCALES

DEFAULT_API_BASE_URL = "https://api.telegram.org"


class Settings(BaseSettings):
    """Everything that differs between one deployment and another."""

    model_config = SettingsConfigDict(
        env_prefix="BASHGAH_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    database_url: str = "sqlite+aiosqlite:///bashgah.db"
    bot_token: SecretStr | None = None
    staff_chat_id: int | None = None
    timezone: str = "Asia/Tehran"
    locale: str = Field(default=DEFAULT_LOCALE, pattern=f"^({'|'.join(LOCALES)})$")
    rules: Path | None = None
    api_base_url: str = DEFAULT_API_BASE_URL

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)  # a typo fails at start, not at the first scheduled job
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("api_base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def bot_api_url(self, method: str) -> str:
        """The URL of one Bot API method, as self-hosted Bot API servers expect it."""
        token = self.bot_token.get_secret_value() if self.bot_token else ""
        return f"{self.api_base_url}/bot{token}/{method}"
