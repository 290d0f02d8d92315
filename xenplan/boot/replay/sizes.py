"""What each release allocates where releases differ, and what each
scheduler allocates: structure sizes measured with an instrumented release
build of 4.16.7, 4.17.7, 4.18.6, 4.19.6, 4.20.4, 4.21.2 and 4.22.0
(``tools/xen-trace``, ``tests/data/heaptrace``).

Scheduler costs are those of ``scheduler_init()``, ``cpupool_create()``,
``sched_alloc_unit()`` and ``sched_init_domain()`` for each built-in
scheduler; credit2, the default, is written out in ``sequence``.
"""

from __future__ import annotations

from dataclasses import dataclass

from xenplan.boot.replay.buddy import PAGE_SIZE


@dataclass(frozen=True)
class Sizes:
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


def release_sizes(rel: int, minor: int, scheduler: str = "credit2") -> Sizes:
    """``rel`` is the modelled release (4.19 and 4.21 as 4.20), ``minor`` the real one."""
    return Sizes(
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


@dataclass(frozen=True)
class Scheduler:
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
    "credit": Scheduler(((184, 8), (4, 4)), (96, 80), 80, 48, True),
    "null": Scheduler(((64, 8),), (8, 24), 24, 24, False),
    "rtds": Scheduler(((136, 8),), (96,), 96, 24, False),
    "arinc653": Scheduler(((2624, 8),), (32,), 32, None, True),
}
"""Measured on 4.22.0 (credit on every release; 4.16 is ``CREDIT_416``); credit2, the default, is
written out in the boot sequence (its runqueue is shared by the CPUs)."""


CREDIT_416 = Scheduler(((176, 8), (4, 4)), (80, 80), 80, 48, True)
"""Credit on 4.16: a smaller private structure and per-CPU data."""


def scheduler_costs(sizes: Sizes, rel: int) -> Scheduler | None:
    """The chosen scheduler's costs, ``None`` for credit2 (written out in the boot sequence)."""
    if sizes.scheduler == "credit" and rel <= 16:
        return CREDIT_416
    return SCHEDULERS.get(sizes.scheduler)
