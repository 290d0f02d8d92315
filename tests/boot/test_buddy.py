"""The buddy heap: split, merge, list order, scrub passes, and batching.

``Naive`` below is a deliberately plain rendering of the free lists of
``free_heap_pages()`` / ``alloc_heap_pages()`` (Python lists, one chunk or page at a time);
hypothesis drives both models through the same random operations and
requires the same answers and the same free lists in the same order.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from xenplan.boot.replay.buddy import MAX_ORDER, BuddyHeap, decompose, zone_of

BIG = 1 << MAX_ORDER


def _state(heap: BuddyHeap) -> list[tuple[int, int, int, int | None]]:
    return [(zone_of(p), o, p, fd) for p, o, fd in heap.chunks()]


def _list(heap: BuddyHeap, zone: int, order: int) -> list[int]:
    return [p for z, o, p, _ in _state(heap) if (z, o) == (zone, order)]


# ------------------------------------------------------------- unit tests


def test_decompose_is_canonical() -> None:
    assert list(decompose(9, 7)) == [(9, 0), (10, 1), (12, 2)]
    assert list(decompose(0x40000, 3 * BIG)) == [(0x40000, 18), (0x80000, 18), (0xC0000, 18)]
    assert list(decompose(3, 1)) == [(3, 0)]


def test_split_keeps_lower_halves_and_returns_top() -> None:
    heap = BuddyHeap()
    heap.free(16, 3, dirty=False)
    assert heap.alloc(0) == 23
    assert _state(heap) == [(5, 2, 16, None), (5, 1, 20, None), (5, 0, 22, None)]
    assert heap.alloc(1) == 20
    assert heap.alloc(0) == 22


def test_merge_on_free_rebuilds_the_chunk() -> None:
    heap = BuddyHeap()
    heap.free(16, 3, dirty=False)
    pages = [heap.alloc(0) for _ in range(8)]
    assert pages == [23, 22, 21, 20, 19, 18, 17, 16]
    for p in pages:
        assert p is not None
        heap.free(p, 0, dirty=False)
    assert _state(heap) == [(5, 3, 16, None)]


def test_no_merge_with_a_buddy_of_another_order() -> None:
    heap = BuddyHeap()
    heap.free(16, 2, dirty=False)
    heap.free(20, 0, dirty=False)
    assert _state(heap) == [(5, 2, 16, None), (5, 0, 20, None)]


def test_clean_goes_to_head_dirty_to_tail() -> None:
    heap = BuddyHeap()
    heap.free(32, 0, dirty=False)
    heap.free(40, 0, dirty=True)
    heap.free(36, 0, dirty=False)
    assert _list(heap, 6, 0) == [36, 32, 40]


def test_highest_zone_first_then_smallest_order() -> None:
    heap = BuddyHeap()
    heap.free(1 << 10, 10, dirty=False)
    heap.free(64, 2, dirty=False)
    heap.free(72, 3, dirty=False)
    assert heap.alloc(2) == (1 << 10) + (1 << 10) - 4
    heap2 = BuddyHeap()
    heap2.free(64, 2, dirty=False)
    heap2.free(72, 3, dirty=False)
    assert heap2.alloc(2) == 64


def test_pass_one_rotates_dirty_heads_and_skips_to_larger_orders() -> None:
    heap = BuddyHeap()
    heap.free(64, 2, dirty=False)
    heap.free(68, 2, dirty=True)  # merges with 64: one order-3 chunk, dirty from page 4
    assert _state(heap) == [(7, 3, 64, 4)]
    heap.free(80, 2, dirty=True)
    heap.free(96, 3, dirty=False)
    # order 2: head of (7, 2) is dirty -> moved to tail; (7, 3) head 96 is clean
    assert heap.alloc(2) == 100
    assert heap.alloc(2) == 96


def test_pass_two_takes_dirty_when_nothing_clean() -> None:
    heap = BuddyHeap()
    heap.free(80, 2, dirty=True)
    assert heap.alloc(1) == 82
    assert _state(heap) == [(7, 1, 80, 0)]


def test_no_scrub_and_order_zero_accept_dirty_heads_in_pass_one() -> None:
    heap = BuddyHeap()
    heap.free(80, 2, dirty=True)
    heap.free(96, 3, dirty=False)
    assert heap.alloc(2, no_scrub=True) == 80
    heap = BuddyHeap()
    heap.free(81, 0, dirty=True)
    heap.free(96, 3, dirty=False)
    assert heap.alloc(0) == 81


def test_first_dirty_carried_through_splits() -> None:
    heap = BuddyHeap()
    heap.free(64, 2, dirty=False)
    heap.free(68, 2, dirty=True)  # order 3 at 64, first dirty page 4
    assert heap.alloc(0, no_scrub=True) == 71
    # lower order-2 half [64, 68) is clean; [68, 70) dirty from 0; [70] dirty from 0
    assert sorted(_state(heap)) == [(7, 0, 70, 0), (7, 1, 68, 0), (7, 2, 64, None)]


def test_zone_limit() -> None:
    heap = BuddyHeap()
    heap.free(1 << 20, 0, dirty=False)
    heap.free(1 << 19, 0, dirty=False)
    assert heap.alloc(0, zone_hi=20) == 1 << 19


def test_free_range_makes_runs_without_per_chunk_entries() -> None:
    heap = BuddyHeap()
    heap.free_range(1 << 32, 1 << 32, dirty=False)  # 16 TiB: 16384 chunks of 1 GiB
    runs = list(heap.lists())
    assert len(runs) == 1 and runs[0].count == 1 << 14 and runs[0].stride == -BIG
    assert runs[0].pfn == (1 << 33) - BIG
    assert heap.alloc_repeat(MAX_ORDER, 3) == [(1 << 33) - BIG * k for k in (1, 2, 3)]
    got = heap.alloc_pages(BIG + 5)
    assert sum(n for _, n in got) == BIG + 5
    assert heap.free_pages == (1 << 32) - 3 * BIG - BIG - 5


def test_free_range_from_pfn_zero_keeps_zones_apart() -> None:
    heap = BuddyHeap()
    heap.free_range(0, 4 * BIG, dirty=False)
    assert [(c.zone, c.pfn, c.count) for c in heap.lists()] == [
        (20, 3 * BIG, 2), (19, BIG, 1), (1, 0, 1)
    ]
    assert heap.zone_pages(1) == BIG and heap.free_pages == 4 * BIG


def test_order_above_max_fails() -> None:
    heap = BuddyHeap()
    heap.free_range(BIG, 4 * BIG, dirty=False)
    assert heap.alloc(MAX_ORDER + 1) is None
    assert heap.alloc_repeat(MAX_ORDER + 1, 2) == []


# ------------------------------------------------- naive per-page reference


class Naive:
    """Section 1 word for word: lists of [pfn, first_dirty], head at index 0."""

    def __init__(self) -> None:
        self.lists: dict[tuple[int, int], list[list[Any]]] = {}
        self.free_pages = 0

    def _lst(self, pfn: int, order: int) -> list[list[Any]]:
        return self.lists.setdefault((zone_of(pfn), order), [])

    def free(self, pfn: int, order: int, dirty: bool) -> None:
        self.free_pages += 1 << order
        fd: int | None = 0 if dirty else None
        while order < MAX_ORDER:
            size = 1 << order
            buddy = pfn - size if pfn & size else pfn + size
            lst = self._lst(buddy, order)
            hit = next((c for c in lst if c[0] == buddy), None)
            if hit is None:
                break
            lst.remove(hit)
            if buddy < pfn:
                fd = hit[1] if hit[1] is not None else (None if fd is None else fd + size)
                pfn = buddy
            elif fd is None and hit[1] is not None:
                fd = hit[1] + size
            order += 1
        lst = self._lst(pfn, order)
        if fd is None:
            lst.insert(0, [pfn, fd])
        else:
            lst.append([pfn, fd])

    def alloc(self, order: int, no_scrub: bool = False, zone_hi: int | None = None) -> int | None:
        if order > MAX_ORDER or self.free_pages < (1 << order):
            return None
        zones = sorted({z for z, _ in self.lists}, reverse=True)
        for second in (False, True):
            if second and (no_scrub or order == 0):
                return None
            for zone in zones:
                if zone_hi is not None and zone > zone_hi:
                    continue
                if sum(len(v) << o for (z, o), v in self.lists.items() if z == zone) < (1 << order):
                    continue
                for j in range(order, MAX_ORDER + 1):
                    lst = self.lists.get((zone, j), [])
                    if not lst:
                        continue
                    pfn, fd = lst[0]
                    if fd is not None and not (second or order == 0 or no_scrub):
                        lst.append(lst.pop(0))
                        continue
                    lst.pop(0)
                    self.free_pages -= 1 << order
                    k = j
                    while k > order:
                        k -= 1
                        half = 1 << k
                        low = self._lst(pfn, k)
                        lower_fd = fd if fd is not None and fd < half else None
                        if lower_fd is None:
                            low.insert(0, [pfn, None])
                        else:
                            low.append([pfn, lower_fd])
                        pfn += half
                        if fd is not None:
                            fd = fd - half if fd >= half else 0
                    return pfn
        return None

    def state(self) -> list[tuple[int, int, int, int | None]]:
        return [
            (z, o, p, fd)
            for (z, o) in sorted(self.lists, reverse=True)
            for p, fd in self.lists[(z, o)]
        ]


def _ranges() -> st.SearchStrategy[list[tuple[int, int]]]:
    """Disjoint ranges, some spanning several 1 GiB chunks and zone borders."""
    return st.lists(
        st.tuples(st.integers(1, 40 * BIG // 64), st.integers(1, 9 * BIG)),
        min_size=1,
        max_size=4,
    ).map(_disjoint)


def _disjoint(raw: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out, cursor = [], 0
    for gap, size in raw:
        start = cursor + gap * 64 + (gap % 7)
        out.append((start, size))
        cursor = start + size + 1
    return out


OPS = st.lists(
    st.one_of(
        st.tuples(st.just("alloc"), st.integers(0, MAX_ORDER + 1), st.booleans()),
        st.tuples(st.just("pages"), st.integers(1, 600), st.booleans()),
        st.tuples(st.just("repeat"), st.sampled_from([0, 1, 3, 9, MAX_ORDER]), st.integers(1, 5)),
        st.tuples(st.just("give"), st.integers(0, 10**6), st.booleans()),
        st.tuples(st.just("zone"), st.integers(0, 600), st.integers(17, 23)),
    ),
    max_size=25,
)


@settings(max_examples=60, deadline=None)
@given(ranges=_ranges(), dirty=st.lists(st.booleans(), min_size=4, max_size=4), ops=OPS)
def test_batched_model_equals_naive(ranges: list[tuple[int, int]], dirty: list[bool], ops: list[Any]) -> None:
    fast, slow = BuddyHeap(), Naive()
    for (start, size), d in zip(ranges, dirty, strict=False):
        fast.free_range(start, size, dirty=d)
        for p, o in decompose(start, size):
            slow.free(p, o, dirty=d)
    assert _state(fast) == slow.state()
    held: list[tuple[int, int]] = []
    for op, a, b in ops:
        if op == "alloc":
            got = fast.alloc(a, no_scrub=b)
            assert got == slow.alloc(a, no_scrub=b)
            if got is not None:
                held.append((got, a))
        elif op == "pages":
            extents = fast.alloc_pages(a)
            pages = [p for s, n in extents for p in range(s + n - 1, s - 1, -1)]
            expect = []
            for _ in range(a):
                p = slow.alloc(0)
                if p is None:
                    break
                expect.append(p)
            assert pages == expect
            held += [(p, 0) for p in pages[: 40]]
            for p in pages[40:]:
                fast.free(p, 0, dirty=b)
                slow.free(p, 0, dirty=b)
        elif op == "repeat":
            got_list = fast.alloc_repeat(a, b)
            expect = []
            for _ in range(b):
                p = slow.alloc(a)
                if p is None:
                    break
                expect.append(p)
            assert got_list == expect
            held += [(p, a) for p in got_list]
        elif op == "give" and held:
            p, o = held.pop(a % len(held))
            fast.free(p, o, dirty=b)
            slow.free(p, o, dirty=b)
        elif op == "zone":
            got = fast.alloc(0, zone_hi=b)
            assert got == slow.alloc(0, zone_hi=b)
            if got is not None:
                held.append((got, 0))
        assert _state(fast) == slow.state()
        assert fast.free_pages == slow.free_pages


@settings(max_examples=40, deadline=None)
@given(start=st.integers(1, 3000), size=st.integers(1, 3000))
def test_page_by_page_init_equals_canonical(start: int, size: int) -> None:
    """Section 3: 4.16's page-by-page ``init_heap_pages`` ends in the same lists."""
    fast, slow = BuddyHeap(), Naive()
    fast.free_range(start, size, dirty=False)
    for p in range(start, start + size):
        slow.free(p, 0, dirty=False)
    assert _state(fast) == slow.state()


