"""Reading staff command arguments: members named loosely, numbers in any digits, clear usage.

A phone may be typed with spaces (``/purchase 0912 123 4567 250000``): a member argument that starts
with ``+`` or ``0`` takes the short digit groups after it. Anything that does not fit the command's
shape raises :class:`UsageError`, which the error handler answers with the command's usage line.
"""

from __future__ import annotations

from collections.abc import Sequence

from core.digits import parse_positive_int, to_latin_digits
from core.errors import BashgahError

PHONE_DIGITS = 10
GROUP_DIGITS = 4


class UsageError(BashgahError):
    code = "usage"

    def __init__(self, command: str) -> None:
        super().__init__(command, command=command)


def split_member(args: Sequence[str]) -> tuple[str, list[str]]:
    """The member query and the arguments after it."""
    if not args:
        raise IndexError("no member")
    first = to_latin_digits(args[0])
    taken = 1
    if first.startswith(("+", "0")):
        digits = sum(ch.isdigit() for ch in first)
        while taken < len(args) and digits < PHONE_DIGITS:
            group = to_latin_digits(args[taken])
            if not (group.isdigit() and len(group) <= GROUP_DIGITS):
                break
            digits += len(group)
            taken += 1
    return " ".join(args[:taken]), list(args[taken:])


def positive(text: str, maximum: int) -> int:
    return parse_positive_int(text, maximum=maximum)


def shape(command: str, args: Sequence[str], least: int, most: int | None = None) -> list[str]:
    """The arguments if their count fits, else the command's usage."""
    if len(args) < least or (most is not None and len(args) > most):
        raise UsageError(command)
    return list(args)
