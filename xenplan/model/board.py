"""The host hardware Xen reads around its own configuration: RAM, the GIC, the
console UART (``dtuart=``), IOMMUs and CPUs; what passthrough needs of host
nodes; a domain's partial device tree; the size of Xen's unflattened copy."""

from __future__ import annotations

import re
from collections.abc import Sequence

from xenplan.dt.tree import Node, Tree
from xenplan.model.base import Range
from xenplan.model.cells import ROOT_CELLS, available, read_number, reg_of, source_ref
from xenplan.model.system import (
    Board,
    BootCpupool,
    Gic,
    PartialDtb,
    PassthroughDevice,
    ReservedRegion,
    ScanItem,
    Uart,
)

GIC_V3 = ("arm,gic-v3",)
V2M_FRAME = "arm,gic-v2m-frame"
QEMU_V2M_SPIS = (80, 64)
"""What QEMU ``virt``'s v2m frame reports in ``MSI_TYPER`` (first SPI, count): Xen reads the
register when the frame's node has no ``arm,msi-base-spi``/``arm,msi-num-spis``."""
GIC_V2 = ("arm,gic-400", "arm,cortex-a15-gic", "arm,gic-v2", "arm,cortex-a9-gic", "arm,cortex-a7-gic")
IOMMU_COMPATIBLES = ("arm,smmu-v3", "arm,mmu-500", "arm,smmu-v1", "arm,smmu-v2", "arm,mmu-401", "iommu")


def board(tree: Tree, scan: Sequence[ScanItem], reserved: Sequence[ReservedRegion],
          cmdline: str | None = None) -> Board:
    """RAM as the early scan found it, reservations, GIC, console UART, IOMMUs and CPUs."""
    ram = sorted((r for it in scan if it.kind == "ram" and not it.error for r in it.pairs if r.size),
                 key=lambda r: r.start)
    cpus = tree.find("/cpus")
    cpu_nodes = [c for c in (cpus.children if cpus else []) if (dt := c.prop("device_type")) and dt.string() == "cpu"]
    compat = tuple(dict.fromkeys(c for n in cpu_nodes for c in n.compatible()))
    model = tree.root.prop("model")
    return Board(ram=tuple(ram), memreserve=tuple(Range(start=m.address, size=m.size) for m in tree.memreserve),
                 reserved=tuple(reserved), gic=gic(tree), uart=uart(tree, cmdline),
                 iommus=tuple(n.path for n in tree.walk()
                              if any(c in IOMMU_COMPATIBLES for c in n.compatible()) and available(n)),
                 cpu_compatibles=compat, nr_cpus=len(cpu_nodes),
                 model=model.string() if model is not None else None, llc_way_size=llc_way_size(tree))


def llc_way_size(tree: Tree) -> int | None:
    """One way of the last-level cache: among the nodes with ``cache-unified``,
    ``cache-line-size`` and ``cache-sets``, the line size x sets of the highest
    ``cache-level`` (2 when absent), as ``get_llc_way_size()`` reads CCSIDR of the
    outermost unified cache. None when the tree describes no such cache."""
    best: tuple[int, int] | None = None
    for n in tree.walk():
        if n.prop("cache-unified") is None:
            continue
        level_prop, line_prop, sets_prop = n.prop("cache-level"), n.prop("cache-line-size"), n.prop("cache-sets")
        line = line_prop.u32() if line_prop is not None else None
        sets = sets_prop.u32() if sets_prop is not None else None
        if line is None or sets is None:
            continue
        level = (level_prop.u32() if level_prop is not None else None) or 2
        if best is None or level > best[0]:
            best = (level, line * sets)
    return best[1] if best is not None and best[1] else None


