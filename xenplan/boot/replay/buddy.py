"""Xen's buddy heap, page-exact and batched (``xen/common/page_alloc.c``).

The free-list model (``docs/replay.md``): one
ordered list of free chunk heads per (zone, order), each chunk carrying its
``first_dirty`` index, mirroring

* ``free_heap_pages()``: merge with the buddy while it is the head of a free
  chunk of the same order, then insert the result at the **head** of its
  list when clean and at the **tail** when dirty (``page_list_add_scrub``);
* ``alloc_heap_pages()`` / ``get_free_buddy()``: zones from the highest down,
  orders from the request up, only list heads looked at; pass 1 skips dirty
  heads of multi-page requests without ``MEMF_no_scrub`` and moves them to
  the tail, pass 2 accepts them; the chunk found is split keeping each
  **lower** half free and the caller gets the top;
* ``init_heap_pages()``: a range freed clean as its canonical buddy
  decomposition in ascending address order.

The zone of a chunk is the bit length of its PFN (``page_to_zone``: ``fls``
of the MFN, with MFN 0 counted in zone 1). Arm has no DMA zone and no
address limit on xenheap requests, so every request may use every zone.

Memory is never walked page by page (house rule: a 16 TiB board costs what
a 1 GiB board costs):

* a run of ``MAX_ORDER`` chunks freed in one go is one list entry (chunks of
  ``MAX_ORDER`` never merge, so nothing ever needs to look one up);
* ``alloc_pages()`` hands out N order-0 pages as extents: after the first
  split of a chunk, the following order-0 requests take the pages below it
  one by one until the chunk is used up, which is one operation here;
* ``alloc_repeat()`` hands out N equal chunks taken from the head of a run
  at once when the search that found the first one changed no list.

Units: PFNs and page counts (the replay's callers convert to bytes).
"""

from __future__ import annotations

from collections.abc import Iterator

from xenplan.records import record

PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT
MAX_ORDER = 18
"""Largest chunk on Arm: 2^18 pages = 1 GiB (``xen/arch/arm/include/asm/config.h``)."""


def zone_of(pfn: int) -> int:
    """``page_to_zone()``: the bit length of the MFN; MFN 0 belongs to zone 1."""
    return pfn.bit_length() or 1


def decompose(pfn: int, count: int) -> Iterator[tuple[int, int]]:
    """The canonical buddy decomposition of ``count`` pages from ``pfn``, ascending.

    At each position the largest order that is aligned there and still fits,
    capped at ``MAX_ORDER``: what ``init_heap_pages()`` frees (4.17+; 4.16's
    page-by-page loop ends in the same chunks) and what whole-page
    ``xmalloc`` trims. Runs of ``MAX_ORDER`` chunks come out one by one.
    """
    end = pfn + count
    while pfn < end:
        order = _largest_order(pfn, end - pfn)
        yield pfn, order
        pfn += 1 << order


def _largest_order(pfn: int, room: int) -> int:
    align = (pfn & -pfn).bit_length() - 1 if pfn else MAX_ORDER
    return min(align, room.bit_length() - 1, MAX_ORDER)


def _split_first_dirty(first_dirty: int | None, offset: int, size: int) -> int | None:
    """``first_dirty`` of the piece ``[offset, offset + size)`` split off a chunk.

    Each split in ``alloc_heap_pages()`` gives the lower half the index when
    it falls inside it (clean otherwise) and the upper half the index minus
    the half, or 0 ("dirty from its start") once the dirty part began below.
    Composed over any number of splits this is the rule below.
    """
    if first_dirty is None or first_dirty >= offset + size:
        return None
    return first_dirty - offset if first_dirty >= offset else 0


class _Entry:
    """One list entry: a single chunk, or a run of ``count`` ``MAX_ORDER`` chunks.

    A run lists its chunks from head to tail starting at ``pfn`` and moving by
    ``step`` chunks (+1 or -1); every chunk of a run has the same
    ``first_dirty`` (clean or 0).
    """

    __slots__ = ("count", "first_dirty", "next", "order", "pfn", "prev", "step")

    def __init__(self, pfn: int, order: int, first_dirty: int | None, count: int = 1, step: int = 1) -> None:
        self.pfn = pfn
        self.order = order
        self.count = count
        self.step = step
        self.first_dirty = first_dirty
        self.prev: _Entry | None = None
        self.next: _Entry | None = None


