"""1:1 RAM from the heap: ``allocate_memory_11()`` for a classic dom0
(``create_dom0()``) and for a dom0less hardware domain with ``direct-map``
(4.21+), each chunk mapped at once with its P2M tables from the heap
(``p2m_set_entry()``).
"""

from __future__ import annotations

from xenplan.boot.replay.buddy import MAX_ORDER, PAGE_SHIFT, PAGE_SIZE
from xenplan.boot.replay.requests import Replay


def p2m_tables(tables: set[tuple[int, int]], start: int, size: int) -> int:
    """Table pages ``p2m_set_entry()`` must add to map [start, start + size) 1:1
    under a 4-level root: each step takes the largest block (1 GiB, 2 MiB, 4 KiB)
    that both the address and the count of pages still to map are multiples of,
    so a range whose end is not block-aligned is mapped page by page. Every
    block up to the next boundary of the table above needs the same tables, so
    the walk steps from one such boundary to the next."""
    new = 0
    addr, end = start, start + size
    while addr < end:
        block = next(b for b in (1 << 30, 1 << 21, PAGE_SIZE) if not addr % b and not (end - addr) % b)
        needed = [(1, addr >> 39)]
        if block < 1 << 30:
            needed.append((2, addr >> 30))
        if block < 1 << 21:
            needed.append((3, addr >> 21))
        for table in needed:
            if table not in tables:
                tables.add(table)
                new += 1
        span = block << 9
        addr = min(end, (addr // span + 1) * span)
    return new


def root_tables(p2m_root_order: int) -> set[tuple[int, int]]:
    """The tables a new P2M starts with, in ``p2m_tables()``'s keys: none under a
    4-level root; with a 40-bit IPA (3 levels, ``p2m_root_order`` 1) the two
    concatenated root pages stand where the level-1 tables would, so mappings
    add only level-2 and level-3 tables."""
    return {(1, 0), (1, 1)} if p2m_root_order else set()


def _allocation_order(size: int) -> int:
    """``get_allocation_size()``: the largest order not above ``size``."""
    return (size >> PAGE_SHIFT).bit_length() - 1


def _bits_zone(bits: int) -> int:
    """``bits_to_zone()``: the highest zone an address width allows."""
    return 1 if bits < PAGE_SHIFT + 1 else bits - PAGE_SHIFT


def allocate_11(replay: Replay, memory: int, dom0_mem: int, limit: int,
                tables: set[tuple[int, int]] | None = None) -> tuple[list[tuple[int, int]], int]:
    """``allocate_memory_11()``: bank 0 as large and as low as possible below
    4 GiB (at least ``min(dom0_mem, 128 MiB)``; ``dom0_mem`` is the command
    line's, also for a dom0less hardware domain), then the rest in the largest
    chunks left, first below 4 GiB then anywhere, down to 4 MiB; a chunk below
    bank 0 only from 128 MiB. Each chunk is mapped at once, its P2M tables
    from the heap; at most ``limit`` banks (``NR_MEM_BANKS``). Returns the banks
    (start, size) and the bytes left over. ``tables`` collects the P2M tables
    made, for mappings that follow."""
    heap = replay.heap
    tables = set() if tables is None else tables
    banks: list[tuple[int, int]] = []
    left = memory
    low = min(dom0_mem, 128 << 20)
    min_low = (-(-low // PAGE_SIZE) - 1).bit_length() if low else 0
    min_order = ((4 << 20) // PAGE_SIZE - 1).bit_length()
    low_zone = _bits_zone(32)

    def insert(pfn: int, order: int) -> bool:
        nonlocal left
        start, size = pfn << PAGE_SHIFT, PAGE_SIZE << order
        if banks and size < 128 << 20 and start + size < banks[0][0]:
            heap.free(pfn, order, dirty=False)
            return False
        for _ in range(p2m_tables(tables, start, size)):
            replay.alloc(0, "construct", xen=False)
        left -= size
        for i, (bs, bn) in enumerate(banks):
            if bs == start + size:
                banks[i] = (start, bn + size)
                return True
            if start == bs + bn:
                banks[i] = (bs, bn + size)
                return True
            if start + size < bs and len(banks) < limit:
                banks.insert(i, (start, size))
                return True
        if len(banks) < limit:
            banks.append((start, size))
            return True
        heap.free(pfn, order, dirty=False)
        return False

    order = _allocation_order(left)
    lowmem = False
    while order >= min_low and not lowmem:
        for bits in range(order, 33):
            pfn = heap.alloc(order, zone_hi=_bits_zone(bits))
            if pfn is not None:
                insert(pfn, order)
                lowmem = True
                break
        else:
            if order == 0:
                break
            order -= 1
    order = _allocation_order(left)
    while left and len(banks) < limit:
        got = heap.alloc(order, zone_hi=low_zone if lowmem else None) if order <= MAX_ORDER else None
        if got is None:
            order -= 1
            if order < 0:
                break  # Xen's unsigned order wraps and it retries for ever; only one page was left to find
            if lowmem and order < min_low:
                order, lowmem = _allocation_order(left), False
                continue
            if order >= min_order:
                continue
            break
        if not insert(got, order):
            if len(banks) == limit:
                break
            if lowmem:
                order, lowmem = _allocation_order(left), False
                continue
            break
        order = _allocation_order(left)
    return banks, left
