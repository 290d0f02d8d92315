"""The memory-map picture: host physical memory as a to-scale column, each domain's guest RAM beside it.

The host column stacks the regions of the host map in address order, every
region in its owner's colour: a domain's pages in that domain's colour,
Xen's in red, free heap in green, modules, reserved memory and unused RAM
in their own. Heights follow the size, except that a region too small to
read is drawn at a minimum height, and a hole between RAM banks (no RAM:
often gigabytes) is a short band marked with zig-zag edges and its real
size. Beside the column, one card per domain lists its guest RAM banks
(and shared-memory and passthrough windows), each joined by a band to the
host range it maps. Every region, band and bank carries an SVG ``<title>``
with its addresses and size, which browsers show on hover.

The SVG is written by hand (no plotting library, nothing random, no
timestamp), so the same input always gives the same bytes. ``html`` wraps
the same drawing in a self-contained page with a table of the regions.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape

from xenplan.analysis import Analysis
from xenplan.boot.result import DomainResult
from xenplan.report.plain import kind as _kind
from xenplan.report.plain import size as _exact_size

#: Host regions by kind (the ``host_map`` kinds of docs/json-contract.md); domains get their own colour.
KIND_COLOUR = {
    "xen": "#c0392b", "heap": "#58a55c", "static-free": "#a9d18e", "module": "#e67e22", "reserved": "#7f8c8d",
    "unused": "#d5d8dc", "ram": "#b3b6b7", "shm": "#e84393", "inuse": "#5d6d7e",
}
DEFAULT_COLOUR = "#95a5a6"
#: One colour per domain in the order Xen builds them: twenty that stay apart from each other and
#: from the kind colours above.
DOMAIN_COLOURS = (
    "#1f77b4", "#9467bd", "#17becf", "#8c564b", "#2ca02c", "#d62728", "#bcbd22", "#e377c2", "#ff7f0e", "#393b79",
    "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd", "#31a354", "#756bb1", "#636363", "#e6550d", "#969696",
)
OUTCOME_COLOUR = {"boots": "#1e8449", "panic": "#c0392b", "crash": "#c0392b", "hang": "#c0392b"}

FONT = "font-family=\"DejaVu Sans Mono, Menlo, Consolas, monospace\""
CHAR_W = 6.7
"""Width of one character of the 11 px monospace font, for fitting labels."""

HOST_X, HOST_W = 118, 250
CARD_X, CARD_W = 540, 300
WIDTH = CARD_X + CARD_W + 20
COLUMN_H = 640
"""Height the host column's RAM shares when no region is at its minimum."""
MIN_H = 15
GAP_H = 30
ROW_H = 17


def _colour(i: int) -> str:
    return DOMAIN_COLOURS[i % len(DOMAIN_COLOURS)]


def _fit(text: str, width: float) -> str:
    n = int(width / CHAR_W)
    return text if len(text) <= n else (text[:max(0, n - 1)] + "…" if n > 1 else "")


def _size(n: int) -> str:
    """Exact in the largest unit that divides ``n``, else two decimals in the largest unit under it."""
    exact = _exact_size(n)
    if not exact.endswith(("KiB", "MiB")) or n < 1 << 20:
        return exact
    for unit, shift in (("TiB", 40), ("GiB", 30), ("MiB", 20)):
        if n >= 1 << shift:
            return exact if n % (1 << shift) == 0 else f"{math.floor(n * 100 / (1 << shift)) / 100:.2f} {unit}"
    return exact


def _range(start: int, size: int) -> str:
    return f"[{start:#x}, {start + size:#x}) {_size(size)}"


def _text(x: float, y: float, s: str, *, size: int = 11, anchor: str = "start", fill: str = "#1c2833",
          weight: str | None = None) -> str:
    w = f' font-weight="{weight}"' if weight else ""
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" fill="{fill}"{w}>'
            f"{escape(s)}</text>")


@dataclass(frozen=True)
class Box:
    """A drawn stretch of the host column: a region of the host map, or a hole between regions."""

    start: int
    size: int
    y: float
    h: float
    kind: str
    owner: str | None
    hole: bool = False
    shortened: bool = False


