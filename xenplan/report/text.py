"""Readable terminal output (rich): the verdict, domains, findings, maps.

The CLI owns the ``Console`` and passes it in; nothing here decides about
terminals or colours.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

from xenplan.analysis import Analysis
from xenplan.boot.result import DomainResult
from xenplan.checks.finding import Finding
from xenplan.report.plain import (
    DOMAIN_COLUMNS,
    SEVERITY_STYLE,
    domain_rows,
    explanation,
    finding_segments,
    kind,
    size,
    summary,
    verdict_segments,
)


def _text(segments: list[tuple[str, str | None]]) -> Text:
    text = Text()
    for part, style in segments:
        text.append(part, style=style)
    return text


def verdict(a: Analysis) -> Text:
    return _text(verdict_segments(a))


def domains_table(a: Analysis) -> Table:
    t = Table(title="domains", title_justify="left", expand=False)
    for col in DOMAIN_COLUMNS:
        t.add_column(col)
    for name, k, (status, style), mem, banks in domain_rows(a):
        t.add_row(name, k, Text(status, style=style), mem, banks)
    return t


def check(console: Console, a: Analysis, findings: Sequence[Finding], explain: bool = False) -> None:
    """The verdict, the domains, one unwrapped line per finding (and its explanation), notes, the summary."""
    console.print(verdict(a))
    if a.result.domains:
        console.print(domains_table(a))
    for f in findings:
        console.print(_text(finding_segments(f, a.input)), soft_wrap=True)
        if explain:
            for line in explanation(f, console.width):
                console.print(Text(line, style="dim"), soft_wrap=True)
    for n in a.notes:
        console.print(Text(f"note: {n}", style="dim"))
    style = "green" if not findings else SEVERITY_STYLE[worst(findings)]
    console.print(Text(summary(a, findings), style=style))


def worst(findings: Sequence[Finding]) -> str:
    return max((f.severity for f in findings), key=("info", "warning", "error").index)


def host_map_table(a: Analysis) -> Table:
    t = Table(title="host physical map", title_justify="left")
    for col in ("start", "end", "size", "what", "owner"):
        t.add_column(col)
    for h in a.result.host_map:
        if h.kind == "none":
            continue
        t.add_row(f"{h.start:#x}", f"{h.start + h.size:#x}", size(h.size), h.kind, h.owner or "")
    return t


def p2m_table(d: DomainResult) -> Table:
    t = Table(title=f"{d.name}: guest physical map ({kind(d)}, {d.status})", title_justify="left")
    for col in ("guest start", "guest end", "size", "what", "host", "note"):
        t.add_column(col)
    for p in d.p2m:
        t.add_row(f"{p.guest:#x}", f"{p.guest + p.size:#x}", size(p.size), p.kind,
                  "" if p.host is None else f"{p.host:#x}", p.note or "")
    return t


def memory_map(console: Console, a: Analysis, domain: str | None = None) -> None:
    console.print(verdict(a))
    console.print(host_map_table(a))
    for d in a.result.domains:
        if domain is not None and d.name != domain:
            continue
        if d.p2m:
            console.print(p2m_table(d))
        else:
            console.print(Text(f"{d.name}: {d.status}, no guest map", style="dim"))


def simulation(console: Console, a: Analysis) -> None:
    """``xenplan simulate``: the check report on the final state, each operation with the
    frames it touched, then the host map and the guest maps of the domains operated on."""
    from xenplan.simulate import Simulation

    check(console, a, a.findings)
    if not isinstance(a, Simulation):
        return
    for i, r in enumerate(a.operations, 1):
        style = "green" if r.result == "ok" else "red"
        console.print(Text.assemble((f"{i}. {r.op}: ", "bold"), (r.result, style), f" (rc {r.rc})"))
        for line in (r.xen_message or "").splitlines():
            console.print(Text(f"   (XEN) {line}", style="yellow"))
        for p in r.pages:
            gfn = "unmapped" if p.gfn_start is None else f"gfn {p.gfn_start:#x}"
            flags = f" [{', '.join(p.flags)}]" if p.flags else ""
            console.print(f"   mfn [{p.mfn_start:#x}, {p.mfn_end:#x}) {gfn} -> {p.state} {p.owner or ''}{flags}",
                          highlight=False, markup=False)
    console.print(host_map_table(a))
    for d in a.result.domains:
        if d.name in a.changed:
            console.print(p2m_table(d) if d.p2m else Text(f"{d.name}: {d.status}, no guest map", style="dim"))
