"""HEAP: Xen's heap and the static heap.

Memory set-up meets the frame table that does not fit (HEAP-008) and the
arm32 xenheap that cannot be placed (HEAP-006). The checks here are what Xen
never tests: static heap alignment (HEAP-002), a heap budget that the known
consumers exceed (HEAP-005) and, on arm32, a static heap with nothing below
4 GiB for DMA (HEAP-007).
"""

from __future__ import annotations

from collections.abc import Iterator

from xenplan.boot.result import BootResult
from xenplan.checks.registry import Hit, rule
from xenplan.model.base import PAGE_SIZE, pfn_down, pfn_up
from xenplan.model.system import Domain, System, default_p2m_pool_mb

KIB, MIB = 1 << 10, 1 << 20
DOC_ALIGN = 64 * KIB
PAGE_INFO_SIZE = 56
#: Heap used per domain beyond its RAM and P2M pool (domain and vCPU structures, tables).
DOMAIN_OVERHEAD = 1 * MIB
#: Stage findings that already say the heap ran out.
EXHAUSTION_RULES = ("ALLOC-002", "ALLOC-006", "HEAP-008")


@rule(id="HEAP-001", slug="static-heap-binding", behaviour="INFO", since="4.17",
      xen_src="xen/common/device-tree/bootinfo-fdt.c: process_chosen_node()")
def heap_001() -> None:
    """What Xen does: `xen,static-heap` in `/chosen` lists (address, size)
    pairs in the root's cells; each non-empty pair becomes a static heap bank
    in `reserved_mem` and switches Xen to static heap mode. No Kconfig option
    gates it; there is no `/reserved-memory` form.

    | release | overlaps with the heap |
    |---|---|
    | 4.17 | not checked: a static bank inside it crashes (PAGE-005); reserved ranges, /memreserve/ and modules inside it are handed to the heap (RSV-013) |
    | 4.18 | refused against everything recorded earlier (TRUNC), except /memreserve/ |
    | 4.19+ | refused: PANIC "Early FDT parsing failed" |

    Why it matters: in static heap mode the heap is only these banks: all of
    Xen's allocations and every dynamic domain come from them (HEAP-004).

    Example: `xen,static-heap = <0x0 0x70000000 0x0 0x10000000>;` in
    `/chosen` gives Xen a 256 MiB heap at 0x70000000.

    Fix: size the heap for Xen and every dynamic consumer; keep it clear of
    every other region.
    """


@rule(id="HEAP-002", slug="static-heap-unaligned", behaviour="HAZARD", since="4.17",
      xen_src="xen/common/page_alloc.c: init_boot_pages()")
def heap_002(system: System, result: BootResult) -> Iterator[Hit]:
    """What Xen does: nothing checks the alignment of static heap banks. The
    boot allocator rounds each bank's start up and its end down to whole
    pages, so partial pages at either end are silently lost. The binding's
    documentation asks for 64 KiB alignment; the code never tests it.

    Why it matters: a heap a few KiB smaller than written, and a bank that
    does not follow the documented contract.

    Example: `xen,static-heap = <0x0 0x70000800 0x0 0x10000000>;` loses
    the partial pages at both ends; `<0x0 0x70000000 0x0 0x10000000>` is
    exact.

    Fix: start and size every static heap bank on a 64 KiB boundary.
    """
    for r in system.xen.static_heap:
        whole = max(pfn_down(r.end) - pfn_up(r.start), 0) * PAGE_SIZE
        lost = r.size - whole
        if lost:
            yield Hit(message=f"static heap bank {r} is not page aligned: Xen drops the partial pages at its ends "
                      f"({lost} bytes)", path="/chosen", property="xen,static-heap", ranges=((r.start, r.size),))
        elif r.start % DOC_ALIGN or r.size % DOC_ALIGN:
            yield Hit(message=f"static heap bank {r} is page aligned but not 64 KiB aligned, as the binding asks",
                      path="/chosen", property="xen,static-heap", ranges=((r.start, r.size),), behaviour="INFO")


@rule(id="HEAP-003", slug="heap-without-static-heap", behaviour="INFO", since="4.16",
      xen_src="xen/common/device-tree/bootinfo.c: populate_boot_allocator(), dt_unreserved_regions(); "
              "xen/common/page_alloc.c: init_heap_pages()")
