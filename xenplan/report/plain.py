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

import functools
import re
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from xenplan.analysis import Analysis
    from xenplan.boot.result import DomainResult
    from xenplan.checks import Rule
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


def _one_line(text: str) -> str:
    """Control characters (a message may quote raw property bytes) as spaces, so a finding stays one line."""
    return text if text.isprintable() else "".join(c if c.isprintable() else " " for c in text)


def _sentence_end(line: str) -> int:
    """Where the first sentence of ``line`` ends: its first ``"; "`` or ``". "`` outside brackets, or -1."""
    at = 0
    while True:
        ends = [i for i in (line.find("; ", at), line.find(". ", at)) if i >= 0]
        if not ends:
            return -1
        i = min(ends)
        head = line[:i]
        if head.count("(") + head.count("[") <= head.count(")") + head.count("]"):
            return i
        at = i + 1


def first_sentence(message: str) -> str:
    """The message's first sentence on one line (what a concise finding line shows)."""
    first = message.partition("\n")[0]
    i = _sentence_end(first)
    if i < 0:
        return _one_line(first.strip())
    return _one_line((first[:i] if first[i] == ";" else first[:i + 1]).strip())


def split_message(message: str) -> tuple[str, str]:
    """The message's first sentence, and the rest, each on one line.

    A sentence ends at the first ``"; "`` or ``". "`` outside brackets and
    parentheses (the address ranges inside them carry commas and
    semicolons of their own), or at the end of the first line.
    """
    first, _, later = message.partition("\n")
    i = _sentence_end(first)
    if i < 0:
        return _one_line(first.strip()), _joined(later.splitlines())
    return first_sentence(message), _joined([first[i + 2:], *later.splitlines()])


def _joined(parts: Sequence[str]) -> str:
    return _one_line(" ".join(x.strip() for x in parts if x.strip()))


def location(f: Finding, input_path: str) -> str:
    """``file:line:`` (a DTB: ``file: offset 0x2c8:``), or the input when the finding has no source."""
    if f.source is not None and f.source.line is not None:
        return f"{f.source.file}:{f.source.line}:"
    if f.source is not None and f.source.offset is not None:
        return f"{f.source.file}: offset {f.source.offset:#x}:"
    return f"{f.source.file if f.source is not None else input_path}:"


def finding_segments(f: Finding, input_path: str) -> Segments:
    """One line: ``path:line: ID severity first sentence``; the node path when there is no line to point at."""
    out: Segments = [(_one_line(location(f, input_path)) + " ", "dim"), (f.rule, "bold"), (" ", None),
                     (f.severity, SEVERITY_STYLE[f.severity]), (" ", None)]
    if f.path and (f.source is None or f.source.line is None):
        out.append((f"{_one_line(f.path)}: ", None))
    out.append((first_sentence(f.message), None))
    if not f.reached:
        out.append((" [not reached]", "dim"))
    return out


EXPLAIN_INDENT = "    "


@functools.cache
def _why(rule_id: str) -> str | None:
    """The rule's "Why it matters" on one line (read once per rule: the docstring split is a regex)."""
    from xenplan.checks import lookup

    r = lookup(rule_id)
    why = r.doc_sections().get("Why it matters") if r is not None else None
    return "why it matters: " + " ".join(why.split()) if why else None


def explanation(f: Finding, width: int) -> list[str]:
    """What ``--show-explanations`` adds under a finding, wrapped to ``width`` and indented.

    The node and property, the rest of the message, Xen's console message,
    and the rule's "Why it matters". Lines of narrow characters are wrapped
    here (the same words whichever renderer prints them); others stay whole.
    """
    parts: list[str] = []
    if f.path:
        parts.append(f"node {f.path}" + (f", property {f.property}" if f.property else ""))
    rest = split_message(f.message)[1]
    if rest:
        parts.append(rest)
    if f.xen_message:
        parts.append(f"Xen prints: {f.xen_message}")
    why = _why(f.rule)
    if why:
        parts.append(why)
    if not f.reached:
        parts.append("not reached: Xen stops before it gets here")
    out: list[str] = []
    inner = max(20, width - len(EXPLAIN_INDENT))
    for raw in parts:
        part = _one_line(raw)
        pieces = wrap(part, inner) if _narrow(part) else [part]
        out.extend(EXPLAIN_INDENT + p.rstrip() for p in pieces)
    return out


OUTCOME_WORDS = {"boots": "Xen boots", "panic": "Xen panics", "crash": "Xen crashes", "hang": "Xen hangs"}
_KIND_WORDS = {"PANIC": "boot failures", "PANIC-DBG": "boot failures", "CRASH": "boot failures",
               "HANG": "boot failures", "UB": "undefined behaviour", "HAZARD": "run-time hazards",
               "DROP": "settings Xen ignores", "TRUNC": "settings Xen ignores", "WARN": "settings Xen warns about",
               "INFO": "information"}


