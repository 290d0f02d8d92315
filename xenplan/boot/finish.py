"""S12 and the final picture: modules discarded, host map and guest maps.

Mirrors ``discard_initial_modules()`` (``xen/arch/arm/setup.c``): every
boot module but Xen goes back to the heap, except with a static heap and
except ranges inside a ``reserved_mem`` bank. Then the result: each domain's
RAM as the guest can use it (whole pages, static shared-memory windows cut
out, runs merged where guest and host are both contiguous) and its guest
physical map (GMAP-001, GMAP-004).
"""

from __future__ import annotations

from typing import Any

from xenplan.boot.construction import Construction
from xenplan.boot.replay_bridge import hardware_11, hypervisor_node
from xenplan.boot.result import Bank, BootResult, DomainResult, HostRegion, P2MRegion
from xenplan.boot.state import BootState
from xenplan.model.base import PAGE_SHIFT, PAGE_SIZE, Range, pfn_down, pfn_up
from xenplan.model.layout import (
    GUEST_GICC,
    GUEST_GICD,
    GUEST_GICR0,
    GUEST_GICV2_GICD_SIZE,
    GUEST_GICV3_GICD_SIZE,
    GUEST_GNTTAB,
    GUEST_MAGIC,
    GUEST_PL011,
    GUEST_RAM_BANKS,
)


def run(state: BootState) -> BootState:
    for what, start, size in state.placement.boot_pages if state.placement is not None else ():
        if start is not None and size:
            state.ft.set(pfn_down(start), pfn_up(start + size), "xen", owner=f"Xen: {what}")
    if state.stopped:
        return state
    for start, size in state.dom0_banks:
        state.ft.set(pfn_down(start), pfn_up(start + size), "inuse", owner="/chosen")
    for construction in state.constructions.values():
        dom = construction.dom
        if state.statuses.get(dom.path) != "constructed" or (dom.static_mem_present
                                                             and not hardware_11(state, dom)):
            continue
        for _g, h, size in construction.guest_banks:
            if h is not None:
                state.ft.set(pfn_down(h), pfn_up(h + size), "inuse", owner=construction.dom.path)
    static_heap = state.system.xen.static_heap_present and state.rel.static_heap
    if not static_heap:
        reserved = [b.range for b in state.live_reserved()]
        for m in state.live_modules():
            if m.kind == "xen" or any(r.contains(m.range) for r in reserved):
                continue
            s, e = pfn_up(m.range.start), pfn_down(m.range.end)
            if any(x.state == "module" for x in state.ft.extents(s, e)):
                state.ft.set(s, e, "heap")
    return state


def usable_banks(entries: list[tuple[int, int | None, int]], windows: list[Range]) -> list[Bank]:
    """Whole pages only, shm windows cut out, merged where guest and host are both contiguous."""
    pieces: list[tuple[int, int | None, int]] = []
    for g, h, raw in entries:
        size = raw // PAGE_SIZE * PAGE_SIZE
        parts = [(g, h, size)]
        for w in windows:
            nxt = []
            for pg, ph, ps in parts:
                if w.end <= pg or w.start >= pg + ps:
                    nxt.append((pg, ph, ps))
                    continue
                if w.start > pg:
                    nxt.append((pg, ph, w.start - pg))
                if w.end < pg + ps:
                    off = w.end - pg
                    nxt.append((w.end, None if ph is None else ph + off, ps - off))
            parts = nxt
        pieces.extend(p for p in parts if p[2] > 0)
    pieces.sort(key=lambda p: p[0])
    out: list[list[Any]] = []
    for g, h, s in pieces:
        if out:
            pg, ph, ps = out[-1]
            if pg + ps == g and ((ph is None and h is None) or (ph is not None and h is not None and ph + ps == h)):
                out[-1][2] += s
                continue
        out.append([g, h, s])
    return [Bank(guest=g, host=h, size=s) for g, h, s in out]