def heights(sizes: Sequence[int], total: float = COLUMN_H, least: float = MIN_H,
            cappable: Sequence[bool] | None = None) -> tuple[list[float], set[int]]:
    """Heights proportional to ``sizes`` summing to ``total``, none below ``least``; and those shortened.

    Regions whose share would fall below ``least`` are pinned there; free
    memory (``cappable``) whose share would pass a fifth of the column is
    pinned at that fifth (and marked as shortened), so one large free stretch
    does not squeeze everything else; the rest share what is left, until no
    share breaks either bound. The column grows with the number of regions,
    so that many small ones leave the large ones room to show their
    proportions.
    """
    total = max(total, least * len(sizes) + COLUMN_H / 2)
    cap = total / 5
    can = list(cappable) if cappable is not None else [False] * len(sizes)
    low: set[int] = set()
    high: set[int] = set()
    while True:
        free = [i for i in range(len(sizes)) if i not in low and i not in high]
        room = total - least * len(low) - cap * len(high)
        mass = sum(sizes[i] for i in free)
        if not free or room <= 0 or mass <= 0:
            return [cap if i in high else least for i in range(len(sizes))], high
        scale = room / mass
        new_low = {i for i in free if sizes[i] * scale < least}
        new_high = {i for i in free if can[i] and sizes[i] * scale > cap}
        if not new_low and not new_high:
            return [least if i in low else cap if i in high else sizes[i] * scale for i in range(len(sizes))], high
        low |= new_low
        high |= new_high if not new_low else set()


FREE_KINDS = frozenset({"heap", "unused", "ram", "static-free"})


def host_boxes(a: Analysis, top: float, total: float = COLUMN_H) -> list[Box]:
    """The host map laid out from ``top``: regions in address order, holes between them shortened."""
    regions = sorted((h for h in a.result.host_map if h.kind != "none" and h.size > 0), key=lambda h: h.start)
    hs, cut = heights([h.size for h in regions], total, cappable=[h.kind in FREE_KINDS for h in regions])
    boxes: list[Box] = []
    y = top
    end: int | None = None
    cut_regions = [regions[i] for i in cut]
    for h, height in zip(regions, hs, strict=True):
        if end is not None and h.start > end:
            boxes.append(Box(end, h.start - end, y, GAP_H, "hole", None, hole=True))
            y += GAP_H
        boxes.append(Box(h.start, h.size, y, height, h.kind, h.owner, shortened=h in cut_regions))
        y += height
        end = max(end or 0, h.start + h.size)
    return boxes


def y_of(boxes: Sequence[Box], starts: Sequence[int], addr: int) -> float | None:
    """Where ``addr`` falls on the column (linear inside its box), or None outside the drawn map."""
    i = bisect.bisect_right(starts, addr) - 1
    if i < 0:
        return None
    b = boxes[i]
    if addr > b.start + b.size:
        return None
    return b.y + b.h * (addr - b.start) / b.size


