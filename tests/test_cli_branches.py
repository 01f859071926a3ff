"""``bashgah branch add|list`` as the owner types them, and ``api-key create`` for a branch, over
the club's database on both engines; the command runs in a worker thread, as from a terminal."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.cli import main
from core import api_keys, branches
from core.club import Club
from tests.conftest import STAFF_CHAT_ID


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str) -> None:
    """The command's settings point at the test database and its staff group; no ``.env``."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BASHGAH_RULES", raising=False)
    monkeypatch.setenv("BASHGAH_DATABASE_URL", database_url)
    monkeypatch.setenv("BASHGAH_STAFF_CHAT_ID", str(STAFF_CHAT_ID))


async def bashgah(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run ``bashgah *argv``: its exit code, stdout and stderr."""
    capsys.readouterr()
    code = await asyncio.to_thread(main, list(argv))
    out, err = capsys.readouterr()
    return code, out, err


async def test_a_branch_is_added_with_its_group_listed_and_sells_through_a_key(
    club: Club, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = await bashgah(
        capsys, "branch", "add", "north", "North shop", "--staff-chat", "-100777"
    )

    assert (code, err) == (0, "")
    assert "'north' added" in out and "-100777" in out
    code, listed, _ = await bashgah(capsys, "branch", "list")
    assert code == 0
    header, main_row, north_row = listed.splitlines()
    assert header.split() == ["code", "name", "staff", "group", "created"]
    assert main_row.split()[:3] == ["main", "main", "-"]
    assert north_row.split()[:4] == ["north", "North", "shop", "-100777"]

    code, out, err = await bashgah(
        capsys, "api-key", "create", "--name", "till-n", "--branch", "north"
    )
    assert (code, err) == (0, "") and "(branch north)" in out


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        (("branch", "add", "north", "Again"), "'north' exists already"),
        (("branch", "add", "south", "South", "--staff-chat", "-100777"), "another branch's"),
        (
            ("branch", "add", "south", "South", "--staff-chat", str(STAFF_CHAT_ID)),
            "the club's staff group",
        ),
        (("branch", "add", "south", "South", "--staff-chat", "12345"), "not a group's chat id"),
        (("branch", "add", "south side", "South"), "letters, digits"),
        (("branch", "add", "s" * 33, "South"), "1 to 32 letters"),
        (("branch", "add", "main", "Main again"), "'main' exists already"),
        (("api-key", "create", "--name", "till-s", "--branch", "south"), "no branch has the code"),
    ],
)
async def test_a_branch_that_cannot_be_fails_with_a_clear_message_and_changes_nothing(
    club: Club, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], complaint: str
) -> None:
    await branches.add(club, "north", "North", staff_chat_id=-100777)

    code, out, err = await bashgah(capsys, *argv)

    assert (code, out) == (1, "")
    assert complaint in err
    assert [b.code for b in await branches.listing(club)] == ["main", "north"]
    assert await api_keys.listing(club) == []
