"""One ``xen,domain`` node's build: ``create_domUs()``, ``domain_create()``
(``create``), then ``construct_domU()``'s heap requests.

RAM by ``allocate_memory()`` / ``allocate_bank_memory()`` (ALLOC-001/002/
004/007) or 1:1 for a hardware domain (``direct``); heap-backed static shared
memory; ``domain_vpl011_init()``; ``prepare_dtb_domU()``'s buffer with
``domain_handle_dtb_boot_module()``'s passthrough range sets and
``make_hypervisor_node()``; the secondary vCPUs and the xenstore page
(``alloc_xenstore_page()``, 4.21+).
"""

from __future__ import annotations

from collections.abc import Sequence

from xenplan.boot.replay.buddy import PAGE_SHIFT, PAGE_SIZE
from xenplan.boot.replay.create import domain_create, vcpu_create
from xenplan.boot.replay.direct import allocate_11, root_tables
from xenplan.boot.replay.inputs import HeapBoard, HeapDomain, p2m_pool_pages
from xenplan.boot.replay.rangeset import RangeSet
from xenplan.boot.replay.requests import Exhausted, Replay, XBlock, pool_alloc
from xenplan.boot.replay.results import DomainPlacement, failed, pool_extents
from xenplan.model.layout import GUEST_GNTTAB, GUEST_RAM_BANKS

VPL011_BACKEND = 172
"""``sizeof(struct vpl011_xen_backend)``: the vUART's buffers when Xen is its backend."""


XENSTORE_ZONE = 32 - PAGE_SHIFT
"""The xenstore page prefers memory below 4 GiB (XS-003): zones up to 20."""


def _cut(banks: list[tuple[int, int, int]], windows: Sequence[tuple[int, int]]) -> list[tuple[int, int, int]]:
    """(guest, host, size) banks less the guest windows a shm mapping replaces."""
    for ws, wn in windows:
        we = ws + wn
        out: list[tuple[int, int, int]] = []
        for g, h, n in banks:
            if we <= g or ws >= g + n:
                out.append((g, h, n))
                continue
            if g < ws:
                out.append((g, h, ws - g))
            if we < g + n:
                out.append((we, h + (we - g), g + n - we))
        banks = out
    return banks


def merge_banks(
    chunks: list[tuple[int, int, int]], windows: Sequence[tuple[int, int]]
) -> tuple[tuple[int, int, int], ...]:
    """RAM chunks as ``allocate_bank_memory()`` mapped them, merged where guest and host are
    both contiguous, shm windows cut out, sorted by guest address."""
    merged: list[tuple[int, int, int]] = []
    for g, h, n in chunks:
        if merged and merged[-1][0] + merged[-1][2] == g and merged[-1][1] + merged[-1][2] == h:
            merged[-1] = (merged[-1][0], merged[-1][1], merged[-1][2] + n)
        else:
            merged.append((g, h, n))
    return tuple(sorted(_cut(merged, windows)))


def _passthrough(replay: Replay, board: HeapBoard, dom: HeapDomain) -> RangeSet[XBlock] | None:
    """``domain_handle_dtb_bootmodule()``: per device, each ``xen,reg`` range joins the
    domain's ``iomem_caps`` (and, 4.21+, its guest range the ``xen_reg_assigned`` set it builds),
    then each interrupt of the host node joins ``irq_caps`` and is routed
    (``route_irq_to_guest()``: an action and a guest descriptor). Returns the
    ``xen_reg_assigned`` set, destroyed at the end of the build."""
    if not dom.passthrough:
        return None
    step = "construct"
    iomem = RangeSet(pool_alloc(replay, step), replay.xfree, new=False)
    irqs = RangeSet(pool_alloc(replay, step), replay.xfree, new=False)
    assigned = RangeSet(pool_alloc(replay, step), replay.xfree) if board.release.xen_reg_assigned_set else None
    guests = iter(dom.passthrough_guest)
    for regs, lines in dom.passthrough:
        for start, size in regs:
            iomem.add(start >> PAGE_SHIFT, (start + size - 1) >> PAGE_SHIFT)
            gstart, gsize = next(guests, (start, size))
            if assigned is not None:
                assigned.add(gstart >> PAGE_SHIFT, (gstart + gsize - 1) >> PAGE_SHIFT)
        for irq in lines:
            irqs.add(irq, irq)
            replay.xmalloc(40, step)
            replay.xmalloc(16, step)
    return assigned


