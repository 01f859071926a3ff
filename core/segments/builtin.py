"""Segments: the built-in segments, written in the language itself.

Their own module because both the public API (staff pick them by name) and the parser (a name in a
rule is read as its definition) use them.
"""

from __future__ import annotations

from typing import Final

from core.rules import Rules

#: Named segments, written in the language; ``{churn_days}`` comes from the rules.
BUILTIN: Final[dict[str, str]] = {
    "champions": "recency >= 4 and frequency >= 4 and monetary >= 4",
    "at_risk": "frequency >= 3 and days_inactive > {churn_days}",
    "new_members": "days_since_joining <= 30",
    "birthday_week": "birthday within 7 days",
    "near_next_tier": "near_next_tier",
}


def builtin_rule(name: str, rules: Rules) -> str:
    """The definition of a built-in segment with the rules' numbers filled in."""
    return BUILTIN[name].format(churn_days=rules.messaging.churn_days)