def gic(tree: Tree) -> Gic | None:
    """The first available GICv3 or GICv2 node and its frames."""
    for n in tree.walk():
        compat = n.compatible()
        if any(c in GIC_V3 for c in compat) and available(n):
            regs = reg_of(n)
            nr = n.prop("#redistributor-regions")
            k = nr.u32() if nr is not None and nr.u32() else 1
            return Gic(path=n.path, source=source_ref(n.source), version=3, dist=regs[0] if regs else None,
                       redist=tuple(regs[1 : 1 + (k or 1)]))
        if any(c in GIC_V2 for c in compat) and available(n):
            regs = reg_of(n)
            return Gic(path=n.path, source=source_ref(n.source), version=2, dist=regs[0] if regs else None,
                       cpu=regs[1] if len(regs) > 1 else None, v2m=_v2m_frames(n))
    return None


def _v2m_frames(gic_node: Node) -> tuple[tuple[int, int, int, int], ...]:
    """``gicv2_extension_dt_init()``: the GIC's available ``arm,gic-v2m-frame`` children with
    their first ``reg`` entry and MSI SPIs (the node's properties; when either is absent or 0,
    what ``MSI_TYPER`` reports, QEMU's values here)."""
    out = []
    for child in gic_node.children:
        regs = reg_of(child)
        if V2M_FRAME not in child.compatible() or not available(child) or not regs:
            continue
        base, count = child.prop("arm,msi-base-spi"), child.prop("arm,msi-num-spis")
        first = base.u32() if base is not None else None
        n = count.u32() if count is not None else None
        if not first or not n:
            first, n = QEMU_V2M_SPIS
        out.append((regs[0].start, regs[0].size, first, n))
    return tuple(out)


def uart(tree: Tree, cmdline: str | None) -> Uart | None:
    """The console UART: ``dtuart=`` on Xen's command line (``cmdline``, as
    ``boot_fdt_cmdline()`` finds it), else ``/chosen/stdout-path``."""
    chosen = tree.find("/chosen")
    if chosen is None:
        return None
    target = None
    if cmdline is not None:
        m = re.search(r"(?:^|\s)dtuart=(\S+)", cmdline)
        if m:
            target = m.group(1).split(":", 1)[0]
    if target is None and chosen.prop("stdout-path") is not None:
        target = chosen.properties["stdout-path"].string().split(":", 1)[0]
    if not target:
        return None
    node = tree.find(target) if target.startswith("/") else None
    if node is None and not target.startswith("/"):
        aliases = tree.find("/aliases")
        alias = aliases.prop(target) if aliases is not None else None
        node = tree.find(alias.string()) if alias is not None else None
    if node is None:
        return None
    regs = reg_of(node)
    irq = None
    ints = node.prop("interrupts")
    if ints is not None:
        cells = ints.u32s()
        if len(cells) >= 2:
            irq = cells[1] + (32 if cells[0] == 0 else 16)
    return Uart(path=node.path, source=source_ref(node.source), base=regs[0].start if regs else None,
                size=regs[0].size if regs else None, irq=irq)


def unflattened_size(tree: Tree, node_struct: int) -> int:
    """Bytes Xen's ``unflatten_device_tree()`` allocates for the host tree.

    Per node: align 8, a node struct plus its full name with its NUL (the
    root's "/" takes 2; below it ``unflatten_dt_node()`` counts the root as 1,
    so a child of the root takes its name plus 2, each level below its name
    plus 1 more); per property: align 8, a property struct (32); a synthetic
    ``name`` property when the node has none (``docs/replay.md``). Checked
    against Xen 4.22.0's request on the ZynqMP traces (7716, 9924 and 10212
    bytes).
    """
    u = 0
    stack: list[tuple[Node, int]] = [(tree.root, 1)]
    while stack:
        node, path = stack.pop()
        u = (u + 7) & ~7
        u += node_struct + (path if node.parent is not None else 2)
        for _ in node.properties:
            u = (u + 7) & ~7
            u += 32
        if "name" not in node.properties:
            u = (u + 7) & ~7
            u += 32 + (len(node.basename) + 1 if node.parent is not None else 1)
        stack.extend((c, path + len(c.name) + 1) for c in reversed(node.children))
    return 4 + (u | 3) + 1


ALIAS_PROP_SIZE = 40
"""``sizeof(struct dt_alias_prop)`` on arm64: list head, two pointers, the id, padded."""


