"""The course every heap replay follows from the boot allocator to the last domU.

``start_xen()`` hands the boot allocator's pages to the heap
(``end_boot_allocator()``), makes its own requests, builds a classic dom0
(``create_dom0()``) and then the domUs in DT order (``create_domUs()``); the
first domain that fails stops the boot, and Xen gives the boot modules back
(``discard_initial_modules()``) only when every domain was built. The arm64
and arm32 replays differ in what each step asks for, not in this order, so
they share it here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from xenplan.boot.replay.boot_alloc import BootAllocation, BootAllocator
from xenplan.boot.replay.buddy import PAGE_SHIFT, BuddyHeap
from xenplan.boot.replay.inputs import HeapBoard, HeapDomain
from xenplan.boot.replay.requests import Exhausted, Replay
from xenplan.boot.replay.results import Dom0Placement, DomainPlacement, PlacementResult, exhausted, rc_suffix
from xenplan.boot.replay.sequence import discard_modules


def drive(board: HeapBoard, boot: BootAllocator, allocs: Sequence[BootAllocation],
          domains: Sequence[HeapDomain], notes: Sequence[str], *,
          boot_requests: Callable[[Replay], None],
          dom0: Callable[[Replay], Dom0Placement] | None,
          domain: Callable[[Replay, HeapDomain], DomainPlacement],
          settle: Callable[[list[DomainPlacement], Dom0Placement | None], None] | None = None) -> PlacementResult:
    """Run one boot: ``allocs`` are the boot allocator's requests already made on ``boot``; a
    last one that found no room stops Xen before its heap exists (HEAP-008). ``settle`` may
    revise the domains' placements once they are all known (which host addresses stay exact)."""
    heap = BuddyHeap()
    placed: list[DomainPlacement] = []
    failure: str | None = None
    dom0_placed: Dom0Placement | None = None
    if allocs and allocs[-1].pfn is None:
        last = allocs[-1]
        failure = f"alloc_boot_pages() cannot place the {last.what} ({last.pages << PAGE_SHIFT:#x} bytes)"
    else:
        boot.end(heap)
        replay = Replay(heap)
        try:
            boot_requests(replay)
        except Exhausted as exc:
            failure = f"heap exhausted during boot ({exc.step})"
        if failure is None and dom0 is not None:
            try:
                dom0_placed = dom0(replay)
            except Exhausted:
                dom0_placed = Dom0Placement("heap-exhausted", (), None,
                                            f"Error creating domain 0{rc_suffix(board.release, -12)}")
        if failure is None and (dom0_placed is None or dom0_placed.outcome == "ok"):
            for dom in domains:
                try:
                    result = domain(replay, dom)
                except Exhausted as exc:
                    result = exhausted(dom, board, exc.step)
                placed.append(result)
                if result.outcome != "ok":
                    break
    placed += [DomainPlacement(dom.name, "not-reached", None) for dom in domains[len(placed):]]
    if settle is not None:
        settle(placed, dom0_placed)
    free_bytes = heap.free_pages << PAGE_SHIFT
    after: int | None = None
    if failure is None and all(p.outcome == "ok" for p in placed) and (dom0_placed is None
                                                                       or dom0_placed.outcome == "ok"):
        discard_modules(heap, board)
        after = heap.free_pages << PAGE_SHIFT
    recorded = tuple((a.what, None if a.pfn is None else a.pfn << PAGE_SHIFT, a.pages << PAGE_SHIFT) for a in allocs)
    return PlacementResult(tuple(placed), recorded, failure, free_bytes, after, tuple(notes), dom0_placed, heap=heap)
