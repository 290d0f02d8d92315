"""``domain_create()`` up to ``p2m_set_allocation()``, and ``vcpu_create()``.

The domain struct and its small allocations, the P2M root, shared_info, the
vGIC (``domain_vgic_init()``), ``domain_io_init()``, event channels, the
grant table (``grant_table_init()``, ``gnttab_grow_table()``), the
scheduler's domain data, then the P2M pool one page at a time (ALLOC-006).
Shared by domUs, a dom0less hardware domain and a classic dom0.
"""

from __future__ import annotations

from collections.abc import Callable

from xenplan.boot.replay.buddy import PAGE_SIZE
from xenplan.boot.replay.inputs import HeapBoard, HeapDomain
from xenplan.boot.replay.requests import Replay
from xenplan.boot.replay.sequence import sched_unit
from xenplan.boot.replay.sizes import scheduler_costs
from xenplan.model.release import ReplaySizes

MMIO_HANDLER = 32
"""``sizeof(struct mmio_handler)``: ``domain_io_init()`` sizes its array for 16 + the vGIC's regions."""
MAX_IO_HANDLER = 16


PENDING_IRQ_SIZE = 56
"""``sizeof(struct pending_irq)``: the vGIC allocates one per SPI."""


def vcpu_create(replay: Replay, board: HeapBoard, step: str, scheduler: str | None = None) -> None:
    """``vcpu_create()``: struct, wait queue, scheduling unit (``scheduler``: its cpupool's),
    stack, private vGIC rank."""
    sizes = board.release.sizes
    replay.alloc(0, step)
    if sizes.waitqueue:
        replay.xmalloc(24, step)
    sched_unit(replay, board, step, scheduler)
    replay.alloc(3, step)
    replay.xmalloc(sizes.vgic_rank, step, align=4)


def domain_create(replay: Replay, board: HeapBoard, dom: HeapDomain, pool: int,
                  hwdom: bool = False, vgic_map: Callable[[], None] | None = None) -> list[tuple[int, int]]:
    """``domain_create()`` up to and with ``p2m_set_allocation()``: returns the P2M pool pages.

    Where the release gives the pool its first pages while the domain is created
    (``ReplaySizes.p2m_pool_initial_pages``), ``p2m_set_allocation()`` tops them up
    to ``pool`` or hands the surplus back. The hardware domain also gets Xen's
    emulated UART (``domain_vuart_init()``). ``vgic_map`` is what the vGIC driver's
    ``domain_init`` asks of the heap (the hardware domain's GICv2 CPU interface mapping,
    ``vgic_v2_domain_init()`` before 4.18)."""
    sizes = board.release.sizes
    first = sizes.p2m_pool_initial_pages if pool else 0
    step = "create"
    replay.alloc(0, step)
    replay.xmalloc(8 * dom.cpus, step)
    if sizes.console:
        replay.xmalloc(272 if board.debug else 268, step, align=4)
    replay.alloc(board.p2m_root_order, step, xen=False)
    initial: list[tuple[int, int]] = []
    if first:
        initial = replay.pages(first, step)
    replay.alloc(0, step)
    v3 = board.gic_version != 2
    rdist = (board.gicr_regions if dom.direct_map else 1) if v3 else 0
    replay.xmalloc(MMIO_HANDLER * (MAX_IO_HANDLER + (1 + rdist if v3 else 1)), step)
    spis = -(-dom.nr_spis // 32) * 32
    replay.xmalloc(sizes.vgic_rank * (spis // 32), step, align=4)
    replay.xmalloc(PENDING_IRQ_SIZE * spis, step)
    if v3:
        replay.xmalloc(24 * rdist, step)
    if vgic_map is not None:
        vgic_map()
    replay.xmalloc(8 * -(-(spis + 32) // 64), step)
    if hwdom:
        replay.xmalloc(128, step, align=1)
    replay.xmalloc(96, step)
    replay.xmalloc(96, step)
    replay.xmalloc(PAGE_SIZE, step, align=64)
    replay.xmalloc(8, step)
    grant_table_init(replay, dom, sizes)
    if sizes.pbuf:
        replay.xmalloc(200, step, align=1)
    spec = scheduler_costs(board, dom.scheduler)
    if spec is None:
        replay.xmalloc(128, step)
    elif spec.domain is not None:
        replay.xmalloc(spec.domain, step)
    if first:
        if pool >= first:
            return initial + replay.pages(pool - first, "pool")
        shrink_pool(replay, initial, first - pool)
        return initial
    return replay.pages(pool, "pool")


def grant_table_init(replay: Replay, dom: HeapDomain, sizes: ReplaySizes) -> None:
    """``grant_table_init()``: the table, its arrays sized by the frame limits,
    the vmalloc'd maptrack, then ``gnttab_grow_table()``'s first frames."""
    step = "create"
    frames = dom.max_grant_frames
    per_page = PAGE_SIZE // sizes.active_entry
    array = replay.xvzalloc if sizes.gnttab_xv else replay.xmalloc
    replay.xmalloc(sizes.gnttab, step)
    array(8 * -(-frames * (PAGE_SIZE // 8) // per_page), step)
    if dom.max_maptrack_frames:
        (replay.xvzalloc if sizes.gnttab_xv else replay.vmalloc)(8 * dom.max_maptrack_frames, step)
    for _ in range(2 if sizes.gnttab_gfn_arrays else 1):
        array(8 * frames, step)
        array(8 * -(-frames // 8), step)
    replay.pages(-(-(PAGE_SIZE // 8) // per_page) + 1, step)


def shrink_pool(replay: Replay, initial: list[tuple[int, int]], count: int) -> None:
    """``p2m_set_allocation()`` below the pages ``p2m_init()`` gave the pool: the oldest go back, dirty."""
    pages = [p for start, n in initial for p in range(start + n - 1, start - 1, -1)]
    for pfn in pages[:count]:
        replay.heap.free(pfn, 0, dirty=True)
    del initial[:]
    for pfn in pages[count:]:
        initial.append((pfn, 1))
