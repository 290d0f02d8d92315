"""Xen's boot allocator, from RAM to the first buddy free lists.

Mirrors

* ``populate_boot_allocator()`` (``xen/arch/arm/setup.c`` up to 4.18,
  ``xen/common/device-tree/bootinfo.c`` later) with its ``next_module()``
  scan and ``fw_unreserved_regions()`` / ``dt_unreserved_regions()``:
  RAM minus boot modules minus reserved ranges, or, with a static heap, only
  the static heap banks, whole (HEAP-003, HEAP-004);
* ``init_boot_pages()`` / ``bootmem_region_add()``
  (``xen/common/page_alloc.c``): pieces rounded inwards to pages, kept in a
  list sorted by address, never merged;
* ``alloc_boot_pages()``: from the top of the highest region that can hold
  the request at its alignment; the slack above becomes its own region;
* the boot allocations each release makes before the heap exists: the
  direct-map table page, the frame table (``setup_frametable_mappings()`` up
  to 4.21, ``init_frametable()`` / ``init_frametable_chunk()`` in 4.22), and
  the frame-table / vmap table pages (HEAP-008);
* ``end_boot_allocator()``: the lowest non-empty region goes to the heap
  first, then the others from the highest down.

What differs between releases is read from ``XenRelease``
(``boot_directmap_table``, ``frametable_per_pdx_group``,
``boot_frametable_tables``). The frame-table page-table counts are those of the
recorded QEMU boards (RAM from 0x40000000, 4 or 8 GiB, one bank or several
NUMA nodes); the direct map's table pages follow the banks
(``directmap_tables()``). Units are PFNs.
"""

from __future__ import annotations

from collections.abc import Sequence

from xenplan.boot.replay.buddy import PAGE_SHIFT, PAGE_SIZE, BuddyHeap
from xenplan.model.release import XenRelease
from xenplan.records import record

PAGE_INFO_SIZE = 56
"""``sizeof(struct page_info)`` on arm64: the frame table's cost per page."""
FRAMETABLE_ALIGN = (32 << 20) >> PAGE_SHIFT
SMALL_FRAMETABLE_ALIGN = (2 << 20) >> PAGE_SHIFT
PDX_GROUP = 0x40000
"""PFNs per PDX group on this board (1 GiB): 4.22 counts the frame table from a group start."""