def _kind_word(f: Finding, rule: Rule | None) -> str:
    """What kind of problem a finding is, from its rule's behaviour and the severity this release gives it.

    A rule that stops the newest releases may only warn on an older one
    (``Xen 4.17 lets this through``): a warning of a stopping rule is a
    problem the release lets through, never a boot failure.
    """
    b = rule.behaviour if rule is not None else ""
    if b in ("PANIC", "CRASH", "HANG", "PANIC-DBG") and f.severity != "error":
        return "debug-build assertions" if b == "PANIC-DBG" else "problems this release lets through"
    return _KIND_WORDS.get(b, "other problems")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 or word == "info" else f"{n} {word}s"


def _and(words: Sequence[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def summary(a: Analysis, findings: Sequence[Finding]) -> str:
    """The closing line: the outcome and the findings in one sentence that never contradicts the verdict.

    Errors and warnings say what kind of problem they are (from the rule's
    behaviour: boot failures, run-time hazards, settings Xen ignores…), so
    "Xen boots" next to "2 errors" reads as what it is: a board that
    boots and still has problems.
    """
    from xenplan.checks import lookup

    r = a.result
    head = OUTCOME_WORDS[r.outcome]
    if r.failed_at is not None and r.failed_at.stage == "domain":
        head += f" at domain {r.failed_at.domain}" if r.failed_at.domain else " building a domain"
    elif r.failed_at is not None and r.failed_at.stage == "early-fdt":
        head += " in the early device-tree scan"
    if not findings:
        return f"{head}; no findings"
    counts: list[str] = []
    for sev in ("error", "warning", "info"):
        of = [f for f in findings if f.severity == sev]
        if not of:
            continue
        text = _plural(len(of), sev)
        if sev != "info":
            kinds: list[str] = []
            for f in of:
                word = _kind_word(f, lookup(f.rule))
                if word not in kinds:
                    kinds.append(word)
            text += f" ({_and(kinds)})"
        counts.append(text)
    unreached = sum(1 for f in findings if not f.reached)
    tail = f"; {unreached} not reached" if unreached else ""
    return f"{head}; {', '.join(counts)}{tail}"


def statistics_rows(findings: Sequence[Finding]) -> list[tuple[str, str, str, str]]:
    """``--statistics``: (count, ID, severity, slug), most frequent first, like ruff's."""
    counts: dict[tuple[str, str, str], int] = {}
    for f in findings:
        key = (f.rule, f.severity, f.slug)
        counts[key] = counts.get(key, 0) + 1
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0][0], kv[0][1]))
    return [(str(n), rule, sev, slug) for (rule, sev, slug), n in ordered]


def statistics(findings: Sequence[Finding]) -> str:
    rows = statistics_rows(findings)
    if not rows:
        return "statistics: no findings\n"
    w = [max(len(r[i]) for r in rows) for i in range(3)]
    out = [f"statistics: {_plural(len(findings), 'finding')} by rule\n"]
    out.extend(f"{n:>{w[0]}}  {rule:<{w[1]}}  {sev:<{w[2]}}  {slug}\n" for n, rule, sev, slug in rows)
    return "".join(out)


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


def check(a: Analysis, findings: Sequence[Finding], width: int, fallback: Fallback, explain: bool = False) -> str:
    """What ``text.check`` prints on an unstyled console ``width`` columns wide.

    Finding lines are never wrapped: one finding, one line, as linters print them.
    """
    return "".join(check_parts(a, findings, width, fallback, explain))


def check_parts(a: Analysis, findings: Sequence[Finding], width: int, fallback: Fallback,
                explain: bool = False) -> Iterator[str]:
    """``check`` piece by piece, made as they are written: tens of thousands of findings never sit
    in memory as one string (the domains table's box characters would make it two bytes a character)."""
    yield lines("".join(s for s, _ in verdict_segments(a)), width, fallback)
    if a.result.domains:
        rows = [(name, k, status, mem, banks) for name, k, (status, _), mem, banks in domain_rows(a)]
        yield table("domains", DOMAIN_COLUMNS, rows, width, fallback)
    for f in findings:
        yield "".join(s for s, _ in finding_segments(f, a.input)) + "\n"
        if explain:
            yield from (line + "\n" for line in explanation(f, width))
    for n in a.notes:
        yield lines(f"note: {n}", width, fallback)
    yield lines(summary(a, findings), width, fallback)
