"""The owner's dashboard in headless Chromium, launched as Telegram launches it: an administrator
sees the club's charts and counts a segment as they type; a plain member sees the refusal.

With ``BASHGAH_SCREENSHOTS=1`` the Persian dashboard in the light theme is also saved for the
README (docs/screenshots/miniapp-dashboard.png).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from playwright.async_api import Browser, Page, expect
from sqlalchemy import select

from core.actions import purchases
from core.audit import Actor
from core.club import Club
from core.models import Campaign
from tests.browser.harness import launch_data, open_app, page_errors, serve
from tests.browser.themes import LIGHT
from tests.miniapp_support import TOKEN, admins, user_of
from tests.test_web_api import a_member
from web.app import create_app

OWNER = {"id": 900, "first_name": "مالک", "language_code": "fa"}
DASHBOARD_SHOT = (
    Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "miniapp-dashboard.png"
)


async def a_busy_club(club: Club) -> None:
    """Members and purchases, so the charts have something to draw."""
    for name, points in (("زهرا", 1_250), ("رضا", 40), ("سارا", 0)):
        member = await a_member(club, points=points, name=name)
        await purchases.purchase(
            club, Actor(601, "Cashier"), f"#{member.id}", 180_000 + 1_000 * points,
            reference=None, key=f"seed:{member.id}",
        )  # fmt: skip


async def dashboard(chromium: Browser, base_url: str, user: dict[str, object]) -> Page:
    launch = launch_data(TOKEN, user, auth_date=int(time.time()))
    return await open_app(chromium, base_url, "/app/staff", init_data=launch, theme=LIGHT)


async def test_an_administrator_sees_the_charts_and_counts_a_segment(
    chromium: Browser, app_club: Club
) -> None:
    await a_busy_club(app_club)
    async with serve(create_app(app_club, is_admin=admins(900))) as base_url:
        page = await dashboard(chromium, base_url, OWNER)

        await expect(page.locator("html")).to_have_attribute("dir", "rtl")
        for chart in ("sales", "purchases", "active", "new"):
            figure = page.locator(f'figure[data-chart="{chart}"]')
            await expect(figure).to_be_visible()
            await expect(figure.locator("svg")).to_be_visible()
        await expect(page.locator('[data-figure="members"]')).to_have_text("۳")

        await page.locator("input[data-live]").fill("موجودی > ۱۰۰۰")
        await expect(page.locator("#segment-count")).to_have_text("۱ عضو در این گروه هستند.")
        await page.locator("input[data-live]").fill("موجودی >")
        await expect(page.locator("#segment-count .minus")).to_be_visible()

        await page.evaluate("document.fonts.ready")
        assert page_errors(page) == []
        if os.environ.get("BASHGAH_SCREENSHOTS") == "1":
            await page.locator("input[data-live]").fill("موجودی > ۱۰۰۰")
            await expect(page.locator("#segment-count")).to_contain_text("۱")
            await page.screenshot(path=DASHBOARD_SHOT, full_page=True)


async def test_a_plain_member_sees_the_refusal(chromium: Browser, app_club: Club) -> None:
    member = await a_member(app_club, points=500, name="زهرا")
    async with serve(create_app(app_club, is_admin=admins(900))) as base_url:
        page = await dashboard(chromium, base_url, user_of(member))

        await expect(page.get_by_role("alert")).to_have_text(
            "این بخش فقط برای مدیران گروه کارکنان باشگاه است."
        )
        await expect(page.locator("figure[data-chart]")).to_have_count(0)
        assert page_errors(page) == []


async def test_the_apps_link_with_startapp_staff_opens_the_dashboard(
    chromium: Browser, app_club: Club
) -> None:
    """BotFather's direct link ``t.me/<bot>/<app>?startapp=staff`` opens ``/app`` with
    ``start_param`` in the signed launch data: the dashboard for an administrator."""
    owner = {"id": 900, "first_name": "Owner", "language_code": "fa"}
    launch = launch_data(TOKEN, owner, auth_date=int(time.time()), start_param="staff")
    async with serve(create_app(app_club, is_admin=admins(900))) as base_url:
        page = await open_app(chromium, base_url, "/app", init_data=launch, theme=LIGHT)

        await expect(page.locator("figure[data-chart]").first).to_be_visible()
        assert page_errors(page) == []


async def test_an_administrator_drafts_a_campaign_previewed_on_themselves(
    chromium: Browser, app_club: Club
) -> None:
    await a_busy_club(app_club)
    async with serve(create_app(app_club, is_admin=admins(900))) as base_url:
        page = await dashboard(chromium, base_url, OWNER)
        await page.locator('input[name="segment"]').fill("موجودی > ۱۰۰۰")
        await expect(page.locator("#segment-count")).to_have_text("۱ عضو در این گروه هستند.")
        await page.locator('input[name="name"]').fill("هفتهٔ چای")
        await page.locator('textarea[name="template"]').fill("{{ name }} عزیز، چای امروز مهمان ما!")
        await expect(page.locator("#campaign-preview .message")).to_have_text(
            "مالک عزیز، چای امروز مهمان ما!"
        )

        await page.get_by_role("button", name="ذخیرهٔ پیش‌نویس").click()

        await expect(page.locator("[data-draft]")).to_contain_text("هفتهٔ چای")
        async with app_club.sessions() as s:
            saved = list(await s.scalars(select(Campaign)))
        assert [(c.name, c.status) for c in saved] == [("هفتهٔ چای", "paused")]
        await expect(page.locator("[data-draft]")).to_contain_text(
            f"/campaign_resume {saved[0].id}"
        )
        assert page_errors(page) == []
