"""One frozen, extra-forbidding base for every model, and the value objects.

Addresses and sizes are ``int`` bytes everywhere below ``report/``.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT


class XBase(BaseModel):
    """Frozen, no extra fields: models are values, changed with ``model_copy``.

    ``defer_build``: a model's validator is built when it first validates, not
    when its class is defined, so a run pays only for the models it makes
    (a check on a DTB never builds the simulation scenario's or a partial
    device tree's)."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


@dataclass(frozen=True, slots=True)
class SourceRef:
    """Where a node or property was written (DTS line, or DTB byte offset).

    A slotted dataclass rather than a model, as ``Range`` is: every property of
    every domain has one (36,000 at 4,096 domains), and a model's per-instance
    dictionary and field set made each five times the size."""

    file: str
    line: int | None = None
    offset: int | None = None


@dataclass(frozen=True, slots=True)
class Range:
    """A half-open byte range [start, start + size).

    A slotted dataclass rather than a model: a board of thousands of banks
    makes hundreds of thousands of them, and pydantic's per-instance state
    tripled the memory a large check needed."""

    start: int
    size: int

    @property
    def end(self) -> int:
        return self.start + self.size

    def overlaps(self, other: Range) -> bool:
        """Xen's half-open intersection test (``meminfo_overlap_check``)."""
        return self.start < other.end and other.start < self.end

    def contains(self, other: Range) -> bool:
        return self.start <= other.start and other.end <= self.end

    def __str__(self) -> str:
        return f"[{self.start:#x}, {self.end:#x})"


def pfn_up(addr: int) -> int:
    return (addr + PAGE_SIZE - 1) >> PAGE_SHIFT


def pfn_down(addr: int) -> int:
    return addr >> PAGE_SHIFT
