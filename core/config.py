"""Deployment settings, read from the environment (and an optional ``.env`` file).

Secrets and machine-specific values live here; the club's business rules live in the rules TOML
file (see :mod:`core.rules`), so an operator can change one without touching the other.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit
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
    # Where Telegram reaches the HTTP server (``bashgah run --port``) for the Mini App at /app.
    public_url: str | None = None

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

    @field_validator("public_url")
    @classmethod
    def _https_public_url(cls, value: str | None) -> str | None:
        """Telegram opens a Mini App only over HTTPS: an http:// or mistyped URL fails at start,
        not as a menu button that opens nothing."""
        if not value:
            return None
        parts = urlsplit(value)
        if parts.scheme != "https" or not parts.hostname or parts.query or parts.fragment:
            raise ValueError(
                f"the public URL is https://host[:port][/path], where Telegram reaches "
                f"the HTTP server (Mini Apps open only over HTTPS), not {value!r}"
            )
        return value.rstrip("/")

    @property
    def miniapp_url(self) -> str | None:
        """The member's Mini App, as Telegram opens it; None when no public URL is set."""
        return f"{self.public_url}/app" if self.public_url else None

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def bot_api_url(self, method: str) -> str:
        """The URL of one Bot API method, as self-hosted Bot API servers expect it."""
        token = self.bot_token.get_secret_value() if self.bot_token else ""
        return f"{self.api_base_url}/bot{token}/{method}"
