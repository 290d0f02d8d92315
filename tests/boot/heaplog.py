"""The buddy heap's allocations, logged as the real Xen's trace lists them (order, first page).

Shared by the heap-trace tests of both architectures: a replay is compared
with a recording allocation by allocation, in order."""

from __future__ import annotations

import pytest

from xenplan.boot.replay import buddy


def record_allocations(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """Patch the heap so that every allocation it makes is appended to the list returned."""
    log: list[tuple[int, int]] = []
    heap = buddy.BuddyHeap
    alloc, alloc_pages, alloc_repeat = heap.alloc, heap.alloc_pages, heap.alloc_repeat

    def one(self: buddy.BuddyHeap, order: int, no_scrub: bool = False, zone_hi: int | None = None) -> int | None:
        pfn = alloc(self, order, no_scrub, zone_hi)
        if pfn is not None:
            log.append((order, pfn))
        return pfn

    def pages(self: buddy.BuddyHeap, count: int, zone_hi: int | None = None) -> list[tuple[int, int]]:
        got = alloc_pages(self, count, zone_hi)
        for start, n in got:
            log.extend((0, p) for p in range(start + n - 1, start - 1, -1))
        return got

    def repeat(self: buddy.BuddyHeap, order: int, count: int, no_scrub: bool = False,
               zone_hi: int | None = None) -> list[int]:
        got = alloc_repeat(self, order, count, no_scrub, zone_hi)
        log.extend((order, p) for p in got)
        return got

    monkeypatch.setattr(heap, "alloc", one)
    monkeypatch.setattr(heap, "alloc_pages", pages)
    monkeypatch.setattr(heap, "alloc_repeat", repeat)
    return log
