"""The domain heap's page budget where the heap is not replayed: LLC
colouring (``domain_llc_coloring``), and arm32 (``CONFIG_SEPARATE_XENHEAP``)
with a dom0 or without the image placement the ``arm32`` replay needs.

Counts the pages ``p2m_set_allocation()``, the P2M root, the maptrack and
``allocate_memory()`` take from the domain heap, domain by domain.
"""

from __future__ import annotations

from collections.abc import Sequence

from xenplan.boot.replay.buddy import PAGE_SHIFT, PAGE_SIZE
from xenplan.boot.replay.inputs import HeapDomain, p2m_pool_pages
from xenplan.boot.replay.results import DomainPlacement, PlacementResult, failed
from xenplan.model.layout import guest_layout
from xenplan.model.release import XenRelease

ARM32_P2M_ROOT_PAGES = 2
"""arm32's stage-2 root: two concatenated pages (40-bit IPA, 3 levels)."""
MAPTRACK_PAGES = 2
"""The vmalloc'd maptrack of the default 1024 frames: two domheap pages."""


def budget_domains(free_pages: int, domains: Sequence[HeapDomain], rel: XenRelease) -> PlacementResult:
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
    free = free_pages
    placed: list[DomainPlacement] = []
    for dom in domains:
        pool = p2m_pool_pages(dom) if rel.p2m_pool else 0
        free -= ARM32_P2M_ROOT_PAGES + MAPTRACK_PAGES
        if free < pool:
            placed.append(failed(dom, "p2m-pool-exhausted", rel, None))
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
            placed.append(failed(dom, "out-of-memory", rel, short))
            break
        placed.append(DomainPlacement(dom.name, "hang" if (dom.memory_kib << 10) % PAGE_SIZE else "ok", None))
        if placed[-1].outcome == "hang":
            break
    placed += [DomainPlacement(dom.name, "not-reached", None) for dom in domains[len(placed):]]
    return PlacementResult(tuple(placed), (), None, max(free, 0) << PAGE_SHIFT, None,
                           ("the domain heap is budgeted, not replayed; dynamic domains' host addresses "
                            "are not predicted",), budgeted=True)
