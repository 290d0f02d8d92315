"""RSV: reserved regions and the host-memory overlap checks.

The stages report what Xen itself catches: overlaps at insertion (RSV-010,
from 4.18), a full ``reserved_mem`` (RSV-003), a DTB on Xen's image (RSV-012,
4.18+) and static pages outside RAM that crash their initialisation
(RSV-011). The checks here add what Xen never looks at: static regions in
holes between RAM banks or a static heap outside RAM (RSV-011), static
regions over Xen or its DTB on releases without the check (RSV-012), and
overlaps the simulated release lets through (RSV-013).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterator
from typing import Literal

from xenplan.boot.result import BootResult, Event
from xenplan.checks.registry import Hit, rule
from xenplan.model.base import Range
from xenplan.model.system import System
from xenplan.records import record

ClaimKind = Literal["xen", "fdt", "memreserve", "reserved", "static-heap", "static-mem", "module", "shm"]
XEN_IMAGE, DTB = "(Xen image)", "(device tree)"
#: Host claims that become static or heap pages (the stage handles their mutual overlaps).
STATIC_LIKE = ("static-mem", "static-heap", "shm")


@record(frozen=True)
class Claim:
    """One host range Xen records, in the order it records it (S1-S4)."""

    kind: ClaimKind
    path: str
    prop: str | None
    range: Range
    domain: str | None = None

    def what(self) -> str:
        names = {"xen": "Xen's image", "fdt": "the host DTB", "memreserve": "/memreserve/ entry",
                 "reserved": "reserved region", "static-heap": "static heap bank", "static-mem": "static bank",
                 "module": "boot module", "shm": "shared-memory host range"}
        return f"{names[self.kind]} {self.path} {self.range}" if self.kind not in ("xen", "fdt") \
            else f"{names[self.kind]} {self.range}"


def claims(system: System) -> list[Claim]:
    """Every host range, in Xen's insertion order: Xen, DTB, /memreserve/, then the early scan."""
    t = system.target
    out: list[Claim] = []
    if t.xen_image is not None:
        out.append(Claim("xen", XEN_IMAGE, None, t.xen_image))
    if t.fdt_address is not None:
        size = t.fdt_size or system.dtb_size or 0
        out.append(Claim("fdt", DTB, None, Range(start=t.fdt_address, size=size)))
    for i, r in enumerate(system.board.memreserve):
        out.append(Claim("memreserve", f"/memreserve/[{i}]", None, r))
    for item in system.scan:
        if item.error is not None or item.panic is not None:
            continue
        if item.kind == "shm":
            if item.shm is not None and item.shm.host_range is not None:
                out.append(Claim("shm", item.path, item.prop, item.shm.host_range, item.domain))
            continue
        kind: ClaimKind | None = {"reserved": "reserved", "static-heap": "static-heap", "static-mem": "static-mem",
                                  "module": "module", "initrd": "module"}.get(item.kind)  # type: ignore[assignment]
        if kind is None:
            continue
        pairs = item.pairs[:1] if kind == "module" else item.pairs
        for r in pairs:
            if r.size:
                out.append(Claim(kind, item.path, item.prop, r, item.domain))
    return out


def reported(result: BootResult, a: Claim, b: Claim) -> bool:
    """Whether the simulated Xen already reported a conflict between ``a`` and ``b``.

    A module may be blamed through its domain (the kernel probe names the
    domain, with the module's range). The events naming each claim come from
    an index, so a pair costs what the fewer of its events cost, not a scan
    of every event.
    """
    idx = _index(result)
    return not idx.naming(a).isdisjoint(idx.naming(b))


#: Stage rules by which Xen refuses to record a region (overlap at insertion).
REFUSAL_RULES = ("RSV-010", "RSV-012", "MOD-004", "SHM-009", "SHM-015")


def refused(result: BootResult, c: Claim) -> bool:
    """Whether the simulated Xen refused to record ``c`` (so it overlaps nothing in Xen's tables)."""
    return any(x.overlaps(c.range) for x in _index(result).refusals.get(c.path, ()))