def alias_requests(tree: Tree) -> tuple[int, ...]:
    """The ``xmalloc`` sizes ``dt_alias_scan()`` asks for, in ``/aliases`` property order.

    Every property but ``name``, ``phandle`` and ``linux,phandle`` whose value
    names an existing node (``dt_find_node_by_path()``, full path, case
    ignored) costs one ``struct dt_alias_prop`` with the alias's stem (the name
    without its trailing digits) and a NUL. QEMU ``virt`` has no ``/aliases``;
    a SoC tree usually has several (ZynqMP: ``serial0``, ``ethernet0``).
    """
    aliases = tree.find("/aliases")
    if aliases is None:
        return ()
    paths = {n.path.lower() for n in tree.walk()}
    sizes = []
    for name, prop in aliases.properties.items():
        if name in ("name", "phandle", "linux,phandle") or prop.string().lower() not in paths:
            continue
        sizes.append(ALIAS_PROP_SIZE + len(name.rstrip("0123456789")) + 1)
    return tuple(sizes)


SMMU_COMPATIBLES = ("arm,smmu-v1", "arm,smmu-v2", "arm,mmu-400", "arm,mmu-401", "arm,mmu-500")
"""``arm_smmu_of_match``: the SMMUv1/v2 nodes ``iommu_hardware_setup()`` hands the SMMU driver."""


def smmu_probes(tree: Tree) -> tuple[int, ...]:
    """The interrupt count of each SMMU ``arm_smmu_device_dt_probe()`` gets as far as
    allocating its ``irqs`` array for, in tree order.

    An available node of a compatible ``arm_smmu_of_match`` lists, with a
    ``#global-interrupts`` below its interrupt count (else the probe stops
    before that allocation). The count is the ``interrupts`` property's
    length over the interrupt parent's ``#interrupt-cells``.
    """
    phandles = tree.phandles()
    out = []
    for node in tree.walk():
        if not any(node.is_compatible(c) for c in SMMU_COMPATIBLES) or not available(node):
            continue
        ints, glob = node.prop("interrupts"), node.prop("#global-interrupts")
        if ints is None or glob is None or glob.u32() is None:
            continue
        parent: Node | None = node
        cells = None
        while parent is not None and cells is None:
            ref = parent.prop("interrupt-parent")
            if ref is not None and ref.u32() in phandles:
                ctrl = phandles[ref.u32() or 0].prop("#interrupt-cells")
                cells = ctrl.u32() if ctrl is not None else None
                break
            parent = parent.parent
        count = len(ints.value) // 4 // (cells or 3)
        if count > (glob.u32() or 0):
            out.append(count)
    return tuple(out)


