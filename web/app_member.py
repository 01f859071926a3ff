"""The member's Mini App, under ``/app/api``: their card, the catalogue, their history.

Every route takes the checked launch (:data:`web.launch.Launched`) and calls the core action the
chat calls with the launch's Telegram user as the actor, so a member only ever sees and acts on
their own account: no route takes a member's id. Each answers a screen (:mod:`web.screens`) in
the member's language.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from markupsafe import Markup

from core.actions import cards, standing
from core.actions import redemptions as redeeming
from core.club import Club
from core.codes import format_redemption_code
from core.models import utcnow
from core.rules import Allocation
from core.standing import Standing
from web import charts, notices
from web.launch import Launch, Launched
from web.qr_svg import qr_svg
from web.screens import MainButton, ScreenKey, screen, views, words

router = APIRouter(prefix="/app/api", include_in_schema=False)
HISTORY_PAGE = 20


def _club(request: Request) -> Club:
    return request.app.state.club


@router.get("/card")
async def card(request: Request, launch: Launched) -> dict[str, Any]:
    """The member's card: balance, tier and the way to the next, points waiting and expiring,
    and the QR code the till scans, fetched again as each minute's code takes over."""
    club = _club(request)
    member = await standing.points(club, launch.actor)
    qr = await _qr(request, launch)
    return screen(
        request, member.locale, "card.html", refresh=qr["refresh"], member=member, qr=qr["html"],
        **_progress(club, member),
    )  # fmt: skip


@router.get("/card/qr")
async def card_qr(request: Request, launch: Launched) -> dict[str, Any]:
    """This minute's QR code alone, and when to ask for the next one."""
    part = await _qr(request, launch)
    return {"parts": {"qr": part["html"]}, "refresh": part["refresh"]}


async def _qr(request: Request, launch: Launch) -> dict[str, Any]:
    now = utcnow()
    issued = await cards.issue(_club(request), launch.actor, now)
    html = Markup(
        views(request)(
            issued.member.locale,
            "qr.html",
            token=issued.token,
            svg=qr_svg(issued.token, label=issued.token),
        )
    )
    # The code is accepted until the end of the next minute; the next one is made when this
    # minute ends, so the card always shows a code with a minute or more to live.
    seconds = max((issued.valid_until - now).total_seconds() - 60, 1)
    return {"html": html, "refresh": {"url": "/app/api/card/qr", "seconds": round(seconds, 3)}}


def _progress(club: Club, member: Standing) -> dict[str, Any]:
    """The way to the next tier: its key, the points still to earn, and the share done."""
    rules = club.rules
    following = rules.next_tier(member.tier)
    if following is None:
        return {"next_tier": None, "to_next": 0, "progress": 100}
    floor = rules.tiers[rules.tier_rank(member.tier)].threshold
    span = max(following.threshold - floor, 1)
    done = min(max(member.qualifying - floor, 0), span)
    return {
        "next_tier": following.key,
        "to_next": rules.points_to_next(member.tier, member.qualifying),
        "progress": round(100 * done / span),
    }


@router.get("/rewards")
async def rewards(request: Request, launch: Launched) -> dict[str, Any]:
    """The rewards the member's tier may see, as the chat's /rewards lists them."""
    shown = await redeeming.catalogue(_club(request), launch.actor)
    return screen(
        request, shown.member.locale, "rewards.html", member=shown.member, rewards=shown.rewards
    )


@router.get("/rewards/{reward_id}")
async def reward(request: Request, launch: Launched, reward_id: int) -> dict[str, Any]:
    """One reward, with the MainButton for what the member may do with it: redeem it, or enter
    its lottery; a reward closed since, or not for their tier, is refused as in the chat."""
    offered = await redeeming.reward_details(_club(request), launch.actor, reward_id)
    locale = offered.member.locale
    policy = Allocation(offered.reward.allocation)
    button = None
    if policy is Allocation.FIRST_COME:
        button = MainButton(
            words(request, locale, "reward/redeem"),
            words(request, locale, "reward/redeem_confirm", reward=offered.reward),
            f"/app/api/rewards/{reward_id}/redeem",
        )
    elif policy is Allocation.LOTTERY and not offered.entered:
        button = MainButton(
            words(request, locale, "reward/enter"),
            words(request, locale, "reward/enter_confirm", reward=offered.reward),
            f"/app/api/rewards/{reward_id}/enter",
        )
    return screen(
        request, locale, "reward.html", main_button=button, reward=offered.reward,
        member=offered.member, entered=offered.entered,
    )  # fmt: skip


@router.post("/rewards/{reward_id}/redeem")
async def redeem(
    request: Request, launch: Launched, reward_id: int, key: ScreenKey
) -> dict[str, Any]:
    """Redeem with the chat's own core action: the same key (a second tap, a retry) redeems
    once and shows the same code; the chat is told the code too."""
    club = _club(request)
    handed = await redeeming.redeem(
        club, launch.actor, reward_id, key=f"app:{key}:{reward_id}",
        render=notices.renderer(club),
    )  # fmt: skip
    return screen(
        request, handed.member.locale, "redeemed.html", haptic="success", reward=handed.reward,
        code=format_redemption_code(handed.redemption.code),
        expires_at=handed.redemption.expires_at, balance=handed.member.balance,
    )  # fmt: skip


@router.post("/rewards/{reward_id}/enter")
async def enter(request: Request, launch: Launched, reward_id: int) -> dict[str, Any]:
    """Enter a lottery; entering again changes nothing, so no key is needed."""
    entered = await redeeming.enter_lottery(_club(request), launch.actor, reward_id)
    return screen(
        request, entered.member.locale, "entered.html", haptic="success", reward=entered.reward
    )


@router.get("/history")
async def history(
    request: Request, launch: Launched, page: Annotated[int, Query(ge=0, le=10_000)] = 0
) -> dict[str, Any]:
    """A page of the member's ledger, newest first; the first page has a chart of the balance
    after each of its entries."""
    shown = await standing.history(_club(request), launch.actor, page=page, per_page=HISTORY_PAGE)
    locale = shown.member.locale
    chart = None
    if page == 0 and len(shown.entries) > 1:
        chart = charts.line(
            _balances(shown.member.balance, [e.delta for e in shown.entries]),
            caption=words(request, locale, "history/chart"),
            name="balance",
        )
    return screen(
        request, locale, "history.html", entries=shown.entries, page=page,
        has_more=shown.has_more, pending=shown.pending, chart=chart,
    )  # fmt: skip


def _balances(balance: int, deltas_newest_first: list[int]) -> list[int]:
    """The balance after each entry, oldest first, worked back from today's balance."""
    after = []
    for delta in deltas_newest_first:
        after.append(balance)
        balance -= delta
    return after[::-1]
