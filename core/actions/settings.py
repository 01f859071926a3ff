"""``/settings``: a member changes how the club talks to them (language, offers, surveys, quiet
hours). Each button writes at once; nothing here is audited, as before, since it is the member's
own preference and changes nothing they own."""

from __future__ import annotations

from dataclasses import dataclass

from core import members
from core.actions.membership import member_of
from core.audit import Actor
from core.club import Club
from core.db import Session
from core.locales import is_known
from core.models import Member

SETTINGS = frozenset({"locale", "offers_enabled", "surveys_enabled", "quiet_start", "quiet_end"})
#: The quiet hours a member may pick, (start, end) in whole hours; "none" is no quiet hours.
QUIET_PRESETS = {"none": (0, 0), "22-8": (22, 8), "23-9": (23, 9), "0-10": (0, 10)}


@dataclass(frozen=True)
class SettingsSaved:
    """The member as now set; ``changed`` is false when there was nothing to change."""

    member: Member
    changed: bool


def chosen(field: str, value: str) -> dict[str, object] | None:
    """The changes a settings button makes (``lang``/``offers``/``surveys``/``quiet`` and its
    value, as every face offers them), or None for a choice no face offers: an old or forged one."""
    if field == "lang" and is_known(value):
        return {"locale": value}
    if field in ("offers", "surveys") and value in ("on", "off"):
        return {f"{field}_enabled": value == "on"}
    if field == "quiet" and value in QUIET_PRESETS:
        start, end = QUIET_PRESETS[value]
        return {"quiet_start": start, "quiet_end": end}
    return None


async def change(club: Club, actor: Actor, changes: dict[str, object]) -> SettingsSaved:
    """Apply ``changes`` (fields of :data:`SETTINGS`; none at all just reads the member).

    Only the settings can change here, never the name or number a face might slip in: any other
    field is a :class:`ValueError`, a bug in the face. Values are checked by
    :func:`core.members.update_profile` (:class:`~core.errors.InvalidInput`).
    """
    unknown = set(changes) - SETTINGS
    if unknown:
        raise ValueError(f"not settings: {sorted(unknown)}")

    async def unit(session: Session) -> SettingsSaved:
        member = await member_of(session, actor)
        if changes:
            member = await members.update_profile(session, member.id, **changes)
        return SettingsSaved(member, bool(changes))

    return await club.write(unit)