def _zigzag(x0: float, x1: float, y: float) -> str:
    pts = []
    n = int((x1 - x0) // 10)
    for k in range(n + 1):
        pts.append(f"{x0 + (x1 - x0) * k / n:.1f},{y + (3 if k % 2 else -3):.1f}")
    return f'<polyline points="{" ".join(pts)}" fill="none" stroke="#566573" stroke-width="1.2"/>'


def _label(b: Box, names: dict[str, str]) -> str:
    if b.owner in names:
        what = names[b.owner]
    elif b.owner and b.kind in ("module", "reserved"):
        parent, _, node = b.owner.rpartition("/")
        what = f"{parent.rsplit('/', 1)[-1]}: {node}" if b.kind == "module" and parent.startswith("/chosen/") else node
        what = what or b.owner
    elif b.owner and b.kind == "xen":
        what = "Xen image" if b.owner == "(Xen image)" else b.owner.removeprefix("Xen: ")
    else:
        what = b.kind
    return f"{what} · {_size(b.size)}"


def _host_column(a: Analysis, boxes: Sequence[Box], colours: dict[str, str], names: dict[str, str]) -> list[str]:
    out = ['<g class="host">']
    last_label = -1e9
    for b in boxes:
        if b.hole:
            out.append(f'<g class="hole"><title>{escape(f"no RAM: {_range(b.start, b.size)} (drawn shortened)")}'
                       f"</title>")
            out.append(f'<rect x="{HOST_X}" y="{b.y:.1f}" width="{HOST_W}" height="{b.h:.1f}" fill="#fdfefe"/>')
            out.append(_zigzag(HOST_X, HOST_X + HOST_W, b.y + 4) + _zigzag(HOST_X, HOST_X + HOST_W, b.y + b.h - 4))
            out.append(_text(HOST_X + HOST_W / 2, b.y + b.h / 2 + 4, f"{_size(b.size)} without RAM", size=10,
                             anchor="middle", fill="#566573"))
            out.append("</g>")
            continue
        colour = colours.get(b.owner or "", KIND_COLOUR.get(b.kind, DEFAULT_COLOUR))
        title = f"{b.kind}{' ' + b.owner if b.owner else ''}: {_range(b.start, b.size)}"
        title += " (drawn shortened)" if b.shortened else ""
        out.append(f"<g><title>{escape(title)}</title>")
        out.append(f'<rect x="{HOST_X}" y="{b.y:.1f}" width="{HOST_W}" height="{b.h:.1f}" fill="{colour}" '
                   f'stroke="#ffffff" stroke-width="0.6"/>')
        if b.shortened:
            out.append(_zigzag(HOST_X, HOST_X + HOST_W, b.y + b.h * 0.6))
        if b.h >= 12:
            dark = b.kind in ("unused", "static-free", "ram")
            out.append(_text(HOST_X + 5, b.y + min(b.h / 2 + 4, 13), _fit(_label(b, names), HOST_W - 10),
                             fill="#1c2833" if dark else "#ffffff"))
        out.append("</g>")
        if b.y - last_label >= 11:
            out.append(_text(HOST_X - 6, b.y + 4, f"{b.start:#x}", size=10, anchor="end", fill="#566573"))
            last_label = b.y
    if boxes:
        b = boxes[-1]
        out.append(_text(HOST_X - 6, b.y + b.h + 4, f"{b.start + b.size:#x}", size=10, anchor="end", fill="#566573"))
    out.append("</g>")
    return out


@dataclass
class _Row:
    kind: str
    guest: int
    size: int
    host: int | None
    note: str | None


def _rows(d: DomainResult) -> list[_Row]:
    """What a card lists: guest RAM (the banks, or the P2M's RAM), then windows that map host memory."""
    rows = [_Row("ram", b.guest, b.size, b.host, None) for b in d.banks or ()]
    rows += [_Row(p.kind, p.guest, p.size, p.host, p.note) for p in d.p2m
             if p.kind in ("shm", "mmio") and p.host is not None]
    return sorted(rows, key=lambda r: (r.guest, r.kind))


def _card_height(d: DomainResult) -> float:
    return 36 + ROW_H * max(1, len(_rows(d))) + 6


def _cards(a: Analysis, boxes: Sequence[Box], colours: dict[str, str], domain: str | None,
           top: float) -> tuple[list[str], float]:
    """The domain cards, each placed near the host memory it maps, and the bands joining them."""
    starts = [b.start for b in boxes]
    shown = [d for d in a.result.domains if domain is None or d.name == domain]

    def wanted(d: DomainResult) -> float:
        ys = [y for r in _rows(d) if r.host is not None
              for y in [y_of(boxes, starts, r.host)] if y is not None]
        return min(ys) - 20 if ys else float("inf")

    order = sorted(range(len(shown)), key=lambda i: (wanted(shown[i]), i))
    cards: list[str] = []
    bands: list[str] = []
    y = top
    for i in order:
        d = shown[i]
        want = wanted(d)
        y = max(y, want if want != float("inf") else y)
        colour = colours[d.path]
        h = _card_height(d)
        mem = _size(sum(b.size for b in d.banks)) if d.banks else "no RAM"
        cards.append(f'<g class="domain"><title>{escape(f"{d.path}: {_kind(d)}, {d.status}, {mem}")}</title>')
        cards.append(f'<rect x="{CARD_X}" y="{y:.1f}" width="{CARD_W}" height="{h:.1f}" rx="5" fill="#ffffff" '
                     f'stroke="{colour}" stroke-width="2"/>')
        cards.append(f'<rect x="{CARD_X}" y="{y:.1f}" width="8" height="{h:.1f}" rx="3" fill="{colour}"/>')
        cards.append(_text(CARD_X + 16, y + 16, _fit(d.name, CARD_W - 24), size=13, weight="bold", fill=colour))
        cards.append(_text(CARD_X + 16, y + 30, _fit(f"{_kind(d)} · {d.status} · {mem}", CARD_W - 24), size=10,
                           fill="#566573"))
        cards.append("</g>")
        rows = _rows(d)
        if not rows:
            why = "no guest RAM: " + ("Xen stops before it" if d.status == "not-reached" else f"{d.status}")
            cards.append(_text(CARD_X + 16, y + 36 + 12, why, size=10, fill="#922b21"))
        for k, r in enumerate(rows):
            ry = y + 36 + k * ROW_H
            host = "host ?" if r.host is None else f"host {r.host:#x}"
            label = f"{r.guest:#x} {_size(r.size)} → {host}" if r.kind == "ram" else f"{r.kind} {r.guest:#x} → {host}"
            title = (f"{d.name} {r.kind}{' ' + r.note if r.note else ''}: guest {_range(r.guest, r.size)}, "
                     + ("host not predicted" if r.host is None else f"host {_range(r.host, r.size)}"))
            fill = colour if r.kind == "ram" else KIND_COLOUR.get(r.kind, DEFAULT_COLOUR)
            cards.append(f"<g><title>{escape(title)}</title>")
            cards.append(f'<rect x="{CARD_X + 14}" y="{ry:.1f}" width="{CARD_W - 22}" height="{ROW_H - 3}" rx="2" '
                         f'fill="{fill}" fill-opacity="0.18" stroke="{fill}"/>')
            cards.append(_text(CARD_X + 19, ry + 11, _fit(label, CARD_W - 32), size=10))
            cards.append("</g>")
            if r.host is None:
                continue
            y0, y1 = y_of(boxes, starts, r.host), y_of(boxes, starts, r.host + r.size)
            if y0 is None or y1 is None:
                continue
            g0, g1 = ry, ry + ROW_H - 3
            x0, x1 = HOST_X + HOST_W, CARD_X + 14
            mid = (x0 + x1) / 2
            path = (f"M{x0},{y0:.1f} C{mid:.1f},{y0:.1f} {mid:.1f},{g0:.1f} {x1},{g0:.1f} L{x1},{g1:.1f} "
                    f"C{mid:.1f},{g1:.1f} {mid:.1f},{y1:.1f} {x0},{max(y1, y0 + 1):.1f} Z")
            bands.append(f'<path class="band" d="{path}" fill="{fill}" fill-opacity="0.28" stroke="{fill}" '
                         f'stroke-opacity="0.7" stroke-width="0.8"><title>{escape(title)}</title></path>')
        y += h + 10
    return bands + cards, y


def _legend(a: Analysis, colours: dict[str, str], y: float) -> tuple[list[str], float]:
    kinds = list(dict.fromkeys(h.kind for h in sorted(a.result.host_map, key=lambda h: h.start)
                               if h.kind != "none" and (h.owner or "") not in colours))
    items = [(KIND_COLOUR.get(k, DEFAULT_COLOUR), k) for k in kinds]
    items += [(colours[d.path], d.name) for d in a.result.domains]
    out: list[str] = []
    x = 20.0
    for colour, name in items:
        w = 22 + len(name) * CHAR_W + 12
        if x + w > WIDTH - 10:
            x, y = 20.0, y + 16
        out.append(f'<rect x="{x:.1f}" y="{y - 9:.1f}" width="12" height="12" rx="2" fill="{colour}"/>')
        out.append(_text(x + 17, y + 1, name, size=11))
        x += w
    return out, y + 16


def picture(a: Analysis, domain: str | None, top: float) -> tuple[list[str], float]:
    """One input's drawing from ``top``; returns its elements and where it ends."""
    colours = {d.path: _colour(i) for i, d in enumerate(a.result.domains)}
    names = {d.path: d.name for d in a.result.domains}
    t = a.system.target
    r = a.result
    verdict: str = r.outcome
    if r.failed_at is not None:
        verdict += f" at {r.failed_at.stage}" + (f" {r.failed_at.domain}" if r.failed_at.domain else "")
        if r.failed_at.rule:
            verdict += f" [{r.failed_at.rule}]"
    out = [_text(20, top + 18, a.input, size=15, weight="bold"),
           _text(20, top + 36, f"Xen {t.version}, {t.arch}", size=11, fill="#566573"),
           _text(20 + CHAR_W * (len(f"Xen {t.version}, {t.arch}") + 3), top + 36, f"verdict: {verdict}", size=11,
                 weight="bold", fill=OUTCOME_COLOUR[r.outcome])]
    legend, y = _legend(a, colours, top + 58)
    out += legend
    out.append(_text(HOST_X, y + 10, "host physical memory", size=12, weight="bold"))
    out.append(_text(CARD_X, y + 10, "guest RAM of each domain → host", size=12, weight="bold"))
    cards_h = sum(_card_height(d) + 10 for d in a.result.domains if domain is None or d.name == domain)
    boxes = host_boxes(a, y + 22, max(COLUMN_H, cards_h * 0.9))
    if not boxes:
        out.append(_text(HOST_X, y + 40, "nothing mapped", size=11, fill="#566573"))
    out += _host_column(a, boxes, colours, names)
    cards, cards_end = _cards(a, boxes, colours, domain, y + 22)
    out += cards
    end = max(cards_end, boxes[-1].y + boxes[-1].h + 12 if boxes else y + 50)
    out.append(_text(20, end + 14, f"heights follow sizes; regions under {MIN_H} px are drawn at {MIN_H} px; "
                     "zig-zag lines mark free memory and holes without RAM drawn shortened", size=10, fill="#7f8c8d"))
    return out, end + 30


def drawing(analyses: Sequence[Analysis], domain: str | None) -> str:
    """The ``<svg>`` element: every input's picture, one below the other."""
    parts: list[str] = []
    y = 0.0
    for i, a in enumerate(analyses):
        if i:
            parts.append(f'<line x1="10" y1="{y:.1f}" x2="{WIDTH - 10}" y2="{y:.1f}" stroke="#d5d8dc"/>')
            y += 10
        elems, y = picture(a, domain, y)
        parts += elems
    title = "xenplan map: " + ", ".join(a.input for a in analyses)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{y:.0f}" '
            f'viewBox="0 0 {WIDTH} {y:.0f}" {FONT}>\n<title>{escape(title)}</title>\n'
            f'<rect width="{WIDTH}" height="{y:.0f}" fill="#ffffff"/>\n' + "\n".join(parts) + "\n</svg>\n")


