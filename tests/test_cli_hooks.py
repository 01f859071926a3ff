"""``bashgah hooks add|list|remove`` as the owner types them, over the club's database: the secret
is printed once and signs what the hook gets, the list never shows it, and a bad URL, an unknown
event type or an unknown hook is refused in the club's language with nothing changed."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from bot.cli import main
from core import hooks
from core.actions import joining
from core.audit import Actor
from core.club import Club
from core.models import HookDelivery
from web.problems import words

SECRET = re.compile(r"^secret: (\S+)$", re.MULTILINE)
HOOK_ID = re.compile(r"^hook (\d+): ", re.MULTILINE)
URL = "https://shop.example/bashgah"


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str) -> None:
    """The command's settings point at the test database; no ``.env`` of the repository."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BASHGAH_RULES", raising=False)
    monkeypatch.delenv("BASHGAH_LOCALE", raising=False)
    monkeypatch.setenv("BASHGAH_DATABASE_URL", database_url)


async def bashgah(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run ``bashgah hooks *argv``: its exit code, stdout and stderr."""
    capsys.readouterr()
    code = await asyncio.to_thread(main, ["hooks", *argv])
    out, err = capsys.readouterr()
    return code, out, err


async def test_an_added_hook_prints_its_secret_once_and_is_listed_without_it(
    club: Club, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = await bashgah(
        capsys, "add", URL, "--events", "member.joined, purchase.recorded"
    )

    assert (code, err) == (0, "")
    [secret] = SECRET.findall(out)
    [hook_id] = map(int, HOOK_ID.findall(out))
    assert "shown only now" in out
    [hook] = await hooks.listing(club)
    assert (hook.id, hook.url, hook.secret) == (hook_id, URL, secret)
    assert hook.events == ["member.joined", "purchase.recorded"]

    await joining.register(club, Actor(501, "Cashier"), phone="+989121234567")
    async with club.sessions() as s:
        delivery = await s.get(HookDelivery, 1)
    assert delivery is not None and delivery.event_type == "member.joined"
    signature = hooks.signature(secret, delivery.body.encode())
    assert signature == hooks.signature(hook.secret, delivery.body.encode())

    code, listed, _ = await bashgah(capsys, "list")

    assert code == 0
    header, row = listed.splitlines()
    assert header.split() == ["id", "url", "events", "created", "removed"]
    assert row.split()[:3] == [str(hook_id), URL, "member.joined,purchase.recorded"]
    assert row.endswith("-")  # not removed
    assert secret not in listed


async def test_a_hook_for_every_event_and_its_removal(
    club: Club, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, _ = await bashgah(capsys, "add", "http://10.0.0.5:8080/in")
    assert "(all)" in out
    [hook_id] = HOOK_ID.findall(out)

    code, removed, err = await bashgah(capsys, "remove", hook_id)

    assert (code, err) == (0, "")
    assert f"hook {hook_id} removed" in removed
    [hook] = await hooks.listing(club)
    assert hook.removed_at is not None
    _, listed, _ = await bashgah(capsys, "list")
    row = listed.splitlines()[1]
    assert row.split()[2] == "all"
    assert row.endswith(f"{hook.removed_at:%Y-%m-%d %H:%M} UTC")


@pytest.mark.parametrize(
    ("argv", "code", "value"),
    [
        (("add", "ftp://shop.example/in"), "invalid_hook_url", "ftp://shop.example/in"),
        (("add", "shop.example/in"), "invalid_hook_url", "shop.example/in"),
        (("add", URL, "--events", "purchase.made"), "unknown_event_type", "purchase.made"),
        (("remove", "42"), "hook_not_found", "42"),
    ],
)
async def test_a_refusal_says_why_in_the_clubs_language_and_changes_nothing(
    club: Club, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], code: str, value: str
) -> None:
    exit_code, out, err = await bashgah(capsys, *argv)

    assert (exit_code, out) == (1, "")
    assert err == f"bashgah: {words(club.settings.locale, code, {})} ({value})\n"
    assert await hooks.listing(club) == []


async def test_the_refusals_read_in_both_languages() -> None:
    for code in ("invalid_hook_url", "unknown_event_type", "hook_not_found"):
        persian, english = words("fa", code, {}), words("en", code, {})
        assert persian and english and persian != english
    assert "https://" in words("fa", "invalid_hook_url", {})
    assert "purchase.recorded" in words("en", "unknown_event_type", {})


async def test_an_id_that_is_not_a_number_is_a_usage_error(
    club: Club, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as usage:
        await bashgah(capsys, "remove", "abc")

    assert usage.value.code == 2
    assert "invalid int value" in capsys.readouterr().err