class _EventIndex:
    """The events of one boot by the node they name: their own path, or a related region's.

    Built once per result; the overlap rules ask it once per claim or pair,
    and events number in thousands on a large board.
    """

    def __init__(self, result: BootResult) -> None:
        self.result = result
        self.by_path: dict[str | None, list[int]] = {}
        self.by_related: dict[str, list[int]] = {}
        self.refusals: dict[str, list[Range]] = {}
        self._naming: dict[Claim, frozenset[int]] = {}
        for i, ev in enumerate(result.events):
            self.by_path.setdefault(ev.path, []).append(i)
            if ev.path is not None and ev.rule in REFUSAL_RULES:
                self.refusals.setdefault(ev.path, []).extend(ev.ranges)
            for x in dict.fromkeys(x.path for x in ev.related):
                self.by_related.setdefault(x, []).append(i)

    def naming(self, c: Claim) -> frozenset[int]:
        """The events that name ``c``: by path, as a related region, or a module through its domain."""
        got = self._naming.get(c)
        if got is None:
            events = self.result.events
            ids = {*self.by_path.get(c.path, ()), *self.by_related.get(c.path, ())}
            if c.kind == "module":
                ids.update(i for i in self.by_path.get(c.domain, ())
                           if any(x.overlaps(c.range) for x in events[i].ranges))
            got = self._naming[c] = frozenset(ids)
        return got

    def of_rule(self, rule_id: str, path: str) -> Iterator[Event]:
        """The events of ``rule_id`` at ``path``."""
        events = self.result.events
        return (events[i] for i in self.by_path.get(path, ()) if events[i].rule == rule_id)


_INDEX: list[_EventIndex] = []
"""The index of the result last checked; another result replaces it."""


def _index(result: BootResult) -> _EventIndex:
    if not _INDEX or _INDEX[0].result is not result:
        _INDEX[:] = [_EventIndex(result)]
    return _INDEX[0]


def overlapping_pairs(cs: list[Claim], anchor: Callable[[Claim], bool] | None = None,
                      ) -> Iterator[tuple[Claim, Claim]]:
    """Every (first, second) pair of claims that overlap, first recorded before second.

    A sweep over the claims sorted by start, the claims still open held in
    heaps by end: n log n in the claims plus the pairs found, so thousands
    of banks cost what a handful do. With ``anchor``, only pairs with at
    least one claim it accepts: a pile of claims that overlap each other
    but are never judged against each other costs nothing per pair.
    """
    order = sorted(range(len(cs)), key=lambda i: (cs[i].range.start, cs[i].range.end))
    anchors: list[tuple[int, int]] = []
    others: list[tuple[int, int]] = []
    pairs: list[tuple[int, int]] = []
    for i in order:
        r = cs[i].range
        for heap in (anchors, others):
            while heap and heap[0][0] <= r.start:
                heapq.heappop(heap)
        mine = anchor is None or anchor(cs[i])
        for heap in (anchors, others) if mine else (anchors,):
            for _end, j in heap:
                if r.size or cs[j].range.start < r.start:
                    pairs.append((min(i, j), max(i, j)))
        heapq.heappush(anchors if mine else others, (r.end, i))
    for a, b in sorted(pairs):
        yield cs[a], cs[b]


def ram_union(system: System) -> list[Range]:
    out: list[Range] = []
    for r in sorted(system.board.ram, key=lambda x: x.start):
        if out and r.start <= out[-1].end:
            last = out[-1]
            out[-1] = Range(start=last.start, size=max(last.end, r.end) - last.start)
        else:
            out.append(r)
    return out


@rule(id="RSV-001", slug="memreserve-entries", behaviour="INFO", since="4.16",
      xen_src="xen/common/device-tree/bootinfo-fdt.c: boot_fdt_info()")
def rsv_001() -> None:
    """What Xen does: entries of the DTB's reserve map (`/memreserve/`) are
    kept out of the heap.

    | release | how |
    |---|---|
    | 4.16–4.18 | cut out of the heap only, in no table and in no overlap check; with a static heap not even that (an entry inside the heap is handed to the heap) |
    | 4.19.0–4.19.1 | appended to `reserved_mem` unchecked; any later region touching one is refused |
    | 4.19.2+ | as 4.19.0, but a region lying entirely inside one entry is accepted (not a shared-memory region) |

    Why it matters: the same overlap boots on one release and stops the
    early scan on another; a /memreserve/ entry inside a 4.17/4.18 static
    heap is silently reused (reported as RSV-013).

    Example: `/memreserve/ 0x50000000 0x100000;` with a static heap
    `<0x0 0x50000000 0x0 0x4000000>` is lost to the heap on 4.17 and stops
    4.19+; a heap that starts at 0x50100000 is fine everywhere.

    Fix: keep /memreserve/ entries clear of the static heap and of static
    regions, or put static banks entirely inside an entry on purpose.
    """


