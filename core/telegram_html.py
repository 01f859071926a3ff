"""Telegram's HTML: what its ``parse_mode=HTML`` accepts, and long messages cut into parts it takes.

Telegram refuses a whole message for one tag it does not know (``<p>``, ``<br>``, ``<div>``), an
attribute it does not know, or a tag left open, so text written by people (a campaign's template)
is checked here before it is saved, rather than failing at every delivery. The rules are Telegram's
("Formatting options", HTML style): the tags of :data:`TAGS` with the attributes given there, the
named entities ``&lt; &gt; &amp; &quot;`` and numeric ones. A ``&`` that starts no entity is sent
as it is; a ``<`` always starts a tag.

Telegram also refuses a message longer than :data:`MESSAGE_LIMIT` characters (a caption longer than
:data:`CAPTION_LIMIT`). :func:`split` cuts such a text into parts at line ends (at a space within a
line too long, anywhere between tags and characters in a word too long), each part's HTML balanced:
a tag open where a part ends is closed there and opened again, with the same attributes, at the
start of the next. Sizes count UTF-16 code units of the HTML itself, tags included: Telegram counts
the text without its tags, so a part is never too long for it.

Pure functions, no Telegram code: the bot sends the parts, core checks the templates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

MESSAGE_LIMIT: Final = 4096
CAPTION_LIMIT: Final = 1024

# Each tag Telegram takes, with the attributes it may carry: ``None`` any value, else the values.
TAGS: Final[dict[str, dict[str, frozenset[str] | None]]] = {
    **{plain: {} for plain in ("b", "strong", "i", "em", "u", "ins", "s", "strike", "del")},
    "span": {"class": frozenset({"tg-spoiler"})},
    "tg-spoiler": {},
    "a": {"href": None},
    "tg-emoji": {"emoji-id": None},
    "code": {"class": None},  # "language-python" inside <pre>
    "pre": {},
    "blockquote": {"expandable": None},
}
REQUIRED: Final = {"span": "class", "a": "href", "tg-emoji": "emoji-id"}
ENTITIES: Final = ("lt", "gt", "amp", "quot")

_ATOM = re.compile(
    r"(?P<tag><[^<>]*>)|(?P<entity>&(?:#[0-9]{1,7}|#x[0-9a-fA-F]{1,6}|[a-zA-Z]{2,8});)"
    r"|(?P<lt><)|(?P<newline>\n)|(?P<space>[ \t]+)|(?P<char>[^<&\n \t]+|&)",
    re.DOTALL,
)
_TAG = re.compile(r"<\s*(?P<end>/)?\s*(?P<name>[a-zA-Z][a-zA-Z0-9-]*)(?P<attrs>[^>]*?)\s*/?\s*>")
_ATTR = re.compile(
    r"\s+(?P<name>[a-zA-Z][a-zA-Z0-9_-]*)"
    r"(?:\s*=\s*(?:\"(?P<q>[^\"]*)\"|'(?P<s>[^']*)'|(?P<bare>[^\s\"'>]+)))?"
)
_ATTRS = re.compile(rf"(?:{_ATTR.pattern})*\s*")


@dataclass(frozen=True)
class HtmlProblem:
    """Why Telegram would refuse a text: a stable ``reason`` and what it is about.

    ``reason`` is ``unsupported_tag``, ``unknown_attribute``, ``bad_attribute_value``,
    ``missing_attribute``, ``unexpected_end_tag`` (``expected`` names the tag still open, or is
    empty), ``unclosed_tag``, ``stray_bracket`` (a ``<`` that starts no tag) or ``unknown_entity``.
    """

    reason: str
    tag: str = ""
    attribute: str = ""
    expected: str = ""
    line: int = 1  # 1-based line of the text where it is


def problem(text: str) -> HtmlProblem | None:
    """The first thing in ``text`` Telegram's HTML mode refuses, or None when it takes it all."""
    stack: list[str] = []
    line = 1
    for match in _ATOM.finditer(text):
        kind, atom = match.lastgroup, match.group()
        if kind == "newline":
            line += 1
        elif kind == "lt":
            return HtmlProblem("stray_bracket", line=line)
        elif kind == "entity" and not _known_entity(atom):
            return HtmlProblem("unknown_entity", tag=atom, line=line)
        elif kind == "tag":
            found = _tag_problem(atom, stack, line)
            if found is not None:
                return found
        line += atom.count("\n") if kind == "tag" else 0
    if stack:
        return HtmlProblem("unclosed_tag", tag=stack[-1], line=line)
    return None


def _known_entity(entity: str) -> bool:
    return entity[1] == "#" or entity[1:-1] in ENTITIES


