"""Host pages as sorted, disjoint extents, the way Xen's frame table sees them.

Every operation works on page ranges, never page by page: a 16 TiB board has
as many extents as a 1 GiB board with the same layout. An extent carries the
page state Xen keeps in ``struct page_info`` that matters here: whether the
page is covered by the frame table at all, free or in use, ``PGC_static``
(``PGC_reserved`` on 4.16), and its owner.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator

from xenplan.records import record

#: Page states. ``none``: not RAM Xen knows of; ``boot``: RAM not yet handed to anyone.
STATES = ("none", "boot", "xen", "module", "reserved", "heap", "static-free", "inuse", "unused")


@record(frozen=True)
class Extent:
    start: int  # first pfn
    end: int  # one past the last pfn
    state: str
    static: bool = False
    owner: str | None = None

    @property
    def pages(self) -> int:
        return self.end - self.start


class FrameTable:
    """Sorted, disjoint, gap-free extents over [0, 2^52) pfns."""

    LIMIT = 1 << 52

    def __init__(self) -> None:
        self._starts: list[int] = [0]
        self._ext: list[Extent] = [Extent(0, self.LIMIT, "none")]

    def _split(self, pfn: int) -> int:
        """Make ``pfn`` an extent boundary; return the index of the extent starting there."""
        if pfn >= self.LIMIT:
            return len(self._ext)
        i = bisect.bisect_right(self._starts, pfn) - 1
        e = self._ext[i]
        if e.start == pfn:
            return i
        self._ext[i] = Extent(e.start, pfn, e.state, e.static, e.owner)
        self._ext.insert(i + 1, Extent(pfn, e.end, e.state, e.static, e.owner))
        self._starts.insert(i + 1, pfn)
        return i + 1

    def set(self, start: int, end: int, state: str, *, static: bool = False, owner: str | None = None) -> None:
        """Give pages [start, end) one state, merging with equal neighbours."""
        if end <= start:
            return
        i = self._split(start)
        j = self._split(end)
        new = Extent(start, end, state, static, owner)
        self._ext[i:j] = [new]
        self._starts[i:j] = [start]
        self._merge_around(i)

    def _merge_around(self, i: int) -> None:
        for k in (i + 1, i):
            if 0 < k < len(self._ext):
                a, b = self._ext[k - 1], self._ext[k]
                if (a.state, a.static, a.owner) == (b.state, b.static, b.owner):
                    self._ext[k - 1] = Extent(a.start, b.end, a.state, a.static, a.owner)
                    del self._ext[k]
                    del self._starts[k]

    def extents(self, start: int = 0, end: int = LIMIT) -> Iterator[Extent]:
        """The extents overlapping [start, end), clipped to it."""
        if end <= start:
            return
        i = max(bisect.bisect_right(self._starts, start) - 1, 0)
        while i < len(self._ext) and self._ext[i].start < end:
            e = self._ext[i]
            yield Extent(max(e.start, start), min(e.end, end), e.state, e.static, e.owner)
            i += 1

    def first_not(self, start: int, end: int, state: str, static: bool, owner: str | None = None) -> int | None:
        """The first pfn in [start, end) whose page is not exactly (state, static, owner)."""
        for e in self.extents(start, end):
            if (e.state, e.static, e.owner) != (state, static, owner):
                return e.start
        return None

    def all(self) -> list[Extent]:
        return list(self._ext)