@rule(id="RSV-002", slug="reserved-memory-children", behaviour="INFO", since="4.16",
      xen_src="xen/common/device-tree/bootinfo-fdt.c: process_reserved_memory_node()")
def rsv_002() -> None:
    """What Xen does: each available descendant of `/reserved-memory` with a
    `reg` becomes a reserved bank, whatever its `no-map`, `reusable` or
    `compatible`; nodes without `reg` (dynamic `size`/`alloc-ranges`
    reservations) are ignored. Reserved banks stay out of the heap; dom0
    gets them mapped 1:1.

    | release | overlap with other regions |
    |---|---|
    | 4.16–4.17 | never checked (a reserved range inside a static bank is the domain's RAM: RSV-013) |
    | 4.18 | refused, the scan stops there (TRUNC) |
    | 4.19+ | refused, "Early FDT parsing failed" |

    Why it matters: a dynamic reservation without `reg` reserves nothing for
    Xen; the heap may hand that memory out.

    Example: `linux,cma { compatible = "shared-dma-pool"; size = <0x0 0x4000000>; };`
    reserves nothing in Xen; `linux,cma@70000000 { reg = <0x0 0x70000000 0x0 0x4000000>; };`
    does.

    Fix: give every reservation Xen must honour a fixed `reg`.
    """


@rule(id="RSV-003", slug="too-many-reserved-regions", behaviour="PANIC", since="4.16",
      xen_src="xen/common/device-tree/bootinfo-fdt.c: device_tree_get_meminfo(), process_reserved_memory_node()",
      xen_message="Max number of supported reserved-memory regions reached")
def rsv_003() -> None:
    """What Xen does: `reserved_mem` holds NR_MEM_BANKS entries (128 in 4.16.0,
    256 from 4.16.1) shared by /memreserve/ (4.19+), `/reserved-memory`
    children, static heap banks and every domain's static banks. A
    `/reserved-memory` child that does not fit panics "Max number of
    supported reserved-memory regions reached" on every release; a static
    bank or heap bank that does not fit fails the early scan ("Max number of
    supported memory regions reached": TRUNC up to 4.18, PANIC from 4.19).

    Why it matters: Xen stops while parsing the DT; nothing boots.

    Example: one `xen,static-mem` with 257 banks fails; merging adjacent
    banks (fewer, larger ones) fixes it.

    Fix: keep the total number of reserved, heap and static banks within
    the limit.
    """


@rule(id="RSV-010", slug="host-region-overlap", behaviour="PANIC", since="4.18",
      xen_src="xen/common/device-tree/bootinfo.c: check_reserved_regions_overlap(), "
              "meminfo_overlap_check(), boot_modules_overlap_check()",
      xen_message="Early FDT parsing failed (-22)")
def rsv_010() -> None:
    """What Xen does: each reserved region, static heap bank, static bank,
    shared-memory host range (4.19+) and boot module is checked, as it is
    recorded, against everything recorded before it (reserved banks,
    shared memory, boot modules including Xen and the DTB); the half-open
    ranges must not intersect. The later item is blamed.

    | release | region recorded second | module recorded second |
    |---|---|---|
    | 4.16–4.17 | not checked (RSV-013) | not checked |
    | 4.18 | "Region ... overlapping ...", scan stops (TRUNC) | module dropped (MOD-004) |
    | 4.19.0–4.19.1 | PANIC "Early FDT parsing failed (-22)" | dropped |
    | 4.19.2+ | PANIC, except a region entirely inside one /memreserve/ entry | dropped |

    Why it matters: from 4.19 nothing boots; on 4.18 everything after the
    node is lost. Which item is refused depends on document order.

    Example: static banks `<0x0 0x60000000 0x0 0x10000000>` in domU1 and
    `<0x0 0x68000000 0x0 0x10000000>` in domU2 overlap; move domU2's to
    0x70000000.

    Fix: give every host region its own range.
    """


@rule(id="RSV-011", slug="static-region-outside-ram", behaviour="CRASH", since="4.16",
      xen_src="xen/include/xen/static-memory.h: init_staticmem_bank(); "
              "xen/common/page_alloc.c: mark_page_free(); xen/common/device-tree/bootinfo.c: "
              "populate_boot_allocator()",
      xen_message="CPU0: Unexpected Trap: Data Abort")