def partial_dtb(tree: Tree) -> PartialDtb:
    """The passthrough devices of a partial DTB as ``scan_pfdt_node()`` reads them.

    Only ``/passthrough`` is scanned for ``xen,reg``: the node itself with the
    root defaults (2/1), each child with its parent's cells, default 2/1.
    """
    devices: list[PassthroughDevice] = []
    pt = tree.find("/passthrough")
    stack: list[tuple[Node, tuple[int, int]]] = [(pt, ROOT_CELLS)] if pt is not None else []
    while stack:
        node, (ac, sc) = stack.pop()
        reg, path = node.prop("xen,reg"), node.prop("xen,path")
        if reg is not None or path is not None:
            regs: list[tuple[int, int, int]] = []
            if reg is not None and 1 <= ac <= 2 and 1 <= sc <= 2:
                cells = reg.u32s()
                step = 2 * ac + sc
                for i in range(len(cells) // step):
                    c = cells[i * step : (i + 1) * step]
                    regs.append((read_number(c[:ac], ac), read_number(c[ac + sc :], ac),
                                 read_number(c[ac : ac + sc], sc)))
            devices.append(PassthroughDevice(
                path=node.path, source=source_ref((reg or path).source), regs=tuple(regs),  # type: ignore[union-attr]
                xen_path=path.string() if path is not None else None, force=node.has("xen,force-assign-without-iommu"),
                dma=is_dma_master(node), has_reg=reg is not None, cells=(ac, sc)))
        own = (node.prop("#address-cells"), node.prop("#size-cells"))
        inner = (own[0].u32() if own[0] is not None and own[0].u32() is not None else ROOT_CELLS[0],
                 own[1].u32() if own[1] is not None and own[1].u32() is not None else ROOT_CELLS[1])
        stack.extend((c, inner) for c in reversed(node.children))  # type: ignore[misc]
    return PartialDtb(file=tree.file, size=tree.dtb_size or 0, max_phandle=max(tree.phandles(), default=0),
                      devices=tuple(devices))


DMA_MARKERS = ("iommus", "dma-coherent", "#dma-cells")
"""Properties by which a device tree says a node masters the bus: its DMA goes through an IOMMU
stream (``iommus``, what ``iommu_add_dt_device()`` reads), it does coherent DMA
(``dma-coherent``), or it is a DMA controller (``#dma-cells``)."""


def is_dma_master(node: Node) -> bool:
    return any(node.has(p) for p in DMA_MARKERS)


def dma_masters(tree: Tree) -> tuple[str, ...]:
    """Paths of the host nodes marked as DMA masters (``DMA_MARKERS``)."""
    return tuple(n.path for n in tree.walk() if is_dma_master(n))


def host_nodes(tree: Tree) -> dict[str, tuple[bool, bool, tuple[int, ...]]]:
    """What passthrough needs of each host node: behind an IOMMU, marked ``xen,passthrough``, its SPIs."""
    out: dict[str, tuple[bool, bool, tuple[int, ...]]] = {}
    for n in tree.walk():
        ints = n.prop("interrupts")
        cells = ints.u32s() if ints is not None else []
        spis = tuple(cells[i + 1] + 32 for i in range(0, len(cells) - 2, 3) if cells[i] == 0)
        out[n.path] = (n.has("iommus"), n.has("xen,passthrough"), spis)
    return out


def boot_cpupools(tree: Tree) -> tuple[BootCpupool, ...]:
    """``btcpupools_dtb_parse()``: the ``xen,cpupool`` children of ``/chosen`` with the
    logical CPU of each ``cpupool-cpus`` phandle, up to the first that names no node
    (where Xen's walk of the list ends). A node's ``reg`` is matched against the CPUs'
    (``get_logical_cpu_from_hw_id()``): -1 for a node without ``reg``, -2 for a ``reg``
    no CPU has. Xen numbers CPUs by ``/cpus`` order with the boot CPU first; the first
    CPU node is taken as the boot CPU (QEMU ``virt`` boots it)."""
    cpus = tree.find("/cpus")
    chosen = tree.find("/chosen")
    if chosen is None:
        return ()
    nodes = [c for c in (cpus.children if cpus else []) if (dt := c.prop("device_type")) and dt.string() == "cpu"]
    hwids: dict[int, int] = {}
    for i, n in enumerate(nodes):
        hwids.setdefault(_hwid(n), i)
    phandles = tree.phandles()
    out = []
    for node in chosen.children:
        if not node.is_compatible("xen,cpupool"):
            continue
        prop = node.prop("cpupool-cpus")
        logical: list[int] = []
        for ref in prop.u32s() if prop is not None else []:
            target = phandles.get(ref)
            if target is None:
                break
            logical.append(-1 if target.prop("reg") is None else hwids.get(_hwid(target), -2))
        sched = node.prop("cpupool-sched")
        out.append(BootCpupool(path=node.path, name=node.name.partition("@")[0],
                               sched=sched.string() if sched is not None else None, cpus=tuple(logical)))
    return tuple(out)


def _hwid(node: Node) -> int:
    """``dt_read_number()`` of a node's ``reg`` over its parent's ``#address-cells``."""
    reg = node.prop("reg")
    parent = node.parent
    ac = 2
    if parent is not None and (p := parent.prop("#address-cells")) is not None and p.u32() is not None:
        ac = p.u32() or 0
    value = 0
    for cell in (reg.u32s()[:ac] if reg is not None else []):
        value = ((value << 32) | cell) & (1 << 64) - 1
    return value
