"""The member's profile answers: the four dimensions asked with buttons, and the typed city.

Engagement (preferred contact, how often offers are welcome), purchase behaviour (interests,
several at once) and trust (what matters most) are buttons; the fourth dimension, environment, is
the city the member types. :func:`core.members.update_profile` stores what these return.
"""

from __future__ import annotations

from typing import Any

from core.errors import InvalidInput

PROFILE_SECTIONS: dict[str, tuple[str, ...]] = {
    "contact": ("telegram", "phone_call", "sms", "in_person"),
    "frequency": ("weekly", "monthly", "rarely"),
    "interests": ("discounts", "new_products", "events", "gifts", "vip"),
    "values": ("price", "quality", "service", "speed", "trust"),
}
PROFILE_MULTI = frozenset({"interests"})
MAX_CITY = 64


def profile_answer(profile: dict[str, Any], section: str, option: str) -> object:
    """What ``section`` holds once ``option`` is pressed: it replaces a single answer, and is
    added to or taken out of the several a multiple-choice section holds."""
    if option not in PROFILE_SECTIONS.get(section, ()):
        raise InvalidInput("unknown_option", option)
    if section not in PROFILE_MULTI:
        return option
    current = list(profile.get(section) or [])
    return [o for o in current if o != option] if option in current else [*current, option]


def clean_city(city: str) -> str:
    """A typed city: inner whitespace folded, not empty, at most :data:`MAX_CITY` characters."""
    cleaned = " ".join((city or "").split())
    if not cleaned:
        raise InvalidInput("empty", city or "")
    if len(cleaned) > MAX_CITY:
        raise InvalidInput("too_long", cleaned)
    return cleaned