class _List:
    __slots__ = ("head", "tail")

    def __init__(self) -> None:
        self.head: _Entry | None = None
        self.tail: _Entry | None = None

    def push(self, entry: _Entry, at_head: bool) -> None:
        if at_head:
            entry.prev, entry.next = None, self.head
            if self.head is not None:
                self.head.prev = entry
            self.head = entry
            if self.tail is None:
                self.tail = entry
        else:
            entry.prev, entry.next = self.tail, None
            if self.tail is not None:
                self.tail.next = entry
            self.tail = entry
            if self.head is None:
                self.head = entry

    def unlink(self, entry: _Entry) -> None:
        if entry.prev is None:
            self.head = entry.next
        else:
            entry.prev.next = entry.next
        if entry.next is None:
            self.tail = entry.prev
        else:
            entry.next.prev = entry.prev
        entry.prev = entry.next = None


@record(frozen=True)
class FreeChunks:
    """Consecutive entries of one free list: ``count`` chunks of ``2^order`` pages.

    The chunks are listed from the list head towards its tail, the first at
    PFN ``pfn``, each next one ``stride`` PFNs further (negative: descending).
    ``first_dirty`` is the index of the first page of each chunk that needs
    scrubbing, ``None`` when clean.
    """

    zone: int
    order: int
    pfn: int
    count: int
    stride: int
    first_dirty: int | None


