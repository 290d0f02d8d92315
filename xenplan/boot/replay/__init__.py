"""Where the heap puts every domain's RAM: a replay of Xen's allocators from
``end_boot_allocator()`` to the last domU (``docs/replay.md``).

``place_domains()`` populates the boot allocator (``boot_alloc``), hands it
to the buddy heap (``buddy``), then issues every heap and ``xmalloc`` pool
request (``requests``, ``xmalloc``) Xen makes, in order:

* the boot sequence up to "Xen dom0less mode detected" (``sequence``);
* a classic dom0 (``create_dom0()``, ``allocate_memory_11()``, then
  ``construct_dom0()``'s walk of the host tree) when present (``dom0``,
  ``direct``);
* per ``xen,domain`` node (``create_domUs()``, ``domain_create()``,
  ``construct_domU()``): ``create`` then ``domain``;
* after the last domU, ``discard_initial_modules()`` for the final heap.

Releases: every size and position was measured on release builds of 4.16.7,
4.17.7, 4.18.6, 4.19.6, 4.20.4, 4.21.2 and 4.22.0 (``tools/xen-trace``,
``tests/data/heaptrace``); what differs between releases is read from the
board's ``XenRelease`` (``HeapBoard.release``), its structure sizes from
``XenRelease.sizes``. 4.16.0-4.16.2 predate the P2M pool (XSA-409): their P2M
tables come from the heap while RAM is mapped, which is not modelled (a note
says so).

arm32's separate domain heap has its own, shorter replay (``arm32``).
Where the heap is not replayed (LLC colouring; arm32 with a dom0 or
without the image placement), ``budget_domains()`` keeps its page budget
instead. All addresses and sizes are bytes; the replay
is a pure function of its inputs and never walks memory page by page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from xenplan.boot.replay.boot_alloc import populate_boot_allocator, pre_heap_allocations
from xenplan.boot.replay.budget import budget_domains
from xenplan.boot.replay.dom0 import build_dom0
from xenplan.boot.replay.domain import build_domain
from xenplan.boot.replay.drive import drive
from xenplan.boot.replay.inputs import Dom0Request, HeapBoard, HeapDomain, p2m_pool_pages
from xenplan.boot.replay.results import Dom0Placement, DomainPlacement, PlacementResult
from xenplan.boot.replay.sequence import boot_sequence

__all__ = [
    "Dom0Placement",
    "Dom0Request",
    "DomainPlacement",
    "HeapBoard",
    "HeapDomain",
    "PlacementResult",
    "budget_domains",
    "p2m_pool_pages",
    "place_domains",
]


def place_domains(board: HeapBoard, domains: Sequence[HeapDomain],
                  dom0: Dom0Request | None = None) -> PlacementResult:
    """Replay Xen's heap from the boot allocator to the last domU (``start_xen()`` to ``create_domUs()``).

    A classic dom0 is built first (``create_dom0()``); domains are built in
    the order given (DT order of ``/chosen``); the first that fails stops the
    boot, and the ones after it are "not-reached".
    """
    rel = board.release
    notes: list[str] = []
    if not rel.p2m_pool:
        notes.append("Xen before 4.16.3 has no P2M pool: P2M tables taken from the heap while "
                     "mapping RAM are not modelled, host addresses are approximate")
    boot = populate_boot_allocator(board.ram, board.modules, board.reserved, board.static_heap)
    allocs = pre_heap_allocations(boot, board.ram, rel)

    def settle(placed: list[DomainPlacement], dom0_placed: Dom0Placement | None) -> None:
        walked = dom0_placed is not None and not rel.dom0_construct
        for i, p in enumerate(placed):
            if walked:
                placed[i] = replace(p, small_unknown=True)
            walked = walked or p.unreplayed_after

    return drive(board, boot, allocs, domains, notes,
                 boot_requests=lambda replay: boot_sequence(replay, board),
                 dom0=None if dom0 is None else lambda replay: build_dom0(replay, board, dom0),
                 domain=lambda replay, dom: build_domain(replay, board, dom), settle=settle)
