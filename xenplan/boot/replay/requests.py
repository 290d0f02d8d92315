"""The request vocabulary: every heap and pool request Xen makes, issued
against the buddy heap and the ``xmalloc`` pool models.

``Replay.alloc`` is ``alloc_xenheap_pages()`` / ``alloc_domheap_pages()``,
``xmalloc``/``xfree`` are ``_xmalloc()`` / ``xfree()`` (pool blocks, or
``xmalloc_whole_pages()`` above a page), ``xvzalloc``/``vmalloc`` are
``xvzalloc()`` / ``vzalloc()``, ``pages`` takes order-0 pages one at a time
(``p2m_set_allocation()``) and ``bank`` is ``allocate_bank_memory()``. A
request the heap cannot satisfy raises ``Exhausted``.
"""

from __future__ import annotations

from collections.abc import Callable

from xenplan.boot.replay.buddy import MAX_ORDER, PAGE_SIZE, BuddyHeap
from xenplan.boot.replay.xmalloc import MEM_ALIGN, Block, TlsfPool

XBlock = Block | tuple[int, int] | None
"""What ``xmalloc`` returned: a pool block, a whole-page block (pfn, pages kept), or nothing."""


class Exhausted(Exception):
    """A heap request failed; ``step`` says which part of the build asked."""

    def __init__(self, step: str) -> None:
        super().__init__(step)
        self.step = step


class Replay:
    """The heap, the ``xmalloc`` pool and the requests Xen makes of them."""

    def __init__(self, heap: BuddyHeap) -> None:
        self.heap = heap
        self.step = "boot"
        self.pool = TlsfPool(self._pool_page, self._pool_put)

    def _pool_page(self) -> int:
        """``xmalloc_pool_get()``: one xenheap page for a new pool region."""
        return self.alloc(0, self.step)

    def _pool_put(self, pfn: int) -> None:
        """``xmalloc_pool_put()``: an emptied region goes back to the heap, dirty."""
        self.heap.free(pfn, 0, dirty=True)

    def alloc(self, order: int, step: str, xen: bool = True, zone_hi: int | None = None) -> int:
        """``alloc_xenheap_pages()`` (``xen``: no scrub) or ``alloc_domheap_pages()`` of ``2^order`` pages."""
        pfn = self.heap.alloc(order, no_scrub=xen, zone_hi=zone_hi)
        if pfn is None:
            raise Exhausted(step)
        return pfn

    def pages(self, count: int, step: str) -> list[tuple[int, int]]:
        """``count`` order-0 domheap pages, one request each (``p2m_set_allocation()``)."""
        got = self.heap.alloc_pages(count)
        if sum(n for _, n in got) < count:
            raise Exhausted(step)
        return got

    def xmalloc(self, nbytes: int, step: str, align: int = 8) -> XBlock:
        """``_xmalloc()`` of ``nbytes``: from the pool when the padded size fits a
        region, else ``xmalloc_whole_pages()``: the order of the page count, the
        unused tail freed dirty, ascending."""
        self.step = step
        align = max(align, MEM_ALIGN)
        if not nbytes:
            return None
        if nbytes + align - MEM_ALIGN < PAGE_SIZE:
            block = self.pool.alloc(nbytes + align - MEM_ALIGN)
            if block is not None:
                return block
        pages = -(-max(nbytes, align) // PAGE_SIZE)
        order = (pages - 1).bit_length()
        pfn = self.alloc(order, step)
        kept = -(-nbytes // PAGE_SIZE)
        self.heap.free_range(pfn + kept, (1 << order) - kept, dirty=True)
        return pfn, kept

    def xfree(self, block: XBlock) -> None:
        """``xfree``: a pool block back to the pool; a whole-page block as the kept
        count's binary pieces, smallest first, from the top."""
        if block is None:
            return
        if isinstance(block, Block):
            self.pool.free(block)
            return
        pfn, kept = block
        bit = 0
        while kept:
            if kept & (1 << bit):
                kept -= 1 << bit
                self.heap.free(pfn + kept, bit, dirty=True)
            bit += 1

    def xvzalloc(self, nbytes: int, step: str) -> None:
        """``xvzalloc()``: ``xmalloc`` up to a page, ``vzalloc`` above."""
        if nbytes <= PAGE_SIZE:
            self.xmalloc(nbytes, step)
        else:
            self.vmalloc(nbytes, step)

    def vmalloc(self, nbytes: int, step: str) -> None:
        """``vzalloc()``: an MFN array from the pool, order-0 domheap pages, the array freed."""
        count = -(-nbytes // PAGE_SIZE)
        mfns = self.xmalloc(8 * count, step)
        for _ in range(count):
            self.alloc(0, step, xen=False)
        self.xfree(mfns)

    def bank(self, pages: int) -> tuple[list[tuple[int, int]], int]:
        """``allocate_bank_memory()``: the largest chunk that fits, capped after a
        failure; returns the chunks (pfn, pages) and the pages left unallocated."""
        chunks: list[tuple[int, int]] = []
        cap = MAX_ORDER
        while pages:
            order = min(pages.bit_length() - 1, cap)
            want = pages >> order if order == MAX_ORDER else 1
            got = self.heap.alloc_repeat(order, want)
            chunks += [(p, 1 << order) for p in got]
            pages -= len(got) << order
            if len(got) < want:
                if order == 0:
                    break
                cap = order - 1
        return chunks, pages


def pool_alloc(replay: Replay, step: str) -> Callable[[int], XBlock]:
    """``xmalloc`` as a range set calls it."""
    return lambda size: replay.xmalloc(size, step)