def rsv_011(system: System, result: BootResult) -> Iterator[Hit]:
    """What Xen does: nothing checks that static banks, the static heap or
    shared-memory host ranges lie in RAM. Static pages are initialised page
    by page before any domain exists; the first page with no frame-table
    entry (below RAM, or past the table's end) takes a data abort; a page
    in the table's padding past the last RAM page hits a BUG in
    `mark_page_free()` ("Xen BUG at common/page_alloc.c:N"; up to 4.21 the
    padding reaches up to the next 32 MiB of page structs, 4.22 pads at most
    a page). A range in a hole between RAM banks that the frame table still
    covers can be accepted and handed to a guest as RAM. A static heap
    outside RAM gives the allocator pages without page structs.

    Why it matters: a crash before any domain (outcome crash, stage other),
    or a guest whose RAM does not exist.

    Example: with RAM at `<0x0 0x40000000 0x1 0x0>`,
    `xen,static-mem = <0x0 0x30000000 0x0 0x10000000>;` is below RAM and
    crashes; `<0x0 0x60000000 0x0 0x10000000>` is inside RAM.

    Fix: place every static bank, heap bank and shared-memory host range
    inside a RAM bank.
    """
    ram = ram_union(system)
    if not ram:
        return
    first, last = ram[0].start, ram[-1].end
    for c in claims(system):
        if c.kind not in STATIC_LIKE or any(r.contains(c.range) for r in ram):
            continue
        if any(any(x.overlaps(c.range) for x in ev.ranges) for ev in _index(result).of_rule("RSV-011", c.path)):
            continue
        rng = ((c.range.start, c.range.size),)
        if c.range.start < first or c.range.end > last:
            yield Hit(message=f"{c.what()} is partly or wholly outside RAM [{first:#x}, {last:#x}): its pages have "
                      "no page structs, Xen faults when it initialises or uses them",
                      path=c.path, property=c.prop, ranges=rng)
        else:
            holes = [Range(start=a.end, size=b.start - a.end) for a, b in itertools.pairwise(ram)
                     if a.end < c.range.end and b.start > c.range.start]
            where = ", ".join(str(h) for h in holes)
            yield Hit(message=f"{c.what()} covers the hole {where} between RAM banks: the frame table may "
                      "cover it, so Xen can hand out memory that does not exist",
                      path=c.path, property=c.prop, ranges=rng, behaviour="UB")


@rule(id="RSV-012", slug="region-over-xen-or-dtb", behaviour="PANIC", since="4.16", isolation=True,
      xen_src="xen/arch/arm/setup.c: start_xen(); xen/common/device-tree/bootinfo-fdt.c: boot_fdt_info(); "
              "xen/common/device-tree/bootinfo.c: add_boot_module()",
      xen_message="Early FDT parsing failed (-22)")
def rsv_012(system: System, result: BootResult) -> Iterator[Hit]:
    """What Xen does: Xen's own image and the DTB are the first two boot
    modules, so from 4.18 every later region is checked against them and the
    DTB against Xen's image.

    | release | static region over Xen or the DTB | DTB over Xen |
    |---|---|---|
    | 4.16–4.17 | not checked: the bank becomes guest RAM (HAZARD) | not checked |
    | 4.18 | refused, scan stops (TRUNC) | refused |
    | 4.19+ | PANIC "Early FDT parsing failed (-22)" | PANIC |

    On 4.16/4.17 a static bank over Xen's image is initialised as free
    static pages and given to the guest, which then overwrites Xen's text
    and data while running. A bank over the DTB is harmless for Xen (it has
    copied the DTB by then) but is refused by 4.18+.

    Why it matters: run-time corruption of the hypervisor on old releases;
    a boot failure on new ones.

    Example: with Xen loaded at 0x40200000, `xen,static-mem = <0x0 0x40000000 0x0 0x1000000>;`
    covers Xen; `<0x0 0x60000000 0x0 0x1000000>` does not.

    Fix: keep static banks, the static heap and shared memory clear of the
    addresses the boot loader uses for Xen and the DTB.
    """
    cs = claims(system)
    fixed = [c for c in cs if c.kind in ("xen", "fdt")]
    for c in cs:
        if c.kind not in STATIC_LIKE or refused(result, c):
            continue
        for f in fixed:
            if not c.range.overlaps(f.range) or reported(result, c, f):
                continue
            xen = f.kind == "xen"
            effect = ("the pages become free static memory: the guest overwrites Xen while it runs" if xen
                      else "Xen has copied the DTB by then, but newer releases refuse it")
            yield Hit(message=f"{c.what()} overlaps {f.what()}: Xen {system.target.version} does not check this; "
                      f"{effect}", path=c.path, property=c.prop, ranges=((c.range.start, c.range.size),),
                      related=((f.path, ((f.range.start, f.range.size),)),), behaviour="HAZARD", isolation=xen)


