"""``BASHGAH_PROXY_URL``: where Telegram is blocked, every Bot API call goes through the proxy,
the long-polling ``getUpdates`` included (it has a connection pool of its own). Checked on the
requests the Application is built with; nothing is sent."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from telegram.request import HTTPXRequest

from bot.app import build_application
from core.config import Settings

PROXY = "http://user:secret@10.0.0.5:3128"


def _proxies(settings: Settings) -> list[object]:
    """The proxy of the bot's requests: [its calls, getUpdates]."""
    requests = build_application(settings).bot._request  # (getUpdates, everything else)
    assert all(isinstance(request, HTTPXRequest) for request in requests)
    return [request._client_kwargs["proxy"] for request in reversed(requests)]


def test_the_proxy_setting_reaches_both_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BASHGAH_PROXY_URL", PROXY)
    settings = Settings(_env_file=None, bot_token="1:token")

    assert _proxies(settings) == [PROXY, PROXY]
    assert "secret" not in repr(settings)


def test_without_a_proxy_the_bot_calls_telegram_directly() -> None:
    assert _proxies(Settings(_env_file=None, bot_token="1:token", proxy_url="")) == [None, None]


@pytest.mark.parametrize("typo", ["10.0.0.5:3128", "ftp://10.0.0.5", "socks5://"])
def test_a_mistyped_proxy_stops_the_start(typo: str) -> None:
    with pytest.raises(ValidationError, match="a proxy URL is http"):
        Settings(_env_file=None, proxy_url=typo)
