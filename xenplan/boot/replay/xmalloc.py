"""Xen's ``xmalloc`` pool: the TLSF allocator of ``xen/common/xmalloc_tlsf.c``.

Requests below a page come from one pool of one-page regions. When no free
block is big enough the pool takes a fresh page from the heap
(``xmalloc_pool_get()``), and when a free leaves a region entirely free the
page goes back (``xmalloc_pool_put()``). So the moments at which small
``xmalloc``/``xfree`` calls cost a heap page depend on the byte-level
history of the pool, and a domain's 4 KiB RAM tail lands wherever those
pages left the heap (``docs/replay.md``). This module
replays the pool block by block: sizes, splits, merges and the two-level
segregated free lists, exactly as ``xmem_pool_alloc()`` and
``xmem_pool_free()`` do, on 64-bit builds.
"""

from __future__ import annotations

from collections.abc import Callable

PAGE_SIZE = 4096
MEM_ALIGN = 16
"""Granule of every block size (two pointers)."""
BHDR_OVERHEAD = 16
"""Bytes of a block header in front of its buffer (``prev_hdr`` and ``size``)."""
BHDR_SIZE = 32
"""``sizeof(struct bhdr)``: a split needs room for a whole header."""
MIN_BLOCK_SIZE = 16
SMALL_BLOCK = 128
MAX_LOG2_SLI = 5
FLI_OFFSET = 6
REGION_BLOCK = PAGE_SIZE - 2 * BHDR_OVERHEAD
"""The free block of a fresh region: the page less its first header and the sentinel."""


def mapping_insert(size: int) -> tuple[int, int]:
    """``MAPPING_INSERT``: the (first level, second level) list of a free block."""
    if size < SMALL_BLOCK:
        return 0, size // (SMALL_BLOCK >> MAX_LOG2_SLI)
    fl = size.bit_length() - 1
    return fl - FLI_OFFSET, (size >> (fl - MAX_LOG2_SLI)) - (1 << MAX_LOG2_SLI)


def mapping_search(size: int) -> tuple[int, int, int]:
    """``MAPPING_SEARCH``: the request rounded up to its list's granule, and that list.

    Rounding up guarantees that any block of the list found is big enough,
    which is why a request just under a page never fits a fresh region.
    """
    if size < SMALL_BLOCK:
        return size, 0, size // (SMALL_BLOCK >> MAX_LOG2_SLI)
    t = (1 << (size.bit_length() - 1 - MAX_LOG2_SLI)) - 1
    size += t
    fl = size.bit_length() - 1
    sl = (size >> (fl - MAX_LOG2_SLI)) - (1 << MAX_LOG2_SLI)
    return size & ~t, fl - FLI_OFFSET, sl


class Block:
    """One block of a region: its header offset in the page, buffer size, state and neighbours."""

    __slots__ = ("free", "next", "offset", "prev", "region", "size")

    def __init__(self, region: int, offset: int, size: int, free: bool, prev: Block | None) -> None:
        self.region = region
        self.offset = offset
        self.size = size
        self.free = free
        self.prev = prev
        self.next: Block | None = None


class TlsfPool:
    """The ``xmalloc`` pool: ``get_page()`` and ``put_page(pfn)`` talk to the heap."""

    def __init__(self, get_page: Callable[[], int], put_page: Callable[[int], None]) -> None:
        self._get_page = get_page
        self._put_page = put_page
        self._lists: dict[tuple[int, int], list[Block]] = {}
        self._first: dict[int, Block] = {}

    @property
    def regions(self) -> int:
        """Pages the pool holds."""
        return len(self._first)

    def layout(self) -> dict[int, list[Block]]:
        """Every region's blocks in address order, sentinel included."""
        out: dict[int, list[Block]] = {}
        for pfn, block in self._first.items():
            chain: list[Block] = []
            cur: Block | None = block
            while cur is not None:
                chain.append(cur)
                cur = cur.next
            out[pfn] = chain
        return out

    def free_lists(self) -> dict[tuple[int, int], list[Block]]:
        """The segregated free lists, each from its head."""
        return {key: list(chain) for key, chain in self._lists.items()}

    def _insert(self, block: Block) -> None:
        """``INSERT_BLOCK``: at the head of its list."""
        self._lists.setdefault(mapping_insert(block.size), []).insert(0, block)

    def _extract(self, block: Block) -> None:
        """``EXTRACT_BLOCK`` / ``EXTRACT_BLOCK_HDR``: out of its list, wherever it is."""
        key = mapping_insert(block.size)
        chain = self._lists[key]
        chain.remove(block)
        if not chain:
            del self._lists[key]

    def _find(self, fl: int, sl: int) -> Block | None:
        """``FIND_SUITABLE_BLOCK``: the head of the first non-empty list at or above (fl, sl)."""
        best: tuple[int, int] | None = None
        for key in self._lists:
            if ((key[0] == fl and key[1] >= sl) or key[0] > fl) and (best is None or key < best):
                best = key
        return None if best is None else self._lists[best][0]

    def _add_region(self, pfn: int) -> None:
        """``ADD_REGION``: one free block across the page, then a used zero-size sentinel."""
        block = Block(pfn, 0, REGION_BLOCK, True, None)
        sentinel = Block(pfn, BHDR_OVERHEAD + REGION_BLOCK, 0, False, block)
        block.next = sentinel
        self._insert(block)
        self._first[pfn] = block

    def alloc(self, size: int) -> Block | None:
        """``xmem_pool_alloc()``: a block of at least ``size`` bytes, or None when the
        rounded request exceeds what one region can hold (the caller then takes whole pages).
        Growing the pool may raise whatever ``get_page`` raises when the heap is dry."""
        size = MIN_BLOCK_SIZE if size < MIN_BLOCK_SIZE else -(-size // MEM_ALIGN) * MEM_ALIGN
        while True:
            size, fl, sl = mapping_search(size)
            block = self._find(fl, sl)
            if block is not None:
                break
            if size > REGION_BLOCK:
                return None
            self._add_region(self._get_page())
        self._extract(block)
        rest = block.size - size
        if rest >= BHDR_SIZE:
            split = Block(block.region, block.offset + BHDR_OVERHEAD + size, rest - BHDR_OVERHEAD, True, block)
            split.next = block.next
            assert block.next is not None
            block.next.prev = split
            block.next = split
            self._insert(split)
            block.size = size
        block.free = False
        return block

    def free(self, block: Block) -> None:
        """``xmem_pool_free()``: merge with free neighbours; give an emptied region back."""
        block.free = True
        nxt = block.next
        assert nxt is not None
        if nxt.free:
            self._extract(nxt)
            block.size += nxt.size + BHDR_OVERHEAD
            block.next = nxt.next
            assert nxt.next is not None
            nxt.next.prev = block
        prev = block.prev
        if prev is not None and prev.free:
            self._extract(prev)
            prev.size += block.size + BHDR_OVERHEAD
            prev.next = block.next
            assert block.next is not None
            block.next.prev = prev
            block = prev
        after = block.next
        assert after is not None
        if block.prev is None and after.size == 0:
            del self._first[block.region]
            self._put_page(block.region)
            return
        self._insert(block)
