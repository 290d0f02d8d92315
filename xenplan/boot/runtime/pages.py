"""Host pages and guest P2Ms as ranges, never page by page.

``PageMap`` keeps, per run of host frames, what ``struct page_info`` says at
run time: the state, the owner, ``PGC_static`` and whether the page waits on
its owner's ``resv_page_list``. ``P2M`` keeps a domain's guest-to-host
mappings as runs whose host frames go up (or down: order-0 heap pages are
handed out from the top of a chunk) with the guest frame. Every operation is
a bisection plus a splice: linear in the ranges touched.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator

from xenplan.records import record


@record(frozen=True, slots=True)
class Page:
    """What a run of host frames is. ``state``: ``heap`` (free in Xen's heap), ``inuse``
    (allocated to ``owner``), ``static-free`` (free, static, given to no one), ``p2m-pool``
    (``owner``'s P2M pool), or the boot's own words for RAM the run time never touches
    (``xen``, ``module``, ``reserved``, ``unused``)."""

    state: str
    owner: str | None = None
    static: bool = False
    resv: bool = False
    """On ``owner``'s ``resv_page_list`` (``free_domstatic_page()``)."""


NONE = Page("none")


class PageMap:
    """Sorted, disjoint, gap-free runs of host frames over [0, 2^52)."""

    LIMIT = 1 << 52

    def __init__(self) -> None:
        self._starts: list[int] = [0]
        self._vals: list[Page] = [NONE]

    def _split(self, pfn: int) -> int:
        if pfn >= self.LIMIT:
            return len(self._starts)
        i = bisect.bisect_right(self._starts, pfn) - 1
        if self._starts[i] != pfn:
            self._starts.insert(i + 1, pfn)
            self._vals.insert(i + 1, self._vals[i])
            return i + 1
        return i

    def set(self, start: int, end: int, page: Page) -> None:
        """Give frames [start, end) one value, merging with equal neighbours."""
        if end <= start:
            return
        i = self._split(start)
        j = self._split(end)
        self._starts[i:j] = [start]
        self._vals[i:j] = [page]
        for k in (i + 1, i):
            if 0 < k < len(self._starts) and self._vals[k - 1] == self._vals[k]:
                del self._starts[k]
                del self._vals[k]

    def runs(self, start: int = 0, end: int = LIMIT) -> Iterator[tuple[int, int, Page]]:
        """(start, end, value) of the runs overlapping [start, end), clipped to it."""
        i = max(bisect.bisect_right(self._starts, start) - 1, 0)
        while i < len(self._starts) and self._starts[i] < end:
            nxt = self._starts[i + 1] if i + 1 < len(self._starts) else self.LIMIT
            yield max(self._starts[i], start), min(nxt, end), self._vals[i]
            i += 1

    def at(self, pfn: int) -> Page:
        return self._vals[bisect.bisect_right(self._starts, pfn) - 1]


@record(frozen=True, slots=True)
class Run:
    """``count`` guest frames from ``gfn`` mapped to host frames from ``mfn`` by ``step`` (+1 or -1)."""

    gfn: int
    mfn: int
    count: int
    step: int = 1

    def mfn_of(self, gfn: int) -> int:
        return self.mfn + (gfn - self.gfn) * self.step

    def cut(self, lo: int, hi: int) -> Run:
        """The part of this run for guest frames [lo, hi)."""
        lo, hi = max(lo, self.gfn), min(hi, self.gfn + self.count)
        return Run(lo, self.mfn_of(lo), hi - lo, self.step)

    @property
    def mfn_range(self) -> tuple[int, int]:
        """[first, end) host frames of the run, whichever way it goes."""
        last = self.mfn_of(self.gfn + self.count - 1)
        return (min(self.mfn, last), max(self.mfn, last) + 1)


class P2M:
    """A domain's RAM mappings, sorted by guest frame, disjoint."""

    def __init__(self) -> None:
        self._starts: list[int] = []
        self._runs: list[Run] = []

    def runs(self, lo: int = 0, hi: int = 1 << 52) -> Iterator[Run]:
        """The runs overlapping guest frames [lo, hi), clipped."""
        i = max(bisect.bisect_right(self._starts, lo) - 1, 0)
        while i < len(self._runs) and self._runs[i].gfn < hi:
            r = self._runs[i]
            if r.gfn + r.count > lo:
                yield r.cut(lo, hi)
            i += 1

    def remove(self, lo: int, hi: int) -> None:
        keep: list[Run] = []
        i = max(bisect.bisect_right(self._starts, lo) - 1, 0)
        j = i
        while j < len(self._runs) and self._runs[j].gfn < hi:
            r = self._runs[j]
            if r.gfn < lo:
                keep.append(r.cut(r.gfn, lo))
            if r.gfn + r.count > hi:
                keep.append(r.cut(hi, r.gfn + r.count))
            j += 1
        self._runs[i:j] = keep
        self._starts[i:j] = [r.gfn for r in keep]

    def add(self, run: Run) -> None:
        """Map ``run``, replacing whatever the guest frames mapped before (``p2m_set_entry()``)."""
        self.remove(run.gfn, run.gfn + run.count)
        i = bisect.bisect_left(self._starts, run.gfn)
        if i > 0:
            p = self._runs[i - 1]
            if p.gfn + p.count == run.gfn and p.step == run.step and p.mfn_of(run.gfn) == run.mfn:
                run = Run(p.gfn, p.mfn, p.count + run.count, p.step)
                i -= 1
                del self._runs[i]
                del self._starts[i]
        if i < len(self._runs):
            n = self._runs[i]
            if run.gfn + run.count == n.gfn and n.step == run.step and run.mfn_of(n.gfn) == n.mfn:
                run = Run(run.gfn, run.mfn, run.count + n.count, run.step)
                del self._runs[i]
                del self._starts[i]
        self._runs.insert(i, run)
        self._starts.insert(i, run.gfn)

    def all(self) -> list[Run]:
        return list(self._runs)

    def pages(self) -> int:
        return sum(r.count for r in self._runs)
