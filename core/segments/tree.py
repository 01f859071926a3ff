"""Segments: the tree a rule is read into, shared by the parser that builds it and the compiler.

Plain frozen data with no behaviour, so the two sides agree on one shape and neither imports the
other.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.rules import Rules

Value = int | str | bool


@dataclass(frozen=True)
class Compare:
    """``field op value``; ``in`` carries several values. ``window`` is N of ``purchases_<N>d``."""

    field: str
    op: str
    values: tuple[Value, ...]
    window: int | None = None


@dataclass(frozen=True)
class BirthdayWithin:
    days: int


@dataclass(frozen=True)
class NearNextTier:
    pass


@dataclass(frozen=True)
class Named:
    """A built-in segment used by name, with its definition read in the same language."""

    name: str
    definition: Node


@dataclass(frozen=True)
class Not:
    item: Node


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]


Node = Compare | BirthdayWithin | NearNextTier | Named | Not | And | Or


@dataclass(frozen=True)
class Segment:
    """A rule that parsed and names only things that exist; compile it with :func:`member_ids`.

    ``text`` is the rule as typed; ``canonical`` the same rule in the language's own words (what a
    campaign saves: it reads the same without the words it was typed in).
    """

    text: str
    root: Node
    rules: Rules = field(repr=False, compare=False)
    canonical: str = field(compare=False)
