"""What each scheduler allocates: the costs of ``scheduler_init()``,
``cpupool_create()``, ``sched_alloc_unit()`` and ``sched_init_domain()`` for
each built-in scheduler, measured with an instrumented release build
(``tools/xen-trace``, ``tests/data/heaptrace``); credit2, the default, is
written out in ``sequence``. What differs between releases is
``XenRelease.sizes`` (``ReplaySizes``).
"""

from __future__ import annotations

from xenplan.boot.replay.inputs import HeapBoard
from xenplan.records import record


@record(frozen=True)
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


def scheduler_costs(board: HeapBoard, name: str | None = None) -> Scheduler | None:
    """The costs of scheduler ``name`` (default: the one ``scheduler_init()`` chose),
    ``None`` for credit2 (written out in the boot sequence)."""
    name = name or board.scheduler
    if name == "credit" and board.release.sizes.credit_small:
        return CREDIT_416
    return SCHEDULERS.get(name)

