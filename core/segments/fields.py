"""Segments: the vocabulary of the language (fields, kinds, operators, ranges, reserved words).

One table read by both sides: the parser checks a rule against it, the compiler picks the SQL for
each field kind from it, so a new field is one row here plus its SQL in the compiler.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from typing import Any, Final

_ORDERED: Final = frozenset({"=", "!=", "<", "<=", ">", ">=", "in"})
_EQUALITY: Final = frozenset({"=", "!=", "in"})
_ALLOWED_OPS: Final = {
    "number": _ORDERED,
    "days": _ORDERED,
    "month": _ORDERED,
    "tier": _ORDERED,
    "text": _EQUALITY,
    "bool": frozenset({"=", "!="}),
}
_FIELDS: Final = {
    "tier": "tier",
    "balance": "number",
    "qualifying_points": "number",
    "days_inactive": "days",
    "days_since_joining": "days",
    "recency": "number",
    "frequency": "number",
    "monetary": "number",
    "birthday_month": "month",
    "city": "text",
    "interest": "text",
    "referrals": "number",
    "nps_last": "number",
    "offers": "bool",
}
_RANGES: Final = {
    "recency": (1, 5),
    "frequency": (1, 5),
    "monetary": (1, 5),
    "birthday_month": (1, 12),
    "nps_last": (0, 10),
    "days_inactive": (0, 100_000),
    "days_since_joining": (0, 100_000),
}
_RFM: Final = ("recency", "frequency", "monetary")
_WINDOW_FIELD: Final = re.compile(r"(purchases|spend)_([0-9]+)d")
_MAX_WINDOW_DAYS: Final = 3650
_MAX_BIRTHDAY_DAYS: Final = 366
_CONNECTIVES: Final = frozenset({"and", "or", "not"})
_RESERVED: Final = _CONNECTIVES | {"in", "within", "days", "day", "true", "false"}
_OPERATORS: Final[dict[str, Callable[[Any, Any], Any]]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
