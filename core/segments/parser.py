"""Segments, step two: tokens read by recursive descent into a validated tree (:class:`Segment`).

Everything a rule can get wrong is found here, before any SQL exists: unknown fields, operators a
field does not take, values out of range, unknown tiers, nesting too deep. Errors are
:class:`~core.errors.SegmentError` naming the token where reading stopped, so the compiler only ever
sees trees that make sense.
"""

from __future__ import annotations

from typing import Final

from core.digits import to_latin_digits
from core.errors import SegmentError
from core.rules import Rules
from core.segments.builtin import BUILTIN, builtin_rule
from core.segments.fields import (
    _ALLOWED_OPS,
    _CONNECTIVES,
    _FIELDS,
    _MAX_BIRTHDAY_DAYS,
    _MAX_WINDOW_DAYS,
    _OPERATORS,
    _RANGES,
    _RESERVED,
    _WINDOW_FIELD,
)
from core.segments.lexer import _Token, _tokenize
from core.segments.tree import (
    And,
    BirthdayWithin,
    Compare,
    Named,
    NearNextTier,
    Node,
    Not,
    Or,
    Segment,
    Value,
)
from core.segments.words import NONE, Vocabulary

#: Longest rule accepted, in characters; longer ones are refused before they are read.
MAX_LENGTH: Final = 500
#: Deepest nesting of parentheses and ``not``.
MAX_DEPTH: Final = 20
_MAX_NUMBER_DIGITS: Final = 15  # fits BIGINT with room to spare


