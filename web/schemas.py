"""What the API reads and answers: pydantic models, so the OpenAPI document describes them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from core.purchases import MAX_REFERENCE_LENGTH

MemberRef = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        description="A phone in any form staff may type (0912…, +98912…, Persian digits) or a "
        "member number (42 or #42).",
    ),
]


class Strict(BaseModel):
    """A request body: unknown fields are refused, not ignored, so a typo is not a silent no."""

    model_config = ConfigDict(extra="forbid")


class MemberIn(Strict):
    phone: Annotated[
        str,
        Field(min_length=1, max_length=32, description="The customer's mobile, in any form."),
    ]
    name: Annotated[str | None, Field(max_length=128)] = None
    birthday: date | None = Field(default=None, description="Gregorian, YYYY-MM-DD.")


class PurchaseIn(Strict):
    member: MemberRef
    amount: Annotated[StrictInt, Field(gt=0, description="In Toman, a whole number.")]
    reference: Annotated[
        str,
        Field(
            min_length=1,
            max_length=MAX_REFERENCE_LENGTH,
            description="The receipt or order number: a purchase is recorded once per reference.",
        ),
    ]


class MemberOut(BaseModel):
    number: int
    name: str | None
    tier: str
    balance: int
    pending_points: int = Field(description="Waiting for the return window, not in the balance.")
    phone_verified: bool


class RegisteredOut(BaseModel):
    number: int
    name: str | None
    tier: str
    balance: int
    phone_verified: bool
    created: bool = Field(description="False: the number was a member's already (200).")


class PurchaseOut(BaseModel):
    reference: str
    member: int = Field(description="The member number.")
    amount: int
    points: int
    balance: int
    pending: bool = Field(description="The points wait for the return window (``available_at``).")
    available_at: datetime | None


class PurchaseListed(BaseModel):
    id: int = Field(description="Pass the last one as ``after`` for the next page.")
    reference: str
    member: int = Field(description="The member number.")
    amount: int
    points: int
    status: str = Field(description="pending (in the return window), completed or refunded.")
    created_at: datetime
    branch: str = Field(description="The code of the branch it was sold in.")


class PurchasePageOut(BaseModel):
    items: list[PurchaseListed]
    next_after: int | None = Field(
        description="The ``after`` of the next page; null on the last page."
    )


class HeldOut(BaseModel):
    """Not recorded yet: the staff group must confirm it first."""

    reference: str
    member: int
    amount: int
    reasons: list[str] = Field(
        description="large (above the confirm limit), "
        "unverified (named by a phone nobody verified)."
    )
    confirmation: int = Field(description="The staff confirmation request's number.")


class RefundOut(BaseModel):
    reference: str
    member: int
    reversed: int = Field(description="Points taken back.")
    unrecovered: int = Field(description="Points already spent, now owed by the member.")
    balance: int


class ConfirmedOut(BaseModel):
    code: str
    member: int
    reward_id: int
    reward: str


class RewardOut(BaseModel):
    id: int
    title: str
    cost: int
    stock: int | None = Field(description="None: unlimited.")
    active: bool
    ends_at: datetime | None
    open_codes: int
