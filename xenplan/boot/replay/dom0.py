"""A classic dom0: ``create_dom0()``, its 1:1 RAM, then what ``construct_dom0()``
asks of the heap on the releases where that was measured
(``XenRelease.dom0_construct``).

``construct_dom0()`` copies the host tree into a buffer of
``hwdom_get_fdt_alloc_size()`` bytes and walks it (``handle_node()``): each
device's SPIs are permitted (a node of ``irq_caps`` unless it touches a
permitted one) and routed (``route_irq_to_guest()``: a 40-byte action and a
16-byte guest record, both freed again when the SPI is dom0's already, as a
shared PCI interrupt is), each MMIO range is permitted (a node of
``iomem_caps``) and mapped 1:1 (``map_regions_p2mt()``: P2M tables from the
heap). A PCI bridge's ``interrupt-map`` and ``ranges`` follow its own. Then the
``/hypervisor`` node's extended regions, the buffer freed once the DTB is
copied into dom0, and the secondary vCPUs.
"""

from __future__ import annotations

from xenplan.boot.replay.create import domain_create, vcpu_create
from xenplan.boot.replay.direct import allocate_11, p2m_tables, root_tables
from xenplan.boot.replay.domain import hypervisor_node
from xenplan.boot.replay.inputs import Dom0Request, HeapBoard, HeapDomain
from xenplan.boot.replay.rangeset import RangeSet
from xenplan.boot.replay.requests import Replay, XBlock, pool_alloc
from xenplan.boot.replay.results import Dom0Placement
from xenplan.model.system import Dom0Device

IRQ_ACTION = 40
"""``sizeof(struct irqaction)``: ``route_irq_to_guest()``'s first ``xmalloc``."""
IRQ_GUEST = 16
"""``sizeof(struct irq_guest)``: its second."""


def build_dom0(replay: Replay, board: HeapBoard, req: Dom0Request) -> Dom0Placement:
    """``create_dom0()`` then ``allocate_memory_11()`` (HWD-002): domain and vCPU0 as
    for a domU (plus the emulated UART, no P2M pool beyond 4.16/4.17's initial
    16 pages), then its RAM 1:1 (``allocate_11``); where the release says so,
    the rest of ``construct_dom0()`` (``construct``)."""
    pool0 = board.pools[0] if board.pools else None
    dom = HeapDomain(name="dom0", cpus=req.cpus, memory_kib=req.memory >> 10, nr_spis=req.nr_spis,
                     max_grant_frames=req.max_grant_frames, scheduler=pool0)
    tables = root_tables(board.p2m_root_order)
    gicc = req.gicc

    def map_gicc() -> None:
        if gicc is not None:
            _map(replay, tables, *gicc, "create")

    domain_create(replay, board, dom, board.release.sizes.p2m_pool_initial_pages, hwdom=True,
                  vgic_map=map_gicc if gicc is not None else None)
    vcpu_create(replay, board, "construct", pool0)
    banks, left = allocate_11(replay, req.memory, req.memory, board.release.nr_mem_banks, tables)
    if left:
        mb = left >> 20
        return Dom0Placement("out-of-memory", tuple(banks), mb,
                             f"Failed to allocate requested dom0 memory. {mb}MB unallocated")
    if board.release.dom0_construct:
        construct(replay, board, req, banks, tables)
    return Dom0Placement("ok", tuple(banks))


def construct(replay: Replay, board: HeapBoard, req: Dom0Request, banks: list[tuple[int, int]],
              tables: set[tuple[int, int]]) -> None:
    """``construct_dom0()`` after the RAM: the GICv2m frames, the DTB buffer, the host
    walk, the ``/hypervisor`` node, the buffer freed, the secondary vCPUs."""
    step = "construct"
    for base, size, first, count in req.v2m:
        _map(replay, tables, base, size, step)
        for _ in range(first, first + count):
            replay.xmalloc(IRQ_ACTION, step)
            replay.xmalloc(IRQ_GUEST, step)
    fdt = replay.xmalloc(board.fdt_size + req.fdt_extra, step, align=128)
    irq_caps: RangeSet[XBlock] = RangeSet(pool_alloc(replay, step), replay.xfree, new=False)
    iomem_caps: RangeSet[XBlock] = RangeSet(pool_alloc(replay, step), replay.xfree, new=False)
    routed: set[int] = set()
    for dev in req.devices:
        _device(replay, dev, irq_caps, iomem_caps, routed, tables)
    dom = HeapDomain(name="dom0", cpus=req.cpus, memory_kib=req.memory >> 10, direct_map=True,
                     host_ram=tuple(banks))
    hypervisor_node(replay, board, dom, (), (req.gnttab_start, req.max_grant_frames << 12),
                    dom0=True, bank_size=req.ext_bank_size)
    replay.xfree(fdt)
    for _ in range(1, req.cpus):
        vcpu_create(replay, board, step, board.pools[0] if board.pools else None)


def _map(replay: Replay, tables: set[tuple[int, int]], start: int, size: int, step: str) -> None:
    """``map_mmio_regions()`` into the hardware domain: its P2M tables come from the heap."""
    for _ in range(p2m_tables(tables, start >> 12 << 12, -(-size // 4096) << 12)):
        replay.alloc(0, step, xen=False)


def _device(replay: Replay, dev: Dom0Device, irq_caps: RangeSet[XBlock], iomem_caps: RangeSet[XBlock],
            routed: set[int], tables: set[tuple[int, int]]) -> None:
    """``handle_device()``: its SPIs (``map_device_irqs_to_domain()``), its ranges
    (``map_range_to_domain()``), then a PCI bridge's children (``map_device_children()``)."""
    def irq(n: int) -> None:
        irq_caps.add(n, n)
        if dev.mapped:
            action = replay.xmalloc(IRQ_ACTION, "construct")
            info = replay.xmalloc(IRQ_GUEST, "construct")
            if n in routed:
                replay.xfree(action)
                replay.xfree(info)
            routed.add(n)

    def mmio(start: int, size: int) -> None:
        if not dev.path.lower().startswith("/reserved-memory/"):
            iomem_caps.add(start >> 12, (start + size - 1) >> 12)
        if dev.mapped:
            _map(replay, tables, start, size, "construct")

    for n in dev.irqs:
        irq(n)
    for start, size in dev.regs:
        mmio(start, size)
    for n in dev.pci_irqs:
        irq(n)
    for start, size in dev.pci_ranges:
        mmio(start, size)