class _Parser:
    """Recursive descent over the tokens; every error names the token where reading stopped."""

    def __init__(self, text: str, rules: Rules, depth: int = 0, words: Vocabulary = NONE) -> None:
        self.text = text
        self.rules = rules
        self.words = words
        self.tokens = _tokenize(text, words)
        self.i = 0
        self.start_depth = depth
        self.own_words: dict[int, str] = {}  # token index -> the token in the language's words

    def parse(self) -> Node:
        if not self.tokens:
            raise SegmentError("empty", 0, "")
        node = self._or(self.start_depth)
        tok = self._peek()
        if tok is not None:
            raise self._error("unmatched_parenthesis" if tok.kind == ")" else "trailing", tok)
        return node

    # helpers

    def _peek(self) -> _Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def _next(self) -> _Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def _at_keyword(self, word: str) -> bool:
        tok = self._peek()
        return tok is not None and tok.kind == "word" and tok.value == word

    def _error(self, reason: str, tok: _Token | None, **why: str | int) -> SegmentError:
        if tok is None:
            return SegmentError(reason, len(self.text), "", **why)
        return SegmentError(reason, tok.pos, tok.text, **why)

    def canonical(self) -> str:
        """The rule read, in the language's own words: every word as the parser took it (text
        values as typed), the rest of the text as it was."""
        out, last = [], 0
        for index, tok in enumerate(self.tokens):
            own = self.own_words.get(index, tok.value if tok.kind in ("word", ",") else tok.text)
            out += [self.text[last : tok.pos], own]
            last = tok.pos + len(tok.text)
        out.append(self.text[last:])
        return "".join(out).strip()

    def _deeper(self, depth: int, tok: _Token) -> int:
        if depth + 1 > MAX_DEPTH:
            raise self._error("too_deep", tok)
        return depth + 1

    # grammar

    def _or(self, depth: int) -> Node:
        items = [self._and(depth)]
        while self._at_keyword("or"):
            self.i += 1
            items.append(self._and(depth))
        return items[0] if len(items) == 1 else Or(tuple(items))

    def _and(self, depth: int) -> Node:
        items = [self._not(depth)]
        while self._at_keyword("and"):
            self.i += 1
            items.append(self._not(depth))
        return items[0] if len(items) == 1 else And(tuple(items))

    def _not(self, depth: int) -> Node:
        tok = self._peek()
        if tok is not None and tok.kind == "word" and tok.value == "not":
            deeper = self._deeper(depth, tok)
            self.i += 1
            return Not(self._not(deeper))
        return self._atom(depth)

    def _atom(self, depth: int) -> Node:
        tok = self._peek()
        if tok is None:
            raise self._error("missing_condition", None)
        if tok.kind == "(":
            deeper = self._deeper(depth, tok)
            self.i += 1
            node = self._or(deeper)
            close = self._peek()
            if close is None:
                raise self._error("unclosed_parenthesis", tok)
            if close.kind != ")":
                raise self._error("expected_closing_parenthesis", close)
            self.i += 1
            return node
        if tok.kind != "word" or tok.value in _RESERVED:
            raise self._error("missing_condition", tok)
        if tok.value == "near_next_tier":
            self.i += 1
            return NearNextTier()
        if tok.value == "birthday":
            return self._birthday()
        if tok.value in BUILTIN:
            self.i += 1
            text = builtin_rule(tok.value, self.rules)
            definition = _Parser(text, self.rules, self._deeper(depth, tok)).parse()
            return Named(tok.value, definition)
        return self._comparison()

    def _birthday(self) -> Node:
        self.i += 1  # birthday
        if not self._at_keyword("within"):
            raise self._error("expected_within", self._peek())
        self.i += 1
        tok = self._peek()
        if tok is None or tok.kind != "number":
            raise self._error("missing_value", tok)
        days = self._number(tok, 1, _MAX_BIRTHDAY_DAYS)
        self.i += 1
        if not (self._at_keyword("days") or self._at_keyword("day")):
            raise self._error("expected_days", self._peek())
        self.i += 1
        return BirthdayWithin(days)

    def _comparison(self) -> Node:
        field_tok = self._next()
        name, kind, window = self._field(field_tok)
        op_tok = self._peek()
        operators = " ".join(o for o in (*_OPERATORS, "in") if o in _ALLOWED_OPS[kind])
        shown = self.words.name(name)
        if op_tok is None:
            raise self._error("missing_operator", None, field=shown, expected=operators)
        if op_tok.kind == "word" and op_tok.value == "in":
            op = "in"
        elif op_tok.kind == "op":
            if op_tok.text not in _OPERATORS:
                raise self._error("bad_operator", op_tok, field=shown, expected=operators)
            op = op_tok.text
        else:
            raise self._error("missing_operator", op_tok, field=shown, expected=operators)
        if op not in _ALLOWED_OPS[kind]:
            raise self._error("operator_not_allowed", op_tok, field=shown, expected=operators)
        self.i += 1
        values = self._list(name, kind) if op == "in" else (self._value(name, kind),)
        return Compare(name, op, values, window)

    def _field(self, tok: _Token) -> tuple[str, str, int | None]:
        if tok.value in _FIELDS:
            return tok.value, _FIELDS[tok.value], None
        match = _WINDOW_FIELD.fullmatch(tok.value)
        if match is None:
            nearest = self.words.nearest(tok.text, (*_FIELDS, *BUILTIN))
            raise self._error("unknown_field", tok, nearest=nearest)
        days = int(match.group(2))
        if not 1 <= days <= _MAX_WINDOW_DAYS:
            raise self._error("out_of_range", tok, low=1, high=_MAX_WINDOW_DAYS)
        return tok.value, "number", days

    def _list(self, name: str, kind: str) -> tuple[Value, ...]:
        opening = self._peek()
        if opening is None or opening.kind != "(":
            raise self._error("expected_list", opening)
        self.i += 1
        values = [self._value(name, kind)]
        while True:
            tok = self._peek()
            if tok is None:
                raise self._error("unclosed_parenthesis", opening)
            if tok.kind == ")":
                self.i += 1
                return tuple(values)
            if tok.kind != ",":
                raise self._error("expected_comma", tok)
            self.i += 1
            values.append(self._value(name, kind))

    def _value(self, name: str, kind: str) -> Value:
        tok = self._peek()
        if (
            tok is None
            or tok.kind in ("(", ")", ",", "op")
            or (tok.kind == "word" and tok.value in _CONNECTIVES)
        ):
            raise self._error("missing_value", tok, field=self.words.name(name), expected=kind)
        value: Value
        if kind in ("number", "days", "month"):
            if tok.kind != "number":
                raise self._error("bad_value", tok, field=self.words.name(name), expected=kind)
            low, high = _RANGES.get(name, (0, 10**_MAX_NUMBER_DIGITS - 1))
            value = self._number(tok, low, high)
        elif kind == "tier":
            value = self._tier(tok)
        elif kind == "text":
            if tok.kind == "string" and tok.value.strip():
                value = tok.value.strip()
            elif tok.kind == "word" and tok.value not in _RESERVED:
                value = tok.text
                self.own_words[self.i] = tok.text  # a word as text is what it says, as typed
            else:
                raise self._error("bad_value", tok, field=self.words.name(name), expected=kind)
        else:  # bool
            if tok.kind != "word" or tok.value not in ("true", "false"):
                raise self._error("bad_value", tok, field=self.words.name(name), expected=kind)
            value = tok.value == "true"
        self.i += 1
        return value

    def _tier(self, tok: _Token) -> str:
        """A tier's key, from its key or (through the vocabulary) its name, quoted or not."""
        choices = " · ".join(self.words.name(key) for key in self.rules.tier_keys)
        if tok.kind not in ("word", "string"):
            raise self._error("bad_value", tok, field=self.words.name("tier"), expected="tier",
                              choices=choices)  # fmt: skip
        value = tok.value.strip()
        value = self.words.own(value) or to_latin_digits(value).lower()
        if value not in self.rules.tier_keys:
            nearest = self.words.nearest(tok.value, self.rules.tier_keys)
            raise self._error("unknown_tier", tok, nearest=nearest, choices=choices)
        self.own_words[self.i] = value
        return value

    def _number(self, tok: _Token, low: int, high: int) -> int:
        digits = tok.value.lstrip("0") or "0"
        if len(digits) > _MAX_NUMBER_DIGITS or not low <= int(digits) <= high:
            raise self._error("out_of_range", tok, low=low, high=high)
        return int(digits)


def parse(text: str, rules: Rules, words: Vocabulary = NONE) -> Segment:
    """Read a rule, its words through ``words`` as well as the language's own; raises
    :class:`SegmentError` at the first token that does not fit, saying what was expected."""
    if len(text) > MAX_LENGTH:
        raise SegmentError("too_long", MAX_LENGTH, "", high=MAX_LENGTH)
    parser = _Parser(text, rules, words=words)
    root = parser.parse()
    return Segment(text=text.strip(), root=root, rules=rules, canonical=parser.canonical())