@settings(max_examples=60, deadline=None)
@given(ranges=_ranges(), orders=st.lists(st.integers(0, MAX_ORDER), max_size=12),
       frees=st.lists(st.integers(0, 5000), max_size=12))
def test_copy_is_a_deepcopy(ranges: list[tuple[int, int]], orders: list[int], frees: list[int]) -> None:
    """``BuddyHeap.copy`` (what a run-time replay starts from) behaves as ``copy.deepcopy`` of the heap:
    same lists, and the same answers to the same operations, leaving the original as it was."""
    import copy

    heap = BuddyHeap()
    for start, size in ranges:
        heap.free_range(start, size, dirty=False)
    for o in orders[: len(orders) // 2]:
        heap.alloc(o)
    before = _state(heap)
    fast, slow = heap.copy(), copy.deepcopy(heap)
    assert _state(fast) == _state(slow) == before
    for o in orders[len(orders) // 2:]:
        assert fast.alloc(o) == slow.alloc(o)
    for p in frees:
        fast.free(p, 0, dirty=True)
        slow.free(p, 0, dirty=True)
    assert _state(fast) == _state(slow)
    assert fast.free_pages == slow.free_pages
    assert [fast.zone_pages(z) for z in range(48)] == [slow.zone_pages(z) for z in range(48)]
    assert _state(heap) == before
