"""The owner's dashboard over HTTP: an administrator reads the club's numbers, in their language;
anyone else is refused before any number is read; a segment rule is counted or explained."""

from __future__ import annotations

import re
from datetime import timedelta
from types import SimpleNamespace

import pytest

from core.actions import campaigns, purchases
from core.audit import Actor
from core.campaign_reports import Lift
from core.campaigns import Draft
from core.club import Club
from core.digits import format_number
from core.models import SurveyKind, utcnow
from tests.miniapp_support import admins, client, tma
from tests.test_actions_staff_views import _answered as answered
from tests.test_web_api import a_member
from web.app_staff import ShownLift, campaign_row

OWNER = {"id": 900, "first_name": "Owner", "language_code": "fa"}
CASHIER = Actor(601, "Cashier")


def figure(html: str, name: str) -> str:
    """The text of the dashboard's ``data-figure=name``."""
    found = re.search(rf'data-figure="{name}">([^<]*)<', html)
    assert found, name
    return found.group(1)


async def test_an_administrator_sees_the_clubs_weeks_points_and_charts_in_persian(
    app_club: Club,
) -> None:
    await a_member(app_club, points=500, name="Sara")
    buyer = await a_member(app_club, name="Reza")
    for key, amount in (("a", 250_000), ("b", 120_000)):
        await purchases.purchase(app_club, CASHIER, f"#{buyer.id}", amount, reference=None, key=key)

    async with client(app_club, admins(900)) as http:
        answer = await http.get("/app/api/staff", headers=tma(OWNER))

    assert answer.status_code == 200
    shown = answer.json()
    assert (shown["lang"], shown["dir"]) == ("fa", "rtl")
    html = shown["html"]
    assert figure(html, "members") == format_number(2, "fa") == "۲"
    assert figure(html, "purchases") == "۲"
    assert figure(html, "sales") == format_number(370_000, "fa")
    assert figure(html, "outstanding") == format_number(500 + 370, "fa")  # every balance
    assert figure(html, "pending") == "۰"  # the default rules hold no points back
    for chart in ("sales", "purchases", "active", "new"):
        assert f'data-chart="{chart}"' in html
    assert "تا ۳۰ روز دیگر" in html and "تا ۹۰ روز دیگر" in html
    assert "هنوز پاسخی نیامده است." in html and "هنوز کارزاری نیست." in html
    assert 'data-live="/app/api/staff/segment"' in html


async def test_the_surveys_score_and_margin_and_the_campaigns_read_in_words(
    app_club: Club,
) -> None:
    for n, score in enumerate((10, 10, 9, 0)):
        member = await a_member(app_club, name=f"M{n}")
        await answered(app_club, member, SurveyKind.NPS, score)
    draft = Draft(
        name="یلدا", template="سلام {{ name }}", segment="balance >= 0",
        run_at=utcnow() + timedelta(days=1),
    )  # fmt: skip
    await campaigns.create(app_club, Actor(900, "Owner"), draft)

    async with client(app_club, admins(900)) as http:
        html = (await http.get("/app/api/staff", headers=tma(OWNER))).json()["html"]

    nps = html.split('data-survey="nps"')[1].split('data-survey="ces"')[0]
    assert "<b>۵۰</b> از ۴ پاسخ؛ با اطمینان ۹۵٪، عدد واقعی تا " in nps  # 3 promoters, 1 detractor
    assert "بالاتر یا پایین‌تر است." in nps
    campaign = html.split("data-campaign=")[1]
    assert "یلدا" in campaign and "رسیده: ۰" in campaign and "گروه کنترل (نفرستاده): ۰" in campaign


async def test_the_dashboard_speaks_english_to_an_english_telegram(app_club: Club) -> None:
    async with client(app_club, admins(900)) as http:
        answer = await http.get("/app/api/staff", headers=tma({**OWNER, "language_code": "en"}))

    assert answer.json()["lang"] == "en" and "Club dashboard" in answer.json()["html"]


async def test_a_plain_member_is_refused_as_not_staff(app_club: Club) -> None:
    member = await a_member(app_club, points=500)
    user = {"id": member.telegram_id, "first_name": "Sara", "language_code": "fa"}

    async with client(app_club, admins(900)) as http:
        for url in ("/app/api/staff", "/app/api/staff/segment?q=tier=gold"):
            answer = await http.get(url, headers=tma(user))
            assert answer.status_code == 403
            assert answer.headers["content-type"].startswith("application/problem+json")
            assert answer.json()["code"] == "staff_only"


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "tma user=%7B%22id%22%3A900%7D&hash=00"}, {"Authorization": "Bearer x"}],
)
async def test_no_or_forged_launch_data_is_401(app_club: Club, headers: dict[str, str]) -> None:
    async with client(app_club, admins(900)) as http:
        answer = await http.get("/app/api/staff", headers=headers)

    assert answer.status_code == 401


async def test_the_segment_box_counts_the_rule_typed(app_club: Club) -> None:
    await a_member(app_club, points=500)
    await a_member(app_club, points=20)
    await a_member(app_club)

    async with client(app_club, admins(900)) as http:
        rich = await http.get(
            "/app/api/staff/segment", params={"q": "balance > 100"}, headers=tma(OWNER)
        )
        everyone = await http.get(
            "/app/api/staff/segment", params={"q": "موجودی >= ۰"}, headers=tma(OWNER)
        )
        empty = await http.get("/app/api/staff/segment", params={"q": " "}, headers=tma(OWNER))

    [part] = rich.json()["parts"].items()
    assert part[0] == "segment-count" and part[1].startswith('<output id="segment-count"')
    assert "۱ عضو در این گروه هستند." in part[1]
    assert "۳ عضو در این گروه هستند." in everyone.json()["parts"]["segment-count"]
    assert "یک قاعده بنویسید" in empty.json()["parts"]["segment-count"]


async def test_a_garbage_segment_is_explained_in_words(app_club: Club) -> None:
    english = {**OWNER, "language_code": "en"}
    async with client(app_club, admins(900)) as http:
        answer = await http.get(
            "/app/api/staff/segment", params={"q": "blance >> <b>x"}, headers=tma(english)
        )

    assert answer.status_code == 200
    shown = answer.json()["parts"]["segment-count"]
    assert "<b>x" not in shown  # what was typed comes back escaped
    assert "in this segment" not in shown and 'class="minus"' in shown
    assert "balance" in shown  # the nearest field's name, to mend the typo


def test_a_campaigns_lift_reads_in_signed_percentage_points() -> None:
    """Enough messages for a lift need a holdout of thirty: its words are checked on the report."""
    report = SimpleNamespace(buying_lift=Lift(difference=0.114, margin=0.152))
    fewer = SimpleNamespace(buying_lift=Lift(difference=-0.005, margin=0.09))

    assert campaign_row(report, "fa").buying_lift == ShownLift("+۱۱٫۴", "۱۵٫۲")
    assert campaign_row(fewer, "en").buying_lift == ShownLift("-0.5", "9.0")
    assert campaign_row(SimpleNamespace(buying_lift=None), "fa").buying_lift is None