def _tag_problem(atom: str, stack: list[str], line: int) -> HtmlProblem | None:
    """Check one tag and keep ``stack`` (the names of the open tags) up to date."""
    parsed = _TAG.fullmatch(atom)
    if parsed is None:
        return HtmlProblem("stray_bracket", line=line)
    name = parsed["name"].lower()
    if name not in TAGS:
        return HtmlProblem("unsupported_tag", tag=name, line=line)
    if parsed["end"]:
        if not stack or stack[-1] != name:
            return HtmlProblem(
                "unexpected_end_tag", tag=name, expected=stack[-1] if stack else "", line=line
            )
        stack.pop()
        return None
    if not _ATTRS.fullmatch(parsed["attrs"]):
        attribute = parsed["attrs"].strip()
        return HtmlProblem("unknown_attribute", tag=name, attribute=attribute, line=line)
    allowed = TAGS[name]
    seen = set()
    for attr in _ATTR.finditer(parsed["attrs"]):
        key = attr["name"].lower()
        value = next((v for v in (attr["q"], attr["s"], attr["bare"]) if v is not None), "")
        if key not in allowed:
            return HtmlProblem("unknown_attribute", tag=name, attribute=key, line=line)
        values = allowed[key]
        if values is not None and value not in values:
            return HtmlProblem("bad_attribute_value", tag=name, attribute=key, line=line)
        seen.add(key)
    if name in REQUIRED and REQUIRED[name] not in seen:
        return HtmlProblem("missing_attribute", tag=name, attribute=REQUIRED[name], line=line)
    stack.append(name)
    return None


def size(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units (an emoji is two)."""
    return len(text.encode("utf-16-le")) // 2


def split(text: str, limit: int = MESSAGE_LIMIT, then: int | None = None) -> list[str]:
    """``text`` in parts of at most ``limit`` (the first) and ``then`` (the others, ``limit`` if
    not given) code units, cut at line ends where possible, each part's tags balanced; a text that
    fits is one part, as it is. Parts with nothing to read (only tags and blanks) are left out."""
    if size(text) <= limit:
        return [text]
    return _Packer(_atoms(text), limit, then or limit).parts()


@dataclass(frozen=True)
class _Atom:
    text: str
    kind: str  # tag | newline | space | other (a character run, an entity, a lone "<" or "&")
    size: int
    opens: tuple[str, str] | None = None  # (name, the tag as written) for an opening tag
    closes: str | None = None  # the name, for a closing tag


def _atoms(text: str) -> list[_Atom]:
    atoms: list[_Atom] = []
    for match in _ATOM.finditer(text):
        kind, raw = match.lastgroup or "char", match.group()
        if kind == "char" and size(raw) > 1:  # a word may need cutting: one atom per character
            atoms += [_Atom(ch, "other", size(ch)) for ch in raw]
            continue
        if kind == "tag":
            parsed = _TAG.fullmatch(raw)
            if parsed is not None:
                name = parsed["name"].lower()
                if parsed["end"]:
                    atoms.append(_Atom(raw, "tag", size(raw), closes=name))
                elif not raw.rstrip(">").rstrip().endswith("/"):
                    atoms.append(_Atom(raw, "tag", size(raw), opens=(name, raw)))
                else:
                    atoms.append(_Atom(raw, "tag", size(raw)))
                continue
        atoms.append(_Atom(raw, kind if kind in ("newline", "space") else "other", size(raw)))
    return atoms


_Stack = tuple[tuple[str, str], ...]  # the open tags: (name, opening tag as written)


def _after(stack: _Stack, atom: _Atom) -> _Stack:
    if atom.opens is not None:
        return (*stack, atom.opens)
    if atom.closes is not None:
        for depth in range(len(stack) - 1, -1, -1):
            if stack[depth][0] == atom.closes:
                return stack[:depth] + stack[depth + 1 :]
    return stack


def _closers(stack: _Stack) -> str:
    return "".join(f"</{name}>" for name, _ in reversed(stack))


class _Packer:
    """Greedy packing: each part takes as many atoms as fit with the tags it must close, then
    goes back to its last line end (or space) within them."""

    def __init__(self, atoms: list[_Atom], first: int, then: int) -> None:
        self.atoms = atoms
        self.limits = (first, then)

    def parts(self) -> list[str]:
        parts: list[str] = []
        start, stack = 0, ()
        while start < len(self.atoms):
            limit = self.limits[1 if parts else 0]
            end, dropped, closing = self._cut(start, stack, limit)
            opening = "".join(raw for _, raw in stack)
            body = "".join(atom.text for atom in self.atoms[start:end])
            if _readable(body):  # else only tags and blanks: the next part opens what they left
                parts.append(opening + body + _closers(closing))
            start, stack = end + dropped, closing
        return parts

    def _cut(self, start: int, stack: _Stack, limit: int) -> tuple[int, int, _Stack]:
        """Where the part from ``start`` ends: (end, atoms dropped at the cut, open tags there)."""
        used = size("".join(raw for _, raw in stack))
        best: dict[str, tuple[int, int, _Stack]] = {}
        current = stack
        for index in range(start, len(self.atoms)):
            atom = self.atoms[index]
            if atom.kind in ("newline", "space") and used + size(_closers(current)) <= limit:
                best[atom.kind] = (index, 1, current)  # cut before it, drop it
            used += atom.size
            current = _after(current, atom)
            if used > limit:
                break
            if used + size(_closers(current)) <= limit:
                best["any"] = (index + 1, 0, current)
        if best.get("any", (0,))[0] == len(self.atoms):
            return best["any"]
        for kind in ("newline", "space", "any"):
            if kind in best and best[kind][0] > start:
                return best[kind]
        return start + 1, 0, _after(stack, self.atoms[start])  # one atom alone, whatever it takes


def _readable(html: str) -> bool:
    return bool(re.sub(r"<[^>]*>", "", html).strip())
