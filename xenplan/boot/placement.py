"""Where the heap puts every dynamic domU's RAM: a replay of Xen's boot.

``spec/dynamic-placement.md`` sections 4-5 on top of ``boot_alloc`` (boot
allocator, heap initialisation), ``buddy`` (the allocator) and ``xmalloc``
(the pool small requests come from): every heap and pool request Xen makes
from ``end_boot_allocator()`` to the last domU, in order, so that each
domU's RAM chunks get the host pages the real allocator picks. The requests
mirror, per release:

* the boot sequence up to "Xen dom0less mode detected": vmap and page
  tables, the pool, ``relocate_fdt()``'s copy of the DTB,
  ``unflatten_device_tree()``, the GIC's set-up, timers, the scheduler
  (``SCHEDULERS``), the idle and system domains, console ring, per-CPU
  areas and idle vCPUs of the secondary CPUs, the cpupool, the empty P2M root;
* a classic dom0 (``create_dom0()``, ``allocate_memory_11()``) when present;
* per domU (``create_domUs()``, ``domain_create()``, ``construct_domU()``):
  domain struct and its small allocations, P2M root, shared_info, vGIC,
  event channels, grant table, the P2M pool (``p2m_set_allocation()``,
  ALLOC-006) one page at a time, vCPU0; then the RAM (``allocate_memory()``
  / ``allocate_bank_memory()``, ALLOC-001/002/004/007, or 1:1 for a
  hardware domain); then heap-backed shared memory, vpl011, the guest DTB
  buffer with passthrough and the /hypervisor node, the other vCPUs and the
  xenstore page (4.21+);
* after the last domU, ``discard_initial_modules()`` (S12) for the final
  heap budget.

Releases: every size and position was measured on release builds of 4.16.7,
4.17.7, 4.18.6, 4.19.6, 4.20.4, 4.21.2 and 4.22.0 (``tools/xen-trace``,
``tests/data/heaptrace``); ``release()`` names the model a release follows
where their requests agree, ``_sizes()`` where they differ. 4.23-dev follows
4.22. 4.16.0-4.16.2 predate the P2M pool (XSA-409): their P2M tables come
from the heap while RAM is mapped, which is not modelled (a note says so).

All addresses and sizes are bytes; the replay is a pure function of its
inputs and never walks memory page by page.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from xenplan.boot.boot_alloc import boot_allocations, populate_boot_allocator, release
from xenplan.boot.buddy import MAX_ORDER, PAGE_SHIFT, PAGE_SIZE, BuddyHeap
from xenplan.boot.rangeset import RangeSet
from xenplan.boot.xmalloc import MEM_ALIGN, Block, TlsfPool
from xenplan.model.layout import GUEST_GNTTAB, GUEST_RAM_BANKS, guest_layout
from xenplan.model.system import default_p2m_pool_mb

MMIO_HANDLER = 32
"""``sizeof(struct mmio_handler)``: ``domain_io_init()`` sizes its array for 16 + the vGIC's regions."""
MAX_IO_HANDLER = 16
VPL011_BACKEND = 172
"""``sizeof(struct vpl011_xen_backend)``: the vUART's buffers when Xen is its backend."""
PENDING_IRQ_SIZE = 56
"""``sizeof(struct pending_irq)``: the vGIC allocates one per SPI."""
XENSTORE_ZONE = 32 - PAGE_SHIFT
"""The xenstore page prefers memory below 4 GiB (XS-003): zones up to 20."""

_XBlock = Block | tuple[int, int] | None
"""What ``xmalloc`` returned: a pool block, a whole-page block (pfn, pages kept), or nothing."""

Outcome = Literal["ok", "out-of-memory", "p2m-pool-exhausted", "heap-exhausted", "hang", "not-reached"]


@dataclass(frozen=True)
class HeapBoard:
    """Everything of the board and of Xen that decides the heap's shape."""

    ram: tuple[tuple[int, int], ...]
    """(start, size) of each RAM bank, sorted."""
    modules: tuple[tuple[int, int], ...]
    """Boot modules in Xen's module-table order: Xen's image, the DTB (start,
    ``totalsize``), then the ``multiboot,module`` nodes Xen kept, in DT order."""
    reserved: tuple[tuple[int, int], ...]
    """Every range cut out of the heap as Xen recorded it: /memreserve/,
    /reserved-memory children, static-mem, static-heap and shm host banks."""
    static_heap: tuple[tuple[int, int], ...] | None
    """``xen,static-heap`` banks (4.17+), or None: then only they feed the heap."""
    fdt_size: int
    """The DTB's ``totalsize``: the size of Xen's relocated copy."""
    unflat_size: int
    """What ``unflatten_device_tree()`` asks ``xmalloc`` for: ``unflattened_size()``."""
    version: tuple[int, ...]
    """Xen release as (4, 22) or (4, 16, 7)."""
    host_cpus: int = 2
    gic_version: int = 3
    gicr_size: int = 0xF60000
    """GICv3: bytes of redistributor space Xen maps at boot (QEMU ``virt``'s by default)."""
    gicr_regions: int = 1
    """GICv3: redistributor regions of the host (a 1:1 domain's vGIC copies them)."""
    scheduler: str = "credit2"
    """``sched=`` as Xen resolves it: a built-in scheduler's name, else the default "credit2"."""
    console_ring: int = 16 << 10
    """``console_init_ring()``'s request: ``conring_size``, else CPUs << (9 + the lower log threshold)."""
    p2m_root_order: int = 0
    dom0_mem: int = 0
    """``dom0_mem`` from the command line (0 when absent): bounds bank 0 of any 1:1 hardware domain."""
    ipa_bits: int = 44
    """The P2M's IPA width: the top of the second guest RAM window's extended region."""
    """0 for a 4-level P2M (44-bit IPA and up), 1 for the concatenated 40-bit root."""