class BuddyHeap:
    """The free lists of one NUMA node; every operation keeps Xen's list order."""

    def __init__(self) -> None:
        self._lists: dict[tuple[int, int], _List] = {}
        self._avail: dict[int, int] = {}
        self._heads: dict[int, _Entry] = {}
        """Free chunk heads below ``MAX_ORDER`` by PFN: the buddies a free can merge with."""
        self.free_pages = 0

    def copy(self) -> BuddyHeap:
        """An independent heap with the same lists, in the same order: what ``copy.deepcopy`` makes,
        without its generic walk, which cost a run-time replay more than the replay itself."""
        twin: dict[int, _Entry] = {}

        def dup(e: _Entry) -> _Entry:
            c = twin.get(id(e))
            if c is None:
                c = twin[id(e)] = _Entry(e.pfn, e.order, e.first_dirty, e.count, e.step)
            return c

        out = BuddyHeap()
        for key, lst in self._lists.items():
            new = out._lists[key] = _List()
            entry, prev = lst.head, None
            while entry is not None:
                c = dup(entry)
                c.prev = prev
                if prev is None:
                    new.head = c
                else:
                    prev.next = c
                prev = c
                entry = entry.next
            new.tail = prev
        out._avail = dict(self._avail)
        out._heads = {pfn: dup(e) for pfn, e in self._heads.items()}
        out.free_pages = self.free_pages
        return out

    # ---------------------------------------------------------------- queries

    def zone_pages(self, zone: int) -> int:
        return self._avail.get(zone, 0)

    def lists(self) -> Iterator[FreeChunks]:
        """Every free list, highest zone and order first, each from head to tail."""
        for zone, order in sorted(self._lists, reverse=True):
            entry = self._lists[(zone, order)].head
            while entry is not None:
                yield FreeChunks(
                    zone, order, entry.pfn, entry.count, entry.step << order, entry.first_dirty
                )
                entry = entry.next

    def chunks(self) -> Iterator[tuple[int, int, int | None]]:
        """Every free chunk as (pfn, order, first_dirty), in list order (runs expanded)."""
        for run in self.lists():
            for i in range(run.count):
                yield run.pfn + i * run.stride, run.order, run.first_dirty

    # ---------------------------------------------------------------- freeing

    def free(self, pfn: int, order: int, dirty: bool) -> None:
        """``free_heap_pages(pg, order, need_scrub)`` for one aligned chunk."""
        self._credit(pfn, 1 << order)
        self._merge_insert(pfn, order, 0 if dirty else None)

    def free_range(self, pfn: int, count: int, dirty: bool) -> None:
        """Free ``count`` pages as their canonical decomposition, ascending.

        ``init_heap_pages()`` (clean) and the tail trimming of whole-page
        ``xmalloc`` (dirty) both free this way. The ``MAX_ORDER``-aligned
        middle becomes one run entry per zone, placed exactly where the
        chunk-by-chunk frees would have put it.
        """
        end = pfn + count
        big = 1 << MAX_ORDER
        lo = max(-(-pfn // big) * big, big)
        hi = end // big * big
        if hi - lo < 2 * big:
            for p, o in decompose(pfn, count):
                self.free(p, o, dirty)
            return
        for p, o in decompose(pfn, lo - pfn):
            self.free(p, o, dirty)
        fd = 0 if dirty else None
        start = lo
        while start < hi:
            zone = zone_of(start)
            stop = min(hi, 1 << zone) if start else hi
            n = (stop - start) >> MAX_ORDER
            self._credit(start, stop - start)
            entry = _Entry(start, MAX_ORDER, fd, n, 1) if dirty else _Entry(stop - big, MAX_ORDER, fd, n, -1)
            self._list(zone, MAX_ORDER).push(entry, at_head=not dirty)
            start = stop
        for p, o in decompose(hi, end - hi):
            self.free(p, o, dirty)

    def _credit(self, pfn: int, pages: int) -> None:
        zone = zone_of(pfn)
        self._avail[zone] = self._avail.get(zone, 0) + pages
        self.free_pages += pages

    def _merge_insert(self, pfn: int, order: int, first_dirty: int | None) -> None:
        while order < MAX_ORDER:
            size = 1 << order
            if pfn & size:
                buddy = self._heads.get(pfn - size)
                if buddy is None or buddy.order != order:
                    break
                self._remove_single(buddy)
                if buddy.first_dirty is not None:
                    first_dirty = buddy.first_dirty
                elif first_dirty is not None:
                    first_dirty += size
                pfn -= size
            else:
                buddy = self._heads.get(pfn + size)
                if buddy is None or buddy.order != order:
                    break
                self._remove_single(buddy)
                if first_dirty is None and buddy.first_dirty is not None:
                    first_dirty = buddy.first_dirty + size
            order += 1
        self._insert(pfn, order, first_dirty)

    def _insert(self, pfn: int, order: int, first_dirty: int | None) -> None:
        """``page_list_add_scrub()``: head when clean, tail when dirty."""
        entry = _Entry(pfn, order, first_dirty)
        self._list(zone_of(pfn), order).push(entry, at_head=first_dirty is None)
        if order < MAX_ORDER:
            self._heads[pfn] = entry

    def _remove_single(self, entry: _Entry) -> None:
        self._lists[(zone_of(entry.pfn), entry.order)].unlink(entry)
        del self._heads[entry.pfn]

    def _list(self, zone: int, order: int) -> _List:
        lst = self._lists.get((zone, order))
        if lst is None:
            lst = self._lists[(zone, order)] = _List()
        return lst

    # ------------------------------------------------------------- allocating

    def _pop_head_chunk(self, zone: int, order: int) -> tuple[int, int | None]:
        lst = self._lists[(zone, order)]
        entry = lst.head
        assert entry is not None
        pfn = entry.pfn
        if entry.count > 1:
            entry.count -= 1
            entry.pfn += entry.step << order
        else:
            lst.unlink(entry)
            if order < MAX_ORDER:
                del self._heads[pfn]
        return pfn, entry.first_dirty

    def _debit(self, zone: int, pages: int) -> None:
        self._avail[zone] -= pages
        self.free_pages -= pages

    def _find(self, order: int, no_scrub: bool, zone_hi: int | None) -> tuple[int, int, bool] | None:
        """``get_free_buddy()``: the (zone, order) whose head will serve, and
        whether the search moved a dirty head to a tail on its way."""
        need = 1 << order
        zones = sorted((z for z, n in self._avail.items() if n >= need), reverse=True)
        if zone_hi is not None:
            zones = [z for z in zones if z <= zone_hi]
        rotated = False
        for accept_dirty in (order == 0 or no_scrub, True):
            for zone in zones:
                for j in range(order, MAX_ORDER + 1):
                    lst = self._lists.get((zone, j))
                    if lst is None or lst.head is None:
                        continue
                    if lst.head.first_dirty is None or accept_dirty:
                        return zone, j, rotated
                    pfn, fd = self._pop_head_chunk(zone, j)
                    self._push_chunk(zone, j, pfn, fd, at_head=False)
                    rotated = True
            if no_scrub or order == 0:
                break
        return None

    def _push_chunk(self, zone: int, order: int, pfn: int, first_dirty: int | None, at_head: bool) -> None:
        entry = _Entry(pfn, order, first_dirty)
        self._list(zone, order).push(entry, at_head)
        if order < MAX_ORDER:
            self._heads[pfn] = entry

    def _take(self, zone: int, j: int, order: int) -> int:
        """Remove the head of (zone, j), keep its lower halves free, return the top."""
        pfn, fd = self._pop_head_chunk(zone, j)
        self._debit(zone, 1 << order)
        while j > order:
            j -= 1
            half = 1 << j
            self._insert(pfn, j, fd if fd is not None and fd < half else None)
            pfn += half
            if fd is not None:
                fd = fd - half if fd >= half else 0
        return pfn

    def alloc(self, order: int, no_scrub: bool = False, zone_hi: int | None = None) -> int | None:
        """``alloc_heap_pages()`` for one chunk: its PFN, or None when it fails.

        ``no_scrub`` is ``MEMF_no_scrub`` (every xenheap request);
        ``zone_hi`` an address-width limit (``MEMF_bits``) as a zone.
        """
        if order > MAX_ORDER or self.free_pages < (1 << order):
            return None
        found = self._find(order, no_scrub, zone_hi)
        if found is None:
            return None
        zone, j, _ = found
        return self._take(zone, j, order)

    def alloc_repeat(
        self, order: int, count: int, no_scrub: bool = False, zone_hi: int | None = None
    ) -> list[int]:
        """``count`` successive ``alloc(order)`` calls; stops at the first failure.

        When a search changed no list and found the head of a run of exactly
        this order, the next searches would find the run's next chunks until
        it is used up: those are taken at once.
        """
        out: list[int] = []
        while len(out) < count:
            if order > MAX_ORDER or self.free_pages < (1 << order):
                break
            found = self._find(order, no_scrub, zone_hi)
            if found is None:
                break
            zone, j, rotated = found
            head = self._lists[(zone, j)].head
            assert head is not None
            if j == order and head.count > 1 and not rotated:
                n = min(count - len(out), head.count)
                stride = head.step << order
                out.extend(head.pfn + i * stride for i in range(n))
                self._debit(zone, n << order)
                if n == head.count:
                    self._lists[(zone, j)].unlink(head)
                else:
                    head.count -= n
                    head.pfn += n * stride
                continue
            out.append(self._take(zone, j, order))
        return out

    def alloc_pages(self, count: int, zone_hi: int | None = None) -> list[tuple[int, int]]:
        """``count`` successive order-0 allocations, as extents (pfn, pages).

        Extents come in allocation order; inside one the pages were handed
        out from the top down. Fewer pages than asked means the heap ran out.
        Order-0 requests accept dirty heads, so no search reorders a list;
        the head of the smallest non-empty order of the highest zone serves,
        and once split, its lower halves are the only chunks of smaller
        orders in that zone: the next requests walk down the same chunk.
        """
        out: list[tuple[int, int]] = []
        while count > 0 and self.free_pages:
            found = self._find(0, True, zone_hi)
            if found is None:
                break
            zone, j, _ = found
            pfn, fd = self._pop_head_chunk(zone, j)
            size = 1 << j
            taken = min(count, size)
            self._debit(zone, taken)
            for p, o in decompose(pfn, size - taken):
                self._insert(p, o, _split_first_dirty(fd, p - pfn, 1 << o))
            out.append((pfn + size - taken, taken))
            count -= taken
        return out