def heap_003() -> None:
    """What Xen does: without a static heap, the heap is every RAM bank minus
    the boot modules (Xen, the DTB, kernels, ramdisks, guest DTBs), every
    reserved bank (reserved regions, static banks, /memreserve/) and every
    shared-memory host range. Page 0 is never given to the allocator. Once
    every domain is built, the modules (except Xen) are added back.

    Why it matters: dynamic domains and Xen's own allocations share what is
    left; a region that is not reserved is heap.

    Example: 4 GiB of RAM with a 256 MiB static bank leaves about 3.7 GiB
    of heap for Xen and the dynamic domains.

    Fix: nothing to fix; reserve what must not be heap.
    """


@rule(id="HEAP-004", slug="heap-with-static-heap", behaviour="INFO", since="4.17",
      xen_src="xen/common/device-tree/bootinfo.c: populate_boot_allocator(); "
              "xen/arch/arm/setup.c: discard_initial_modules()")
def heap_004() -> None:
    """What Xen does: with a static heap, the heap is only the static heap
    banks, added whole (nothing recorded inside them is cut out). Every
    other RAM byte that is not static memory, shared memory or reserved is
    never used, and modules and Xen's init section are never freed. The
    static heap is also the only memory for the frame table and the
    direct-map page tables (HEAP-008).

    Why it matters: RAM outside the heap and the static banks is wasted;
    the heap must hold everything dynamic (HEAP-005).

    Example: 4 GiB of RAM, a 256 MiB static heap and one 512 MiB static
    domain leave 3.25 GiB unused.

    Fix: make the static heap large enough, or give the unused RAM to
    static domains.
    """


def p2m_pool_bytes(dom: Domain) -> int:
    """ALLOC-006: the property in MiB, else 1 MiB per vCPU + 4 KiB per MiB of RAM + 512 KiB, in whole MiB."""
    if dom.p2m_mem_mb is not None:
        return dom.p2m_mem_mb * MIB
    return default_p2m_pool_mb(dom.cpus or 1, dom.memory_kib or 0) * MIB