def _p2m(state: BootState, construction: Construction, banks: list[Bank]) -> list[P2MRegion]:
    dom = construction.dom
    board = state.system.board
    regions = [P2MRegion(kind="ram", guest=b.guest, host=b.host, size=b.size) for b in banks]
    direct = dom.direct_map and state.rel.direct_map
    gic = board.gic
    if direct and gic is not None:
        if gic.dist is not None:
            regions.append(P2MRegion(kind="gicd", guest=gic.dist.start, size=gic.dist.size, note="emulated"))
        for r in gic.redist:
            regions.append(P2MRegion(kind="gicr", guest=r.start, size=r.size, note="emulated"))
        if gic.cpu is not None:
            regions.append(P2MRegion(kind="gicc", guest=gic.cpu.start, size=gic.cpu.size))
    elif gic is None or gic.version == 3:
        regions.append(P2MRegion(kind="gicd", guest=GUEST_GICD, size=GUEST_GICV3_GICD_SIZE, note="emulated"))
        regions.append(P2MRegion(kind="gicr", guest=GUEST_GICR0.start, size=GUEST_GICR0.size, note="emulated"))
    else:
        regions.append(P2MRegion(kind="gicd", guest=GUEST_GICD, size=GUEST_GICV2_GICD_SIZE, note="emulated"))
        regions.append(P2MRegion(kind="gicc", guest=GUEST_GICC.start, size=GUEST_GICC.size))
    if dom.vpl011:
        uart = board.uart
        base = uart.base if direct and uart is not None and uart.base is not None else GUEST_PL011.start
        regions.append(P2MRegion(kind="vpl011", guest=base, size=PAGE_SIZE, note="emulated"))
    if hardware_11(state, dom):
        regions += _hwdom_regions(state, [Range(start=b.guest, size=b.size) for b in banks], dom.name)
        hypervisor = False
    else:
        hypervisor = hypervisor_node(state, dom.enhanced)
    if hypervisor:
        regions.append(P2MRegion(kind="gnttab", guest=GUEST_GNTTAB.start, size=GUEST_GNTTAB.size,
                                 note="advertised; mapped by the guest"))
    if hypervisor and dom.enhanced != "no-xenstore":
        regions.append(P2MRegion(kind="magic", guest=GUEST_MAGIC.start, size=GUEST_MAGIC.size,
                                 note="xenstore page at +0x1000"))
    for w, host, path in construction.shm_windows:
        regions.append(P2MRegion(kind="shm", guest=w.start, host=host, size=w.size, note=path))
    for w, host, path in construction.mmio:
        regions.append(P2MRegion(kind="mmio", guest=w.start, host=host, size=w.size, note=path))
    if hypervisor and state.rel.extended_regions:
        if direct and dom.child_module("multiboot,device-tree") is not None:
            _iommu_holes_note(state, dom.name)
        cut = [w for w, _h, _p in construction.shm_windows]
        if state.rel.xen_reg_assigned_set:
            cut += [w for w, _h, _p in construction.mmio]
        ext = (_host_ext_regions(state, construction, banks) if direct
               else _domu_ext_regions(state, banks, cut))
        regions.extend(P2MRegion(kind="ext", guest=r.start, size=r.size, note="extended region") for r in ext)
    regions.sort(key=lambda r: (r.guest, r.kind))
    return regions


def _kind(state: str, static: bool, owner: str | None) -> str:
    """The host map's words for a frame-table state."""
    if state == "inuse":
        if owner == "DOMID_IO":
            return "shm"
        return "static-domain" if static else "domain"
    return {"boot": "ram", "static-free": "static-free"}.get(state, state)


MB2, MB64 = 2 << 20, 64 << 20


def _subtract(ranges: list[Range], cut: list[Range]) -> list[Range]:
    out = ranges
    for c in cut:
        nxt: list[Range] = []
        for r in out:
            if not r.overlaps(c):
                nxt.append(r)
                continue
            if c.start > r.start:
                nxt.append(Range(start=r.start, size=c.start - r.start))
            if c.end < r.end:
                nxt.append(Range(start=c.end, size=r.end - c.end))
        out = nxt
    return out


def _trim(ranges: list[Range], last_page_lost: bool = False) -> list[Range]:
    """Both ends to 2 MiB (start up, end down), kept only from 64 MiB on (``add_ext_regions()``).

    ``last_page_lost``: 4.18 to 4.20 turn the last frame number of a range into
    the address of that page's first byte, so a range ending on a 2 MiB
    boundary loses its last 2 MiB (fixed in 4.21, "fix math in add_ext_regions").
    """
    out = []
    for r in sorted(ranges, key=lambda x: x.start):
        s = (r.start + MB2 - 1) // MB2 * MB2
        end = r.end - PAGE_SIZE + 1 if last_page_lost else r.end
        e = s + max(0, end - s) // MB2 * MB2
        if e - s >= MB64:
            out.append(Range(start=s, size=e - s))
    return out


def _ext_math_bug(state: BootState) -> bool:
    return state.rel.ext_region_rounding_bug


def _domu_ext_regions(state: BootState, banks: list[Bank], shm: list[Range]) -> list[Range]:
    """GMAP-008, ``find_domU_holes()``: the unused tail of each guest RAM window, up to the IPA ceiling.
    From 4.19 the shared-memory windows are taken out (``remove_shm_holes_for_domU()``), from 4.21
    the passthrough ``xen,reg`` windows too (``shm``: both); 4.17 and 4.18 advertise the whole tail,
    over any shared window in it (measured on 4.17.7)."""
    if not state.rel.shm_banks_tracked:
        shm = []
    top = 1 << state.system.ipa_bits
    cands = []
    for window in GUEST_RAM_BANKS:
        used = sum(b.size for b in banks if window.start <= b.guest < window.end)
        start = (window.start + used + MB2 - 1) // MB2 * MB2
        end = min(window.end, top)
        if end - start >= MB64:
            cands.append(Range(start=start, size=end - start))
    return _trim(_subtract(cands, shm), last_page_lost=bool(shm) and _ext_math_bug(state))


