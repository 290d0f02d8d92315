"""One way to declare every model, and the value objects.

Addresses and sizes are ``int`` bytes everywhere below ``report/``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeVar, dataclass_transform

from xenplan.records import record

PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT

_T = TypeVar("_T")


@dataclass_transform(frozen_default=True, kw_only_default=True, field_specifiers=(field,))
def value(cls: type[_T]) -> type[_T]:
    """Declare a model: a frozen, slotted, keyword-only dataclass, changed with ``dataclasses.replace``.

    The models are what xenplan computes from a tree it has already decoded
    (the system, the boot result, the findings), never user input, so they
    need no validation: ``mypy --strict`` checks the types at every
    construction site, and ``tests/model/test_value_types.py`` the values
    ``check`` builds. The files users write (planner specification,
    configuration, scenario) keep validating models, in ``xenplan.plan.spec``,
    ``xenplan.config_file`` and ``xenplan.scenario_file``, loaded only when
    such a file is read. Declared through ``record`` (``xenplan.records``),
    which defines a class without compiling its methods."""
    return record(frozen=True, slots=True, kw_only=True)(cls)


@dataclass(frozen=True, slots=True)
class SourceRef:
    """Where a node or property was written (DTS line, or DTB byte offset).

    Slotted, as the models are: every property of every domain has one
    (36,000 at 4,096 domains). Positional too (``SourceRef(file, line)``)."""

    file: str
    line: int | None = None
    offset: int | None = None


@dataclass(frozen=True, slots=True)
class Range:
    """A half-open byte range [start, start + size).

    Slotted, as the models are: a board of thousands of banks makes hundreds
    of thousands of them. Positional too (``Range(start, size)``)."""

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