def frame_table_bytes(system: System) -> int:
    """HEAP-008: one block for the RAM span, rounded to 32 MiB (2 MiB below that); 4.22 rounds to a page."""
    ram = system.board.ram
    if not ram:
        return 0
    table = (pfn_up(max(r.end for r in ram)) - pfn_down(min(r.start for r in ram))) * PAGE_INFO_SIZE
    gran = PAGE_SIZE if system.target.release.frametable_per_pdx_group else 32 * MIB if table >= 32 * MIB else 2 * MIB
    return -(-table // gran) * gran


@rule(id="HEAP-005", slug="heap-budget-too-small", behaviour="PANIC", since="4.16",
      xen_src="xen/common/page_alloc.c: alloc_domheap_pages(); "
              "xen/common/device-tree/dom0less-build.c: domain_p2m_set_allocation()")
def heap_005(system: System, result: BootResult) -> Iterator[Hit]:
    """What Xen does: everything dynamic comes from the heap: the frame
    table (with a static heap), every domain's P2M pool, the RAM of dynamic
    domains, decompressed kernels, guest DTB buffers, domain and vCPU
    structures, grant and event tables. When it runs out while domains are
    built, Xen panics (the message depends on the allocation that failed,
    e.g. "Failed to allocate P2M pages.").

    Why it matters: a static heap sized for the RAM of the dynamic domains
    alone leaves nothing for their P2M pools and Xen's own structures.

    Example: a 64 MiB static heap with one dynamic domU of
    `memory = <0x0 0x10000>;` (64 MiB) cannot also hold its P2M pool and the
    frame table; a 256 MiB heap can.

    Fix: size the static heap for the frame table, every P2M pool
    (`xen,domain-p2m-mem-mb` or the default), every dynamic domain's RAM and
    about 1 MiB per domain, plus a margin.
    """
    if any(ev.rule in EXHAUSTION_RULES for ev in result.events):
        return
    if result.heap_free is not None:
        margin = 2 * MIB * max(len(system.domains), 1)
        if result.heap_free < margin:
            yield Hit(message=f"only {result.heap_free // KIB} KiB of heap are left after the last domain (less "
                      "than 2 MiB per domain): later heap allocations (grant, event and vCPU structures, run-time "
                      "requests) may fail", path="/chosen", behaviour="HAZARD")
        return
    heap = sum(max(pfn_down(r.end) - pfn_up(r.start), 0) * PAGE_SIZE for r in system.xen.static_heap)
    if not system.xen.static_heap:
        return
    frame_table = frame_table_bytes(system)
    pools = sum(p2m_pool_bytes(d) for d in system.domains)
    dynamic = sum((d.memory_kib or 0) * KIB for d in system.domains if not d.static_mem_present)
    overhead = DOMAIN_OVERHEAD * len(system.domains)
    need = frame_table + pools + dynamic + overhead
    if need > heap:
        yield Hit(message=f"the static heap holds {heap // MIB} MiB but needs about {-(-need // MIB)} MiB: frame "
                  f"table {frame_table // MIB} MiB, P2M pools {pools // MIB} MiB, dynamic RAM {dynamic // MIB} "
                  f"MiB, about {overhead // MIB} MiB for domain structures", path="/chosen",
                  property="xen,static-heap", ranges=tuple((r.start, r.size) for r in system.xen.static_heap),
                  behaviour="HAZARD")


@rule(id="HEAP-006", slug="arm32-xenheap-no-fit", behaviour="PANIC", since="4.16",
      xen_src="xen/arch/arm/arm32/mmu/mm.c: setup_mm(), fit_xenheap_in_static_heap()",
      xen_message="Not enough space for xenheap")
def heap_006() -> None:
    """What Xen does: on arm32 the xenheap is one contiguous, 32 MiB aligned
    range of heap_pages/32 rounded up to 32 MiB (between 32 MiB and 1 GiB,
    or `xenheap_megabytes`). Without a static heap it must lie in RAM clear
    of the modules; with one (4.17+) inside a single static heap bank, as
    high as possible. When nothing fits, the size is halved down to 32 MiB
    (not with `xenheap_megabytes`), then Xen panics "Not enough space for
    xenheap".

    Why it matters: Xen stops in memory set-up, before any domain.

    Example: on arm32, `xen,static-heap = <0x0 0x70000000 0x0 0x1000000>;`
    (16 MiB) cannot hold a 32 MiB xenheap; a 64 MiB bank aligned to 32 MiB
    can.

    Fix: on arm32 give one static heap bank at least 32 MiB, aligned to
    32 MiB.
    """


@rule(id="HEAP-007", slug="arm32-static-heap-above-4g", behaviour="HAZARD", since="4.17",
      xen_src="docs/misc/arm/device-tree/booting.txt (static heap); "
              "xen/arch/arm/arm32/mmu/mm.c: setup_mm() has no check", arch=("arm32",))
def heap_007(system: System, result: BootResult) -> Iterator[Hit]:
    """What Xen does: nothing. The binding asks the administrator to keep
    enough static heap below 4 GiB on arm32 for 32-bit DMA; Xen does not
    check.

    Why it matters: allocations that must be reachable by 32-bit DMA
    masters fail or fall back to memory the device cannot address.

    Example: on arm32, `xen,static-heap = <0x1 0x0 0x0 0x10000000>;` is
    entirely above 4 GiB; add a bank below, e.g. `<0x0 0x70000000 0x0 0x4000000>`.

    Fix: keep part of the static heap below 4 GiB on arm32.
    """
    if system.xen.static_heap and all(r.start >= 1 << 32 for r in system.xen.static_heap):
        yield Hit(message="every static heap bank is above 4 GiB: nothing is left for 32-bit DMA on arm32",
                  path="/chosen", property="xen,static-heap",
                  ranges=tuple((r.start, r.size) for r in system.xen.static_heap))


@rule(id="HEAP-008", slug="frame-table-no-fit", behaviour="CRASH", since="4.17",
      xen_src="xen/common/page_alloc.c: alloc_boot_pages(); xen/arch/arm/mmu/mm.c: init_frametable(), "
              "init_frametable_chunk()",
      xen_message="Xen BUG at common/page_alloc.c:464")
def heap_008() -> None:
    """What Xen does: with a static heap the boot allocator holds only the
    heap banks, and the frame table needs one contiguous block from them
    (after the direct-map page tables, taken from the top first).

    | release | block for 4 GiB of RAM | when it does not fit |
    |---|---|---|
    | 4.17–4.21 | one block for the whole RAM span, 56 bytes per page rounded up to 32 MiB, 32 MiB aligned (64 MiB) | BUG in `alloc_boot_pages()` (":440" 4.17, ":447" 4.18, ":463" 4.20) |
    | 4.22 | one block per RAM run, rounded to 4 KiB, 32 MiB aligned when at least 32 MiB (56 MiB) | BUG ":464" |

    Why it matters: Xen crashes in memory set-up, before any domain
    (outcome crash, stage other). When the block fits but leaves too little,
    the first domain's P2M pool fails instead (HEAP-005).

    Example: 4 GiB of RAM and `xen,static-heap = <0x1 0x0 0x0 0x4000000>;`
    (64 MiB) crash on 4.17–4.20; a 256 MiB heap boots.

    Fix: make the static heap well larger than the frame table (56 bytes
    per RAM page, rounded to 32 MiB) plus the P2M pools.
    """