@dataclass(frozen=True)
class HeapDomain:
    """What one ``xen,domain`` node asks of the heap."""

    name: str
    cpus: int
    memory_kib: int
    static: bool = False
    """``xen,static-mem`` or ``direct-map``: the same requests, but RAM from static banks."""
    p2m_mem_mb: int | None = None
    """``xen,domain-p2m-mem-mb`` when present."""
    nr_spis: int = 224
    enhanced: bool = False
    """A xenstore page is wanted (``xen,enhanced`` enabled); Xen allocates it from 4.21."""
    heap_shm_sizes: tuple[int, ...] = ()
    """Sizes of heap-backed shm regions this domain is the first to use (4.19+)."""
    shm_windows: tuple[tuple[int, int], ...] = ()
    """Guest (start, size) of every shm mapping of this domain: they replace RAM there."""
    max_grant_frames: int = 64
    """``max_grant_frames`` (Xen's default ``gnttab_max_frames``): sizes the grant-table arrays."""
    host_ram: tuple[tuple[int, int], ...] = ()
    """(start, size) of a 1:1 domain's static banks: removed from its host-layout extended regions."""
    dtb_module: int = 0
    """Size of the node's ``multiboot,device-tree`` module: the guest DTB buffer grows by it (4.18+)."""
    passthrough: tuple[tuple[tuple[tuple[int, int], ...], tuple[int, ...]], ...] = ()
    """Per passthrough device of the partial DTB: its ``xen,reg`` host (start, size) and its host IRQs."""
    hardware_11: bool = False
    """A dom0less hardware domain with ``direct-map`` (4.21+): RAM 1:1 from the heap, as dom0's."""
    hypervisor_node: bool = False
    """The guest DTB gets a /hypervisor node (``make_hypervisor_node()``: extended regions)."""
    direct_map: bool = False
    """1:1: extended regions come from the host layout, not from the guest RAM windows."""
    vpl011: bool = False
    """``vpl011``: ``domain_vpl011_init()`` allocates its Xen-side backend (172 bytes)."""
    max_maptrack_frames: int = 1024
    """``max_maptrack_frames`` (default ``gnttab_max_maptrack_frames``): sizes the vmalloc'd maptrack."""


@dataclass(frozen=True)
class Dom0Request:
    """What a classic dom0 asks of the heap (``create_dom0()``, ``construct_dom0()``)."""

    memory: int
    """``dom0_mem`` in bytes (512 MiB when the command line does not say, HWD-001)."""
    cpus: int = 2
    """``dom0_max_vcpus()``: every online CPU unless the command line caps it."""
    nr_spis: int = 224
    """The host GIC's SPIs: dom0's vGIC mirrors the hardware."""
    max_grant_frames: int = 64
    """``gnttab_dom0_frames()``."""


@dataclass(frozen=True)
class Dom0Placement:
    """dom0's 1:1 RAM (HWD-002), or why ``allocate_memory_11()`` gave up."""

    outcome: Literal["ok", "out-of-memory", "heap-exhausted"]
    banks: tuple[tuple[int, int], ...]
    """(start, size) host == guest, ascending, as ``insert_11_bank()`` merged them."""
    unallocated_mb: int | None = None
    message: str | None = None


@dataclass(frozen=True)
class DomainPlacement:
    """What the heap gave one domain, or where its build stopped.

    ``outcome``: "ok"; "out-of-memory" when an order-0 RAM chunk fails
    (ALLOC-002 panic); "p2m-pool-exhausted" when ``p2m_set_allocation()``
    runs dry ("Failed to allocate P2M pages.", ALLOC-006); "heap-exhausted"
    for any other request of the domain (struct, vCPU, DTB buffer, heap
    shm); "hang" for a ``memory`` that is not whole pages (ALLOC-007);
    "not-reached" after an earlier failure.
    """

    name: str
    outcome: Outcome
    banks: tuple[tuple[int, int, int], ...] | None
    """(guest, host, size) sorted by guest, merged where both are contiguous,
    shm windows cut out; None for static domains and when RAM was not placed."""
    unallocated_kib: int | None = None
    """The N of "Failed to allocate requested domain memory. NKB unallocated"."""
    message: str | None = None
    """Xen's panic line where the spec or rulebook gives it."""
    p2m_pool: tuple[tuple[int, int], ...] = ()
    """(start, size) host extents of the P2M pool, in allocation order."""
    unreplayed_after: bool = False
    """Xen goes on with requests the replay does not make (a hardware domain's device-tree walk)."""
    small_unknown: bool = False
    """A dom0 or an earlier hardware domain walked the host tree first: chunks under 16 MiB
    may be elsewhere, only the larger ones are placed exactly."""

    @property
    def p2m_pool_ok(self) -> bool:
        """False when the P2M pool itself could not be allocated (ALLOC-006)."""
        return self.outcome != "p2m-pool-exhausted"


@dataclass(frozen=True)
class HeapChunks:
    """Consecutive entries of one free list, from its head towards its tail."""

    zone: int
    chunk_size: int
    start: int
    count: int
    stride: int
    """Bytes from one chunk's start to the next one's (negative: descending)."""
    dirty_from: int | None
    """Byte offset of each chunk's first dirty page; None when clean."""


@dataclass(frozen=True)
class PlacementResult:
    domains: tuple[DomainPlacement, ...]
    """One per input domain, in order; after the first failure all are "not-reached"."""
    boot_allocations: tuple[tuple[str, int | None, int], ...]
    """(what, start or None when it failed, size) of each ``alloc_boot_pages()``."""
    boot_failure: str | None
    """Why Xen stopped before the first domU (HEAP-008, or the heap ran dry)."""
    free_bytes: int
    """Heap left after the last domain built (or at the failure)."""
    free_lists: tuple[HeapChunks, ...]
    """The free lists at that moment, highest zone and order first."""
    free_bytes_after_discard: int | None
    """After ``discard_initial_modules()`` gave the boot modules back (S12);
    Xen's init section, freed next, is not counted. None if Xen stopped."""
    notes: tuple[str, ...] = ()
    dom0: Dom0Placement | None = None
    """dom0's RAM when the boot builds a classic dom0 (before any domU)."""
    budgeted: bool = False
    """Only the page budget was kept (``budget_domains``): no host address is known."""


class _Exhausted(Exception):
    """A heap request failed; ``step`` says which part of the build asked."""

    def __init__(self, step: str) -> None:
        super().__init__(step)
        self.step = step


