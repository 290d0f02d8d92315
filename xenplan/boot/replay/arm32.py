"""arm32's domain heap, replayed page by page (``CONFIG_SEPARATE_XENHEAP``).

On arm32 ``setup_mm()`` (``xen/arch/arm/setup.c`` 4.16-4.18,
``xen/arch/arm/arm32/mmu/mm.c`` later) carves a contiguous xenheap out of
RAM (HEAP-006) and keeps it out of the boot allocator
(``populate_boot_allocator()``'s ``CONFIG_SEPARATE_XENHEAP`` branch).
``init_xenheap_pages()`` gives it to the buddy allocator as zone
``MEMZONE_XEN``, less one guard page at each end so that no chunk merges
across; ``alloc_xenheap_pages()`` searches only that zone and
``alloc_domheap_pages()`` only the zones above it. The two heaps therefore
never trade pages: a domain's RAM, its P2M root and pool, and the page
tables Xen maps at run time come from the domain heap, which is all this
module replays. Domain structures, vCPUs and their stacks, the ``xmalloc``
pool, grant tables and guest DTBs come from the xenheap, whose requests
cannot move a domain-heap page and are not replayed.

The domain heap is what ``end_boot_allocator()`` hands over once the boot
allocator gave the frame table (``setup_frametable_mappings()`` up to 4.21,
``init_frametable()`` from 4.22, 32-byte ``struct page_info``) and the
page-table pages of the boot mappings (``Arm32Memory``). Then, in order:
the boot's page tables, and per domain ``p2m_alloc_table()``'s order-1 root
(a 40-bit IPA with 3 levels concatenates two pages), the P2M pool
(``p2m_set_allocation()``), a vmalloc'd maptrack, the RAM
(``allocate_memory()``), heap-backed shared memory (4.19+) and the
xenstore page (4.21+). A classic dom0 comes first (``build_dom0``): the same
root and pool pages, its RAM 1:1 and the P2M tables of every mapping
``construct_dom0()`` makes, which on arm32 come from the domain heap.
"""

from __future__ import annotations

from collections.abc import Sequence

from xenplan.boot.replay.boot_alloc import BootAllocation, BootAllocator, populate_boot_allocator, take_in_order
from xenplan.boot.replay.buddy import PAGE_SHIFT, PAGE_SIZE
from xenplan.boot.replay.create import shrink_pool
from xenplan.boot.replay.direct import allocate_11, p2m_tables
from xenplan.boot.replay.domain import XENSTORE_ZONE, merge_banks
from xenplan.boot.replay.drive import drive
from xenplan.boot.replay.inputs import Dom0Request, HeapBoard, HeapDomain, p2m_pool_pages
from xenplan.boot.replay.requests import Exhausted, Replay
from xenplan.boot.replay.results import (
    Dom0Placement,
    DomainPlacement,
    PlacementResult,
    failed,
    pool_extents,
)
from xenplan.model.layout import GUEST_RAM_BANKS
from xenplan.model.release import Arm32Memory, XenRelease, arm32_memory

P2M_ROOT_ORDER = 1
"""``P2M_ROOT_ORDER`` on arm32: two concatenated first-level tables (40-bit IPA)."""
MB32 = (32 << 20) >> PAGE_SHIFT
MB2 = (2 << 20) >> PAGE_SHIFT


