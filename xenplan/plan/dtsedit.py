"""Editing the cells of one property in DTS text, changing nothing else.

A repair moves a bank or a module by changing a few 32-bit cells of one
property. Regenerating the source from the tree would lose the user's
comments, labels, macros, number style and layout, so the edit is made in
the text itself: the property is found at the line ``dtc`` reported for it
(``xenplan.dt.dts_lines``), its value is split into cell tokens, and only the
tokens whose value changes are rewritten, in the style they were written in
(hex or decimal, digit count, letter case). No newline is added or removed,
so every other line, and every line number, stays as it was.

A value the scanner cannot map cell by cell (strings, ``/bits/``, byte
strings, a macro standing for several cells) raises ``EditError``: the
repair reports it rather than guessing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

_TOKEN = re.compile(
    r"""
      (?P<space>\s+)
    | (?P<comment>/\*.*?\*/|//[^\n]*)
    | (?P<string>"(?:[^"\\\n]|\\.)*")
    | (?P<char>'(?:[^'\\\n]|\\.)*')
    | (?P<number>(?:0[xX][0-9a-fA-F]+|\d+)(?:[uU]?[lL]{0,2}|[lL]{1,2}[uU]?)(?![A-Za-z0-9_]))
    | (?P<ref>&(?:\{[^}]*\}|[A-Za-z_][A-Za-z0-9_]*))
    | (?P<word>[A-Za-z_\#][A-Za-z0-9,._+?\#\-]*)
    | (?P<punct>.)
    """,
    re.S | re.X,
)


class EditError(Exception):
    """The property cannot be edited cell by cell as written."""


@dataclass(frozen=True)
class _Cell:
    start: int
    end: int
    text: str
    value: int | None
    """The literal's value; None for a macro or an expression."""


def _tokens(text: str, pos: int) -> list[tuple[str, int, int]]:
    """Tokens from ``pos`` to the end of the statement (the first ``;`` outside strings and comments)."""
    out: list[tuple[str, int, int]] = []
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:  # pragma: no cover - the last alternative matches any character
            break
        kind = m.lastgroup or "punct"
        out.append((kind, m.start(), m.end()))
        pos = m.end()
        if kind == "punct" and m.group() == ";":
            break
    return out


def _line_offsets(text: str, line: int) -> tuple[int, int]:
    """Start and end offsets of 1-based ``line``."""
    start = 0
    for _ in range(line - 1):
        nl = text.find("\n", start)
        if nl < 0:
            raise EditError(f"line {line} is past the end of the file")
        start = nl + 1
    end = text.find("\n", start)
    return start, len(text) if end < 0 else end


def find_cells(text: str, line: int, name: str) -> list[_Cell]:
    """The cell tokens of property ``name`` whose statement starts on ``line``."""
    start, end = _line_offsets(text, line)
    pos = start
    while pos < end:
        m = _TOKEN.match(text, pos)
        if m is None:  # pragma: no cover - the last alternative matches any character
            break
        pos = m.end()
        if m.lastgroup == "word" and m.group() == name:
            rest = _significant(_tokens(text, pos))
            if rest and text[rest[0][1]:rest[0][2]] == "=":
                return _cells(text, rest[1:], name, line)
    raise EditError(f"property {name} is not written on line {line} as '{name} = <...>;'")


def _significant(tokens: list[tuple[str, int, int]]) -> list[tuple[str, int, int]]:
    return [t for t in tokens if t[0] not in ("space", "comment")]


def _cells(text: str, tokens: list[tuple[str, int, int]], name: str, line: int) -> list[_Cell]:
    cells: list[_Cell] = []
    i, inside = 0, False
    while i < len(tokens):
        kind, s, e = tokens[i]
        tok = text[s:e]
        if not inside:
            if tok == "<":
                inside = True
            elif tok in (",", ";"):
                pass
            else:
                raise EditError(f"{name} (line {line}) is not a list of 32-bit cells ('{tok}')")
            i += 1
            continue
        if tok == ">":
            inside = False
            i += 1
            continue
        if kind == "word" and i + 1 < len(tokens) and text[tokens[i + 1][1]:tokens[i + 1][2]] == ":":
            i += 2  # a label inside the cell list
            continue
        if kind == "number":
            digits = tok.rstrip("uUlL")
            cells.append(_Cell(s, e, tok, int(digits, 16) if digits[:2].lower() == "0x" else
                               int(digits, 8) if len(digits) > 1 and digits[0] == "0" else int(digits)))
            i += 1
            continue
        if kind in ("char", "ref"):
            cells.append(_Cell(s, e, tok, None))
            i += 1
            continue
        if tok == "(" or kind == "word":
            j = i + 1 if kind == "word" else i
            if kind == "word" and not (j < len(tokens) and text[tokens[j][1]:tokens[j][2]] == "("):
                cells.append(_Cell(s, e, tok, None))
                i += 1
                continue
            depth, k = 0, j
            while k < len(tokens):
                t = text[tokens[k][1]:tokens[k][2]]
                depth += t == "("
                depth -= t == ")"
                if depth == 0:
                    break
                k += 1
            if k >= len(tokens):
                raise EditError(f"{name} (line {line}): unbalanced parenthesis")
            cells.append(_Cell(s, tokens[k][2], text[s:tokens[k][2]], None))
            i = k + 1
            continue
        raise EditError(f"{name} (line {line}): cannot read '{tok}' as a cell")
    if inside:
        raise EditError(f"{name} (line {line}): the cell list is not closed")
    return cells


def _styled(old: _Cell, value: int) -> str:
    """``value`` written the way ``old`` was: hex keeps its prefix, digit count and case; decimal stays decimal."""
    text = old.text
    if old.value is None:
        return f"{value:#x}"
    suffix = text[len(text.rstrip("uUlL")):]
    digits = text[: len(text) - len(suffix)]
    if digits[:2].lower() == "0x":
        body = digits[2:]
        upper = any(c in "ABCDEF" for c in body)
        width = len(body) if body.startswith("0") and len(body) > 1 else 1
        new = format(value, f"0{width}{'X' if upper else 'x'}")
        return digits[:2] + new + suffix
    return str(value) + suffix


def edit_cells(text: str, line: int, name: str, old: Sequence[int], new: Sequence[int]) -> str:
    """``text`` with the cells of property ``name`` (written at ``line``) changed from ``old`` to ``new``.

    Only the tokens of cells whose value changes are replaced. Raises
    ``EditError`` when the property is not found there, its tokens do not
    map one to one onto ``old``, or a literal disagrees with ``old``.
    """
    if len(old) != len(new):
        raise EditError(f"{name}: {len(old)} cells cannot become {len(new)}")
    cells = find_cells(text, line, name)
    if len(cells) != len(old):
        raise EditError(f"{name} (line {line}) is written as {len(cells)} cell tokens but holds {len(old)} cells "
                        "(a macro standing for several cells?)")
    for c, want in zip(cells, old, strict=True):
        if c.value is not None and c.value != want:
            raise EditError(f"{name} (line {line}): the text says {c.text} where the compiled tree has {want:#x}")
    out = text
    for c, was, now in reversed(list(zip(cells, old, new, strict=True))):
        if was != now:
            out = out[: c.start] + _styled(c, now) + out[c.end:]
    return out
