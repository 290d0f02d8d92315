"""The coloured heap's arithmetic against page-by-page versions of what Xen does.

``colour_pages`` is a closed formula for the pages of one colour in a PFN
range; ``take_pages`` lowers the colours to a water level instead of picking
page by page as ``alloc_color_heap_page()`` does. Both are checked here on
small inputs against the loops they replace.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from xenplan.boot.llc import parse_colours
from xenplan.boot.replay.colour import (
    colour_counts,
    colour_pages,
    consider_modules,
    split_regions,
    take_pages,
    xen_window,
)


@given(st.integers(0, 300), st.integers(0, 300), st.sampled_from([2, 4, 8, 16, 32]), st.data())
def test_colour_pages_counts_as_a_loop_does(start: int, length: int, colours: int, data: st.DataObject) -> None:
    colour = data.draw(st.integers(0, colours - 1))
    end = start + length
    assert colour_pages(start, end, colour, colours) == sum(1 for pfn in range(start, end) if pfn % colours == colour)


def _picks(free: list[int], order: list[int], pages: int) -> int:
    """``alloc_color_heap_page()`` one page at a time: the first colour of the list with
    the most free pages (strictly more than every earlier one), until none is left."""
    for n in range(pages):
        best, most = None, 0
        for c in order:
            if free[c] > most:
                best, most = c, free[c]
        if best is None:
            return pages - n
        free[best] -= 1
    return 0


@given(st.lists(st.integers(0, 12), min_size=2, max_size=8), st.data())
def test_take_pages_leaves_what_page_by_page_picks_leave(free: list[int], data: st.DataObject) -> None:
    n = len(free)
    order = data.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=2 * n))
    pages = data.draw(st.integers(0, sum(free) + 3))
    fast, slow = list(free), list(free)
    assert take_pages(fast, order, pages) == _picks(slow, order, pages)
    assert fast == slow


def test_end_boot_allocator_gives_the_buddy_the_lowest_region_and_buddy_alloc_size_from_the_top() -> None:
    regions = [[0x100, 0x200], [0x300, 0x400], [0x500, 0x510]]
    split = split_regions(regions, 0x20 << 12)
    assert split.buddy == ((0x100, 0x200), (0x300, 0x310), (0x500, 0x510))
    assert split.coloured == ((0x310, 0x400),)
    assert sum(colour_counts(split.coloured, 4)) == 0x400 - 0x310


def test_xen_window_and_its_placement_follow_the_measured_boot() -> None:
    """4.22.0 on QEMU virt, 1 GiB, 32 colours: a 0x15c000-byte image, placed at 0x7d400000."""
    window = xen_window(0x15C000, 32)
    assert window == 0x2C00000
    holes = [(0x40200000, window), (0x48000000, 0x9024), (0x48200000, 0x10000)]
    assert consider_modules(0x40000000, 0x80000000, window, holes) - window == 0x7D400000


def test_colour_lists_parse_as_xen_parses_them() -> None:
    assert parse_colours("0-3,8") == [0, 1, 2, 3, 8]
    assert parse_colours("3,1") == [3, 1]
    assert parse_colours("3-1") is None
    assert parse_colours("0-3,") == [0, 1, 2, 3]
    assert parse_colours("0-3,,4") is None
    assert parse_colours("0-200") is None
