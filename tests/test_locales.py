"""Every text exists in every language and renders: a missing key or variable fails here."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from core.locales import LOCALES
from core.referrals import ReferralStats
from core.rules import Rules
from texts import Translator, template_keys

KEYS = sorted(template_keys("fa"))
WHEN = datetime(2026, 3, 20, 21, 0, tzinfo=UTC)


def _context(full: bool) -> dict[str, object]:
    """One context that satisfies every template: ``full`` fills lists, else leaves them empty."""
    member = SimpleNamespace(
        phone="+989121234567", username="ali_co", joined_at=WHEN, birthday=None,
        status="active" if full else "blocked",
        id=1042, name="<b>Ali</b> & co", balance=12_500, tier="gold", locale="fa", city="Tabriz",
        offers_enabled=full, surveys_enabled=not full, quiet_start=22 if full else None,
        quiet_end=8, profile={}, phone_verified=full,
    )  # fmt: skip
    reward = SimpleNamespace(id=7, title="Coffee & cake", description="Any size" if full else "",
                             cost=300, stock=4 if full else None, active=full,
                             allocation="lottery" if full else "first_come",
                             ends_at=WHEN if full else None)  # fmt: skip
    redemption = SimpleNamespace(expires_at=WHEN)
    campaign = SimpleNamespace(id=3, name="Yalda <night>", status="scheduled", runs=2,
                               next_run_at=WHEN if full else None)  # fmt: skip
    redemption_code = SimpleNamespace(code="ACDEFGHJ", expires_at=WHEN)
    entry = SimpleNamespace(created_at=WHEN, delta=-300, kind="redeem")
    rules = Rules()
    branch_sales = SimpleNamespace(code="north", name="North <b>Ali</b> & co", purchases=3,
                                   amount=750_000, points=750, refunds=1, handovers=2)  # fmt: skip
    return {
        "member": member, "reward": reward, "rewards": [reward] if full else [],
        "entries": [entry, SimpleNamespace(created_at=WHEN, delta=12, kind="earn")] if full else [],
        "page": 1 if full else 0, "qualifying": 4_000, "next_tier": "platinum" if full else None,
        "to_next": 16_000, "expiring": [(WHEN, 120)] if full else [],
        "code": "ACDE-FGHJ", "expires_at": WHEN, "balance": 12_200, "points": 300,
        "items": [{"code": "ACDE", "title": "Coffee", "redemption": redemption}] if full else [],
        "item": {"code": "ACDE-FGHJ"}, "link": "https://t.me/bot?start=ref_ACDEFGHJ",
        "stats": ReferralStats(joined=3, rewarded=1, points_earned=200), "rules": rules,
        "referral": rules.referral, "tier": "silver", "kind": "expire", "section": "interests",
        "option": "events", "chosen": full, "lang": "fa" if full else "en", "enabled": full,
        "preset": "22-8" if full else "none", "suggestion": "Sara <script>",
        "referrer": "Reza & Co" if full else None, "bonus": 50 if full else 0,
        "link_phone": not full, "displaced": SimpleNamespace(id=17, balance=900),
        "tier_label": "Gold", "profile": {"contact": "sms", "interests": ["events", "gifts"]},
        "reason": "too_large" if full else "other", "needed": 300, "reference": "INV-1",
        "result": SimpleNamespace(
            purchase=SimpleNamespace(amount=250_000, reference="INV-<1>", available_at=WHEN,
                                     points=250), points=250,
            balance=1_250, tier_before="bronze", tier_after="silver" if full else "bronze",
            referrer_reward=SimpleNamespace(points=200) if full else None,
            reversed=80, unrecovered=420 if full else 0, pending=full, was_pending=full,
            clawback=SimpleNamespace(points=200, unrecovered=150) if full else None,
        ),
        "pending": SimpleNamespace(
            points=300 if full else 0, batches=[(WHEN, 300)] if full else []
        ),
        "clawback": SimpleNamespace(points=200, unrecovered=0),
        "counts": {7: 3}, "entered": full, "allocation": "top_spenders",
        "winners": [member] if full else [],
        "draw": SimpleNamespace(policy="lottery", seed="ab12", entrants={"ids": [1, 2, 3]}),
        "summary": SimpleNamespace(
            qualifying_points=4_000, next_tier=SimpleNamespace(key="gold") if full else None,
            points_to_next_tier=1_000,
            recent_purchases=[SimpleNamespace(created_at=WHEN, amount=250_000, points=250,
                                              reference="R<1>", status="refunded")] if full else [],
            open_redemptions=[redemption_code] if full else [],
            referrals=ReferralStats(joined=2, rewarded=1, points_earned=200),
            pending=SimpleNamespace(points=300 if full else 0, batches=[(WHEN, 300)]),
        ),
        "export_kind": "members", "rows": 12, "number": 1042,
        "club": SimpleNamespace(
            members_total=120, new_members_7d=4, new_members_30d=19, points_issued=90_000,
            points_redeemed=30_000, redemption_rate=1 / 3, points_expired=1_000,
            points_reversed=500, points_deducted=20, points_outstanding=58_480,
            points_pending=1_200, points_owed=300 if full else 0,
            top_rewards=[SimpleNamespace(title="Cake & tea", redemptions=9)] if full else [],
            members_by_tier={"bronze": 100, "gold": 20},
        ),
        "trend": SimpleNamespace(
            weeks=[SimpleNamespace(purchases=4, sales=900_000)] * 12, first_weekday=5,
            redemption_rate=0.25 if full else None,
        ),
        "expiry_forecast": [SimpleNamespace(days=30, points=120),
                            SimpleNamespace(days=60, points=300)],
        "sales_unit": 1_000_000 if full else 1, "series": "active", "column": "phone",
        "report": SimpleNamespace(
            campaign=campaign, counts={"sent": 40, "failed": 1},
            recipients=SimpleNamespace(messages=40, buyers=8, purchases=9, sales=900_000,
                                       redeemers=2, redemptions=2),
            holdout=SimpleNamespace(messages=35 if full else 0, buyers=3, purchases=3,
                                    sales=300_000, redeemers=1, redemptions=1),
        ),
        "shown": SimpleNamespace(
            recipients_buying="۲۰", recipients_redeeming="۵",
            holdout_buying="۸٫۶" if full else None, holdout_redeeming=None,
            buying_lift=SimpleNamespace(difference="+۱۱٫۴", margin="۱۵٫۲") if full else None,
            redeeming_lift=SimpleNamespace(difference="-۰٫۵", margin="۹٫۱") if full else None,
        ),
        "window_days": 7, "min_group": 30,
        "rule": "tier >= gold and city = \"<x>\"", "count": 42, "sample": [member] if full else [],
        "campaign": campaign, "campaigns": [campaign] if full else [], "status": "paused",
        "rate": 29.5 if full else None, "done": full, "variables": ("name", "balance"),
        "builtins": ["at_risk", "champions"], "error": "unexpected '}'", "position": 7,
        "token": "<b>" if full else "", "preview": "Hi <Ali>", "when": WHEN,
        "draft": {"segment": "champions", "cron": "0 10 * * 5"} if full else {"segment": "x"},
        "limit": 1_000, "delta": 300 if full else -300, "command": "purchase",
        "usage": "/purchase <member> <amount>",
        "survey_club": "Cafe <Noor> & co", "survey_kind": "ces" if full else "nps",
        "survey_score": 3, "survey_low": full, "survey_limit": 1_000, "survey_days": 90,
        "survey_taker": "Reza & Co", "survey_mine": full,
        "survey_answer": SimpleNamespace(kind="csat" if full else "nps", score=2,
                                         comment="Slow <script> & cold" if full else None,
                                         followed_up_by=7 if full else None,
                                         followed_up_name="Reza & Co" if full else None),
        "survey_report": SimpleNamespace(
            n=12 if full else 0, value="۳۰", margin="۴۸" if full else None, low=2, middle=3,
            high=7, low_pct="۱۷", middle_pct="۲۵", high_pct="۵۸",
            comments=[SimpleNamespace(member_id=1042, member_name="<b>Ali</b> & co", score=3,
                                      text="Too slow <script>", created_at=WHEN)] if full else [],
        ),
        "actions": [SimpleNamespace(created_at=WHEN, actor_name="Reza", actor_id=7,
                                    action="award", member_id=1042, after={"points": 300})]
        if full else [],
        "old_tier": "gold", "extra_percent": 25 if full else 0, "keep_until": WHEN.date(),
        "within_days": 30 if full else 7,
        "held": SimpleNamespace(member_id=1042, amount=60_000_000, reference="INV-<1>"),
        "reasons": ["large", "unverified"] if full else [], "left": 250 if full else 0,
        "decider": SimpleNamespace(full_name="Reza <b>&</b> co"),
        "branch": "north", "sales": [branch_sales] if full else [], "branch_sales": branch_sales,
        "hidden_branches": 2 if full else 0, "same": full, "friend": "Reza & Co" if full else None,
        "action": "award" if full else "reward_add", "word": "tier" if full else "and",
        "nearest": "purchase" if full else None, "fields": ("tier", "purchases_{n}d", "city"),
        "commands": [{"name": "purchase", "description": "Record <a> purchase",
                      "example": "/purchase #42 <250k>", "admin": full}] if full else [],
    }  # fmt: skip


def test_every_locale_has_the_same_keys() -> None:
    fa = template_keys("fa")
    for locale in LOCALES:
        assert template_keys(locale) == fa, locale


@pytest.mark.parametrize("full", [True, False])
@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("key", KEYS)
def test_every_template_renders(key: str, locale: str, full: bool) -> None:
    text = Translator(ZoneInfo("Asia/Tehran"))(locale, key, **_context(full))
    assert text.strip()
    assert "<b>Ali</b>" not in text  # user values are escaped (or absent), never raw HTML
    assert "<script>" not in text


def test_persian_output_uses_persian_digits_and_jalali_dates() -> None:
    text = Translator(ZoneInfo("Asia/Tehran"))("fa", "points", **_context(True))
    assert "۱۲٬۵۰۰" in text
    assert "۱ فروردین ۱۴۰۵" in text  # 2026-03-20 21:00 UTC is Nowruz in Tehran
    assert not any(ch.isdigit() and ch.isascii() for ch in text)


def test_a_name_with_html_is_shown_as_typed() -> None:
    text = Translator(ZoneInfo("Asia/Tehran"))("en", "points", **_context(True))
    assert "&lt;b&gt;Ali&lt;/b&gt; &amp; co" in text
