"""LLC colouring's coloured heap, replayed per colour (LLC-004; ``docs/replay.md``).

With colouring on, every page a domain owns comes from the coloured heap, one
page at a time, and only from that domain's colours (``alloc_color_heap_page()``).
What decides whether a domain builds is how many free pages its colours hold
when Xen reaches it, which this module computes page-exact:

* the number of colours (``llc_coloring_init()``): ``llc-size`` /
  ``llc-nr-ways`` / 4 KiB when both are on Xen's command line, else the way
  size Xen probes from the CPU's last-level cache, read here from the
  device tree's unified cache node of the highest level (``cache-line-size``
  x ``cache-sets``);
* Xen's image moved to its coloured window (``arch_llc_coloring_init()``),
  the boot allocator populated and its pre-heap allocations made as without
  colouring, then the buddy's share and the coloured share
  (``end_boot_allocator()``, ``init_color_heap_pages()``);
* dom0 (``dom0-llc-colors``, else every colour: its RAM and the P2M tables
  that map it and the host devices) then each domU in DT order
  (``llc-colors``, else every colour): its P2M pool, its RAM bank by bank,
  and, 4.21+, the xenstore page of an enhanced domU, taken as Xen's picks
  take them.

Which host page lands at which guest frame is not derived: the domains'
RAM is scattered page by page over their colours, so hosts stay unknown.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from xenplan.boot.replay import Dom0Request, DomainPlacement, HeapBoard, HeapDomain, PlacementResult, p2m_pool_pages
from xenplan.boot.replay.boot_alloc import populate_boot_allocator, pre_heap_allocations
from xenplan.boot.replay.buddy import PAGE_SHIFT, PAGE_SIZE
from xenplan.boot.replay.colour import (
    DEFAULT_BUDDY_ALLOC_SIZE,
    NR_LLC_COLORS,
    colour_counts,
    split_regions,
    take_pages,
    xen_paddr,
    xen_window,
)
from xenplan.boot.replay.direct import p2m_tables
from xenplan.boot.replay.results import failed
from xenplan.boot.state import BootState
from xenplan.boot.xen_params import parse_size
from xenplan.model.layout import guest_layout
from xenplan.model.system import System


def parse_colours(text: str) -> list[int] | None:
    """``parse_color_config()``: colours and ranges ("0-3,8"), in the order written, a
    trailing comma allowed; None where Xen's parser refuses the string."""
    out: list[int] = []
    rest = text
    while rest:
        m = re.match(r"(\d+)(?:-(\d+))?(,?)", rest)
        if m is None:
            return None
        lo = int(m.group(1))
        hi = int(m.group(2)) if m.group(2) is not None else lo
        if hi < lo or hi >= NR_LLC_COLORS:
            return None
        out.extend(range(lo, hi + 1))
        rest = rest[m.end():]
        if not m.group(3) and rest:
            return None
    return out


def _integer(text: str) -> int:
    """``simple_strtoul(s, NULL, 0)`` on an ``integer_param``: leading digits, C prefixes."""
    m = re.match(r"0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*", text)
    return int(m.group(0), 0) if m else 0


def nr_colours(system: System) -> tuple[int | None, str]:
    """``max_nr_colors`` as ``llc_coloring_init()`` derives it, and where its way size
    came from; None when neither the command line nor the tree gives the geometry,
    or when Xen would refuse it at boot."""
    cmd = system.xen.cmdline
    size = parse_size(cmd.get("llc-size", "")) or 0
    ways = _integer(cmd.get("llc-nr-ways", ""))
    if size and ways:
        way, source = size // ways, f"llc-size={cmd['llc-size']} / llc-nr-ways={cmd['llc-nr-ways']}"
    elif system.board.llc_way_size:
        way, source = system.board.llc_way_size, "the device tree's last-level cache node"
    else:
        return None, "no llc-size and llc-nr-ways, and no cache node in the tree"
    colours = way >> PAGE_SHIFT
    if way % PAGE_SIZE or colours < 2 or colours & (colours - 1):
        return None, f"a way size of {way} bytes that Xen refuses"
    return min(colours, NR_LLC_COLORS), source


def colours_beyond(system: System, text: str) -> str | None:
    """LLC-003 once the number of colours is known: ``parse_color_config()`` refuses more
    colours than the cache has, ``check_colors()`` a colour it does not have."""
    colours, _source = nr_colours(system)
    listed = parse_colours(text)
    if colours is None or listed is None:
        return None
    if len(listed) > colours:
        return f"{len(listed)} colours listed, the cache has {colours}"
    if max(listed, default=0) >= colours:
        return f"colour {max(listed)} does not exist, the cache has {colours} (0-{colours - 1})"
    return None


def budget_note(state: BootState) -> str:
    """Why the coloured heap was budgeted as a whole instead of replayed per colour."""
    colours, source = nr_colours(state.system)
    if colours is None:
        why = f"the number of colours is unknown ({source}; Xen probes the CPU's cache, so give llc-size and " \
              "llc-nr-ways, or describe the last-level cache in the tree)"
    elif state.system.target.xen_image is None or state.system.target.fdt_address is None:
        why = "--xen-image and --fdt-address are needed to replay it per colour"
    else:
        why = "no RAM bank has room for Xen's coloured image, or the boot allocations fail"
    return (f"LLC colouring: the coloured heap is budgeted as a whole: {why}; host addresses are not predicted "
            "and a domain short of pages of its own colours is not caught")


