"""Free host physical space: sorted disjoint ranges, carved as the planner places things.

The planner and the repair both ask one question many times: where is a
free, aligned run of ``size`` bytes inside ``[lo, hi)``? ``FreeSpace`` keeps
the free ranges sorted by start so a removal is a bisection plus a splice,
and a search walks only the ranges that overlap the window.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Literal

ADDRESS_TOP = 1 << 64


def _align_up(value: int, align: int) -> int:
    return -(-value // align) * align


def _align_down(value: int, align: int) -> int:
    return value // align * align


@dataclass(slots=True)
class FreeSpace:
    """Free ranges ``[start, end)``, sorted and disjoint (``starts[i] < ends[i] <= starts[i+1]``)."""

    starts: list[int] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)

    @classmethod
    def of(cls, ranges: Iterable[tuple[int, int]]) -> FreeSpace:
        """Free space made of ``(start, end)`` ranges, merged where they touch or overlap."""
        merged: list[list[int]] = []
        for start, end in sorted(r for r in ranges if r[1] > r[0]):
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        return cls([s for s, _ in merged], [e for _, e in merged])

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return zip(self.starts, self.ends, strict=True)

    def __len__(self) -> int:
        return len(self.starts)

    def copy(self) -> FreeSpace:
        return FreeSpace(list(self.starts), list(self.ends))

    def remove(self, start: int, end: int) -> None:
        """Mark ``[start, end)`` used (any part of it that is free)."""
        if end <= start:
            return
        i = bisect_right(self.ends, start)
        j = bisect_left(self.starts, end)
        if i >= j:
            return
        keep: list[tuple[int, int]] = []
        if self.starts[i] < start:
            keep.append((self.starts[i], start))
        if self.ends[j - 1] > end:
            keep.append((end, self.ends[j - 1]))
        self.starts[i:j] = [s for s, _ in keep]
        self.ends[i:j] = [e for _, e in keep]

    def contains(self, start: int, end: int) -> bool:
        """Whether all of ``[start, end)`` is free."""
        i = bisect_right(self.starts, start) - 1
        return i >= 0 and self.ends[i] >= end and end > start

    def total(self, lo: int = 0, hi: int = ADDRESS_TOP) -> int:
        """Free bytes inside ``[lo, hi)``."""
        return sum(max(0, min(e, hi) - max(s, lo)) for s, e in self._window(lo, hi))

    def _window(self, lo: int, hi: int) -> Iterator[tuple[int, int]]:
        i = bisect_right(self.ends, lo)
        while i < len(self.starts) and self.starts[i] < hi:
            yield self.starts[i], self.ends[i]
            i += 1

    def find(self, size: int, align: int = 1, *, lo: int = 0, hi: int = ADDRESS_TOP,
             prefer: Literal["low", "high"] = "low") -> int | None:
        """The lowest (or highest) ``align``-aligned start of ``size`` free bytes inside ``[lo, hi)``."""
        if size <= 0 or hi - lo < size:
            return None
        spans = list(self._window(lo, hi))
        if prefer == "high":
            spans.reverse()
        for free_start, free_end in spans:
            s, e = max(free_start, lo), min(free_end, hi)
            if prefer == "low":
                start = _align_up(s, align)
                if start + size <= e:
                    return start
            else:
                start = _align_down(e - size, align)
                if start >= s:
                    return start
        return None

    def take(self, size: int, align: int = 1, *, lo: int = 0, hi: int = ADDRESS_TOP,
             prefer: Literal["low", "high"] = "low") -> int | None:
        """``find`` and mark the run used."""
        start = self.find(size, align, lo=lo, hi=hi, prefer=prefer)
        if start is not None:
            self.remove(start, start + size)
        return start

    def largest(self, align: int = 1, *, lo: int = 0, hi: int = ADDRESS_TOP) -> tuple[int, int] | None:
        """The largest ``align``-aligned free run inside ``[lo, hi)`` as ``(start, size)`` (lowest on a tie)."""
        best: tuple[int, int] | None = None
        for s, e in self._window(lo, hi):
            start, end = _align_up(max(s, lo), align), _align_down(min(e, hi), align)
            if end > start and (best is None or end - start > best[1]):
                best = (start, end - start)
        return best
