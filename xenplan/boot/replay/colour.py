"""The coloured heap of LLC colouring (4.20+, ``CONFIG_LLC_COLORING``), page-exact per colour.

Mirrors ``xen/common/page_alloc.c``:

* ``end_boot_allocator()`` with colouring on: the lowest non-empty boot
  region goes to the buddy whole; the others, from the highest down, go
  through ``init_color_heap_pages()``, which first gives the buddy the
  region's lowest pages until ``buddy-alloc-size`` (64 MiB by default,
  ``CONFIG_BUDDY_ALLOCATOR_SIZE``) is used up, then files every other page
  under its colour (``mfn % colours``);
* ``alloc_color_heap_page()``: a domain's page comes from the colour of its
  list with the most free pages, the first such colour in the list on a tie;
  only order-0 requests are served, so every domain-owned page (P2M pool,
  RAM, xenstore page) is one such call, and a domain fails when all its
  colours are empty, however much the others hold;
* ``arch_llc_coloring_init()`` (``xen/arch/arm/llc-coloring.c``): Xen's
  image moves to a window of ``image size x colours`` bytes (2 MiB
  aligned) near the top of RAM, chosen by ``get_xen_paddr()``.

Counts are closed formulas on PFN ranges and the per-domain take is a
water level, so nothing walks memory page by page.
"""

from __future__ import annotations

from collections.abc import Sequence

from xenplan.boot.replay.buddy import PAGE_SHIFT
from xenplan.records import record

XEN_PADDR_ALIGN = 2 << 20
"""``XEN_PADDR_ALIGN``: the coloured Xen window's alignment and size unit."""
DEFAULT_BUDDY_ALLOC_SIZE = 64 << 20
"""``CONFIG_BUDDY_ALLOCATOR_SIZE``'s default, in bytes (``buddy-alloc-size=`` overrides it)."""
NR_LLC_COLORS = 128
"""``1 << CONFIG_LLC_COLORS_ORDER`` with the default order 7: the most colours Xen uses."""


def colour_pages(start: int, end: int, colour: int, colours: int) -> int:
    """Pages of ``colour`` in PFNs [start, end): those with ``pfn % colours == colour``."""
    if end <= start:
        return 0
    return (end - 1 - colour) // colours - (start - 1 - colour) // colours


def colour_counts(ranges: Sequence[tuple[int, int]], colours: int) -> list[int]:
    """Free pages of every colour over the PFN ranges [start, end) the coloured heap holds."""
    return [sum(colour_pages(s, e, c, colours) for s, e in ranges) for c in range(colours)]


@record(frozen=True)
class ColourSplit:
    """How ``end_boot_allocator()`` shares the boot regions out with colouring on."""

    buddy: tuple[tuple[int, int], ...]
    """PFN ranges [start, end) the buddy gets (Xen's own heap)."""
    coloured: tuple[tuple[int, int], ...]
    """PFN ranges [start, end) filed by colour, ascending."""


def split_regions(regions: Sequence[Sequence[int]], buddy_bytes: int) -> ColourSplit:
    """``end_boot_allocator()`` and ``init_color_heap_pages()`` on the boot regions
    (PFN [start, end), in ``bootmem_region_add()`` order) left after the pre-heap
    allocations."""
    live = [(s, e) for s, e in regions if s < e]
    if not live:
        return ColourSplit((), ())
    buddy = [live[0]]
    coloured: list[tuple[int, int]] = []
    left = buddy_bytes
    for start, end in reversed(live[1:]):
        take = min(left >> PAGE_SHIFT, end - start)
        if take:
            buddy.append((start, start + take))
            left -= take << PAGE_SHIFT
        if start + take < end:
            coloured.append((start + take, end))
    return ColourSplit(tuple(sorted(buddy)), tuple(sorted(coloured)))


def nth_page(coloured: Sequence[tuple[int, int]], colour: int, colours: int, k: int) -> int | None:
    """The PFN of the ``k``-th page (from 0) ``colour``'s list hands out, None past its end.

    ``init_color_heap_pages()`` files the regions from the highest down, each
    in ascending order, always at the list's head: the list then starts with
    the lowest coloured region's pages from its top down, then the next
    region's, and so on. ``alloc_color_heap_page()`` takes the head.
    """
    for start, end in coloured:
        count = colour_pages(start, end, colour, colours)
        if k < count:
            top = end - 1 - (end - 1 - colour) % colours
            return top - k * colours
        k -= count
    return None


def take_pages(free: list[int], colours: Sequence[int], pages: int) -> int:
    """``alloc_color_heap_page()`` ``pages`` times for a domain with the colour list
    ``colours``: lowers ``free`` in place as Xen's picks do, and returns how many
    pages it could not get (0 when all were served).

    Each pick takes from the colour of the list with the most free pages, the
    first in list order on a tie. Taken together the picks lower the fullest
    colours to a common level L, then take one more page from each of the first
    colours (in list order) standing at L, as many as are still wanted.
    """
    order = list(dict.fromkeys(colours))
    total = sum(free[c] for c in order)
    if pages >= total:
        for c in order:
            free[c] = 0
        return pages - total
    lo, hi = 0, max(free[c] for c in order)
    while lo < hi:
        mid = (lo + hi) // 2
        if sum(max(0, free[c] - mid) for c in order) <= pages:
            hi = mid
        else:
            lo = mid + 1
    level = lo
    rest = pages - sum(max(0, free[c] - level) for c in order)
    for c in order:
        if free[c] >= level:
            free[c] = level
            if rest and level:
                free[c] -= 1
                rest -= 1
    return 0


def xen_window(image_size: int, colours: int) -> int:
    """``xen_colored_map_size()``: bytes of the window Xen's coloured image moves to."""
    return -(-image_size * colours // XEN_PADDR_ALIGN) * XEN_PADDR_ALIGN


def consider_modules(start: int, end: int, size: int, holes: Sequence[tuple[int, int]], first: int = 0) -> int:
    """``consider_modules()``: the end of the highest ``XEN_PADDR_ALIGN``-aligned room of
    ``size`` bytes in [start, end) clear of ``holes`` (start, size) from index
    ``first`` on (boot modules, then reserved memory, then shared memory), or 0."""
    align = XEN_PADDR_ALIGN
    s = (start + align - 1) & ~(align - 1)
    e = end & ~(align - 1)
    if s > e or e - s < size:
        return 0
    for i in range(first, len(holes)):
        hs, hn = holes[i]
        he = hs + hn
        if s < he and hs < e:
            got = consider_modules(he, e, size, holes, i + 1)
            return got or consider_modules(s, hs, size, holes, i + 1)
    return e


def xen_paddr(ram: Sequence[tuple[int, int]], size: int, holes: Sequence[tuple[int, int]]) -> int | None:
    """``get_xen_paddr()``: the start of the highest room for the window, None when no
    bank has one ("Not enough memory to relocate Xen")."""
    best = 0
    for start, length in ram:
        if length >= size:
            e = consider_modules(start, start + length, size, holes)
            if e and e - size > best:
                best = e - size
    return best or None
