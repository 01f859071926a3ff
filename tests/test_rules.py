"""Tests for core.rules: the shipped defaults, points arithmetic, the tier ladder and validation."""

from __future__ import annotations

import tomllib
from decimal import Decimal
from pathlib import Path

import pytest

from core.errors import RulesError
from core.rules import DEFAULT_RULES_PATH, ClubMode, Rules, load_rules

RULES = Rules()


def write_rules(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rules.toml"
    path.write_text(text, encoding="utf-8")
    return path


def ladder(*tiers: tuple[str, int, str]) -> str:
    """TOML for a tier ladder of (key, threshold, multiplier-as-TOML-literal)."""
    return "".join(
        f'[[tiers]]\nkey = "{key}"\nthreshold = {threshold}\nmultiplier = {multiplier}\n\n'
        for key, threshold, multiplier in tiers
    )


def reward(key: str = "free-coffee", cost: int = 300, **fields: str) -> str:
    """TOML for one reward; ``fields`` are TOML literals."""
    extra = "".join(f"{name} = {value}\n" for name, value in fields.items())
    return f'[[rewards]]\nkey = "{key}"\ntitle = "Free coffee"\ncost = {cost}\n{extra}\n'


# --- the shipped file -----------------------------------------------------------------------


def test_shipped_file_equals_code_defaults() -> None:
    assert load_rules() == Rules()
    assert load_rules(DEFAULT_RULES_PATH).model_dump() == Rules().model_dump()


def test_shipped_file_documents_every_key() -> None:
    """Equality alone passes if a key is missing from the file, since the default fills it in."""
    data = tomllib.loads(DEFAULT_RULES_PATH.read_text(encoding="utf-8"))
    assert set(data) == set(Rules.model_fields) - {"rewards"}  # rewards is a commented example
    for section, value in data.items():
        if isinstance(value, dict):
            model = type(getattr(RULES, section))
            assert set(value) == set(model.model_fields), section
    for tier in data["tiers"]:
        assert set(tier) == {"key", "threshold", "multiplier"}


# --- purchase points ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tier", "amount", "points"),
    [
        ("bronze", 999, 0),
        ("bronze", 1_000, 1),
        ("bronze", 1_999, 1),
        ("bronze", 100_000, 100),
        ("silver", 999, 0),
        ("silver", 1_000, 1),  # 1.25 -> 1
        ("silver", 1_999, 1),  # base 1 first; 1.999 x 1.25 would give 2
        ("silver", 4_000, 5),
        ("silver", 7_000, 8),  # 8.75 -> 8
        ("silver", 100_000, 125),
        ("gold", 1_000, 1),  # 1.5 -> 1
        ("gold", 1_999, 1),
        ("gold", 3_000, 4),  # 4.5 -> 4
        ("gold", 100_000, 150),
        ("platinum", 999, 0),
        ("platinum", 1_999, 2),  # base 1 first; 1.999 x 2 would give 3
        ("platinum", 100_000, 200),
        ("platinum", 10_000_000_000, 20_000_000),
    ],
)
def test_purchase_points(tier: str, amount: int, points: int) -> None:
    assert RULES.purchase_points(amount, tier) == points


def test_multiplier_from_toml_is_exact_decimal(tmp_path: Path) -> None:
    text = ladder(("bronze", 0, "1"), ("silver", 1000, "1.25"), ("gold", 5000, "1.15"))
    rules = load_rules(write_rules(tmp_path, text))
    assert rules.tier("silver").multiplier == Decimal("1.25")
    assert rules.tier("gold").multiplier == Decimal("1.15")
    # As a binary float 1.15 is 1.1499999…, which would floor 20 x 1.15 to 22.
    assert rules.purchase_points(20_000, "gold") == 23


# --- tiers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("qualifying", "tier"),
    [
        (0, "bronze"),
        (999, "bronze"),
        (1_000, "silver"),
        (4_999, "silver"),
        (5_000, "gold"),
        (19_999, "gold"),
        (20_000, "platinum"),
        (10**12, "platinum"),
    ],
)
def test_tier_for(qualifying: int, tier: str) -> None:
    assert RULES.tier_for(qualifying).key == tier


