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


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups off the items
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The end-to-end tests after the others (the background scenarios start with the first of
    them, and should not slow the rest of the suite down), and the checks of the background
    scenarios last, so that their waiting overlaps the other end-to-end tests.

    In parallel (``--dist loadgroup``) the end-to-end tests are one group, run by one worker in
    this order: each worker starts the scenarios of every background test collected, so those
    tests must run where their scenarios run; and a bot process per test beside the other
    worker's is load enough for two cores. xdist hands the largest group out first, so the
    end-to-end tests start at once, on one worker, while the other workers take the rest."""

    here = {item for item in items if HERE in Path(item.path).resolve().parents}
    items.sort(key=lambda item: (item in here, item in here and _is_background_check(item)))
    for item in here:
        item.add_marker(pytest.mark.xdist_group("e2e"))


def _is_background_check(item: pytest.Item) -> bool:
    return item.get_closest_marker("background") is not None


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
