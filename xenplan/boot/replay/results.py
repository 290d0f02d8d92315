"""What the replay answers: each domain's placement or the point its build
stopped, dom0's 1:1 banks, and the heap left at the end.

The failure messages are the ones Xen prints where a heap request of
``domain_create()``, ``construct_domU()`` or ``allocate_memory()`` fails.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import field
from typing import Literal

from xenplan.boot.replay.buddy import PAGE_SHIFT, BuddyHeap
from xenplan.boot.replay.inputs import HeapBoard, HeapDomain
from xenplan.model.release import XenRelease
from xenplan.records import record

Outcome = Literal["ok", "out-of-memory", "p2m-pool-exhausted", "heap-exhausted", "hang", "not-reached"]


@record(frozen=True)
class Dom0Placement:
    """dom0's 1:1 RAM (HWD-002), or why ``allocate_memory_11()`` gave up."""

    outcome: Literal["ok", "out-of-memory", "heap-exhausted"]
    banks: tuple[tuple[int, int], ...]
    """(start, size) host == guest, ascending, as ``insert_11_bank()`` merged them."""
    unallocated_mb: int | None = None
    message: str | None = None


@record(frozen=True)
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
    """Xen's panic line, where Xen prints one."""
    p2m_pool: tuple[tuple[int, int], ...] = ()
    """(start, size) host extents of the P2M pool, in allocation order."""
    unreplayed_after: bool = False
    """Xen goes on with requests the replay does not make (a hardware domain's device-tree walk)."""
    small_unknown: bool = False
    """A dom0 or an earlier hardware domain walked the host tree first: chunks under 16 MiB
    may be elsewhere, only the larger ones are placed exactly."""
    colours_short: str | None = None
    """LLC colouring: the domain's own colours ran out (LLC-004), and by how much."""


@record(frozen=True)
class PlacementResult:
    """The replay's answer for one boot: every domain, the boot allocator's pages, the heap left."""

    domains: tuple[DomainPlacement, ...]
    """One per input domain, in order; after the first failure all are "not-reached"."""
    boot_pages: tuple[tuple[str, int | None, int], ...]
    """(what, start or None when it failed, size) of each ``alloc_boot_pages()``."""
    boot_failure: str | None
    """Why Xen stopped before the first domU (HEAP-008, or the heap ran dry)."""
    free_bytes: int
    """Heap left after the last domain built (or at the failure)."""
    free_bytes_after_discard: int | None
    """After ``discard_initial_modules()`` gave the boot modules back (S12);
    Xen's init section, freed next, is not counted. None if Xen stopped."""
    notes: tuple[str, ...] = ()
    dom0: Dom0Placement | None = None
    """dom0's RAM when the boot builds a classic dom0 (before any domU)."""
    budgeted: bool = False
    """Only the page budget was kept (``budget_domains``): no host address is known."""
    heap: BuddyHeap | None = field(default=None, compare=False, repr=False)
    """The heap's free lists once the boot is over, for the run-time replay to continue from
    (``xenplan/boot/runtime``); it must copy them before changing anything."""


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


def pool_extents(got: Sequence[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    """The P2M pool's (pfn, pages) runs as merged byte extents, in allocation order."""
    return _merge([(p << PAGE_SHIFT, n << PAGE_SHIFT) for p, n in got])


def rc_suffix(rel: XenRelease, rc: int) -> str:
    """`` (rc = N)`` where the release ends its domain panics with it (``rc_in_panic``)."""
    return f" (rc = {rc})" if rel.rc_in_panic else ""


def failed(dom: HeapDomain, outcome: Outcome, rel: XenRelease, unallocated_kib: int | None,
           pool: Sequence[tuple[int, int]] = ()) -> DomainPlacement:
    """A domain whose RAM (``allocate_memory()``) or P2M pool (``p2m_set_allocation()``) ran out."""
    if outcome == "out-of-memory":
        message = (f"Failed to allocate requested domain memory. {unallocated_kib}KB unallocated. "
                   "Fix the VMs configurations.")
    elif outcome == "p2m-pool-exhausted":
        message = f"Could not set up domain {dom.name}{rc_suffix(rel, -12)}"
    else:
        message = None
    return DomainPlacement(dom.name, outcome, None, unallocated_kib, message, pool_extents(pool))


def exhausted(dom: HeapDomain, board: HeapBoard, step: str) -> DomainPlacement:
    """A domain one of whose other heap requests failed: Xen's message for the step that asked."""
    if step == "pool":
        return failed(dom, "p2m-pool-exhausted", board.release, None)
    if step == "create":
        message = f"Error creating domain {dom.name}{rc_suffix(board.release, -12)}"
    elif step == "shm":
        message = "Failed to allocate static shared memory from Xen heap"
    else:
        message = f"Could not set up domain {dom.name}{rc_suffix(board.release, -12)}"
    return DomainPlacement(dom.name, "heap-exhausted", None, None, message)
