"""Xen's ``rangeset`` (``xen/common/rangeset.c``), as far as the heap sees it.

A range set keeps disjoint inclusive ranges, each in its own small
``xmalloc`` node. Which calls create a node and which free one decides the
byte history of the xmalloc pool (``boot/xmalloc.py``), so the replay must
add, split and drop ranges exactly as ``rangeset_add_range()``,
``rangeset_remove_range()`` and ``rangeset_destroy()`` do.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

Node = TypeVar("Node")

RANGESET_SIZE = 96
"""``sizeof(struct rangeset)``."""
RANGE_SIZE = 32
"""``sizeof(struct range)``: one node per range."""


class RangeSet(Generic[Node]):
    """Ranges of frame numbers; ``alloc(size)`` and ``free(node)`` are Xen's ``xmalloc``/``xfree``."""

    def __init__(self, alloc: Callable[[int], Node], free: Callable[[Node], None], new: bool = True) -> None:
        """``new``: ``rangeset_new()`` allocates the set now; else it exists already (a domain's caps)."""
        self._alloc = alloc
        self._free = free
        self.head = alloc(RANGESET_SIZE) if new else None
        self.ranges: list[list[int]] = []
        self.nodes: list[Node] = []

    def _find(self, pfn: int) -> int:
        """``find_range()``: index of the last range starting at or below ``pfn``; -1 if none."""
        found = -1
        for i, (start, _end) in enumerate(self.ranges):
            if start > pfn:
                break
            found = i
        return found

    def _insert(self, i: int, start: int, end: int) -> None:
        self.ranges.insert(i, [start, end])
        self.nodes.insert(i, self._alloc(RANGE_SIZE))

    def _drop(self, i: int) -> None:
        del self.ranges[i]
        self._free(self.nodes.pop(i))

    def add(self, s: int, e: int) -> None:
        """``rangeset_add_range()``: a new node unless [s, e] touches or overlaps a range."""
        x, y = self._find(s), self._find(e)
        if x == y:
            if x < 0 or (self.ranges[x][1] < s and self.ranges[x][1] + 1 != s):
                self._insert(x + 1, s, e)
                x += 1
            elif self.ranges[x][1] < e:
                self.ranges[x][1] = e
        else:
            if x < 0:
                x = 0
                self.ranges[x][0] = s
            elif self.ranges[x][1] < s and self.ranges[x][1] + 1 != s:
                x += 1
                self.ranges[x][0] = s
            self.ranges[x][1] = max(self.ranges[y][1], e)
            while x + 1 < len(self.ranges) and self.ranges[x + 1][1] <= self.ranges[x][1]:
                self._drop(x + 1)
        if x + 1 < len(self.ranges) and self.ranges[x][1] + 1 == self.ranges[x + 1][0]:
            self.ranges[x][1] = self.ranges[x + 1][1]
            self._drop(x + 1)

    def remove(self, s: int, e: int) -> None:
        """``rangeset_remove_range()``: splitting a range takes a node, removing one frees it."""
        x, y = self._find(s), self._find(e)
        if x == y:
            if x < 0 or self.ranges[x][1] < s:
                return
            xs, xe = self.ranges[x]
            if xs < s and xe > e:
                self.ranges[x][1] = s - 1
                self._insert(x + 1, e + 1, xe)
            elif xs == s and xe <= e:
                self._drop(x)
            elif xs == s:
                self.ranges[x][0] = e + 1
            elif xe <= e:
                self.ranges[x][1] = s - 1
            return
        if x < 0:
            x = 0
        elif self.ranges[x][0] < s:
            if self.ranges[x][1] >= s:
                self.ranges[x][1] = s - 1
            x += 1
        while x != y:
            self._drop(x)
            y -= 1
        self.ranges[x][0] = e + 1
        if self.ranges[x][0] > self.ranges[x][1]:
            self._drop(x)

    def destroy(self) -> None:
        """``rangeset_destroy()``: every node from the first, then the set itself."""
        while self.ranges:
            self._drop(0)
        if self.head is not None:
            self._free(self.head)