#: Every pair RSV-013 judges has one of these: the others (static-like) are judged only against them.
JUDGED_WITH_ANY = ("memreserve", "reserved", "module")


def _silent_pair(a: Claim, b: Claim) -> bool:
    """Pairs RSV-013 judges; the stages own the rest (static vs static, Xen and DTB, reservations alone)."""
    kinds = {a.kind, b.kind}
    if kinds & {"xen", "fdt"}:
        return False
    if a.kind in STATIC_LIKE and b.kind in STATIC_LIKE:
        return False
    if kinds <= {"memreserve", "reserved"}:
        return False
    return all(not (m.kind == "memreserve" and m.range.contains(other.range)) for m, other in ((a, b), (b, a)))


@rule(id="RSV-013", slug="unchecked-host-overlap", behaviour="PANIC", since="4.16",
      xen_src="xen/common/device-tree/bootinfo.c: check_reserved_regions_overlap(); "
              "xen/common/device-tree/bootinfo-fdt.c: device_tree_get_meminfo(); xen/common/page_alloc.c: "
              "mark_page_free()",
      xen_message="Early FDT parsing failed (-22)")
def rsv_013(system: System, result: BootResult) -> Iterator[Hit]:
    """What Xen does: how a host-memory overlap ends depends on the release.
    Up to 4.17 Xen checks almost nothing: static/static and static/heap
    overlaps crash when the pages are initialised (PAGE-005), and the rest
    boots. 4.18 refuses the second item and stops the scan (TRUNC), or drops
    a module; 4.19+ panics (modules: dropped). /memreserve/ takes part only
    from 4.19.

    | conflict | 4.16–4.17 | 4.18 | 4.19+ |
    |---|---|---|---|
    | static bank vs `/reserved-memory` | boots, guest gets the reserved range | TRUNC | PANIC |
    | static bank vs /memreserve/ (not inside it) | boots | boots | PANIC |
    | module vs static bank / heap / reserved / module | module kept | module dropped (or TRUNC at the region) | DROP / PANIC |
    | /memreserve/ inside the static heap | heap takes it (4.17) | heap takes it | PANIC |
    | `/reserved-memory` inside the static heap | heap takes it (4.17) | TRUNC | PANIC |

    This rule reports the overlaps the simulated release lets through.

    Why it matters: reserved memory (firmware, devices) handed to a guest or
    to Xen's heap, and boot modules whose pages are reused before their
    domain is built: silent corruption; the same board stops booting on a
    newer release.

    Example: a domU with `xen,static-mem = <0x0 0x60000000 0x0 0x10000000>;`
    and `/reserved-memory/fw@68000000 { reg = <0x0 0x68000000 0x0 0x100000>; };`
    boots on 4.17 with the firmware range in the guest; moving the bank to
    0x70000000 fixes it.

    Fix: give every host region its own range.
    """
    cs = [c for c in claims(system) if c.kind not in ("xen", "fdt") and not refused(result, c)]
    v = system.target.version
    for first, second in overlapping_pairs(cs, anchor=lambda c: c.kind in JUDGED_WITH_ANY):
        if (first.path == second.path or not second.range.overlaps(first.range)
                or not _silent_pair(first, second) or reported(result, first, second)):
            continue
        same_dom = first.domain is not None and first.domain == second.domain
        yield Hit(message=f"{second.what()} overlaps {first.what()}: Xen {v} lets this through; newer "
                  "releases refuse it", path=second.path, property=second.prop,
                  ranges=((second.range.start, second.range.size),),
                  related=((first.path, ((first.range.start, first.range.size),)),),
                  behaviour="HAZARD", isolation=not same_dom)
