"""S6: ``setup_mm()`` — boot allocator, frame table, static pages, heap.

Mirrors ``setup_mm()`` (``xen/arch/arm/setup.c`` up to 4.18,
``xen/arch/arm/arm64/mmu/mm.c`` 4.20, ``xen/arch/arm/mm.c`` 4.22):
``populate_boot_allocator()`` (HEAP-003/004), the frame table
(``setup_frametable_mappings()`` / ``init_frametable()``: its coverage and
tail padding decide RSV-011), ``init_staticmem_pages()`` (SMEM-005, the
4.19+ ``init_sharedmem_pages()``), and ``end_boot_allocator()`` filling the
heap (PAGE-005, PAGE-006). Every failure here is before any domain exists:
stage ``other``, every domain not reached.
"""

from __future__ import annotations

from xenplan.boot import messages as msg
from xenplan.boot.frametable import FrameTable
from xenplan.boot.replay_bridge import boot_pages_fit, heap_ranges
from xenplan.boot.result import Related
from xenplan.boot.state import BootState
from xenplan.model.base import PAGE_SHIFT, PAGE_SIZE, Range, pfn_down, pfn_up

PAGE_INFO_SIZE = 56
MB = 1 << 20


def frametable_padding(state: BootState) -> int:
    """Page structs past the last RAM page that exist, filled with ones (RSV-011, HEAP-008).

    Up to 4.21 the table is one block rounded up to 32 MiB (2 MiB when
    smaller); 4.22 rounds each chunk to a page only.
    """
    if not state.ram:
        return 0
    first = pfn_down(state.ram[0].start)
    last = pfn_up(max(r.end for r in state.ram))
    if state.rel.frametable_per_pdx_group:
        first &= ~(0x40000 - 1)
    table = (last - first) * PAGE_INFO_SIZE
    if state.rel.frametable_per_pdx_group:
        rounded = (table + PAGE_SIZE - 1) // PAGE_SIZE * PAGE_SIZE
    else:
        gran = 32 * MB if table >= 32 * MB else 2 * MB
        rounded = (table + gran - 1) // gran * gran
    return (rounded - table) // PAGE_INFO_SIZE


def _map_host(state: BootState) -> None:
    """Lay RAM, heap, modules and reservations into the frame table (the host map)."""
    ft = state.ft
    static_heap = state.system.xen.static_heap_present and state.rel.static_heap
    for r in state.ram:
        ft.set(pfn_down(r.start), pfn_up(r.end), "unused" if static_heap else "boot")
    for s, e in heap_ranges(state):
        ft.set(s, e, "heap")
    for b in state.live_reserved():
        if b.type in ("default", "memreserve"):
            ft.set(pfn_down(b.range.start), pfn_up(b.range.end), "reserved", owner=b.path)
    if not state.rel.memreserve_in_bootinfo:
        for r in state.system.board.memreserve:
            if not static_heap:
                ft.set(pfn_down(r.start), pfn_up(r.end), "reserved", owner="/memreserve/")
    for m in state.live_modules():
        ft.set(pfn_down(m.range.start), pfn_up(m.range.end), "xen" if m.kind == "xen" else "module", owner=m.path)


def _crash_outside(state: BootState, path: str, pfn: int, bank: Range, rule: str = "RSV-011") -> None:
    last = pfn_up(max(r.end for r in state.ram)) if state.ram else 0
    first = pfn_down(state.ram[0].start) if state.ram else 0
    in_padding = state.ram and last <= pfn < last + frametable_padding(state)
    message = msg.bug_mark_page_free(state.rel) if in_padding else msg.DATA_ABORT
    where = ("in the frame table's padding past the end of RAM" if in_padding
             else "below RAM" if pfn < first else "outside RAM, with no frame table entry")
    state.event(rule, "CRASH", f"static bank {bank} has page {pfn << PAGE_SHIFT:#x} {where}; Xen crashes "
                f"initialising its static pages", path=path, prop="xen,static-mem", ranges=[bank],
                xen_message=message)
    state.stop("crash", "other", rule, message)