def _host_ext_regions(state: BootState, construction: Construction, banks: list[Bank]) -> list[Range]:
    """GMAP-009 without an IOMMU: host RAM the domain does not own, minus every reservation."""
    cut = [Range(start=b.guest, size=b.size) for b in banks]
    cut += [b.range for b in state.live_reserved()]
    cut += [s.range for s in state.shmem if s.range is not None]
    cut += [w for w, _h, _p in construction.shm_windows]
    cut.append(GUEST_GNTTAB)
    return _trim(_subtract(list(state.ram), cut), last_page_lost=_ext_math_bug(state))


DOM0_GNTTAB_FRAMES = 64
"""``gnttab_dom0_frames()``: the grant-table frames, capped by the pages of Xen's text."""


def _dom0_p2m(state: BootState) -> list[P2MRegion]:
    """dom0's guest map as Xen builds it: RAM 1:1 and the hardware domain's /hypervisor
    regions (``_hwdom_regions``)."""
    banks = [Range(start=s, size=n) for s, n in state.dom0_banks]
    regions = [P2MRegion(kind="ram", guest=b.start, host=b.start, size=b.size) for b in banks]
    regions += _hwdom_regions(state, banks)
    regions.sort(key=lambda r: (r.guest, r.kind))
    return regions


def _iommu_holes_note(state: BootState, name: str) -> None:
    """GMAP-009 with an IOMMU: a 1:1 domain Xen gives the IOMMU (dom0, a hardware domain,
    a domU with a partial device tree) gets the holes of the host device tree as extended
    regions (``find_memory_holes()``: the IPA space less every ``reg`` and PCI aperture),
    not the unused host RAM. xenplan does not compute those; the note says so."""
    iommus = state.system.board.iommus
    if iommus:
        state.notes.append(f"{name}: the board has an IOMMU ({iommus[0]}); where Xen drives it, {name}'s extended "
                           "regions are the holes of the host device tree (find_memory_holes()), which xenplan "
                           "does not compute: the extended regions listed are those without an IOMMU")


def _hwdom_regions(state: BootState, banks: list[Range], name: str = "dom0") -> list[P2MRegion]:
    """A hardware domain's grant window over Xen's own text (HWD-003) and the
    extended regions of ``find_unallocated_memory()`` (``hwdom_extended_regions``):
    host RAM less its RAM, every reserved bank and the grant window (GMAP-009)."""
    regions: list[P2MRegion] = []
    xen = state.system.target.xen_image
    if xen is None:
        return regions
    gnttab = Range(start=xen.start, size=DOM0_GNTTAB_FRAMES * PAGE_SIZE)
    regions.append(P2MRegion(kind="gnttab", guest=gnttab.start, size=gnttab.size,
                             note="advertised; over Xen's own text"))
    if state.rel.hwdom_extended_regions:
        _iommu_holes_note(state, name)
        cut = banks + [b.range for b in state.live_reserved()] + [gnttab]
        if state.rel.shm_banks_tracked:
            cut += [s.range for s in state.shmem if s.range is not None]
        regions.extend(P2MRegion(kind="ext", guest=r.start, size=r.size, note="extended region")
                       for r in _trim(_subtract(list(state.ram), cut), last_page_lost=_ext_math_bug(state)))
    return regions


def result(state: BootState) -> BootResult:
    constructions = state.constructions
    domains = []
    if state.dom0_status is not None:
        domains.append(DomainResult(
            name="dom0", path="/chosen", status="constructed" if state.dom0_status == "constructed" else "failed",
            static=False, direct_map=True, domid=0,
            banks=tuple(Bank(guest=s, host=s, size=n) for s, n in state.dom0_banks)
            if state.dom0_status == "constructed" else None,
            p2m=tuple(_dom0_p2m(state)) if state.dom0_status == "constructed" else ()))
    for dom in state.system.domains:
        status = state.statuses.get(dom.path, "not-reached")
        c = constructions.get(dom.path)
        banks: list[Bank] | None = None
        p2m: list[P2MRegion] = []
        xen_banks = None
        if c is not None and status == "constructed":
            windows = [w for w, _h, _p in c.shm_windows]
            banks = usable_banks(list(c.guest_banks), windows)
            xen_banks = tuple(Bank(guest=g, host=h, size=s) for g, h, s in c.xen_banks)
            p2m = _p2m(state, c, banks)
        domains.append(DomainResult(
            name=dom.name, path=dom.path, status=status, static=dom.static_mem_present,
            direct_map=dom.direct_map and state.rel.direct_map, domid=state.domids.get(dom.path),
            banks=tuple(banks) if banks is not None else None, xen_banks=xen_banks, p2m=tuple(p2m),
            kernel=c.kernel if c is not None and status == "constructed" else None,
            dtb=c.dtb if c is not None and status == "constructed" else None,
            initrd=c.initrd if c is not None and status == "constructed" else None))
    host_map = [HostRegion(kind=_kind(e.state, e.static, e.owner), start=e.start << PAGE_SHIFT,
                           size=e.pages << PAGE_SHIFT, owner=e.owner)
                for e in state.ft.all() if e.state != "none"]
    return BootResult(outcome=state.outcome, failed_at=state.failed_at, dropped_modules=tuple(state.dropped),
                      domains=tuple(domains), host_map=tuple(host_map), events=tuple(state.events),
                      notes=tuple(state.notes), heap_free=state.heap_free, placement=state.placement)