def coloured_replay(state: BootState, board: HeapBoard, domains: Sequence[HeapDomain],
                    dom0: Dom0Request | None) -> PlacementResult | None:
    """The per-colour replay of ``board`` (the allocator's view of the boot), the domains
    in DT order and a classic dom0; None when the number of colours, Xen's image or the
    DTB's placement is unknown (the caller then budgets the heap as a whole)."""
    sysm = state.system
    colours, source = nr_colours(sysm)
    xen = sysm.target.xen_image
    if colours is None or xen is None or sysm.target.fdt_address is None or not state.ram:
        return None
    window = xen_window(xen.size, colours)
    modules = [(s, window) if s == xen.start else (s, n) for s, n in board.modules]
    holes = modules + list(board.reserved)
    start = xen_paddr(board.ram, window, holes)
    if start is None:
        return None
    modules = [(start, window) if s == xen.start and n == window else (s, n) for s, n in modules]
    boot = populate_boot_allocator(board.ram, modules, board.reserved, board.static_heap)
    allocs = pre_heap_allocations(boot, board.ram, state.rel)
    if allocs and allocs[-1].pfn is None:
        return None
    buddy = parse_size(sysm.xen.cmdline.get("buddy-alloc-size", "")) if "buddy-alloc-size" in sysm.xen.cmdline \
        else DEFAULT_BUDDY_ALLOC_SIZE
    split = split_regions(boot.regions, buddy or 0)
    free = colour_counts(split.coloured, colours)
    every = list(range(colours))
    notes = [f"LLC colouring: {colours} colours ({source}); Xen's image moves to [{start:#x}, {start + window:#x}); "
             f"the coloured heap holds {sum(free)} pages ({min(free)} to {max(free)} a colour); domains' "
             "pages are counted per colour, their host addresses are not predicted"]
    if dom0 is not None:
        dom0_colours = parse_colours(sysm.xen.cmdline.get("dom0-llc-colors", "")) or every
        pages = (dom0.memory >> PAGE_SHIFT) + dom0_tables(dom0, board, notes)
        short = take_pages(free, dom0_colours, pages)
        if short:
            notes.append(f"dom0's colours hold {pages - short} of the {pages} pages it needs")
    placed: list[DomainPlacement] = []
    for d, dom in zip(sysm.domains, domains, strict=True):
        own = parse_colours(d.llc_colors) if d.llc_colors is not None else every
        if not own or colours_beyond(sysm, d.llc_colors or "") is not None:
            break  # Xen refuses the colour list before the domain takes a page (LLC-003)
        result = _domain(state, dom, own, free, d.llc_colors)
        placed.append(result)
        if result.outcome != "ok":
            break
    doms = sysm.domains
    placed += [DomainPlacement(d.name, "not-reached", None) for d in doms[len(placed):]]
    return PlacementResult(tuple(placed), (), None, sum(free) << PAGE_SHIFT, None, tuple(notes), budgeted=True)


def dom0_tables(dom0: Dom0Request, board: HeapBoard, notes: list[str]) -> int:
    """dom0's P2M table pages, which under colouring come from its colours too
    (``p2m_alloc_page()`` for the hardware domain): its RAM is not 1:1 and is
    mapped page by page (one level-3 table per 2 MiB, level 2 per 1 GiB,
    level 1 per 512 GiB of guest RAM), then ``construct_dom0()``'s walk maps the
    host devices (``map_regions_p2mt()``), sharing those tables."""
    tables: set[tuple[int, int]] = set()
    count = 0
    for guest, size in guest_layout(dom0.memory):
        for block in range(guest >> 21, (guest + size + (1 << 21) - 1) >> 21):
            for table in ((1, block >> 18), (2, block >> 9), (3, block)):
                if table not in tables:
                    tables.add(table)
                    count += 1
    if not board.release.dom0_construct:
        notes.append("dom0's host walk is not replayed on this release: the P2M tables its device mappings "
                     "take from its colours are not counted")
        return count
    if board.gic_version == 2:
        notes.append("GICv2: the P2M tables of dom0's GIC CPU interface mapping are not counted")
    for dev in dom0.devices:
        if dev.mapped:
            for start, size in (*dev.regs, *dev.pci_ranges):
                count += p2m_tables(tables, start >> PAGE_SHIFT << PAGE_SHIFT, -(-size // PAGE_SIZE) << PAGE_SHIFT)
    return count


def _domain(state: BootState, dom: HeapDomain, own: list[int], free: list[int], text: str | None) -> DomainPlacement:
    """One domU's coloured pages in ``construct_domU()``'s order: P2M pool, RAM banks, xenstore page."""
    which = f"colours {text}" if text is not None else "every colour (no llc-colors)"
    held = sum(free[c] for c in dict.fromkeys(own))
    if dom.static:
        return DomainPlacement(dom.name, "ok", None)
    pool = p2m_pool_pages(dom) if state.rel.p2m_pool else 0
    if take_pages(free, own, pool):
        return _short(failed(dom, "p2m-pool-exhausted", state.rel, None),
                      f"{dom.name}'s {which} hold {held} free pages; its P2M pool needs {pool}")
    sizes = [size for _g, size in guest_layout(dom.memory_kib << 10)]
    for i, size in enumerate(sizes):
        if take_pages(free, own, -(-size // PAGE_SIZE)):
            ram = sum(-(-s // PAGE_SIZE) for s in sizes)
            return _short(failed(dom, "out-of-memory", state.rel, sum(sizes[i:]) >> 10),
                          f"{dom.name}'s {which} hold {held} free pages; it needs {pool} for its P2M pool and "
                          f"{ram} for its RAM, {pool + ram - held} more than they hold")
    if (dom.memory_kib << 10) % PAGE_SIZE:
        return DomainPlacement(dom.name, "hang", None)
    if state.rel.xenstore_page_by_xen and dom.enhanced:
        take_pages(free, own, 1)
    return DomainPlacement(dom.name, "ok", None)


def _short(p: DomainPlacement, why: str) -> DomainPlacement:
    from dataclasses import replace

    return replace(p, colours_short=why)
