"""The boot sequence from ``end_boot_allocator()`` to "Xen dom0less mode
detected", and ``discard_initial_modules()`` after the last domain.

In order: vmap and page tables, the ``xmalloc`` pool, ``relocate_fdt()``'s
copy of the DTB, ``unflatten_device_tree()``, the GIC's set-up
(``gicv3_init()``), timers, ``scheduler_init()``, the idle and system
domains, ``console_init_ring()``, per-CPU areas and idle vCPUs of the
secondary CPUs, ``cpupool_create()`` and the empty P2M root.
"""

from __future__ import annotations

from xenplan.boot.replay.buddy import PAGE_SIZE, BuddyHeap
from xenplan.boot.replay.inputs import HeapBoard
from xenplan.boot.replay.requests import Replay
from xenplan.boot.replay.sizes import SCHEDULERS, scheduler_costs


def _redist_tables(size: int) -> int:
    """Page-table pages ``gicv3_init()``'s ``ioremap()`` of the redistributors takes: one
    per 2 MiB of mapping but the first, whose table the vmap area already has
    (7 for QEMU's 0xf60000 bytes, as measured on every release)."""
    return max(0, -(-size // (2 << 20)) - 1)


def sched_unit(replay: Replay, board: HeapBoard, step: str, scheduler: str | None = None) -> None:
    """``sched_alloc_unit_mem()`` and the scheduler's unit data (credit2: 144 bytes)."""
    replay.xmalloc(144, step)
    spec = SCHEDULERS.get(scheduler or board.scheduler)
    replay.xmalloc(spec.unit if spec is not None else 144, step)


def sched_init(replay: Replay, board: HeapBoard, step: str, scheduler: str | None = None) -> None:
    """The scheduler's ``init``: credit2's private data, or the chosen scheduler's."""
    spec = scheduler_costs(board, scheduler)
    if spec is None:
        replay.xmalloc(board.release.sizes.csched2_private, step)
        return
    for size, align in spec.init:
        replay.xmalloc(size, step, align=align)


def cpupools(replay: Replay, board: HeapBoard, step: str) -> None:
    """``cpupool_init()``: each pool (``cpupool_create()``: the pool, from 4.17 its own
    scheduler instance), then each CPU into its pool (``schedule_cpu_add()``: the pool
    scheduler's per-CPU data and the idle unit's). Boot-time cpupools
    (``btcpupools_allocate_pools()``) make several pools; credit2 gives each pool's
    first CPU a run queue and frees the one it allocates for the others, which share it."""
    pools = board.pools or (board.scheduler,)
    for name in pools:
        replay.xmalloc(88, step)
        if board.release.sizes.pool_scheduler:
            replay.xmalloc(248, step)
            sched_init(replay, board, step, name)
    seen: set[int] = set()
    for cpu in range(board.host_cpus):
        pool = board.cpu_pools[cpu] if cpu < len(board.cpu_pools) else 0
        spec = scheduler_costs(board, pools[pool])
        if spec is not None:
            for size in spec.pcpu:
                replay.xmalloc(size, step)
        else:
            replay.xmalloc(24, step)
            runqueue = replay.xmalloc(168, step)
            if pool in seen:
                replay.xfree(runqueue)
            replay.xmalloc(144, step)
        seen.add(pool)
    if any((spec := scheduler_costs(board, name)) is not None and spec.boot_timer for name in pools):
        replay.xmalloc(128, step)


SMMU_DEVICE_SIZE = 184
"""``sizeof(struct arm_smmu_device)`` (arm64, measured on 4.22.0's trace)."""


def boot_sequence(replay: Replay, board: HeapBoard) -> None:
    """The heap and pool requests from heap init to "Xen dom0less mode detected"."""
    sizes = board.release.sizes
    step = "boot"
    if sizes.boot_vmap_pages:
        replay.pages(sizes.boot_vmap_pages, "vmap and page tables")
    replay.alloc(1, "xmalloc pool")
    replay.xmalloc(board.fdt_size, "relocated DTB", align=128)
    replay.xmalloc(board.unflat_size, "unflattened DT")
    for size in board.alias_sizes:
        replay.xmalloc(size, "DT aliases", align=4)
    if sizes.console_flush_buffer:
        replay.xfree(replay.xmalloc(32 << 10, "console flush buffer"))
    if board.gic_version == 2:
        for _ in range(board.gicv2m_frames):
            replay.xmalloc(48, step)
    else:
        replay.xmalloc(32, step)
        replay.pages(_redist_tables(board.gicr_size), "page tables")
    for _ in range(sizes.timer_irqs):
        replay.xmalloc(40, step)
    replay.xmalloc(152, step)
    sched_init(replay, board, step)
    replay.alloc(0, "idle domain")
    replay.alloc(0, "idle vCPU0")
    sched_unit(replay, board, step)
    replay.alloc(3, "idle vCPU0 stack")
    replay.pages(2, "system domains")
    ring = max(board.console_ring, 16 << 10)
    replay.alloc((-(-ring // PAGE_SIZE) - 1).bit_length(), "console ring")
    if sizes.lock_debug_buffer:
        replay.xmalloc(sizes.lock_debug_buffer, step)
    for _ in range(1, board.host_cpus):
        replay.alloc(1, "per-CPU area")
        replay.xmalloc(152, step)
        replay.alloc(0, "idle vCPU")
        sched_unit(replay, board, step)
        replay.alloc(3, "idle vCPU stack")
        for _ in range(sizes.timer_irqs):
            replay.xmalloc(40, step)
        if sizes.lock_debug_buffer:
            replay.xmalloc(sizes.lock_debug_buffer, step)
    for irqs in board.smmu_irqs:
        replay.xmalloc(SMMU_DEVICE_SIZE, "SMMU probe")
        replay.xmalloc(4 * irqs, "SMMU probe")
    replay.xmalloc(32, step)
    replay.alloc(board.p2m_root_order, "empty P2M root", xen=False)
    cpupools(replay, board, step)
    replay.alloc(0, "page table")


def discard_modules(heap: BuddyHeap, board: HeapBoard) -> None:
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
