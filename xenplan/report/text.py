"""Readable terminal output (rich): the verdict, domains, findings, maps.

The CLI owns the ``Console`` and passes it in; nothing here decides about
terminals or colours.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from xenplan.analysis import Analysis
from xenplan.boot.result import DomainResult
from xenplan.checks.finding import Finding

STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}
OUTCOME_STYLE = {"boots": "bold green", "panic": "bold red", "crash": "bold red", "hang": "bold red"}


def _size(n: int) -> str:
    for unit, shift in (("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift and n % (1 << shift) == 0:
            return f"{n >> shift} {unit}"
    if n >= 1 << 20:
        return f"{n / (1 << 20):.2f} MiB"
    return f"{n:#x}"


def verdict(a: Analysis) -> Text:
    r = a.result
    t = a.system.target
    text = Text()
    text.append(f"{a.input}", style="bold")
    text.append(f"  (Xen {t.version}, {t.arch})\n")
    text.append("verdict: ")
    text.append(r.outcome, style=OUTCOME_STYLE[r.outcome])
    if r.failed_at is not None:
        where = r.failed_at.stage + (f" {r.failed_at.domain}" if r.failed_at.domain else "")
        text.append(f" at {where}")
        if r.failed_at.rule:
            text.append(f" [{r.failed_at.rule}]")
        text.append(f": {r.failed_at.message}" if r.failed_at.message else " (Xen never finishes)")
    text.append("\n")
    for m in r.dropped_modules:
        text.append(f"dropped module {m.path} [{m.start:#x}, {m.start + m.size:#x})\n", style="yellow")
    return text


def _kind(d: DomainResult) -> str:
    if d.domid == 0:
        return "dom0 (1:1 from the heap)"
    return "1:1 static" if d.direct_map else "static" if d.static else "dynamic"


def domains_table(a: Analysis) -> Table:
    t = Table(title="domains", title_justify="left", expand=False)
    for col in ("domain", "kind", "status", "memory", "guest RAM (guest → host, size)"):
        t.add_column(col)
    by_path = {d.path: d for d in a.system.domains}
    for d in a.result.domains:
        dom = by_path.get(d.path)
        if dom is None:
            mem = _size(sum(b.size for b in d.banks)) if d.banks else "?"
        else:
            mem = f"{dom.memory_kib} KiB" if dom.memory_kib is not None else "?"
            if dom.memory_kib is not None and dom.memory_kib % 1024 == 0:
                mem = _size(dom.memory_kib * 1024)
        banks = "—" if d.banks is None else "\n".join(
            f"{b.guest:#x} → {'?' if b.host is None else hex(b.host)}, {_size(b.size)}" for b in d.banks)
        st = {"constructed": "green", "failed": "red", "not-reached": "dim"}[d.status]
        t.add_row(d.name, _kind(d), Text(d.status, style=st), mem, banks)
    return t


def findings_block(findings: Sequence[Finding]) -> Group:
    lines = []
    for f in findings:
        line = Text()
        line.append(f"{f.severity:<7} ", style=STYLE[f.severity])
        line.append(f"{f.rule} ", style="bold")
        line.append(f"({f.slug}) ")
        if f.source is not None and f.source.line is not None:
            line.append(f"{f.source.file}:{f.source.line}: ", style="dim")
        elif f.source is not None and f.source.offset is not None:
            line.append(f"{f.source.file}: offset {f.source.offset:#x}: ", style="dim")
        if f.path:
            line.append(f"{f.path}: ")
        line.append(f.message)
        if not f.reached:
            line.append("  [not reached: Xen stops earlier]", style="dim")
        lines.append(line)
    if not lines:
        lines.append(Text("no findings", style="green"))
    return Group(*lines)


def check(console: Console, a: Analysis, findings: Sequence[Finding]) -> None:
    console.print(verdict(a))
    if a.result.domains:
        console.print(domains_table(a))
    console.print(findings_block(findings))
    for n in a.notes:
        console.print(Text(f"note: {n}", style="dim"))


def host_map_table(a: Analysis) -> Table:
    t = Table(title="host physical map", title_justify="left")
    for col in ("start", "end", "size", "what", "owner"):
        t.add_column(col)
    for h in a.result.host_map:
        if h.kind == "none":
            continue
        t.add_row(f"{h.start:#x}", f"{h.start + h.size:#x}", _size(h.size), h.kind, h.owner or "")
    return t


def p2m_table(d: DomainResult) -> Table:
    t = Table(title=f"{d.name}: guest physical map ({_kind(d)}, {d.status})", title_justify="left")
    for col in ("guest start", "guest end", "size", "what", "host", "note"):
        t.add_column(col)
    for p in d.p2m:
        t.add_row(f"{p.guest:#x}", f"{p.guest + p.size:#x}", _size(p.size), p.kind,
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