@pytest.mark.parametrize(
    ("tier", "following"),
    [("bronze", "silver"), ("silver", "gold"), ("gold", "platinum"), ("platinum", None)],
)
def test_next_tier(tier: str, following: str | None) -> None:
    nxt = RULES.next_tier(tier)
    assert (nxt.key if nxt else None) == following


# --- loading custom files -------------------------------------------------------------------


def test_custom_file_overrides_only_what_it_sets(tmp_path: Path) -> None:
    text = 'club_mode = "limited"\n[earn]\namount_per_point = 500\n' + reward(min_tier='"gold"')
    rules = load_rules(write_rules(tmp_path, text))
    assert rules.club_mode is ClubMode.LIMITED
    assert rules.earn.amount_per_point == 500
    assert rules.rewards[0].min_tier == "gold"
    assert rules.referral == Rules().referral
    assert rules.tiers == Rules().tiers


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("[earn]\namount_per_pont = 5\n", "earn.amount_per_pont"),
        ('curency = "Toman"\n', "curency"),
        ("[earn]\namount_per_point = 1.5\n", "earn.amount_per_point"),
        ('[earn]\namount_per_point = "a lot"\n', "earn.amount_per_point"),
        ("[expiry]\ndays = [365]\n", "expiry.days"),
        ("earn = 5\n", "earn"),
        ("[earn]\namount_per_point = 0\n", "earn.amount_per_point"),
        ("[referral]\nwelcome_bonus = -1\n", "referral.welcome_bonus"),
        ("[adjust]\nmax_points = -100\n", "adjust.max_points"),
        ('club_mode = "closed"\n', "club_mode"),
        ("tiers = []\n", "tiers"),
        (
            ladder(("bronze", 0, "1"), ("gold", 5000, "1.5"), ("silver", 1000, "1.25")),
            "tiers: thresholds",
        ),
        (
            ladder(("bronze", 0, "1"), ("silver", 1000, "1.25"), ("gold", 1000, "1.5")),
            "tiers: thresholds",
        ),
        (ladder(("bronze", 0, "1"), ("bronze", 1000, "1.25")), "tiers: every tier"),
        (ladder(("bronze", 1, "1"), ("silver", 1000, "1.25")), "tiers: the first tier"),
        (ladder(("bronze", -1, "1")), "tiers.0.threshold"),
        (ladder(("bronze", 0, "1"), ("silver", 1000, "0.5")), "tiers.1.multiplier"),
        (ladder(("Bronze", 0, "1")), "tiers.0.key"),
        (reward(min_tier='"diamond"'), "rewards: free-coffee: unknown min_tier"),
        (reward() + reward(), "rewards: every reward"),
        (reward(cost=0), "rewards.0.cost"),
        (reward(allocation='"raffle"'), "rewards.0.allocation"),
    ],
)
def test_invalid_rules_name_the_bad_key(tmp_path: Path, text: str, named: str) -> None:
    path = write_rules(tmp_path, text)
    with pytest.raises(RulesError) as caught:
        load_rules(path)
    assert named in str(caught.value)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("[earn]\namount_per_point = true\n", "earn.amount_per_point"),  # 1 point per Toman
        ("[referral]\ncap = true\n", "referral.cap"),
        ('[earn]\namount_per_point = "1000"\n', "earn.amount_per_point"),
    ],
)
def test_wrongly_typed_numbers_are_refused(tmp_path: Path, text: str, named: str) -> None:
    with pytest.raises(RulesError, match=named.replace(".", r"\.")):
        load_rules(write_rules(tmp_path, text))


def test_invalid_toml_syntax(tmp_path: Path) -> None:
    path = write_rules(tmp_path, "[earn\namount_per_point = 1000\n")
    with pytest.raises(RulesError, match="not valid TOML"):
        load_rules(path)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.toml"
    with pytest.raises(RulesError, match="file not found") as caught:
        load_rules(path)
    assert str(path) in str(caught.value)
