"""Fixtures of the end-to-end tests (see :mod:`tests.e2e.harness`): per test, a fresh club (SQLite
file and rules), the fake Bot API in a thread, and bot processes that are killed at the end; for
the session, the long scenarios that run beside the other tests (``@pytest.mark.background``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import (
    CANCELLED,
    Background,
    BotProcess,
    Chat,
    Club,
    Telegram,
    bot_processes,
    fake_telegram,
    new_club,
    staff_chat,
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "background(name): checks a long scenario started with the session, run last"
    )


HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The end-to-end tests after the others (the background scenarios start with the first of
    them, and should not slow the rest of the suite down), and the checks of the background
    scenarios last, so that their waiting overlaps the other end-to-end tests."""

    def order(item: pytest.Item) -> tuple[bool, bool]:
        here = HERE in Path(item.path).resolve().parents
        return here, here and item.get_closest_marker("background") is not None

    items.sort(key=order)


@pytest.fixture(scope="session", autouse=True)
def background(
    request: pytest.FixtureRequest, sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Background]]:
    """Start the background scenarios the selected tests need, at once."""
    names = sorted({
        str(marker.args[0])
        for item in request.session.items
        for marker in item.iter_markers("background")
    })  # fmt: skip
    running = {
        name: Background(name, sqlite_template, tmp_path_factory.mktemp(name)).start()
        for name in names
    }
    yield running
    CANCELLED.set()
    for scenario in running.values():
        scenario.join(timeout=30)


@pytest.fixture
def club(sqlite_template: Path, tmp_path: Path) -> Club:
    return new_club(sqlite_template, tmp_path)


@pytest.fixture
def tg() -> Iterator[Telegram]:
    with fake_telegram() as telegram:
        yield telegram


@pytest.fixture
def bot_factory(tg: Telegram, club: Club) -> Iterator[Callable[..., BotProcess]]:
    with bot_processes(tg, club) as make:
        yield make


@pytest.fixture
def bot(bot_factory: Callable[..., BotProcess]) -> BotProcess:
    """The bot in polling mode, not started yet (seed the database first)."""
    return bot_factory()


@pytest.fixture
def staff(tg: Telegram, bot: BotProcess) -> Chat:
    """A staff member, administrator of the staff group, typing there."""
    return staff_chat(tg, bot)
