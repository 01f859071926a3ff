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
PROXY_SCHEMES = ("http", "https", "socks5", "socks5h")  # socks5 needs python-telegram-bot[socks]


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
    # Where Telegram is blocked: the bot's every call to the Bot API goes through this proxy.
    proxy_url: SecretStr | None = None  # it may hold the proxy's password

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

    @field_validator("proxy_url")
    @classmethod
    def _proxy_scheme(cls, value: SecretStr | None) -> SecretStr | None:
        """A typo fails at start, not as a bot that silently never connects."""
        if value is None or not value.get_secret_value():
            return None
        scheme, separator, rest = value.get_secret_value().partition("://")
        if not separator or scheme.lower() not in PROXY_SCHEMES or not rest:
            raise ValueError(
                f"a proxy URL is {'|'.join(PROXY_SCHEMES)}://[user:password@]host:port"
            )
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def bot_api_url(self, method: str) -> str:
        """The URL of one Bot API method, as self-hosted Bot API servers expect it."""
        token = self.bot_token.get_secret_value() if self.bot_token else ""
        return f"{self.api_base_url}/bot{token}/{method}"