def _round_up(value: int, unit: int) -> int:
    return -(-value // unit) * unit


def boot_allocator(board: HeapBoard, xenheap: tuple[int, int]) -> BootAllocator:
    """``populate_boot_allocator()`` with the xenheap kept out.

    Without a static heap Xen ends each RAM piece at the xenheap and goes on
    from its end, which is the boot-module scan with the xenheap as one more
    module (``consider_modules()`` placed it clear of the others). With a
    static heap, a bank holding the whole xenheap is given in two parts.
    """
    start, size = xenheap
    if board.static_heap is None:
        return populate_boot_allocator(board.ram, (*board.modules, xenheap), board.reserved, None)
    boot = BootAllocator()
    for s, n in board.static_heap:
        if not n:
            continue
        if s <= start and start + size <= s + n:
            boot.init_pages(s, start)
            boot.init_pages(start + size, s + n)
        else:
            boot.init_pages(s, s + n)
    return boot


def _frametable(ram: Sequence[tuple[int, int]], rel: XenRelease, mem: Arm32Memory) -> list[tuple[int, int]]:
    """(pages, alignment) of each frame-table block: one from the first to the last RAM
    page, padded to 2 MiB (32 MiB from 32 MiB up) and 32 MiB aligned, up to 4.21; from
    4.22 one per run of populated PDX groups, counted from the group start, padded to a
    page, 32 MiB aligned from 32 MiB up and 2 MiB aligned below."""
    banks = sorted((s >> PAGE_SHIFT, (s + n) >> PAGE_SHIFT) for s, n in ram if n)
    if not banks:
        return []
    size = mem.page_info_size
    if not rel.frametable_per_pdx_group:
        nbytes = (banks[-1][1] - banks[0][0]) * size
        return [(_round_up(nbytes, 32 << 20 if nbytes >= 32 << 20 else 2 << 20) >> PAGE_SHIFT, MB32)]
    group = mem.pdx_group_pages
    runs: list[list[int]] = []
    for first, last in banks:
        if runs and first // group <= (runs[-1][1] - 1) // group + 1:
            runs[-1][1] = max(runs[-1][1], last)
        else:
            runs.append([first // group * group, last])
    out = []
    for lo, hi in runs:
        nbytes = _round_up((hi - lo) * size, PAGE_SIZE)
        out.append((nbytes >> PAGE_SHIFT, MB32 if nbytes >= 32 << 20 else MB2))
    return out


def pre_heap_allocations(boot: BootAllocator, ram: Sequence[tuple[int, int]], rel: XenRelease,
                         mem: Arm32Memory) -> list[BootAllocation]:
    """The boot mappings' page-table pages and the frame table, from the boot allocator;
    stops at the first that fails (HEAP-008), whose ``pfn`` is then None."""
    plan = [("page table", 1, 1)] * mem.boot_tables_before
    plan += [("frame table", pages, align) for pages, align in _frametable(ram, rel, mem)]
    plan += [("page table", 1, 1)] * mem.boot_tables
    return take_in_order(boot, plan)


def _maptrack_pages(dom: HeapDomain, rel: XenRelease) -> int:
    """Domain-heap pages of ``grant_table_init()``'s maptrack: one 4-byte pointer per
    frame, vmalloc'd up to 4.19 and by ``xvzalloc()`` (vmalloc only above a page) from 4.20."""
    nbytes = 4 * dom.max_maptrack_frames
    if rel.sizes.gnttab_xv and nbytes <= PAGE_SIZE:
        return 0
    return -(-nbytes // PAGE_SIZE)


def _ram(replay: Replay, dom: HeapDomain, rel: XenRelease,
         pool: list[tuple[int, int]]) -> DomainPlacement | tuple[tuple[int, int, int], ...]:
    """``allocate_memory()``: each guest RAM window's share in the largest chunks that fit;
    the banks (guest, host, size) or the domain's failure."""
    left = dom.memory_kib << 10
    chunks: list[tuple[int, int, int]] = []
    for window in GUEST_RAM_BANKS:
        size = min(left, window.size)
        if not size:
            continue
        got, short = replay.bank(size >> PAGE_SHIFT)
        at = window.start
        for pfn, pages in got:
            chunks.append((at, pfn << PAGE_SHIFT, pages << PAGE_SHIFT))
            at += pages << PAGE_SHIFT
        if short:
            return failed(dom, "out-of-memory", rel, left >> 10, pool)
        if size % PAGE_SIZE:
            return DomainPlacement(dom.name, "hang", None, p2m_pool=pool_extents(pool))
        left -= size
    return merge_banks(chunks, dom.shm_windows)


def build_domain(replay: Replay, board: HeapBoard, dom: HeapDomain, mem: Arm32Memory) -> DomainPlacement:
    """One domU's domain-heap requests, in ``create_domUs()``'s order."""
    rel = board.release
    replay.alloc(P2M_ROOT_ORDER, "create", xen=False)
    want = p2m_pool_pages(dom) if rel.p2m_pool else 0
    first = rel.sizes.p2m_pool_initial_pages if want else 0
    pool = replay.pages(first, "create") if first else []
    for _ in range(_maptrack_pages(dom, rel)):
        replay.alloc(0, "create", xen=False)
    if want >= first:
        pool += replay.pages(want - first, "pool")
    else:
        shrink_pool(replay, pool, first - want)
    banks: tuple[tuple[int, int, int], ...] | None = None
    if not dom.static:
        got = _ram(replay, dom, rel, pool)
        if isinstance(got, DomainPlacement):
            return got
        banks = got
    for size in dom.heap_shm_sizes:
        _, short = replay.bank(size >> PAGE_SHIFT)
        if short:
            raise Exhausted("shm")
    if rel.xenstore_page_by_xen and dom.enhanced and replay.heap.alloc(0, zone_hi=XENSTORE_ZONE) is None:
        replay.alloc(0, "construct", xen=False)
    return DomainPlacement(dom.name, "ok", banks, p2m_pool=pool_extents(pool))


def _map(replay: Replay, tables: set[tuple[int, int]], start: int, size: int) -> None:
    """``map_regions_p2mt()`` of a range 1:1 into dom0: its new P2M tables, from the domain heap."""
    for _ in range(p2m_tables(tables, start >> PAGE_SHIFT << PAGE_SHIFT, -(-size // PAGE_SIZE) << PAGE_SHIFT)):
        replay.alloc(0, "construct", xen=False)


def build_dom0(replay: Replay, board: HeapBoard, req: Dom0Request,
               gic_cpu: tuple[int, int] | None) -> Dom0Placement:
    """A classic dom0's domain-heap requests: the P2M root, the pool's first pages where the
    release has them, the maptrack, its RAM 1:1 (``allocate_memory_11()``, bank 0 below
    4 GiB for a 32-bit kernel), then the P2M tables of ``construct_dom0()``'s mappings:
    every host device ``handle_node()`` maps, and the GIC's virtual CPU interface at the
    CPU interface's address (mapped before the maptrack on 4.16 and 4.17). The P2M has
    three levels under a two-page root, so only second- and third-level tables are added."""
    rel = board.release
    dom = HeapDomain(name="dom0", cpus=req.cpus, memory_kib=req.memory >> 10, max_grant_frames=req.max_grant_frames)
    replay.alloc(P2M_ROOT_ORDER, "create", xen=False)
    if rel.p2m_pool and rel.sizes.p2m_pool_initial_pages:
        replay.pages(rel.sizes.p2m_pool_initial_pages, "create")
    tables = {(1, 0), (1, 1)}
    mem = arm32_memory(rel.version)
    if gic_cpu is not None and mem.dom0_gic_cpu_at_create:
        _map(replay, tables, *gic_cpu)
    for _ in range(_maptrack_pages(dom, rel)):
        replay.alloc(0, "create", xen=False)
    banks, left = allocate_11(replay, req.memory, req.memory, rel.nr_mem_banks, tables)
    if left:
        mb = left >> 20
        return Dom0Placement("out-of-memory", tuple(banks), mb,
                             f"Failed to allocate requested dom0 memory. {mb}MB unallocated")
    if gic_cpu is not None and not mem.dom0_gic_cpu_at_create:
        _map(replay, tables, *gic_cpu)
    for dev in req.devices:
        if dev.mapped:
            for start, size in (*dev.regs, *dev.pci_ranges):
                _map(replay, tables, start, size)
    return Dom0Placement("ok", tuple(banks))


def _boot_requests(replay: Replay, mem: Arm32Memory) -> None:
    """The domain-heap pages the boot takes before any domain (vmap pages, per release)."""
    replay.pages(mem.boot_domheap_pages, "boot")


def place_domains(board: HeapBoard, domains: Sequence[HeapDomain], xenheap: tuple[int, int],
                  dom0: Dom0Request | None = None, gic_cpu: tuple[int, int] | None = None) -> PlacementResult:
    """Replay arm32's domain heap from the boot allocator to the last domU.

    ``xenheap`` is (start, size) of the carve ``setup_mm()`` made. Domains
    are built in DT order; the first that fails stops the boot.
    """
    rel = board.release
    mem = arm32_memory(rel.version)
    notes = ["arm32: the domain heap is replayed; the xenheap (domain and vCPU structures, the xmalloc pool, "
             "grant tables, guest DTBs) is a zone of its own and is not"]
    if not rel.p2m_pool:
        notes.append("Xen before 4.16.3 has no P2M pool: P2M tables taken from the heap while "
                     "mapping RAM are not modelled, host addresses are approximate")
    boot = boot_allocator(board, xenheap)
    allocs = pre_heap_allocations(boot, board.ram, rel, mem)
    return drive(board, boot, allocs, domains, notes,
                 boot_requests=lambda replay: _boot_requests(replay, mem),
                 dom0=None if dom0 is None else lambda replay: build_dom0(replay, board, dom0, gic_cpu),
                 domain=lambda replay, dom: build_domain(replay, board, dom, mem))
