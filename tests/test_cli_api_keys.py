"""``bashgah api-key create|list|revoke`` as the owner types them, over the club's database.

The command runs in a worker thread (it starts its own event loop, as from a terminal); the test
checks what it printed against ``core.api_keys`` over the same database, on both engines.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from bot.cli import main
from core import api_keys, branches
from core.club import Club

KEY = re.compile(rf"{api_keys.KEY_PREFIX}\S+")


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str) -> None:
    """The command's settings point at the test database; no ``.env`` of the repository."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BASHGAH_RULES", raising=False)
    monkeypatch.setenv("BASHGAH_DATABASE_URL", database_url)


async def bashgah(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run ``bashgah *argv``: its exit code, stdout and stderr."""
    capsys.readouterr()
    code = await asyncio.to_thread(main, ["api-key", *argv])
    out, err = capsys.readouterr()
    return code, out, err


async def test_a_created_key_opens_the_api_and_is_never_listed(
    club: Club, capsys: pytest.CaptureFixture[str]
) -> None:
    await branches.add(club, "north", "North")  # a key names a real branch (issue 13)
    code, out, err = await bashgah(capsys, "create", "--name", "till-1", "--branch", "north")

    assert (code, err) == (0, "")
    [secret] = KEY.findall(out)
    assert "will not be shown again" in out
    key = await api_keys.authenticate(club, secret)
    assert key is not None and (key.name, key.branch) == ("till-1", "north")

    code, listed, _ = await bashgah(capsys, "list")

    assert code == 0
    header, row = listed.splitlines()
    assert header.split() == ["name", "branch", "prefix", "created", "revoked"]
    assert row.split()[:3] == ["till-1", "north", f"{key.prefix}…"]
    assert row.endswith("-")  # not revoked
    assert secret not in listed and key.key_hash not in listed


async def test_a_revoked_key_is_refused_and_listed_with_its_date(
    club: Club, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, _ = await bashgah(capsys, "create", "--name", "web-shop")
    [secret] = KEY.findall(out)

    code, revoked, err = await bashgah(capsys, "revoke", "web-shop")

    assert (code, err) == (0, "")
    assert "'web-shop' revoked" in revoked
    assert await api_keys.authenticate(club, secret) is None
    [key] = await api_keys.listing(club)
    assert key.revoked_at is not None
    _, listed, _ = await bashgah(capsys, "list")
    assert listed.splitlines()[1].endswith(f"{key.revoked_at:%Y-%m-%d %H:%M} UTC")


async def test_a_taken_name_fails_and_changes_nothing(
    club: Club, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, _ = await bashgah(capsys, "create", "--name", "till-1")
    [secret] = KEY.findall(out)

    code, again, err = await bashgah(capsys, "create", "--name", "till-1")

    assert (code, again) == (1, "")
    assert "'till-1' exists already" in err
    assert [k.name for k in await api_keys.listing(club)] == ["till-1"]
    assert await api_keys.authenticate(club, secret) is not None


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        (("revoke", "nobody"), "no API key is named 'nobody'"),
        (("create", "--name", "   "), "1 to 64 characters"),
        (("create", "--name", "x" * 65), "1 to 64 characters"),
    ],
)
async def test_an_unknown_or_bad_name_fails_with_a_clear_message(
    club: Club, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], complaint: str
) -> None:
    code, out, err = await bashgah(capsys, *argv)

    assert (code, out) == (1, "")
    assert complaint in err
    assert await api_keys.listing(club) == []
