"""``xenplan plan`` output: the plan in each format, and the table of what went where and why.

The device-tree formats come from ``xenplan.plan.emit`` (the text that was
simulated); this module adds the explanation, the ``xenplan-plan/1`` JSON
document (with the ``xenplan/1`` document of the simulated result) and the
map, reusing the ``check``/``map`` renderers.
"""

from __future__ import annotations

import json
from typing import Any

from xenplan.errors import UsageError
from xenplan.plan.emit import fragment, overlay
from xenplan.plan.engine import guest_ram, mib
from xenplan.plan.imagebuilder import imagebuilder_config
from xenplan.plan.planner import PlanResult, board_dts, max_phandle
from xenplan.report import json_out
from xenplan.report.render import Screen

SCHEMA = "xenplan-plan/1"


def _h(x: int | None) -> str | None:
    return None if x is None else hex(x)


def _scrub(doc: Any, scratch: str) -> Any:
    """The check document without the scratch directory the fragment was simulated from."""
    text = json.dumps(doc).replace(scratch.rstrip("/") + "/", "")
    return json.loads(text)


def document(r: PlanResult) -> dict[str, Any]:
    """The ``xenplan-plan/1`` document (``xenplan/data/schema/xenplan-plan-1.schema.json``)."""
    simulated = {d.name: d for d in r.analysis.result.domains} if r.analysis is not None else {}
    domains = []
    for p in r.layout.domains:
        res = simulated.get(p.spec.name)
        if res is not None and res.banks is not None:
            banks = [{"guest": _h(b.guest), "host": _h(b.host), "size": _h(b.size)} for b in res.banks]
        elif p.spec.is_static:
            guest = guest_ram(p.spec, p.banks) if p.spec.direct_map else []
            banks = [{"guest": _h(g[0]) if guest else None, "host": _h(b.host), "size": _h(b.size)}
                     for b, g in zip(p.banks, guest or [(0, 0)] * len(p.banks), strict=False)]
        else:
            banks = []
        domains.append({"name": p.spec.name,
                        "kind": "direct-map" if p.spec.direct_map else "static" if p.spec.is_static else "dynamic",
                        "banks": banks,
                        "modules": [{"kind": m.kind, "start": _h(m.start), "size": _h(m.size)} for m in p.modules]})
    return {
        "schema": SCHEMA,
        "fits": r.fits,
        "written": r.written,
        "proof": r.proof,
        "message": r.message,
        "xen_version": str(r.target.version),
        "notes": list(r.notes),
        "dom0": None if r.spec.dom0 is None else {
            "memory": _h(r.spec.dom0.memory),
            "modules": [{"kind": m.kind, "start": _h(m.start), "size": _h(m.size)} for m in r.layout.dom0_modules]},
        "domains": domains,
        "static_heap": [{"start": _h(s), "size": _h(n)} for s, n in r.layout.static_heap],
        "shared_memory": [{"id": s.id, "host": _h(s.host), "size": _h(s.size), "owner": s.owner,
                           "borrowers": list(s.borrowers), "guest": {k: _h(v) for k, v in s.guest.items()}}
                          for s in r.layout.shm],
        "event_channels": [{"ends": [f"{a}:{pa}", f"{b}:{pb}"]}
                           for (a, pa), (b, pb) in (e.parsed() for e in r.spec.event_channel)],
        "check": None if r.analysis is None else _scrub(json_out.document(r.analysis), r.scratch),
    }


def rows(r: PlanResult) -> list[tuple[str, str, str, str]]:
    """(what, host range, size, why) for every placed item, by host address."""
    out: list[tuple[int, str, str, str, str]] = []
    for p in r.layout.domains:
        for b in p.banks:
            out.append((b.host, f"{p.spec.name} RAM", f"{b.host:#x}-{b.host + b.size - 1:#x}", mib(b.size), b.why))
        for m in p.modules:
            out.append((m.start, f"{p.spec.name} {m.kind}", f"{m.start:#x}-{m.start + m.size - 1:#x}", mib(m.size),
                        "module window, 2 MiB steps in ImageBuilder's order"))
    for m in r.layout.dom0_modules:
        out.append((m.start, f"dom0 {m.kind}", f"{m.start:#x}-{m.start + m.size - 1:#x}", mib(m.size),
                    "module window, 2 MiB steps in ImageBuilder's order"))
    for s in r.layout.shm:
        guests = ", ".join(f"{k} at {v:#x}" for k, v in s.guest.items())
        out.append((s.host, f"shm {s.id}", f"{s.host:#x}-{s.host + s.size - 1:#x}", mib(s.size),
                    f"{s.why}; guests: {guests}"))
    for start, size in r.layout.static_heap:
        out.append((start, "static heap", f"{start:#x}-{start + size - 1:#x}", mib(size), r.layout.heap_why))
    return [(a, b, c, d) for _, a, b, c, d in sorted(out)]


def render(fmt: str, r: PlanResult, screen: Screen) -> str:
    """The plan in ``fmt``; ``text`` is the table, the warnings and the map of the simulated result."""
    if fmt == "json":
        return json.dumps(document(r), indent=1) + "\n"
    rel = r.target.release
    header = f"\n/* xenplan plan for Xen {r.target.version}: simulated, no error */"
    if fmt == "fragment":
        return fragment(r.spec, r.layout, rel, r.board_bootargs, header, max_phandle(r.tree), r.cpu_phandles,
                        r.new_cpu_phandles)
    if fmt == "overlay":
        if r.new_cpu_phandles:
            raise UsageError("--format", "an overlay cannot give the board's CPU nodes the phandles a cpupool "
                             f"needs ({', '.join(sorted(r.new_cpu_phandles))} have none): use dts or fragment")
        return overlay(r.spec, r.layout, rel, r.board_bootargs, sorted({p for d in r.spec.domain
                                                                         for p in d.passthrough}), header,
                       r.cpu_phandles)
    if fmt == "dts":
        return board_dts(r)
    if fmt == "imagebuilder":
        return imagebuilder_config(r.spec, r.layout, r.target, r.board_bootargs)
    return _text(r, screen)


def _text(r: PlanResult, screen: Screen) -> str:
    from rich.table import Table
    from rich.text import Text

    from xenplan.report import text

    if not r.written:
        head = f"{r.message}" + (f": {r.proof}" if r.proof else "")
        return "\n".join([head, *(f"note: {note}" for note in r.notes)]) + "\n"
    console = screen.rich()
    for note in r.notes:
        console.print(Text(f"note: {note}"))
    t = Table(title=f"Plan for Xen {r.target.version}: what went where, and why", title_justify="left")
    for col in ("what", "host", "size", "why"):
        t.add_column(col)
    for row in rows(r):
        t.add_row(*row)
    console.print(t)
    assert r.analysis is not None
    warnings = [f for f in r.analysis.findings if f.severity == "warning"]
    console.print(Text(f"Simulated: {r.analysis.result.outcome}, no error; {len(warnings)} warning(s)"))
    for f in warnings:
        console.print(Text(f"  warning {f.rule}: {f.message}"))
    text.memory_map(console, r.analysis, None)
    return console.export_text(styles=console.is_terminal)
