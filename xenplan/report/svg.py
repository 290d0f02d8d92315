"""The memory-map picture: rich output recorded and exported as SVG.

For every input: the verdict, the host physical map, then each domain's
guest physical map. Each map is one bar of coloured runs, one per region in
address order, followed by a table that doubles as the legend. Run widths
grow with log2 of the size, so a 4 KiB DTB stays visible beside a 2 GiB
heap; holes in the address space are a dim ``┆``. Host RAM a domain owns
takes that domain's colour, and so does its guest RAM, so the reader can
follow a domain from one map to the other.

No plotting library: a recording ``Console`` that writes nowhere, then
``export_svg``.
"""

from __future__ import annotations

import io
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

from rich import box
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from xenplan.analysis import Analysis
from xenplan.boot.result import DomainResult
from xenplan.report.plain import kind as _kind
from xenplan.report.plain import size as _size
from xenplan.report.text import verdict

WIDTH = 110
"""Columns of the recorded console; the SVG scales with it."""

BAR = WIDTH - 2

#: Host regions by frame-table state; guest regions by P2M kind.
KIND_COLOUR = {
    "heap": "#4c8c4a", "static-free": "#8fbf7f", "xen": "#c0392b", "module": "#e67e22",
    "reserved": "#7f8c8d", "inuse": "#5d6d7e",
    "ram": "#5d6d7e", "gicd": "#8e44ad", "gicr": "#9b59b6", "gicc": "#a569bd", "vpl011": "#d35400",
    "gnttab": "#d4ac0d", "magic": "#17a589", "shm": "#e84393", "mmio": "#2e4053", "ext": "#a04000",
}
DEFAULT_COLOUR = "#566573"
#: One colour per domain, in the order Xen builds them.
DOMAIN_COLOURS = ("#2e86c1", "#7d3c98", "#1abc9c", "#b9770e", "#cb4335", "#2874a6", "#239b56", "#6c3483")
GAP = Text("┆", style="dim")


@dataclass(frozen=True)
class Run:
    start: int
    size: int
    colour: str
    label: str


def _domain_colours(a: Analysis) -> dict[str, str]:
    return {d.path: DOMAIN_COLOURS[i % len(DOMAIN_COLOURS)] for i, d in enumerate(a.result.domains)}


def _widths(runs: Sequence[Run], cells: int) -> list[int]:
    """Largest remainder over log2 weights, at least one cell a run."""
    weights = [math.log2(max(r.size, 1) / 4096) + 1 if r.size > 4096 else 1.0 for r in runs]
    spare = cells - len(runs)
    if spare <= 0:
        return [1] * len(runs)
    total = sum(weights)
    exact = [w / total * spare for w in weights]
    widths = [1 + int(e) for e in exact]
    left = cells - sum(widths)
    for i in sorted(range(len(runs)), key=lambda i: exact[i] - int(exact[i]), reverse=True)[:left]:
        widths[i] += 1
    return widths


def bar(runs: Sequence[Run], cells: int = BAR) -> Text:
    """One line of coloured runs in address order; holes as a dim ``┆``."""
    runs = sorted(runs, key=lambda r: r.start)
    holes = sum(1 for p, n in itertools.pairwise(runs) if n.start > p.start + p.size)
    out = Text(no_wrap=False, overflow="fold")
    for i, (r, w) in enumerate(zip(runs, _widths(runs, cells - holes), strict=False)):
        if i and r.start > runs[i - 1].start + runs[i - 1].size:
            out.append_text(GAP)
        label = r.label[:w] if w >= 3 else ""
        out.append(label.center(w), style=f"bold #ffffff on {r.colour}")
    return out


def axis(runs: Sequence[Run], cells: int = BAR) -> Text:
    """The first and last address under the bar."""
    lo = min(r.start for r in runs)
    hi = max(r.start + r.size for r in runs)
    left, right = f"{lo:#x}", f"{hi:#x}"
    return Text(left + " " * max(1, cells - len(left) - len(right)) + right, style="dim")


def _swatch(colour: str) -> Text:
    return Text("██", style=colour)


def _table(columns: Sequence[str]) -> Table:
    t = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    t.add_column("")
    for c in columns:
        t.add_column(c, no_wrap=True)
    return t


def host_section(a: Analysis) -> RenderableType:
    colours = _domain_colours(a)
    names = {d.path: d.name for d in a.result.domains}
    runs: list[Run] = []
    t = _table(("start", "end", "size", "what", "owner"))
    for h in a.result.host_map:
        if h.kind == "none":
            continue
        colour = colours.get(h.owner or "", KIND_COLOUR.get(h.kind, DEFAULT_COLOUR))
        runs.append(Run(h.start, h.size, colour, names.get(h.owner or "", h.kind)))
        t.add_row(_swatch(colour), f"{h.start:#x}", f"{h.start + h.size:#x}", _size(h.size), h.kind, h.owner or "")
    if not runs:
        return Group(Text("host physical map: nothing mapped", style="dim"), Text(""))
    return Group(Text("host physical map", style="bold"), bar(runs), axis(runs), t, Text(""))


def domain_section(a: Analysis, d: DomainResult) -> RenderableType:
    title = f"{d.name}: guest physical map ({_kind(d)}, {d.status})"
    if not d.p2m:
        return Group(Text(f"{title}: no guest map", style="dim"), Text(""))
    own = _domain_colours(a).get(d.path, DEFAULT_COLOUR)
    runs: list[Run] = []
    t = _table(("guest start", "guest end", "size", "what", "host", "note"))
    for p in d.p2m:
        colour = own if p.kind == "ram" else KIND_COLOUR.get(p.kind, DEFAULT_COLOUR)
        runs.append(Run(p.guest, p.size, colour, p.kind))
        t.add_row(_swatch(colour), f"{p.guest:#x}", f"{p.guest + p.size:#x}", _size(p.size), p.kind,
                  "" if p.host is None else f"{p.host:#x}", p.note or "")
    return Group(Text(title, style="bold"), bar(runs), axis(runs), t, Text(""))


def picture(a: Analysis, domain: str | None = None) -> RenderableType:
    parts: list[RenderableType] = [verdict(a), host_section(a)]
    parts += [domain_section(a, d) for d in a.result.domains if domain is None or d.name == domain]
    parts.append(Text("bar widths grow with log2 of the size; ┆ marks a hole in the address space", style="dim"))
    return Group(*parts)


def console() -> Console:
    """A recording console that writes nowhere and ignores the environment's
    terminal settings, so the same input always gives the same SVG (both
    width and height, or ``TERM=dumb`` shrinks it to 80 columns)."""
    return Console(record=True, file=io.StringIO(), width=WIDTH, height=50, color_system="truecolor",
                   force_terminal=True, force_interactive=False, no_color=False, legacy_windows=False,
                   highlight=False, emoji=False, markup=False)


def render(analyses: Sequence[Analysis], domain: str | None) -> str:
    c = console()
    for i, a in enumerate(analyses):
        if i:
            c.rule(style="dim")
        c.print(picture(a, domain))
    title = "xenplan map: " + ", ".join(a.input for a in analyses)
    return c.export_svg(title=title)
