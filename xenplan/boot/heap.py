"""Xen's heap as the boot goes on: boot allocations (S6b) and every domain's
heap requests (S9), replayed through the allocator model.

The allocator itself lives in ``xenplan.boot.placement`` (buddy heap and
boot allocator, ``spec/dynamic-placement.md``); this module turns the
simulation state into its inputs and its answers back into events.
"""

from __future__ import annotations

from dataclasses import dataclass

from xenplan.boot.state import BootState
from xenplan.model.system import Domain

GUEST_RAM0_BASE, GUEST_RAM0_SIZE = 0x40000000, 0xC0000000
GUEST_RAM1_BASE = 0x200000000


@dataclass
class RamPlacement:
    banks: list[tuple[int, int | None, int]]
    unallocated_kib: int | None = None


def boot_allocations(state: BootState) -> None:
    """S6b: the frame table must fit in what the boot allocator holds (HEAP-008)."""
    return None


def domain_pool_failure(state: BootState, dom: Domain) -> str | None:
    """ALLOC-006: why the P2M pool of ``dom`` cannot be allocated, or None."""
    return None


def guest_layout(memory: int) -> list[tuple[int, int]]:
    """ALLOC-001: bank 0 at GUEST_RAM0 up to 3 GiB, the rest at GUEST_RAM1."""
    out = []
    b0 = min(memory, GUEST_RAM0_SIZE)
    if b0:
        out.append((GUEST_RAM0_BASE, b0))
    if memory > b0:
        out.append((GUEST_RAM1_BASE, memory - b0))
    return out


def domain_ram(state: BootState, dom: Domain) -> RamPlacement:
    """Host chunks of a dynamic domain's RAM (ALLOC-001/002/004)."""
    mem = (dom.memory_kib or 0) * 1024
    return RamPlacement(banks=[(g, None, s) for g, s in guest_layout(mem)])
