"""The text report without colour, built as strings: what ``text`` prints through rich, byte for byte.

Rich measures, wraps and pads every line as a styled object, which costs far
more than the simulation on boards with thousands of domains or findings.
When no style can be seen (a file, a pipe), the same words come out of a
plain word wrap and a plain box table that follow rich's rules for text whose
characters are one cell wide. Anything else (wide or control characters,
markup in a table cell, a table wider than the page) goes to the ``Fallback``
the caller provides, which renders it through rich.

The segment builders below are shared with ``text``, so both renderers print
the same words.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from xenplan.analysis import Analysis
    from xenplan.boot.result import DomainResult
    from xenplan.checks.finding import Finding

Segments = list[tuple[str, str | None]]
Row = tuple[str, str, tuple[str, str], str, str]

SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}
OUTCOME_STYLE = {"boots": "bold green", "panic": "bold red", "crash": "bold red", "hang": "bold red"}
STATUS_STYLE = {"constructed": "green", "failed": "red", "not-reached": "dim", "destroyed": "dim"}
DOMAIN_COLUMNS = ("domain", "kind", "status", "memory", "guest RAM (guest → host, size)")

# One cell wide in every terminal rich knows, besides printable ASCII.
_NARROW = frozenset("→—")
_TRAILING_SPACE = re.compile(r"\s+$")


class Fallback(Protocol):
    """Renders through rich what the plain renderer cannot prove it prints identically."""

    def line(self, text: str) -> str:
        """One unstyled text line as rich prints it, wrapped, ending in a newline."""

    def table(self, title: str, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
        """A left-titled table as rich prints it."""


def size(n: int) -> str:
    for unit, shift in (("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift and n % (1 << shift) == 0:
            return f"{n >> shift} {unit}"
    if n >= 1 << 20:
        return f"{n / (1 << 20):.2f} MiB"
    return f"{n:#x}"


def verdict_segments(a: Analysis) -> Segments:
    r = a.result
    t = a.system.target
    out: Segments = [(f"{a.input}", "bold"), (f"  (Xen {t.version}, {t.arch})\n", None), ("verdict: ", None),
                     (r.outcome, OUTCOME_STYLE[r.outcome])]
    if r.failed_at is not None:
        where = r.failed_at.stage + (f" {r.failed_at.domain}" if r.failed_at.domain else "")
        out.append((f" at {where}", None))
        if r.failed_at.rule:
            out.append((f" [{r.failed_at.rule}]", None))
        out.append((f": {r.failed_at.message}" if r.failed_at.message else " (Xen never finishes)", None))
    out.append(("\n", None))
    for m in r.dropped_modules:
        out.append((f"dropped module {m.path} [{m.start:#x}, {m.start + m.size:#x})\n", "yellow"))
    return out


def kind(d: DomainResult) -> str:
    if d.domid == 0:
        return "dom0 (1:1 from the heap)"
    return "1:1 static" if d.direct_map else "static" if d.static else "dynamic"


def domain_rows(a: Analysis) -> list[Row]:
    """One row per simulated domain: name, kind, (status, its style), memory, banks one a line."""
    by_path = {d.path: d for d in a.system.domains}
    rows: list[Row] = []
    for d in a.result.domains:
        dom = by_path.get(d.path)
        if dom is None:
            mem = size(sum(b.size for b in d.banks)) if d.banks else "?"
        else:
            mem = f"{dom.memory_kib} KiB" if dom.memory_kib is not None else "?"
            if dom.memory_kib is not None and dom.memory_kib % 1024 == 0:
                mem = size(dom.memory_kib * 1024)
        banks = "—" if d.banks is None else "\n".join(
            f"{b.guest:#x} → {'?' if b.host is None else hex(b.host)}, {size(b.size)}" for b in d.banks)
        rows.append((d.name, kind(d), (d.status, STATUS_STYLE[d.status]), mem, banks))
    return rows


def finding_segments(f: Finding) -> Segments:
    out: Segments = [(f"{f.severity:<7} ", SEVERITY_STYLE[f.severity]), (f"{f.rule} ", "bold"), (f"({f.slug}) ", None)]
    if f.source is not None and f.source.line is not None:
        out.append((f"{f.source.file}:{f.source.line}: ", "dim"))
    elif f.source is not None and f.source.offset is not None:
        out.append((f"{f.source.file}: offset {f.source.offset:#x}: ", "dim"))
    if f.path:
        out.append((f"{f.path}: ", None))
    out.append((f.message, None))
    if not f.reached:
        out.append(("  [not reached: Xen stops earlier]", "dim"))
    return out


def _narrow(s: str) -> bool:
    """Every character printable and one cell wide, so cells are characters."""
    return s.isprintable() and (s.isascii() or all(c.isascii() or c in _NARROW for c in s))


def _markup(cell: str) -> bool:
    """Could rich read a markup tag (``[…]``) or an emoji code (``:name:``) in this cell."""
    return "[" in cell or cell.count(":") > 1


def wrap(line: str, width: int) -> list[str]:
    """Rich's word wrap (``Text.wrap``, default justify, fold overflow) of a line of narrow characters.

    Rich walks every word; this jumps from margin to margin. A line keeps
    each word whose last non-space character is within the width (the
    spaces after it may run past); the first word that ends beyond it
    starts the next line, or, when longer than a whole line, is cut into
    width-long pieces from where it starts. The only space in a narrow line
    is ``" "`` (``_narrow`` refuses other separators).
    """
    n = len(line)
    if n <= width:
        return [line]
    lead = n - len(line.lstrip(" "))
    breaks: list[int] = []
    start = 0
    while start + width < n:
        limit = start + width
        if line[limit] != " ":
            word = line.rfind(" ", start, limit) + 1
        else:
            word = limit
            while word < n and line[word] == " ":
                word += 1
            if word == n:
                break
        if word <= lead:
            word = 0  # the leading spaces belong to the first word
        first = word
        while line[first] == " ":
            first += 1
        stem_end = line.find(" ", first)
        stem_end = n if stem_end < 0 else stem_end
        if stem_end - word <= width:
            breaks.append(word)
            start = word
            continue
        word_end = stem_end
        while word_end < n and line[word_end] == " ":
            word_end += 1
        if word:
            breaks.append(word)
        cut = word + width
        while cut < word_end:
            breaks.append(cut)
            cut += width
        start = cut - width
    out = []
    for lo, hi in zip([0, *breaks], [*breaks, len(line)], strict=True):
        piece = line[lo:hi]
        if len(piece) > width:
            space = _TRAILING_SPACE.search(piece)
            if space is not None:
                piece = piece[:len(piece) - min(len(space.group(0)), len(piece) - width)]
            piece = piece[:width]
        out.append(piece)
    return out


def lines(text: str, width: int, fallback: Fallback) -> str:
    """``console.print(Text(text))`` without styles: each line wrapped, the whole ending in a newline."""
    out: list[str] = []
    for line in text.split("\n"):
        if _narrow(line):
            out.extend(f"{piece}\n" for piece in wrap(line, width))
        else:
            out.append(fallback.line(line))
    return "".join(out)


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[str]], width: int,
          fallback: Fallback) -> str:
    """Rich's heavy-headed ``Table`` (title left, cells padded by one space), when it fits the page.

    Rich reads markup and emoji codes in string cells, so such a cell goes
    to rich, as does a table wider than ``width`` (rich would shrink and wrap
    its columns).
    """
    cells = [list(columns), *[list(r) for r in rows]]
    widths = [0] * len(columns)
    for row in cells:
        for i, cell in enumerate(row):
            if _markup(cell):
                return fallback.table(title, columns, rows)
            for part in cell.split("\n"):
                if not _narrow(part):
                    return fallback.table(title, columns, rows)
                widths[i] = max(widths[i], len(part))
    total = sum(widths) + 3 * len(widths) + 1
    if total > width or len(title) > total or not _narrow(title) or _markup(title):
        return fallback.table(title, columns, rows)

    def rule(left: str, fill: str, mid: str, right: str) -> str:
        return left + mid.join(fill * (w + 2) for w in widths) + right + "\n"

    def row_lines(row: Sequence[str], bar: str) -> str:
        parts = [cell.split("\n") for cell in row]
        height = max(len(p) for p in parts)
        padded = [p + [""] * (height - len(p)) for p in parts]
        return "".join(bar + bar.join(f" {p[k]:<{w}} " for p, w in zip(padded, widths, strict=True)) + bar + "\n"
                       for k in range(height))

    out = [title.ljust(total) + "\n", rule("┏", "━", "┳", "┓"), row_lines(columns, "┃"), rule("┡", "━", "╇", "┩")]
    out.extend(row_lines(r, "│") for r in rows)
    out.append(rule("└", "─", "┴", "┘"))
    return "".join(out)


def check(a: Analysis, findings: Sequence[Finding], width: int, fallback: Fallback) -> str:
    """What ``text.check`` prints on an unstyled console ``width`` columns wide."""
    out = [lines("".join(s for s, _ in verdict_segments(a)), width, fallback)]
    if a.result.domains:
        rows = [(name, k, status, mem, banks) for name, k, (status, _), mem, banks in domain_rows(a)]
        out.append(table("domains", DOMAIN_COLUMNS, rows, width, fallback))
    for f in findings:
        out.append(lines("".join(s for s, _ in finding_segments(f)), width, fallback))
    if not findings:
        out.append(lines("no findings", width, fallback))
    for n in a.notes:
        out.append(lines(f"note: {n}", width, fallback))
    return "".join(out)