def _in_ram(state: BootState, s: int, e: int) -> int | None:
    """First pfn of [s, e) with no frame table entry (below RAM or past the table), else None."""
    if not state.ram:
        return s
    first = pfn_down(state.ram[0].start)
    last = pfn_up(max(r.end for r in state.ram))
    if s < first:
        return s
    if e > last:
        return max(s, last)
    return None


def init_static_pages(state: BootState) -> None:
    """``init_staticmem_pages()``: each static bank free + PGC_static, in ``reserved_mem`` order."""
    ft: FrameTable = state.ft
    banks = [(b.path, b.range) for b in state.live_reserved()
             if b.type == "static-domain" and state.system.target.has("STATIC_MEMORY")]
    if state.rel.shm_banks_tracked:
        banks += [(s.path, s.range) for s in state.shmem if s.live and s.range is not None]
    for path, r in banks:
        s, n = pfn_up(r.start), pfn_down(r.size)
        if n == 0:
            if state.rel.sub_page_static_bank_panics:
                state.event("SMEM-016", "PANIC", f"static bank {r} is smaller than one page: Xen {state.v} stops "
                            "initialising static memory here, every later static bank stays uninitialised",
                            path=path, prop="xen,static-mem", ranges=[r])
                return
            continue
        bad = _in_ram(state, s, s + n)
        if bad is not None:
            _crash_outside(state, path, bad, r)
            return
        twice = next((e for e in ft.extents(s, s + n) if e.state == "static-free"), None)
        if twice is not None:
            owner = twice.owner or "another static bank"
            message = msg.bug_mark_page_free(state.rel)
            state.event("PAGE-005", "CRASH", f"static bank {r} shares page {twice.start << PAGE_SHIFT:#x} with "
                        f"{owner}: initialising it twice hits a BUG", path=path, prop="xen,static-mem",
                        ranges=[r], related=[Related(path=owner, ranges=())], xen_message=message)
            state.stop("crash", "other", "PAGE-005", message)
            return
        ft.set(s, s + n, "static-free", static=True, owner=None)
        state.static_owner[(s, s + n)] = path


def fill_heap(state: BootState) -> None:
    """``end_boot_allocator()``: heap pages over static pages crash (PAGE-005, PAGE-006 on 4.16)."""
    ft = state.ft
    heap = heap_ranges(state)
    for s, e in heap:
        bad = _in_ram(state, s, e)
        if bad is not None:
            r = Range(start=s << PAGE_SHIFT, size=(e - s) << PAGE_SHIFT)
            state.event("RSV-011", "CRASH", f"static heap bank {r} has page {bad << PAGE_SHIFT:#x} outside RAM: the "
                        "page has no page struct when Xen hands it to the heap", path="/chosen",
                        prop="xen,static-heap", ranges=[r], xen_message=msg.DATA_ABORT)
            state.stop("crash", "other", "RSV-011", msg.DATA_ABORT)
            return
    for s, e in heap:
        hit = next((x for x in ft.extents(s, e) if x.state == "static-free"), None)
        if hit is not None:
            message = msg.bug_mark_page_free(state.rel)
            state.event("PAGE-005", "CRASH", f"static heap page {hit.start << PAGE_SHIFT:#x} is also a free static "
                        "page: filling the heap hits a BUG", path="/chosen", prop="xen,static-heap",
                        ranges=[Range(start=s << PAGE_SHIFT, size=(e - s) << PAGE_SHIFT)], xen_message=message)
            state.stop("crash", "other", "PAGE-005", message)
            return
    if state.rel.static_free_overlap_scan:
        heap_pfns = heap

        def is_heap(pfn: int) -> bool:
            return any(a <= pfn < b for a, b in heap_pfns)

        for ext in [x for x in ft.all() if x.state == "static-free"]:
            for pfn, edge in ((ext.start - 1, ext.start), (ext.end, ext.end)):
                if edge % 2 and is_heap(pfn):
                    state.event("PAGE-006", "CRASH", f"heap page {pfn << PAGE_SHIFT:#x} is the buddy of a free "
                                "static page: Xen 4.16 merges them while filling the heap and takes a data abort",
                                path=_static_owner(state, ext.start), prop="xen,static-mem",
                                ranges=[Range(start=ext.start << PAGE_SHIFT, size=ext.pages << PAGE_SHIFT)],
                                xen_message=msg.DATA_ABORT)
                    state.stop("crash", "other", "PAGE-006", msg.DATA_ABORT)
                    return


