"""Xen's fixed guest physical layout for Arm domUs (``xen/include/public/arch-arm.h``).

One place for the constants the boot stages, the maps and the rules share.
"""

from __future__ import annotations

from xenplan.model.base import Range

GUEST_GICD = 0x03001000
GUEST_GICV2_GICD_SIZE = 0x1000
GUEST_GICV3_GICD_SIZE = 0x10000
GUEST_GICC = Range(start=0x03002000, size=0x2000)
GUEST_GICR0 = Range(start=0x03020000, size=0x1000000)
GUEST_PL011 = Range(start=0x22000000, size=0x1000)
GUEST_GNTTAB = Range(start=0x38000000, size=0x1000000)
GUEST_MAGIC = Range(start=0x39000000, size=0x1000000)
GUEST_RAM0 = Range(start=0x40000000, size=0xC0000000)
GUEST_RAM1 = Range(start=0x200000000, size=0xFE00000000)
GUEST_RAM_BANKS = (GUEST_RAM0, GUEST_RAM1)

#: Windows Xen reserves for toolstack guests; dom0less domUs leave them empty (GMAP-001).
RESERVED_UNUSED: tuple[tuple[str, Range], ...] = (
    ("virtio-mmio", Range(start=0x02000000, size=0x100000)),
    ("vPCI ECAM", Range(start=0x10000000, size=0x10000000)),
    ("ACPI", Range(start=0x20000000, size=0x2000000)),
    ("vPCI MEM", Range(start=0x23000000, size=0x10000000)),
    ("vPCI prefetchable MEM", Range(start=0x100000000, size=0x100000000)),
)


def guest_layout(memory: int) -> list[tuple[int, int]]:
    """ALLOC-001: (guest base, size) of a dynamic domain's banks: RAM0 up to 3 GiB, the rest in RAM1."""
    out = []
    b0 = min(memory, GUEST_RAM0.size)
    if b0:
        out.append((GUEST_RAM0.start, b0))
    if memory > b0:
        out.append((GUEST_RAM1.start, memory - b0))
    return out
