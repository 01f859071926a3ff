"""Fixtures of the browser tests: headless Chromium, driven by Playwright (helpers in
:mod:`tests.browser.harness`).

The browser is Debian's ``chromium`` at /usr/bin/chromium (``.ci/run`` installs it); Playwright's
own browser builds are never downloaded. Without it these tests are skipped, unless
``BASHGAH_REQUIRE_BROWSER=1`` (set by ``.ci/run``), when they fail: CI must not pass by skipping.

One browser per test, launched in the test's own event loop. Playwright's async API belongs to the
loop that started it, and pytest-asyncio gives each test a loop of its own, in which the ``club``
fixture opens the club and :func:`~tests.browser.harness.serve` serves the app over it. A browser
shared by a worker would have to live in a session loop or a thread of its own, and every call to
it would have to cross loops: a tangle that would save little, since starting Playwright's driver
and Chromium takes about half a second (0.3 s and 0.2 s measured here), closing it a little more.
These tests run with the rest of the suite, on any worker.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright

CHROMIUM = Path("/usr/bin/chromium")
MISSING = (
    None
    if CHROMIUM.exists()
    else f"the browser tests need Debian's chromium at {CHROMIUM} (apt-get install chromium)"
)


@pytest.fixture
async def chromium() -> AsyncIterator[Browser]:
    """Headless Chromium, closed after the test with every page it opened."""
    if MISSING:
        if os.environ.get("BASHGAH_REQUIRE_BROWSER") == "1":
            pytest.fail(MISSING + "; BASHGAH_REQUIRE_BROWSER=1 forbids skipping them")
        pytest.skip(MISSING)
    # Chromium refuses to run its sandbox as root, which CI and these machines are.
    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=args)
        yield browser
        await browser.close()
