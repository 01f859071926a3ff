"""Reading staff command arguments: members named loosely, amounts as cashiers type them, and a
usage answer instead of a guess.

The grammar, after the command (Telegram splits the text on spaces):

* ``<member>``: ``#42`` or ``42`` (a member number), ``@username``, or a phone. A phone may be
  typed in groups: a first group starting with ``+`` or ``0`` takes the short digit groups after
  it (``0912 123 4567``), and groups starting with ``9`` that add up to exactly ten digits are a
  phone too (``912 123 4567``, ``9121234567``), never member #912.
* ``/purchase <member> <amount> [unit] [Toman] [reference]``: the amount is one number, written
  with no spaces inside (``250000``, ``250,000``, ``۲۵۰٬۰۰۰``, ``2.5m``, ``250k``), optionally
  followed by a multiple word (thousand, million, billion in Persian; k, m, b) and the word Toman
  (:func:`core.digits.parse_amount`). A single-token reference may follow; nothing else may.
* ``/award|/deduct <member> <points> <reason…>``.
* ``/invite_link [uses] [days]``: two whole numbers, each optional from the right.

Spaces never group digits. A number followed by a bare three-digit group (``/purchase 1 250 000``)
is refused with the usage, because it could be 250,000 for member 1 or 250 with reference 000.
A three-digit reference stays possible after a unit or currency word: ``250000 تومان 123``.
Anything that does not fit raises :class:`UsageError`, answered with the command's usage.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from core import invitations
from core.digits import amount_length, parse_amount, parse_positive_int, to_latin_digits
from core.errors import BashgahError, InvalidNumber

PHONE_DIGITS = 10
GROUP_DIGITS = 4
#: What a space-grouped thousands group looks like, and so what may not follow a bare number.
_DIGIT_GROUP = re.compile(r"[0-9]{3}")
#: Amount refusals that mean "not written the way the usage shows", answered with the usage.
_USAGE_REASONS = frozenset({"not_a_number", "not_whole", "rial"})


class UsageError(BashgahError):
    code = "usage"

    def __init__(self, command: str) -> None:
        super().__init__(command, command=command)


@dataclass(frozen=True)
class PurchaseArgs:
    member: str
    amount: int
    reference: str | None


def split_member(args: Sequence[str]) -> tuple[str, list[str]]:
    """The member query and the arguments after it (IndexError if there is no argument)."""
    if not args:
        raise IndexError("no member")
    taken = _phone_groups(args)
    return " ".join(args[:taken]), list(args[taken:])


def _phone_groups(args: Sequence[str]) -> int:
    """How many leading arguments name the member: the groups of a phone, else just one."""
    first = to_latin_digits(args[0])
    digits = sum(ch.isdigit() for ch in first)
    taken = 1
    if first.startswith(("+", "0")):
        while taken < len(args) and digits < PHONE_DIGITS and _is_group(args[taken]):
            digits += len(args[taken])
            taken += 1
        return taken
    if first.isdigit() and first.startswith("9") and digits >= 3:
        # A mobile number without its 0: only if the groups make exactly its ten digits.
        while taken < len(args) and _is_group(args[taken]):
            if digits + len(args[taken]) > PHONE_DIGITS:
                break
            digits += len(args[taken])
            taken += 1
        return taken if digits == PHONE_DIGITS else 1
    return 1


def _is_group(text: str) -> bool:
    group = to_latin_digits(text)
    return group.isascii() and group.isdigit() and len(group) <= GROUP_DIGITS


def member_and_rest(command: str, args: Sequence[str]) -> tuple[str, list[str]]:
    try:
        return split_member(args)
    except IndexError:
        raise UsageError(command) from None


def purchase_args(args: Sequence[str], maximum: int) -> PurchaseArgs:
    """``<member> <amount> [unit] [Toman] [reference]``, read as the module docstring says."""
    query, rest = member_and_rest("purchase", args)
    taken = amount_length(rest)
    if not taken:
        raise UsageError("purchase")
    amount_tokens, after = rest[:taken], rest[taken:]
    no_digit_group_after("purchase", amount_tokens, after)
    amount = amount_of("purchase", " ".join(amount_tokens), maximum)
    reference = shape("purchase", after, 0, 1)
    return PurchaseArgs(query, amount, reference[0] if reference else None)


def amount_of(command: str, text: str, maximum: int) -> int:
    """The amount in Toman; a form the usage does not show is answered with the usage."""
    try:
        return parse_amount(text, maximum=maximum)
    except InvalidNumber as refused:
        if refused.reason in _USAGE_REASONS:
            raise UsageError(command) from None
        raise


def no_digit_group_after(command: str, number: Sequence[str], after: Sequence[str]) -> None:
    """Refuse a lone number followed by a three-digit group: a space is not a separator, and
    ``250 000`` might be meant as one number. Words (``250 هزار 123``) end the number safely."""
    ends_in_digit = len(number) == 1 and to_latin_digits(number[0])[-1:].isdigit()
    if ends_in_digit and after and _DIGIT_GROUP.fullmatch(to_latin_digits(after[0])):
        raise UsageError(command)


def positive(text: str, maximum: int) -> int:
    return parse_positive_int(text, maximum=maximum)


def shape(command: str, args: Sequence[str], least: int, most: int | None = None) -> list[str]:
    """The arguments if their count fits, else the command's usage."""
    if len(args) < least or (most is not None and len(args) > most):
        raise UsageError(command)
    return list(args)


def invite_link_args(args: Sequence[str]) -> tuple[int, int]:
    """``[uses] [days]`` within :mod:`core.invitations`' bounds; anything else is the usage,
    which states them."""
    given = shape("invite_link", args, 0, 2)
    defaults = (invitations.DEFAULT_USES, invitations.DEFAULT_DAYS)
    bounds = (invitations.MAX_USES, invitations.MAX_DAYS)
    try:
        numbers = [positive(text, most) for text, most in zip(given, bounds, strict=False)]
    except InvalidNumber:
        raise UsageError("invite_link") from None
    uses, days = [*numbers, *defaults[len(numbers) :]]
    return uses, days