def _round_up(value: int, unit: int) -> int:
    return -(-value // unit) * unit


@record(frozen=True)
class BootAllocation:
    """One ``alloc_boot_pages()`` call: what it was for and the PFNs it got."""

    what: str
    pfn: int | None
    pages: int
    align: int


class BootAllocator:
    """The sorted region list of ``bootmem_region_add()``, as [start, end) PFNs."""

    def __init__(self) -> None:
        self.regions: list[list[int]] = []

    def add(self, start: int, end: int) -> None:
        """``bootmem_region_add()``: insert before the first region starting higher."""
        if start >= end:
            return
        i = 0
        while i < len(self.regions) and self.regions[i][0] <= start:
            i += 1
        self.regions.insert(i, [start, end])

    def init_pages(self, start: int, end: int) -> None:
        """``init_boot_pages(ps, pe)`` in bytes: round inwards, never PFN 0."""
        s = max(_round_up(start, PAGE_SIZE) >> PAGE_SHIFT, 1)
        self.add(s, end >> PAGE_SHIFT)

    def alloc(self, pages: int, align: int) -> int | None:
        """``alloc_boot_pages(nr_pfns, pfn_align)``; None where Xen hits its BUG()."""
        for i in range(len(self.regions) - 1, -1, -1):
            start, end = self.regions[i]
            pfn = (end - pages) // align * align
            if end - pages < 0 or pfn >= end or pfn < start:
                continue
            self.regions[i][1] = pfn
            self.add(pfn + pages, end)
            return pfn
        return None

    def end(self, heap: BuddyHeap) -> None:
        """``end_boot_allocator()``: give every region to the heap, clean, in Xen's order."""
        first = next((i for i, (s, e) in enumerate(self.regions) if s < e), None)
        if first is None:
            return
        order = [first] + [i for i in range(len(self.regions) - 1, -1, -1) if i != first]
        for i in order:
            s, e = self.regions[i]
            if s < e:
                heap.free_range(s, e - s, dirty=False)
        self.regions = []


def _subtract(start: int, end: int, holes: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    pieces = [(start, end)]
    for hs, he in holes:
        if he <= hs:
            continue
        out: list[tuple[int, int]] = []
        for s, e in pieces:
            if he <= s or hs >= e:
                out.append((s, e))
                continue
            if s < hs:
                out.append((s, hs))
            if he < e:
                out.append((he, e))
        pieces = out
    return pieces


def _next_module(start: int, end: int, modules: Sequence[tuple[int, int]]) -> tuple[int | None, int]:
    """``next_module()``: the module the scan picks at ``start``, and the end it records.

    Modules are visited in table order; one is skipped when empty, when it
    starts below ``start``, above the best start so far, or above the end
    recorded so far (first the bank end, then the chosen module's end).
    """
    lowest: int | None = None
    for mod_start, mod_size in modules:
        if not mod_size or mod_start < start:
            continue
        if lowest is not None and mod_start > lowest:
            continue
        if mod_start > end:
            continue
        lowest = mod_start
        end = mod_start + mod_size
    return lowest, end


def populate_boot_allocator(
    ram: Sequence[tuple[int, int]],
    modules: Sequence[tuple[int, int]],
    reserved: Sequence[tuple[int, int]],
    static_heap: Sequence[tuple[int, int]] | None,
) -> BootAllocator:
    """``populate_boot_allocator()`` on (start, size) byte ranges."""
    boot = BootAllocator()
    if static_heap is not None:
        for start, size in static_heap:
            if size:
                boot.init_pages(start, start + size)
        return boot
    holes = [(s, s + n) for s, n in reserved]
    for bank_start, bank_size in ram:
        bank_end = bank_start + bank_size
        s = bank_start
        while s < bank_end:
            lowest, n = _next_module(s, bank_end, modules)
            e = bank_end if lowest is None else min(lowest, bank_end)
            if lowest is None:
                n = bank_end
            for ps, pe in _subtract(s, e, holes):
                boot.init_pages(ps, pe)
            s = n
    return boot


MAX_ORDER = 18
"""Arm's ``CONFIG_PAGEALLOC_MAX_ORDER``: PFN compression never touches the bits below it."""


def pdx_compression(ram: Sequence[tuple[int, int]]) -> tuple[int, int]:
    """(first bit, bit count) of the PFN bits Xen squeezes out of its page indexes (PDX).

    Mirrors Arm's ``init_pdx()`` with ``pfn_pdx_hole_setup()`` (up to 4.21) or
    ``pfn_pdx_compression_setup()`` (4.22, mask compression): every bit that is
    set in a bank's first PFN or moves within a bank, and the bits below
    ``MAX_ORDER``, must stay; the longest run of bits left clear above them
    becomes the hole. A board whose banks sit far apart (ZynqMP: 0-2 GiB and
    32 GiB up, "PFN compression on bits 19...22") gets a frame table for the
    compressed index space, not for every PFN up to its last bank. (0, 0)
    when nothing is compressed.
    """
    mask = (1 << MAX_ORDER) - 1
    for start, size in ram:
        if size:
            first, last = start >> PAGE_SHIFT, (start + size - 1) >> PAGE_SHIFT
            mask |= first | ((1 << (first ^ last).bit_length()) - 1)
    bottom = hole = 0
    j = MAX_ORDER - 1
    while True:
        i = j + 1
        while mask >> i & 1:
            i += 1
        if mask >> i == 0:
            break
        j = i + 1
        while not mask >> j & 1:
            j += 1
        if j - i > hole:
            bottom, hole = i, j - i
    return bottom, hole


def _pdx(pfn: int, compression: tuple[int, int]) -> int:
    """``pfn_to_pdx()``: the PFN with its hole bits taken out."""
    bottom, hole = compression
    low = pfn & ((1 << bottom) - 1)
    return low | (pfn >> (bottom + hole) << bottom) if hole else pfn


def _frametable_blocks(ram: Sequence[tuple[int, int]], per_pdx_group: bool) -> list[tuple[int, int]]:
    """(pages, alignment in pages) of each frame-table block, in allocation order.

    The frame table holds one ``struct page_info`` per PDX (``pdx_compression()``).
    Up to 4.21 one block covers every PDX from the first to the last RAM page,
    padded to 32 MiB (2 MiB when smaller) and 32 MiB aligned. 4.22
    (``init_frametable()``) gives each run of populated PDX groups its own
    block, counted from the group start and padded to a page only, 32 MiB
    aligned from 32 MiB up, 2 MiB aligned below; every run but the last
    covers its groups whole, the last ends at the last RAM page's PDX. Runs
    are allocated in address order.
    """
    comp = pdx_compression(ram)
    banks = sorted((_pdx(s >> PAGE_SHIFT, comp), _pdx(((s + n) >> PAGE_SHIFT) - 1, comp) + 1)
                   for s, n in ram if n)
    if not banks:
        return []
    if not per_pdx_group:
        size = (banks[-1][1] - banks[0][0]) * PAGE_INFO_SIZE
        unit = 32 << 20 if size >= 32 << 20 else 2 << 20
        return [(_round_up(size, unit) >> PAGE_SHIFT, FRAMETABLE_ALIGN)]
    runs: list[list[int]] = []
    for first, last in banks:
        group = first // PDX_GROUP
        if runs and group <= (runs[-1][1] - 1) // PDX_GROUP + 1:
            runs[-1][1] = max(runs[-1][1], last)
        else:
            runs.append([group * PDX_GROUP, last])
    blocks = []
    for n, (lo, hi) in enumerate(runs):
        end = hi if n == len(runs) - 1 else _round_up(hi, PDX_GROUP)
        size = _round_up((end - lo) * PAGE_INFO_SIZE, PAGE_SIZE)
        align = FRAMETABLE_ALIGN if size >= 32 << 20 else SMALL_FRAMETABLE_ALIGN
        blocks.append((size >> PAGE_SHIFT, align))
    return blocks


FIRST_PAGES = 1 << 18
"""PFNs a level-1 (1 GiB) block maps."""
SECOND_PAGES = 1 << 9
"""PFNs a level-2 (2 MiB) block maps."""


def _regions(x: int, y: int, shift: int) -> range:
    """Indexes of the ``1 << shift``-page regions that PFNs [x, y) touch."""
    return range(x >> shift, ((y - 1) >> shift) + 1) if x < y else range(0)


def directmap_tables(ram: Sequence[tuple[int, int]]) -> int:
    """Table pages ``setup_directmap_mappings()`` (arm64, 4.17+) takes below its level-1 table.

    Each bank, in address order, goes through ``map_pages_to_xen()`` with
    ``_PAGE_BLOCK``: ``xen_pt_mapping_level()`` maps a 1 GiB block where the
    frame is 1 GiB aligned and at least 1 GiB is left, else a 2 MiB block
    likewise, else a page. So a bank is pages up to its first 2 MiB boundary,
    2 MiB blocks up to its first 1 GiB boundary, 1 GiB blocks, then 2 MiB
    blocks and pages for the rest. A level-2 table per 1 GiB region and a
    level-3 table per 2 MiB region that holds smaller mappings, each one
    ``alloc_boot_pages(1, 1)``. The direct map's virtual offset keeps each
    frame's 1 GiB alignment, so frames decide. A RAM bank that is not 1 GiB
    aligned at both ends (QEMU's NUMA nodes of 256 MiB, a SoC's 2 GiB at
    0x800000000 and 0x80000000) costs pages.
    """
    tables: set[tuple[int, int]] = set()
    for start, size in sorted(ram):
        s, e = start >> PAGE_SHIFT, (start + size) >> PAGE_SHIFT
        a = min(-(-s // SECOND_PAGES) * SECOND_PAGES, e)
        pages, blocks = [(s, a)], []
        if a < e:
            c = -(-a // FIRST_PAGES) * FIRST_PAGES
            tail = a
            if c + FIRST_PAGES <= e:
                blocks.append((a, c))
                tail = c + (e - c) // FIRST_PAGES * FIRST_PAGES
            b = tail + (e - tail) // SECOND_PAGES * SECOND_PAGES
            blocks.append((tail, b))
            pages.append((b, e))
        for x, y in blocks + pages:
            tables.update((2, r) for r in _regions(x, y, 18))
        for x, y in pages:
            tables.update((3, r) for r in _regions(x, y, 9))
    return len(tables)


def pre_heap_allocations(boot: BootAllocator, ram: Sequence[tuple[int, int]],
                         rel: XenRelease) -> list[BootAllocation]:
    """The allocations Xen makes before the heap exists, in order (``setup_mm()``).

    Stops after the first one that fails (Xen's ``BUG()`` in
    ``alloc_boot_pages()``: HEAP-008); its ``pfn`` is then None.
    """
    plan: list[tuple[str, int, int]] = []
    if rel.boot_directmap_table:
        plan.append(("direct-map table", 1, 1))
        if rel.arch == "arm64":
            plan += [("direct-map table", 1, 1)] * directmap_tables(ram)
    for pages, align in _frametable_blocks(ram, rel.frametable_per_pdx_group):
        plan.append(("frame table", pages, align))
    tables = rel.boot_frametable_tables
    plan += [("frame-table/vmap table" if tables > 1 else "frame-table table", 1, 1)] * tables
    return take_in_order(boot, plan)


def take_in_order(boot: BootAllocator, plan: Sequence[tuple[str, int, int]]) -> list[BootAllocation]:
    """``alloc_boot_pages()`` for each (what, pages, alignment) in turn, up to the first that
    finds no room: Xen's ``BUG()`` there ends the boot (HEAP-008), so nothing after it is asked."""
    done: list[BootAllocation] = []
    for what, pages, align in plan:
        pfn = boot.alloc(pages, align)
        done.append(BootAllocation(what, pfn, pages, align))
        if pfn is None:
            break
    return done