def _ext_count(ranges: Sequence[Sequence[int]], last_page_lost: bool = False) -> int:
    """``add_ext_regions()``: frame ranges that keep 64 MiB once 2 MiB aligned.
    ``last_page_lost``: 4.18-4.20 end a range at its last frame's first byte
    (GMAP-008), so a range ending on a 2 MiB boundary loses its last 2 MiB."""
    mb2 = 2 << 20
    count = 0
    for s, e in ranges:
        start = -(-(s << PAGE_SHIFT) // mb2) * mb2
        end = (e << PAGE_SHIFT) + 1 if last_page_lost else (e + 1) << PAGE_SHIFT
        if end > start and (end - start) // mb2 * mb2 >= 64 << 20:
            count += 1
    return count


def hypervisor_node(replay: Replay, board: HeapBoard, dom: HeapDomain,
                     banks: Sequence[tuple[int, int, int]],
                     gnttab_window: tuple[int, int] = (GUEST_GNTTAB.start, GUEST_GNTTAB.size),
                     dom0: bool = False, bank_size: int = 24,
                     assigned: Sequence[Sequence[int]] = ()) -> None:
    """``make_hypervisor_node()``: a bank array for the extended regions, the range
    sets Xen builds to find them and destroys, then the ``reg`` cells (grant window
    plus one entry per region).

    A 1:1 domain (and a classic ``dom0``) takes host RAM less its own banks, the
    reservations and the grant window ``gnttab_window`` (``find_unallocated_memory()``
    on every release; from 4.20 ``find_host_extended_regions()`` first puts the window
    in a one-bank ``membanks`` of its own). A guest-layout domain takes the free tail
    of each guest RAM window (``find_domU_holes()``): 4.17 and 4.18 count them; 4.19
    and 4.20 build a range set only when the domain maps shared memory, to take the
    shared windows out (``remove_shm_holes_for_domU()``); from 4.21 the range set is
    always built, and takes out the passthrough ranges' guest frames too (``assigned``:
    ``xen_reg_assigned``'s ranges). ``bank_size`` is ``sizeof(struct membank)``."""
    step = "construct"
    rel = board.release
    lost = rel.ext_region_rounding_bug
    ext = replay.xmalloc(rel.ext_bank_header + 256 * bank_size, step)
    if dom.direct_map:
        gnttab = replay.xmalloc(16 + 24, step) if rel.dom0_gnttab_bank else None
        rs = RangeSet(pool_alloc(replay, step), replay.xfree)
        for start, size in board.ram:
            rs.add(start >> PAGE_SHIFT, (start + size - 1) >> PAGE_SHIFT)
        for start, size in list(dom.host_ram) + list(board.reserved) + [gnttab_window]:
            rs.remove(start >> PAGE_SHIFT, (start + size - 1) >> PAGE_SHIFT)
        regions = _ext_count(rs.ranges, lost)
        rs.destroy()
        replay.xfree(gnttab)
    else:
        top = (1 << board.ipa_bits) - 1
        holes: list[tuple[int, int]] = []
        for window in GUEST_RAM_BANKS:
            used = sum(n for g, _h, n in banks if window.start <= g < window.end)
            start = -(-(window.start + used) // (2 << 20)) * (2 << 20)
            end = min(top, window.end - 1)
            if end > start and end - start + 1 >= 64 << 20:
                holes.append((start >> PAGE_SHIFT, end >> PAGE_SHIFT))
        regions = len(holes)
        shm = dom.shm_windows if rel.shm_banks_tracked else ()
        if rel.ext_region_rangesets or (shm and holes):
            rs = RangeSet(pool_alloc(replay, step), replay.xfree)
            for first, last in holes:
                rs.add(first, last)
            for start, size in shm:
                rs.remove(start >> PAGE_SHIFT, (start + size - 1) >> PAGE_SHIFT)
            for first, last in assigned:
                rs.remove(first, last)
            regions = _ext_count(rs.ranges, lost)
            rs.destroy()
    reg = replay.xmalloc(4 * (regions + 1) * 4, step, align=4)
    replay.xfree(ext)
    replay.xfree(reg)


def build_domain(replay: Replay, board: HeapBoard, dom: HeapDomain) -> DomainPlacement:
    """One domU: ``domain_create()``, vCPU0, its RAM (``allocate_memory()``), then the rest of ``construct_domU()``."""
    rel = board.release
    pool = p2m_pool_pages(dom) if rel.p2m_pool else 0
    pool_got = domain_create(replay, board, dom, pool, hwdom=dom.hardware_11)
    vcpu_create(replay, board, "construct", dom.scheduler)
    if dom.hardware_11:
        ram11, left = allocate_11(replay, dom.memory_kib << 10, board.dom0_mem, rel.nr_mem_banks,
                                   root_tables(board.p2m_root_order))
        if left:
            return DomainPlacement(dom.name, "out-of-memory", None, left >> 10,
                                   f"Failed to allocate requested dom0 memory. {left >> 20}MB unallocated",
                                   pool_extents(pool_got))
        return DomainPlacement(dom.name, "ok", tuple((s, s, n) for s, n in ram11), p2m_pool=pool_extents(pool_got),
                               unreplayed_after=True)

    banks: tuple[tuple[int, int, int], ...] | None = None
    if not dom.static:
        total = dom.memory_kib << 10
        chunks: list[tuple[int, int, int]] = []
        left = total
        for guest, room in ((w.start, w.size) for w in GUEST_RAM_BANKS):
            size = min(left, room)
            if not size:
                continue
            got, short = replay.bank(size >> PAGE_SHIFT)
            at = guest
            for pfn, pages in got:
                chunks.append((at, pfn << PAGE_SHIFT, pages << PAGE_SHIFT))
                at += pages << PAGE_SHIFT
            if short:
                return failed(dom, "out-of-memory", rel, left >> 10, pool_got)
            if size % PAGE_SIZE:
                return DomainPlacement(dom.name, "hang", None, p2m_pool=pool_extents(pool_got))
            left -= size
        if left:
            return failed(dom, "out-of-memory", rel, left >> 10, pool_got)
        banks = merge_banks(chunks, dom.shm_windows)

    for size in dom.heap_shm_sizes:
        _, short = replay.bank(size >> PAGE_SHIFT)
        if short:
            raise Exhausted("shm")
    if dom.vpl011 and not rel.vpl011_backend_late:
        backend = replay.xmalloc(VPL011_BACKEND, "construct", align=4)
        if dom.vpl011_refused:
            replay.xfree(backend)
    pdt = dom.dtb_module if rel.guest_dtb_includes_pdt else 0
    dtb = replay.xmalloc(rel.guest_dtb_buffer + pdt, "construct", align=128)
    assigned = _passthrough(replay, board, dom)
    if rel.sizes.intc_node and board.gic_version != 2:
        replay.xfree(replay.xmalloc(32, "construct", align=128))
    if dom.hypervisor_node and rel.extended_regions:
        hypervisor_node(replay, board, dom, banks or (), bank_size=board.membank_size,
                        assigned=[tuple(r) for r in assigned.ranges] if assigned is not None else ())
    replay.xfree(dtb)
    if assigned is not None:
        assigned.destroy()
    for _ in range(1, dom.cpus):
        vcpu_create(replay, board, "construct", dom.scheduler)
    if dom.vpl011 and rel.vpl011_backend_late:
        replay.xmalloc(VPL011_BACKEND, "construct", align=4)
    if rel.xenstore_page_by_xen and dom.enhanced and replay.heap.alloc(0, zone_hi=XENSTORE_ZONE) is None:
        replay.alloc(0, "construct", xen=False)
    return DomainPlacement(dom.name, "ok", banks, p2m_pool=pool_extents(pool_got),
                           unreplayed_after=dom.passthrough_unknown)