def render(analyses: Sequence[Analysis], domain: str | None) -> str:
    """A standalone SVG file (UTF-8, no XML declaration needed)."""
    return drawing(analyses, domain)


def _table(a: Analysis) -> str:
    rows = "".join(f"<tr><td>{h.start:#x}</td><td>{h.start + h.size:#x}</td><td>{escape(_size(h.size))}</td>"
                   f"<td>{escape(h.kind)}</td><td>{escape(h.owner or '')}</td></tr>"
                   for h in sorted(a.result.host_map, key=lambda h: h.start) if h.kind != "none")
    return (f"<h2>{escape(a.input)}: host physical map</h2><table><thead><tr><th>start</th><th>end</th>"
            f"<th>size</th><th>what</th><th>owner</th></tr></thead><tbody>{rows}</tbody></table>")


CSS = """body{font-family:system-ui,sans-serif;margin:1.5em;color:#1c2833}
svg .band:hover{fill-opacity:.6}svg g:hover>rect{stroke:#1c2833}
table{border-collapse:collapse;font-family:monospace;font-size:13px;margin-bottom:2em}
td,th{border:1px solid #d5d8dc;padding:2px 8px;text-align:left}th{background:#f4f6f6}"""


def render_html(analyses: Sequence[Analysis], domain: str | None) -> str:
    """A page that needs nothing else: the drawing inline (hover shows addresses), then the host maps as tables."""
    title = "xenplan map: " + ", ".join(a.input for a in analyses)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{escape(title)}</title><style>{CSS}</style></head><body>\n"
            "<p>Hover a region, a band or a bank for its addresses and size.</p>\n"
            + drawing(analyses, domain) + "".join(_table(a) for a in analyses) + "\n</body></html>\n")