def p2m_pool_pages(domain: HeapDomain) -> int:
    """ALLOC-006: ``xen,domain-p2m-mem-mb`` MiB, else 1 MiB per vCPU +
    4 KiB per MiB of RAM + 512 KiB, rounded up to whole MiB."""
    if domain.p2m_mem_mb is not None:
        return domain.p2m_mem_mb << 8
    return default_p2m_pool_mb(domain.cpus, domain.memory_kib) << 8


def _merge(extents: Sequence[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    out: list[tuple[int, int]] = []
    for start, size in extents:
        if out and out[-1][0] == start + size:
            out[-1] = (start, out[-1][1] + size)
        elif out and out[-1][0] + out[-1][1] == start:
            out[-1] = (out[-1][0], out[-1][1] + size)
        else:
            out.append((start, size))
    return tuple(out)


def _cut(banks: list[tuple[int, int, int]], windows: Sequence[tuple[int, int]]) -> list[tuple[int, int, int]]:
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


@dataclass(frozen=True)
class _Sizes:
    """What one release allocates, where it differs between releases (measured
    with an instrumented build of each release on the oracle's board)."""

    timer_irqs: int
    """``request_irq()`` actions (40 bytes each) per CPU: 4 up to 4.17, 3 in 4.18-4.21, none from 4.22."""
    csched2_private: int
    """``csched2_init()``'s private data: 80 bytes up to 4.18, 72 from 4.19."""
    pool_scheduler: bool
    """``cpupool_create()`` allocates its own scheduler instance (4.17+)."""
    gnttab: int
    """``sizeof(struct grant_table)``."""
    active_entry: int
    """``sizeof(struct active_grant_entry)``: 40 up to 4.17, 32 from 4.18."""
    gnttab_gfn_arrays: bool
    """4.16's ``gnttab_init_arch()`` allocates its own per-frame GFN arrays."""
    gnttab_xv: bool
    """The grant-table arrays come from ``xvzalloc`` (4.20+): the pool up to a page, vmalloc above."""
    vgic_rank: int
    """``sizeof(struct vgic_irq_rank)``: 88 up to 4.18, 84 from 4.19."""
    waitqueue: bool
    """Each vCPU allocates a wait-queue entry (up to 4.21)."""
    pbuf: bool
    """``domain_create()``'s 200-byte ``d->pbuf`` (up to 4.21)."""
    console: bool
    """``domain_create()``'s 268-byte ``d->console`` (4.22+)."""
    intc_node: bool
    """``make_intc_domU_node()`` allocates and frees 32 bytes for GICv3's redistributor cells (4.17+)."""
    dtb_buffer: int
    """The guest DTB buffer of ``prepare_dtb_domU()``."""
    scheduler: str = "credit2"
    """The scheduler ``sched=`` selects: what its init, per-CPU, unit and domain data cost (``SCHEDULERS``)."""


def _sizes(rel: int, minor: int, scheduler: str = "credit2") -> _Sizes:
    """``rel`` is the modelled release (4.19 and 4.21 as 4.20), ``minor`` the real one."""
    return _Sizes(
        scheduler=scheduler,
        timer_irqs=4 if rel <= 17 else 3 if rel <= 21 else 0,
        csched2_private=80 if rel <= 18 else 72,
        pool_scheduler=rel >= 17,
        gnttab={16: 152, 17: 136, 18: 112}.get(rel, 104),
        active_entry=40 if rel <= 17 else 32,
        gnttab_gfn_arrays=rel == 16,
        gnttab_xv=minor >= 20,
        vgic_rank=88 if rel <= 18 else 84,
        waitqueue=rel <= 21,
        pbuf=rel <= 21,
        console=rel >= 22,
        intc_node=rel >= 17,
        dtb_buffer=2048 + 128 * 128 if rel >= 22 else PAGE_SIZE,
    )


class _Replay:
    """The heap, the ``xmalloc`` pool and the request vocabulary of section 4 (A, XM, XF)."""

    def __init__(self, heap: BuddyHeap) -> None:
        self.heap = heap
        self.step = "boot"
        self.pool = TlsfPool(self._pool_page, self._pool_put)

    def _pool_page(self) -> int:
        """``xmalloc_pool_get()``: one xenheap page for a new pool region."""
        return self.a(0, self.step)

    def _pool_put(self, pfn: int) -> None:
        """``xmalloc_pool_put()``: an emptied region goes back to the heap, dirty."""
        self.heap.free(pfn, 0, dirty=True)

    def a(self, order: int, step: str, xen: bool = True, zone_hi: int | None = None) -> int:
        pfn = self.heap.alloc(order, no_scrub=xen, zone_hi=zone_hi)
        if pfn is None:
            raise _Exhausted(step)
        return pfn

    def pages(self, count: int, step: str) -> list[tuple[int, int]]:
        got = self.heap.alloc_pages(count)
        if sum(n for _, n in got) < count:
            raise _Exhausted(step)
        return got

    def xm(self, nbytes: int, step: str, align: int = 8) -> _XBlock:
        """``_xmalloc()`` of ``nbytes``: from the pool when the padded size fits a
        region, else ``xmalloc_whole_pages()``: the order of the page count, the
        unused tail freed dirty, ascending."""
        self.step = step
        align = max(align, MEM_ALIGN)
        if not nbytes:
            return None
        if nbytes + align - MEM_ALIGN < PAGE_SIZE:
            block = self.pool.alloc(nbytes + align - MEM_ALIGN)
            if block is not None:
                return block
        pages = -(-max(nbytes, align) // PAGE_SIZE)
        order = (pages - 1).bit_length()
        pfn = self.a(order, step)
        kept = -(-nbytes // PAGE_SIZE)
        self.heap.free_range(pfn + kept, (1 << order) - kept, dirty=True)
        return pfn, kept

    def xf(self, block: _XBlock) -> None:
        """``xfree``: a pool block back to the pool; a whole-page block as the kept
        count's binary pieces, smallest first, from the top."""
        if block is None:
            return
        if isinstance(block, Block):
            self.pool.free(block)
            return
        pfn, kept = block
        bit = 0
        while kept:
            if kept & (1 << bit):
                kept -= 1 << bit
                self.heap.free(pfn + kept, bit, dirty=True)
            bit += 1

    def xv(self, nbytes: int, step: str) -> None:
        """``xvzalloc()``: ``xmalloc`` up to a page, ``vzalloc`` above."""
        if nbytes <= PAGE_SIZE:
            self.xm(nbytes, step)
        else:
            self.vmalloc(nbytes, step)

    def vmalloc(self, nbytes: int, step: str) -> None:
        """``vzalloc()``: an MFN array from the pool, order-0 domheap pages, the array freed."""
        count = -(-nbytes // PAGE_SIZE)
        mfns = self.xm(8 * count, step)
        for _ in range(count):
            self.a(0, step, xen=False)
        self.xf(mfns)

    def bank(self, pages: int) -> tuple[list[tuple[int, int]], int]:
        """``allocate_bank_memory()``: the largest chunk that fits, capped after a
        failure; returns the chunks (pfn, pages) and the pages left unallocated."""
        chunks: list[tuple[int, int]] = []
        cap = MAX_ORDER
        while pages:
            order = min(pages.bit_length() - 1, cap)
            want = pages >> order if order == MAX_ORDER else 1
            got = self.heap.alloc_repeat(order, want)
            chunks += [(p, 1 << order) for p in got]
            pages -= len(got) << order
            if len(got) < want:
                if order == 0:
                    break
                cap = order - 1
        return chunks, pages


def _redist_tables(size: int) -> int:
    """Page-table pages ``gicv3_init()``'s ``ioremap()`` of the redistributors takes: one
    per 2 MiB of mapping but the first, whose table the vmap area already has
    (7 for QEMU's 0xf60000 bytes, as measured on every release)."""
    return max(0, -(-size // (2 << 20)) - 1)


@dataclass(frozen=True)
class _Scheduler:
    """What one scheduler allocates (bytes; ``None`` = nothing)."""

    init: tuple[tuple[int, int], ...]
    """``init``: (size, alignment) of each allocation."""
    pcpu: tuple[int, ...]
    """Per CPU when the pool takes it: ``alloc_pdata`` then the idle unit's ``alloc_udata``."""
    unit: int
    """``alloc_udata`` for each vCPU's scheduling unit."""
    domain: int | None
    """``alloc_domdata``."""
    boot_timer: bool
    """Its timers grow the timer heap before the first domain (a 128-byte ``xmalloc``)."""


SCHEDULERS = {
    "credit": _Scheduler(((184, 8), (4, 4)), (96, 80), 80, 48, True),
    "null": _Scheduler(((64, 8),), (8, 24), 24, 24, False),
    "rtds": _Scheduler(((136, 8),), (96,), 96, 24, False),
    "arinc653": _Scheduler(((2624, 8),), (32,), 32, None, True),
}
"""Measured on 4.22.0 (credit on every release; 4.16 is ``CREDIT_416``); credit2, the default, is
written out in the boot sequence (its runqueue is shared by the CPUs)."""


CREDIT_416 = _Scheduler(((176, 8), (4, 4)), (80, 80), 80, 48, True)
"""Credit on 4.16: a smaller private structure and per-CPU data."""


def _sched(z: _Sizes, rel: int) -> _Scheduler | None:
    """The chosen scheduler's costs, ``None`` for credit2 (written out in the boot sequence)."""
    if z.scheduler == "credit" and rel <= 16:
        return CREDIT_416
    return SCHEDULERS.get(z.scheduler)


def _sched_unit(r: _Replay, z: _Sizes, step: str) -> None:
    """``sched_alloc_unit_mem()`` and the scheduler's unit data (credit2: 144 bytes)."""
    r.xm(144, step)
    spec = SCHEDULERS.get(z.scheduler)
    r.xm(spec.unit if spec is not None else 144, step)


def _sched_init(r: _Replay, z: _Sizes, rel: int, step: str) -> None:
    """The scheduler's ``init``: credit2's private data, or the chosen scheduler's."""
    spec = _sched(z, rel)
    if spec is None:
        r.xm(z.csched2_private, step)
        return
    for size, align in spec.init:
        r.xm(size, step, align=align)


def _boot_sequence(r: _Replay, board: HeapBoard, rel: int) -> None:
    """Section 4: the heap and pool requests from heap init to "Xen dom0less mode detected"."""
    z = _sizes(rel, board.version[1], board.scheduler)
    step = "boot"
    if rel <= 18:
        r.pages(2 if rel == 16 else 3, "vmap and page tables")
    r.a(1, "xmalloc pool")
    r.xm(board.fdt_size, "relocated DTB", align=128)
    r.xm(board.unflat_size, "unflattened DT")
    if board.version[1] >= 21:
        r.xf(r.xm(32 << 10, "console flush buffer"))
    if board.gic_version == 2:
        r.xm(48, step)
    else:
        r.xm(32, step)
        r.pages(_redist_tables(board.gicr_size), "page tables")
    for _ in range(z.timer_irqs):
        r.xm(40, step)
    r.xm(152, step)
    _sched_init(r, z, rel, step)
    r.a(0, "idle domain")
    r.a(0, "idle vCPU0")
    _sched_unit(r, z, step)
    r.a(3, "idle vCPU0 stack")
    r.pages(2, "system domains")
    ring = max(board.console_ring, 16 << 10)
    r.a((-(-ring // PAGE_SIZE) - 1).bit_length(), "console ring")
    for _ in range(1, board.host_cpus):
        r.a(1, "per-CPU area")
        r.xm(152, step)
        r.a(0, "idle vCPU")
        _sched_unit(r, z, step)
        r.a(3, "idle vCPU stack")
        for _ in range(z.timer_irqs):
            r.xm(40, step)
    r.xm(32, step)
    r.a(0, "empty P2M root", xen=False)
    r.xm(88, step)
    if z.pool_scheduler:
        r.xm(248, step)
        _sched_init(r, z, rel, step)
    spec = _sched(z, rel)
    for cpu in range(board.host_cpus):
        if spec is not None:
            for size in spec.pcpu:
                r.xm(size, step)
            continue
        r.xm(24, step)
        runqueue = r.xm(168, step)
        if cpu:
            r.xf(runqueue)
        r.xm(144, step)
    if spec is not None and spec.boot_timer:
        r.xm(128, step)
    r.a(0, "page table")


def _vcpu(r: _Replay, z: _Sizes, step: str) -> None:
    """``vcpu_create()``: struct, wait queue, scheduling unit, stack, private vGIC rank."""
    r.a(0, step)
    if z.waitqueue:
        r.xm(24, step)
    _sched_unit(r, z, step)
    r.a(3, step)
    r.xm(z.vgic_rank, step, align=4)


def _create(r: _Replay, board: HeapBoard, dom: HeapDomain, z: _Sizes, rel: int,
            pool: int, hwdom: bool = False) -> list[tuple[int, int]]:
    """``domain_create()`` up to and with ``p2m_set_allocation()``: returns the P2M pool pages.

    The hardware domain also gets Xen's emulated UART (``domain_vuart_init()``)."""
    step = "create"
    r.a(0, step)
    r.xm(8 * dom.cpus, step)
    if z.console:
        r.xm(268, step, align=4)
    r.a(board.p2m_root_order, step, xen=False)
    initial: list[tuple[int, int]] = []
    if rel <= 17 and pool:
        initial = r.pages(16, step)
    r.a(0, step)
    v3 = board.gic_version != 2
    rdist = (board.gicr_regions if dom.direct_map else 1) if v3 else 0
    r.xm(MMIO_HANDLER * (MAX_IO_HANDLER + (1 + rdist if v3 else 1)), step)
    spis = -(-dom.nr_spis // 32) * 32
    r.xm(z.vgic_rank * (spis // 32), step, align=4)
    r.xm(PENDING_IRQ_SIZE * spis, step)
    if v3:
        r.xm(24 * rdist, step)
    r.xm(8 * -(-(spis + 32) // 64), step)
    if hwdom:
        r.xm(128, step, align=1)
    r.xm(96, step)
    r.xm(96, step)
    r.xm(PAGE_SIZE, step, align=64)
    r.xm(8, step)
    _grant_table(r, dom, z)
    if z.pbuf:
        r.xm(200, step, align=1)
    spec = _sched(z, rel)
    if spec is None:
        r.xm(128, step)
    elif spec.domain is not None:
        r.xm(spec.domain, step)
    if rel <= 17 and pool:
        if pool >= 16:
            return initial + r.pages(pool - 16, "pool")
        _shrink_pool(r, initial, 16 - pool)
        return initial
    return r.pages(pool, "pool")


def _grant_table(r: _Replay, dom: HeapDomain, z: _Sizes) -> None:
    """``grant_table_init()``: the table, its arrays sized by the frame limits,
    the vmalloc'd maptrack, then ``gnttab_grow_table()``'s first frames."""
    step = "create"
    frames = dom.max_grant_frames
    per_page = PAGE_SIZE // z.active_entry
    array = r.xv if z.gnttab_xv else r.xm
    r.xm(z.gnttab, step)
    array(8 * -(-frames * (PAGE_SIZE // 8) // per_page), step)
    if dom.max_maptrack_frames:
        (r.xv if z.gnttab_xv else r.vmalloc)(8 * dom.max_maptrack_frames, step)
    for _ in range(2 if z.gnttab_gfn_arrays else 1):
        array(8 * frames, step)
        array(8 * -(-frames // 8), step)
    r.pages(-(-(PAGE_SIZE // 8) // per_page) + 1, step)


def _domain(
    r: _Replay, board: HeapBoard, dom: HeapDomain, rel: int, minor: int
) -> DomainPlacement:
    """One domU, section 5: pre (5.1), RAM (5.2), post (5.3)."""
    z = _sizes(rel, board.version[1], board.scheduler)
    has_pool = board.version[:2] != (4, 16) or len(board.version) < 3 or board.version[2] >= 3
    pool = p2m_pool_pages(dom) if has_pool else 0
    pool_got = _create(r, board, dom, z, rel, pool, hwdom=dom.hardware_11)
    _vcpu(r, z, "construct")
    if dom.hardware_11:
        ram11, left = _allocate_11(r, dom.memory_kib << 10, board.dom0_mem, board.version)
        if left:
            return DomainPlacement(dom.name, "out-of-memory", None, left >> 10,
                                   f"Failed to allocate requested dom0 memory. {left >> 20}MB unallocated",
                                   _pool(pool_got))
        return DomainPlacement(dom.name, "ok", tuple((s, s, n) for s, n in ram11), p2m_pool=_pool(pool_got),
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
            got, short = r.bank(size >> PAGE_SHIFT)
            at = guest
            for pfn, pages in got:
                chunks.append((at, pfn << PAGE_SHIFT, pages << PAGE_SHIFT))
                at += pages << PAGE_SHIFT
            if short:
                return _failed(dom, "out-of-memory", board.version, left >> 10, pool_got)
            if size % PAGE_SIZE:
                return DomainPlacement(dom.name, "hang", None, p2m_pool=_pool(pool_got))
            left -= size
        if left:
            return _failed(dom, "out-of-memory", board.version, left >> 10, pool_got)
        banks = _banks(chunks, dom.shm_windows)

    for size in dom.heap_shm_sizes:
        _, short = r.bank(size >> PAGE_SHIFT)
        if short:
            raise _Exhausted("shm")
    if dom.vpl011 and rel >= 17:
        r.xm(VPL011_BACKEND, "construct", align=4)
    minor = board.version[1]
    dtb = r.xm(z.dtb_buffer + (dom.dtb_module if minor >= 18 else 0), "construct", align=128)
    assigned = _passthrough(r, dom, minor)
    if z.intc_node and board.gic_version != 2:
        r.xf(r.xm(32, "construct", align=128))
    if dom.hypervisor_node and rel >= 17:
        _hypervisor_node(r, board, dom, banks or ())
    r.xf(dtb)
    if assigned is not None:
        assigned.destroy()
    for _ in range(1, dom.cpus):
        _vcpu(r, z, "construct")
    if dom.vpl011 and rel <= 16:
        r.xm(VPL011_BACKEND, "construct", align=4)
    if minor >= 21 and dom.enhanced and r.heap.alloc(0, zone_hi=XENSTORE_ZONE) is None:
        r.a(0, "construct", xen=False)
    return DomainPlacement(dom.name, "ok", banks, p2m_pool=_pool(pool_got))


def _p2m_tables(tables: set[tuple[int, int]], start: int, size: int) -> int:
    """Table pages ``p2m_set_entry()`` must add to map [start, start + size) 1:1
    with the largest aligned blocks (1 GiB, 2 MiB, 4 KiB) under a 4-level root."""
    new = 0
    addr, end = start, start + size
    while addr < end:
        block = next(b for b in (1 << 30, 1 << 21, PAGE_SIZE) if not addr % b and addr + b <= end)
        needed = [(1, addr >> 39)]
        if block < 1 << 30:
            needed.append((2, addr >> 30))
        if block < 1 << 21:
            needed.append((3, addr >> 21))
        for table in needed:
            if table not in tables:
                tables.add(table)
                new += 1
        addr += block
    return new


def _allocation_order(size: int) -> int:
    """``get_allocation_size()``: the largest order not above ``size``."""
    return (size >> PAGE_SHIFT).bit_length() - 1


def _bits_zone(bits: int) -> int:
    """``bits_to_zone()``: the highest zone an address width allows."""
    return 1 if bits < PAGE_SHIFT + 1 else bits - PAGE_SHIFT


def _dom0(r: _Replay, board: HeapBoard, req: Dom0Request, rel: int) -> Dom0Placement:
    """``create_dom0()`` then ``allocate_memory_11()`` (HWD-002): domain and vCPU0 as
    for a domU (plus the emulated UART, no P2M pool beyond 4.16/4.17's initial
    16 pages), then its RAM 1:1 (``_allocate_11``).

    What ``construct_dom0()`` does after the RAM (mapping every host device,
    routing its interrupts, building dom0's device tree) is not replayed.
    """
    z = _sizes(rel, board.version[1], board.scheduler)
    has_pool = board.version[:2] != (4, 16) or len(board.version) < 3 or board.version[2] >= 3
    dom = HeapDomain(name="dom0", cpus=req.cpus, memory_kib=req.memory >> 10, nr_spis=req.nr_spis,
                     max_grant_frames=req.max_grant_frames)
    _create(r, board, dom, z, rel, 16 if rel <= 17 and has_pool else 0, hwdom=True)
    _vcpu(r, z, "construct")
    banks, left = _allocate_11(r, req.memory, req.memory, board.version)
    if left:
        mb = left >> 20
        return Dom0Placement("out-of-memory", tuple(banks), mb,
                             f"Failed to allocate requested dom0 memory. {mb}MB unallocated")
    return Dom0Placement("ok", tuple(banks))


def _allocate_11(r: _Replay, memory: int, dom0_mem: int, version: tuple[int, ...]) -> tuple[list[tuple[int, int]], int]:
    """``allocate_memory_11()``: bank 0 as large and as low as possible below
    4 GiB (at least ``min(dom0_mem, 128 MiB)``; ``dom0_mem`` is the command
    line's, also for a dom0less hardware domain), then the rest in the largest
    chunks left, first below 4 GiB then anywhere, down to 4 MiB; a chunk below
    bank 0 only from 128 MiB. Each chunk is mapped at once, its P2M tables
    from the heap. Returns the banks (start, size) and the bytes left over."""
    heap = r.heap
    tables: set[tuple[int, int]] = set()
    banks: list[tuple[int, int]] = []
    left = memory
    limit = 128 if tuple(version) < (4, 16, 1) else 256
    low = min(dom0_mem, 128 << 20)
    min_low = (-(-low // PAGE_SIZE) - 1).bit_length() if low else 0
    min_order = ((4 << 20) // PAGE_SIZE - 1).bit_length()
    low_zone = _bits_zone(32)

    def insert(pfn: int, order: int) -> bool:
        nonlocal left
        start, size = pfn << PAGE_SHIFT, PAGE_SIZE << order
        if banks and size < 128 << 20 and start + size < banks[0][0]:
            heap.free(pfn, order, dirty=False)
            return False
        for _ in range(_p2m_tables(tables, start, size)):
            r.a(0, "construct", xen=False)
        left -= size
        for i, (bs, bn) in enumerate(banks):
            if bs == start + size:
                banks[i] = (start, bn + size)
                return True
            if start == bs + bn:
                banks[i] = (bs, bn + size)
                return True
            if start + size < bs and len(banks) < limit:
                banks.insert(i, (start, size))
                return True
        if len(banks) < limit:
            banks.append((start, size))
            return True
        heap.free(pfn, order, dirty=False)
        return False

    order = _allocation_order(left)
    lowmem = False
    while order >= min_low and not lowmem:
        for bits in range(order, 33):
            pfn = heap.alloc(order, zone_hi=_bits_zone(bits))
            if pfn is not None:
                insert(pfn, order)
                lowmem = True
                break
        else:
            if order == 0:
                break
            order -= 1
    order = _allocation_order(left)
    while left and len(banks) < limit:
        got = heap.alloc(order, zone_hi=low_zone if lowmem else None) if order <= MAX_ORDER else None
        if got is None:
            order -= 1
            if order < 0:
                break  # Xen's unsigned order wraps and it retries for ever; only one page was left to find
            if lowmem and order < min_low:
                order, lowmem = _allocation_order(left), False
                continue
            if order >= min_order:
                continue
            break
        if not insert(got, order):
            if len(banks) == limit:
                break
            if lowmem:
                order, lowmem = _allocation_order(left), False
                continue
            break
        order = _allocation_order(left)
    return banks, left


def _pool_alloc(r: _Replay, step: str) -> Callable[[int], _XBlock]:
    """``xmalloc`` as a range set calls it."""
    return lambda size: r.xm(size, step)


def _passthrough(r: _Replay, dom: HeapDomain, minor: int) -> RangeSet[_XBlock] | None:
    """``domain_handle_dtb_bootmodule()``: per device, each ``xen,reg`` range joins the
    domain's ``iomem_caps`` (and, 4.21+, the ``xen_reg_assigned`` set it builds),
    then each interrupt of the host node joins ``irq_caps`` and is routed
    (``route_irq_to_guest()``: an action and a guest descriptor). Returns the
    ``xen_reg_assigned`` set, destroyed at the end of the build."""
    if not dom.passthrough:
        return None
    step = "construct"
    iomem, irqs = RangeSet(_pool_alloc(r, step), r.xf, new=False), RangeSet(_pool_alloc(r, step), r.xf, new=False)
    assigned = RangeSet(_pool_alloc(r, step), r.xf) if minor >= 21 else None
    for regs, lines in dom.passthrough:
        for start, size in regs:
            first, last = start >> PAGE_SHIFT, (start + size - 1) >> PAGE_SHIFT
            iomem.add(first, last)
            if assigned is not None:
                assigned.add(first, last)
        for irq in lines:
            irqs.add(irq, irq)
            r.xm(40, step)
            r.xm(16, step)
    return assigned


def _ext_count(ranges: Sequence[Sequence[int]]) -> int:
    """``add_ext_regions()`` (4.21+ math): ranges that keep 64 MiB once 2 MiB aligned."""
    mb2 = 2 << 20
    count = 0
    for s, e in ranges:
        start = -(-(s << PAGE_SHIFT) // mb2) * mb2
        end = (e + 1) << PAGE_SHIFT
        if end > start and (end - start) // mb2 * mb2 >= 64 << 20:
            count += 1
    return count


def _hypervisor_node(r: _Replay, board: HeapBoard, dom: HeapDomain,
                     banks: Sequence[tuple[int, int, int]]) -> None:
    """``make_hypervisor_node()``: a bank array for the extended regions, the range
    set Xen builds to find them and destroys, then the ``reg`` cells (grant window
    plus one entry per region). Range sets are replayed from 4.21: the guest
    windows' holes (``find_domU_holes()``), or for a 1:1 domain host RAM less its
    own banks, the reservations and the grant window (``find_host_extended_regions()``);
    before 4.21 the regions are counted without them."""
    step = "construct"
    minor = board.version[1]
    ext = r.xm(16 + 256 * 24 if minor >= 20 else 8 + 256 * 24, step)
    regions = 0
    if dom.direct_map:
        if minor >= 21:
            gnttab = r.xm(16 + 24, step)
            rs = RangeSet(_pool_alloc(r, step), r.xf)
            for start, size in board.ram:
                rs.add(start >> PAGE_SHIFT, (start + size - 1) >> PAGE_SHIFT)
            for start, size in list(dom.host_ram) + list(board.reserved) + [(GUEST_GNTTAB.start, GUEST_GNTTAB.size)]:
                rs.remove(start >> PAGE_SHIFT, (start + size - 1) >> PAGE_SHIFT)
            regions = _ext_count(rs.ranges)
            rs.destroy()
            r.xf(gnttab)
    else:
        top = (1 << board.ipa_bits) - 1
        holes = RangeSet(_pool_alloc(r, step), r.xf) if minor >= 21 else None
        for window in GUEST_RAM_BANKS:
            used = sum(n for g, _h, n in banks if window.start <= g < window.end)
            start = -(-(window.start + used) // (2 << 20)) * (2 << 20)
            end = min(top, window.end - 1)
            if end > start and end - start + 1 >= 64 << 20:
                regions += 1
                if holes is not None:
                    holes.add(start >> PAGE_SHIFT, end >> PAGE_SHIFT)
        if holes is not None:
            holes.destroy()
    reg = r.xm(4 * (regions + 1) * 4, step, align=4)
    r.xf(ext)
    r.xf(reg)


def _shrink_pool(r: _Replay, initial: list[tuple[int, int]], count: int) -> None:
    """``p2m_set_allocation()`` below the 16 pages of ``p2m_init()``: the oldest go back, dirty."""
    pages = [p for start, n in initial for p in range(start + n - 1, start - 1, -1)]
    for pfn in pages[:count]:
        r.heap.free(pfn, 0, dirty=True)
    del initial[:]
    for pfn in pages[count:]:
        initial.append((pfn, 1))


def _pool(got: Sequence[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    return _merge([(p << PAGE_SHIFT, n << PAGE_SHIFT) for p, n in got])


def _banks(
    chunks: list[tuple[int, int, int]], windows: Sequence[tuple[int, int]]
) -> tuple[tuple[int, int, int], ...]:
    merged: list[tuple[int, int, int]] = []
    for g, h, n in chunks:
        if merged and merged[-1][0] + merged[-1][2] == g and merged[-1][1] + merged[-1][2] == h:
            merged[-1] = (merged[-1][0], merged[-1][1], merged[-1][2] + n)
        else:
            merged.append((g, h, n))
    return tuple(sorted(_cut(merged, windows)))


def _rc(version: tuple[int, ...], rc: int) -> str:
    return "" if release(version) <= 17 else f" (rc = {rc})"


def _failed(dom: HeapDomain, outcome: Outcome, version: tuple[int, ...], unallocated_kib: int | None,
            pool: Sequence[tuple[int, int]] = ()) -> DomainPlacement:
    if outcome == "out-of-memory":
        message = (f"Failed to allocate requested domain memory. {unallocated_kib}KB unallocated. "
                   "Fix the VMs configurations.")
    elif outcome == "p2m-pool-exhausted":
        message = f"Could not set up domain {dom.name}{_rc(version, -12)}"
    else:
        message = None
    return DomainPlacement(dom.name, outcome, None, unallocated_kib, message, _pool(pool))


def _exhausted(dom: HeapDomain, board: HeapBoard, step: str) -> DomainPlacement:
    if step == "pool":
        return _failed(dom, "p2m-pool-exhausted", board.version, None)
    if step == "create":
        message = f"Error creating domain {dom.name}{_rc(board.version, -12)}"
    elif step == "shm":
        message = "Failed to allocate static shared memory from Xen heap"
    else:
        message = f"Could not set up domain {dom.name}{_rc(board.version, -12)}"
    return DomainPlacement(dom.name, "heap-exhausted", None, None, message)


def _discard_modules(heap: BuddyHeap, board: HeapBoard) -> None:
    """``discard_initial_modules()``: modules but Xen's image back to the heap, clean,
    without their reserved parts; nothing with a static heap."""
    if board.static_heap is not None or not board.ram:
        return
    lo = min(s for s, _ in board.ram)
    hi = max(s + n for s, n in board.ram)
    done: list[tuple[int, int]] = []
    for start, size in board.modules[1:]:
        end = start + -(-size // PAGE_SIZE) * PAGE_SIZE
        if not size or start < lo or end >= hi:
            continue
        pieces = [(start, end)]
        for hs, hn in list(board.reserved) + done:
            pieces = [q for s, e in pieces for q in ((s, min(e, hs)), (max(s, hs + hn), e)) if q[0] < q[1]]
        for s, e in pieces:
            ps, pe = -(-s // PAGE_SIZE), e // PAGE_SIZE
            if ps < pe:
                heap.free_range(ps, pe - ps, dirty=False)
        done.append((start, end - start))


ARM32_P2M_ROOT_PAGES = 2
"""arm32's stage-2 root: two concatenated pages (40-bit IPA, 3 levels)."""
MAPTRACK_PAGES = 2
"""The vmalloc'd maptrack of the default 1024 frames: two domheap pages."""


def budget_domains(free_pages: int, domains: Sequence[HeapDomain], version: tuple[int, ...]) -> PlacementResult:
    """The domain heap's page budget, domain by domain, where the heap is not replayed:
    arm32 (``CONFIG_SEPARATE_XENHEAP``) and LLC colouring.

    Domain structures, vCPUs, the xmalloc pool and the guest DTB come from the
    separate xenheap; the P2M root and pool, the maptrack and the RAM of
    dynamic domains come from the domain heap. A dynamic domain's RAM falls
    back to smaller chunks down to single pages, so it fails only when the
    pages run out: the budget decides whether Xen panics and about how much
    is left unallocated, not where the RAM lands (hosts stay unknown). The
    frame table, which also comes from the domain heap's pages, is not
    counted, so the budget is a little generous. As in ``allocate_memory()``,
    a failing guest bank counts whole in the unallocated figure, with the
    banks after it.
    """
    has_pool = version[:2] != (4, 16) or len(version) < 3 or version[2] >= 3
    free = free_pages
    placed: list[DomainPlacement] = []
    for dom in domains:
        pool = p2m_pool_pages(dom) if has_pool else 0
        free -= ARM32_P2M_ROOT_PAGES + MAPTRACK_PAGES
        if free < pool:
            placed.append(_failed(dom, "p2m-pool-exhausted", version, None))
            break
        free -= pool
        if dom.static:
            placed.append(DomainPlacement(dom.name, "ok", None))
            continue
        sizes = [size for _guest, size in guest_layout(dom.memory_kib << 10)]
        short = None
        for i, size in enumerate(sizes):
            pages = -(-size // PAGE_SIZE)
            if pages > free:
                short = sum(sizes[i:]) >> 10
                break
            free -= pages
        if short is not None:
            placed.append(_failed(dom, "out-of-memory", version, short))
            break
        placed.append(DomainPlacement(dom.name, "hang" if (dom.memory_kib << 10) % PAGE_SIZE else "ok", None))
        if placed[-1].outcome == "hang":
            break
    placed += [DomainPlacement(d.name, "not-reached", None) for d in domains[len(placed):]]
    return PlacementResult(tuple(placed), (), None, max(free, 0) << PAGE_SHIFT, (), None,
                           ("the domain heap is budgeted, not replayed; dynamic domains' host addresses "
                            "are not predicted",), budgeted=True)


def place_domains(board: HeapBoard, domains: Sequence[HeapDomain],
                  dom0: Dom0Request | None = None) -> PlacementResult:
    """Replay Xen's heap from the boot allocator to the last domU (sections 2-5).

    A classic dom0 is built first (``create_dom0()``); domains are built in
    the order given (DT order of ``/chosen``); the first that fails stops the
    boot, and the ones after it are "not-reached".
    """
    rel = release(board.version)
    minor = board.version[1]
    notes: list[str] = []
    if rel == 16 and len(board.version) >= 3 and board.version[2] < 3:
        notes.append("Xen before 4.16.3 has no P2M pool: P2M tables taken from the heap while "
                     "mapping RAM are not modelled, host addresses are approximate")
    boot = populate_boot_allocator(board.ram, board.modules, board.reserved, board.static_heap)
    allocs = boot_allocations(boot, board.ram, rel)
    recorded = tuple(
        (a.what, None if a.pfn is None else a.pfn << PAGE_SHIFT, a.pages << PAGE_SHIFT) for a in allocs
    )
    heap = BuddyHeap()
    placed: list[DomainPlacement] = []
    failure: str | None = None
    dom0_placed: Dom0Placement | None = None
    if allocs and allocs[-1].pfn is None:
        last = allocs[-1]
        failure = f"alloc_boot_pages() cannot place the {last.what} ({last.pages << PAGE_SHIFT:#x} bytes)"
    else:
        boot.end(heap)
        r = _Replay(heap)
        try:
            _boot_sequence(r, board, rel)
        except _Exhausted as exc:
            failure = f"heap exhausted during boot ({exc.step})"
        if failure is None and dom0 is not None:
            try:
                dom0_placed = _dom0(r, board, dom0, rel)
            except _Exhausted:
                dom0_placed = Dom0Placement("heap-exhausted", (), None, "Error creating domain 0"
                                            + ("" if rel <= 17 else " (rc = -12)"))
        if failure is None and (dom0_placed is None or dom0_placed.outcome == "ok"):
            for dom in domains:
                try:
                    result = _domain(r, board, dom, rel, minor)
                except _Exhausted as exc:
                    result = _exhausted(dom, board, exc.step)
                placed.append(result)
                if result.outcome != "ok":
                    break
    placed += [DomainPlacement(d.name, "not-reached", None) for d in domains[len(placed):]]
    walked = dom0_placed is not None
    for i, p in enumerate(placed):
        if walked:
            placed[i] = replace(p, small_unknown=True)
        walked = walked or p.unreplayed_after
    free_lists = tuple(
        HeapChunks(c.zone, PAGE_SIZE << c.order, c.pfn << PAGE_SHIFT, c.count, c.stride << PAGE_SHIFT,
                   None if c.first_dirty is None else c.first_dirty << PAGE_SHIFT)
        for c in heap.lists()
    )
    free_bytes = heap.free_pages << PAGE_SHIFT
    after: int | None = None
    if failure is None and all(p.outcome == "ok" for p in placed) and (dom0_placed is None
                                                                         or dom0_placed.outcome == "ok"):
        _discard_modules(heap, board)
        after = heap.free_pages << PAGE_SHIFT
    return PlacementResult(tuple(placed), recorded, failure, free_bytes, free_lists, after, tuple(notes), dom0_placed)
