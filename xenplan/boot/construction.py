"""What one domain's construction produced (S9), before ``finish`` turns it
into a ``DomainResult``: its RAM banks as the guest and Xen see them, shared
memory and passthrough windows, and where ``place_modules()`` put the kernel,
DTB and initrd.
"""

from __future__ import annotations

from dataclasses import field

from xenplan.model.base import Range
from xenplan.model.kernel_image import KernelImage
from xenplan.model.system import Domain
from xenplan.records import record


@record
class Construction:
    """What one domain's construction produced, before it becomes a ``DomainResult``."""

    dom: Domain
    domid: int
    guest_banks: list[tuple[int, int | None, int]] = field(default_factory=list)  # (guest, host, size)
    xen_banks: list[tuple[int, int | None, int]] = field(default_factory=list)
    shm_windows: list[tuple[Range, int | None, str]] = field(default_factory=list)  # guest range, host, path
    first_bank: Range | None = None
    nr_guest_banks: int = 0
    image: KernelImage | None = None
    mmio: list[tuple[Range, int, str]] = field(default_factory=list)  # guest range, host, device
    kernel: Range | None = None
    dtb: Range | None = None
    initrd: Range | None = None
    max_pages: int = 0
    tot_pages: int = 0
