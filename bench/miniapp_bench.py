"""The Mini App's first view in headless Chromium: how long until the card shows, and its bytes.

The server is the one ``bashgah run --port`` starts (:func:`bot.serving.api_server`) over a fresh
SQLite club with one member; Chromium (Debian's, at /usr/bin/chromium) opens ``/app`` on a phone
as Telegram does, launch data in the URL's hash. Telegram's script is answered by the tests' fake
(Telegram's clients keep the real one cached; it is not counted). Each run is a new browser
context, so nothing is cached: the page, its CSS, script and font, and the card's screen are all
fetched. The figure is the time from navigation start to the balance in the page, as the page's
own ``performance.now()`` reads it. The last line printed::

    miniapp: first_render_p50_ms=95.1 first_render_max_ms=130.2 first_view_kb=52.3 runs=20

    python -m bench.miniapp_bench             # 20 opens
    python -m bench.miniapp_bench --runs 5
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote, urlencode

if __package__ in (None, ""):  # run as a script: ``python bench/miniapp_bench.py``
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from playwright.async_api import Route, async_playwright
from pydantic import SecretStr

from bench.update_bench import join_members, log, settings_for, user
from bot.serving import api_server, listening_socket
from core.actions import adjustments
from core.audit import Actor
from core.club import Club
from web.init_data import sign

TOKEN = "7000000001:AAE-bench-token_0123456789abcdefghij"
CHROMIUM = "/usr/bin/chromium"
FAKE_TELEGRAM = Path(__file__).resolve().parent.parent / "tests/browser/fake_telegram_web_app.js"
SHOWN = "[data-balance]"
#: The moment the balance is in the document, by the page's own clock (Playwright's polling for
#: it would add its own lag to the figure).
WATCH = """new MutationObserver((_, observer) => {
  if (document.querySelector('[data-balance]')) {
    window.__shown = performance.now();
    observer.disconnect();
  }
}).observe(document, {subtree: true, childList: true});"""


def launch_url(base: str, who: dict[str, object]) -> str:
    """``/app`` with signed launch data in the hash, as Telegram's clients open it."""
    fields = {"user": json.dumps(who, separators=(",", ":")), "auth_date": str(int(time.time()))}
    data = urlencode({**fields, "hash": sign(fields, TOKEN)}, quote_via=quote)
    return f"{base}/app#" + urlencode({"tgWebAppData": data, "tgWebAppVersion": "8.0"})


async def measure(runs: int, folder: Path) -> dict[str, float]:
    """The figures of ``runs`` first views of a club kept in ``folder``."""
    log(f"miniapp bench: {runs} first views of the card in Chromium")
    settings = settings_for(folder / "miniapp.db").model_copy(
        update={"bot_token": SecretStr(TOKEN)}
    )
    club = await Club.open(settings)
    stop = asyncio.Event()
    script = FAKE_TELEGRAM.read_bytes()

    async def telegram(route: Route) -> None:
        await route.fulfill(body=script, content_type="application/javascript")

    try:
        await join_members(club, 1)
        admin = Actor(1, "bench")
        await adjustments.adjust(club, admin, "#1", 1_250, reason="bench", key="b", admin=True)
        sock = listening_socket("127.0.0.1", 0)
        serving = asyncio.create_task(api_server(club, stop).serve(sockets=[sock]))
        base = f"http://127.0.0.1:{sock.getsockname()[1]}"
        times: list[float] = []
        weights: list[int] = []
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=CHROMIUM, args=["--no-sandbox"]
            )
            for _ in range(runs + 1):  # the first warms the server and the browser up
                context = await browser.new_context(viewport={"width": 390, "height": 844})
                await context.route("https://telegram.org/**", telegram)
                await context.add_init_script(WATCH)
                page = await context.new_page()
                await page.goto(launch_url(base, user(0)))
                await page.wait_for_selector(SHOWN)
                times.append(await page.evaluate("window.__shown"))
                weights.append(
                    await page.evaluate(
                        """() => performance.getEntriesByType('navigation')
                            .concat(performance.getEntriesByType('resource'))
                            .filter(e => new URL(e.name).hostname === '127.0.0.1')
                            .reduce((sum, e) => sum + e.encodedBodySize, 0)"""
                    )
                )
                await context.close()
            await browser.close()
        stop.set()
        await serving
    finally:
        await club.close()
    times, weights = times[1:], weights[1:]
    return {
        "first_render_p50_ms": statistics.median(times),
        "first_render_max_ms": max(times),
        "first_view_kb": max(weights) / 1000,
    }


def run(runs: int = 20) -> str:
    """The result line of ``runs`` first views."""
    with tempfile.TemporaryDirectory(prefix="bashgah-miniapp-bench-") as folder:
        figures = asyncio.run(measure(runs, Path(folder)))
    shown = " ".join(f"{key}={value:.1f}" for key, value in figures.items() if key != "runs")
    return f"miniapp: {shown} runs={runs}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    print(run(parser.parse_args().runs))


if __name__ == "__main__":
    main()
