"""The endpoints under ``/api/v1``: each calls the core action the staff command calls.

A key sells in its branch: its purchases, refunds and handed-over rewards are that branch's. It
reads its own branch, and a key of ``main`` (the club's own desk) reads any or every branch.

A member is told what the staff command would tell them, in the same words, through the outbox
(:mod:`web.notices`): web has no Telegram bot of its own.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from core import branches
from core.actions import catalogue, joining, purchases, redemptions, reports
from core.api_keys import actor_of
from core.club import Club
from core.models import ApiKey, Purchase
from core.reports import MemberSummary
from web import notices
from web.auth import caller
from web.idempotency import idempotency_key, once
from web.schemas import (
    ConfirmedOut,
    HeldOut,
    MemberIn,
    MemberOut,
    PurchaseIn,
    PurchaseListed,
    PurchaseOut,
    PurchasePageOut,
    RefundOut,
    RegisteredOut,
    RewardOut,
)

Caller = Annotated[ApiKey, Depends(caller)]
IdemKey = Annotated[str, Depends(idempotency_key)]

router = APIRouter()
PAGE_SIZE = 50
PAGE_LIMIT = 200


def _club(request: Request) -> Club:
    return request.app.state.club


@router.get("/members/{ref}", response_model=MemberOut, tags=["members"])
async def member(request: Request, key: Caller, ref: str) -> MemberOut:
    """A member by phone, number or card code: tier, balance and the points still waiting."""
    return _member_out(await reports.member_file(_club(request), actor_of(key), ref))


@router.get(
    "/members/by-card/{token}",
    response_model=MemberOut,
    responses={
        404: {"description": "`card_token_invalid`: no member card ever showed this code."},
        410: {"description": "`card_token_expired`: a genuine code, but too old."},
    },
    tags=["members"],
)
async def member_by_card(request: Request, key: Caller, token: str) -> MemberOut:
    """The member whose card the till scanned: the code in the card's QR (``C:…``), which changes
    every minute and is accepted for 60 to 120 seconds, so a screenshot of an old card names
    nobody. Nothing but a card's code is taken here (``GET /members/{ref}`` takes a phone or a
    number, and a code too). A stale code is 410 ``card_token_expired`` (ask the member to open
    their card again); a garbled or forged one is 404 ``card_token_invalid``. Any key, a branch's
    too, may read it: members belong to the whole club."""
    return _member_out(await reports.card_holder_file(_club(request), actor_of(key), token))


def _member_out(summary: MemberSummary) -> MemberOut:
    found = summary.member
    return MemberOut(
        number=found.id, name=found.name, tier=found.tier, balance=found.balance,
        pending_points=summary.pending.points, phone_verified=found.phone_verified,
    )  # fmt: skip


@router.post(
    "/members",
    status_code=201,
    response_model=RegisteredOut,
    responses={200: {"model": RegisteredOut, "description": "The number was a member's already."}},
    tags=["members"],
)
async def register(
    request: Request, key: Caller, idem_key: IdemKey, body: MemberIn
) -> JSONResponse:
    """Register a customer by phone at the till (``/member_add``): they earn from the first sale,
    and become the Telegram member who later shares this number with the contact button."""

    async def act(_: str) -> tuple[int, RegisteredOut]:
        registered = await joining.register(
            _club(request), actor_of(key), phone=body.phone, name=body.name, birthday=body.birthday
        )
        found = registered.member
        return 201 if registered.created else 200, RegisteredOut(
            number=found.id, name=found.name, tier=found.tier, balance=found.balance,
            phone_verified=found.phone_verified, created=registered.created,
        )  # fmt: skip

    return await once(request, key, idem_key, body, act)


@router.post(
    "/purchases",
    status_code=201,
    response_model=PurchaseOut,
    responses={202: {"model": HeldOut, "description": "Held for the staff group to confirm."}},
    tags=["purchases"],
)
async def purchase(
    request: Request, key: Caller, idem_key: IdemKey, body: PurchaseIn
) -> JSONResponse:
    """Record a purchase (``/purchase``): its points now, or after the return window."""

    async def act(action_key: str) -> tuple[int, PurchaseOut | HeldOut]:
        club = _club(request)
        outcome = await purchases.purchase(
            club, actor_of(key), body.member, body.amount,
            reference=body.reference, key=action_key, branch=key.branch,
            render=notices.renderer(club),
        )  # fmt: skip
        if isinstance(outcome, purchases.Held):
            held = outcome.held
            return 202, HeldOut(
                reference=held.reference, member=held.member_id, amount=held.amount,
                reasons=list(outcome.reasons), confirmation=outcome.request.id,
            )  # fmt: skip
        result = outcome.result
        return 201, PurchaseOut(
            reference=result.purchase.reference, member=outcome.member.id,
            amount=result.purchase.amount, points=result.points, balance=result.balance,
            pending=result.pending, available_at=result.purchase.available_at,
        )  # fmt: skip

    return await once(request, key, idem_key, body, act)


@router.get(
    "/purchases",
    response_model=PurchasePageOut,
    responses={403: {"description": "Another branch's purchases, asked with a branch's key."}},
    tags=["purchases"],
)
async def purchase_list(
    request: Request,
    key: Caller,
    branch: Annotated[str | None, Query(min_length=1, max_length=branches.MAX_CODE)] = None,
    after: Annotated[int | None, Query(ge=0)] = None,
    limit: Annotated[int, Query(ge=1, le=PAGE_LIMIT)] = PAGE_SIZE,
) -> PurchasePageOut:
    """The purchases, oldest first, a page at a time (``after``: the last ``id`` of the page
    before). ``branch``: a branch's code; without it, the key's branch, or every branch for a
    key of ``main``; a key of another branch may read its own branch only (403)."""
    page = await reports.purchase_page(
        _club(request), actor_of(key), branch=branches.scope(key.branch, branch),
        after=after, limit=limit,
    )  # fmt: skip
    return PurchasePageOut(items=[_listed(p, code) for p, code in page.purchases],
                           next_after=page.next_after)  # fmt: skip


def _listed(purchase: Purchase, branch: str) -> PurchaseListed:
    return PurchaseListed(
        id=purchase.id, reference=purchase.reference, member=purchase.member_id,
        amount=purchase.amount, points=purchase.points, status=purchase.status,
        created_at=purchase.created_at, branch=branch,
    )  # fmt: skip


@router.post("/purchases/{reference}/refund", response_model=RefundOut, tags=["purchases"])
async def refund(request: Request, key: Caller, idem_key: IdemKey, reference: str) -> JSONResponse:
    """Refund a purchase of the key's branch (``/refund``): its points back, a referrer's bonus
    clawed back."""

    async def act(_: str) -> tuple[int, RefundOut]:
        club = _club(request)
        refunded = await purchases.refund(
            club, actor_of(key), reference, branch=key.branch, render=notices.renderer(club)
        )
        result = refunded.result
        return 200, RefundOut(
            reference=result.purchase.reference, member=refunded.member.id,
            reversed=result.reversed, unrecovered=result.unrecovered, balance=result.balance,
        )  # fmt: skip

    return await once(request, key, idem_key, None, act)


@router.post("/redemptions/{code}/confirm", response_model=ConfirmedOut, tags=["redemptions"])
async def confirm(request: Request, key: Caller, idem_key: IdemKey, code: str) -> JSONResponse:
    """Hand a reward over (``/confirm``) at the key's branch: the member's code, once, whichever
    branch's points paid for it."""

    async def act(_: str) -> tuple[int, ConfirmedOut]:
        handed = await redemptions.confirm(_club(request), actor_of(key), code, branch=key.branch)
        return 200, ConfirmedOut(
            code=handed.redemption.code, member=handed.member.id,
            reward_id=handed.reward.id, reward=handed.reward.title,
        )  # fmt: skip

    return await once(request, key, idem_key, None, act)


@router.get("/rewards", response_model=list[RewardOut], tags=["rewards"])
async def rewards(request: Request, key: Caller) -> list[RewardOut]:
    """The whole catalogue (``/rewards_admin``), offered rewards first."""
    listed = await catalogue.catalogue(_club(request), actor_of(key))
    return [
        RewardOut(
            id=r.id,
            title=r.title,
            cost=r.cost,
            stock=r.stock,
            active=r.active,
            ends_at=r.ends_at,
            open_codes=listed.open_codes.get(r.id, 0),
        )
        for r in listed.rewards
    ]