def _static_owner(state: BootState, pfn: int) -> str | None:
    for (s, e), path in state.static_owner.items():
        if s <= pfn < e:
            return path
    return None


def _fit_top(regions: list[tuple[int, int]], size: int, align: int, avoid: list[Range]) -> int | None:
    """The highest ``align``-aligned start of ``size`` bytes inside one region, clear of ``avoid``."""
    for start, end in sorted(regions, key=lambda r: -r[1]):
        top = (end - size) // align * align
        while top >= start:
            clash = [a for a in avoid if a.start < top + size and top < a.end]
            if not clash:
                return top
            top = (min(a.start for a in clash) - size) // align * align
    return None


def arm32_xenheap(state: BootState) -> None:
    """HEAP-006: arm32 carves one contiguous, 32 MiB-aligned xenheap (``setup_mm()``,
    ``fit_xenheap_in_static_heap()`` in ``xen/arch/arm/arm32/mmu/mm.c``).

    Size: 1/32 of the pages of RAM (of the static heap banks when there is one; the
    boot modules count), rounded up to 32 MiB, within [32 MiB, 1 GiB]
    (``xenheap_megabytes`` overrides it and is never halved); placed as high
    as possible inside one static heap bank, or inside RAM clear of the boot
    modules; halved down to 32 MiB until it fits, else Xen panics.
    """
    static_heap = state.system.xen.static_heap_present and state.rel.static_heap
    if static_heap:
        regions = [(b.range.start, b.range.end) for b in state.live_reserved() if b.type == "static-heap"]
        avoid: list[Range] = []
    else:
        regions = [(r.start, r.end) for r in state.ram]
        avoid = [m.range for m in state.live_modules()] + [b.range for b in state.live_reserved()]
    if static_heap:
        heap_pages = sum(e - s for s, e in regions) >> PAGE_SHIFT
    else:
        heap_pages = sum(r.size for r in state.ram) >> PAGE_SHIFT
    fixed = state.system.xen.cmdline.get("xenheap_megabytes")
    if fixed and fixed.isdigit():
        sizes = [int(fixed) * MB]
    else:
        size = min(max(-(-(heap_pages // 32) // 0x2000) * 32 * MB, 32 * MB), 1024 * MB)
        sizes = []
        while size >= 32 * MB:
            sizes.append(size)
            size //= 2
    for size in sizes:
        top = _fit_top(regions, size, 32 * MB, avoid)
        if top is not None:
            state.xenheap = Range(start=top, size=size)
            return
    text = "Not enough space for xenheap"
    where = "any static heap bank" if static_heap else "RAM clear of the boot modules"
    state.event("HEAP-006", "PANIC", f"arm32 needs a contiguous, 32 MiB-aligned xenheap of at least "
                f"{sizes[-1] // MB if sizes else 32} MiB in {where}, and there is no room", path="/chosen",
                prop="xen,static-heap" if static_heap else None, xen_message=text)
    state.stop("panic", "other", "HEAP-006", text)


def run(state: BootState) -> BootState:
    """S6 in order; a failure here ends the stage, a stop from an earlier stage does not."""
    if not state.ram:
        state.event("RAM-006", "PANIC", "no RAM bank was recorded", path="/")
        state.stop("panic", "other", "RAM-006", "No memory bank")
        return state
    _map_host(state)
    earlier = state.failed_at
    steps = [boot_pages_fit, init_static_pages, fill_heap]
    if state.system.target.arch == "arm32":
        steps.insert(0, arm32_xenheap)
    for step in steps:
        step(state)
        if state.failed_at is not earlier:
            break
    return state
