"""The host devices a classic dom0 is given: what ``handle_node()`` and
``handle_device()`` (``construct_dom0()``'s walk of the host tree) hand it, in
the order Xen visits them.

Per device: its SPIs (``map_device_irqs_to_domain()``), its MMIO ranges as CPU
addresses (``dt_device_get_paddr()``), and for a ``device_type = "pci"`` bridge
the SPIs of its ``interrupt-map`` and the windows of its ``ranges``
(``map_device_children()``). The heap replay turns these into the range-set
nodes, IRQ actions and P2M tables Xen allocates for them.
"""

from __future__ import annotations

from xenplan.dt.tree import Node, Tree
from xenplan.model.cells import ROOT_CELLS, cells_of, parent_cells, read_number
from xenplan.model.system import Dom0Device

SKIP_COMPATIBLES = frozenset({
    "xen,domain", "xen,domain-shared-memory-v1", "xen,evtchn-v1", "xen,xen", "xen,multiboot-module",
    "multiboot,module", "arm,psci", "arm,psci-0.2", "arm,psci-1.0", "arm,cortex-a7-pmu", "arm,cortex-a15-pmu",
    "arm,cortex-a53-edac", "arm,armv8-pmuv3", "arm,armv7-timer-mem"})
"""``handle_node()``'s ``skip_matches`` compatibles: the node and its subtree are not given to dom0."""
TIMER_COMPATIBLES = frozenset({"arm,armv7-timer", "arm,armv8-timer"})
"""``DT_MATCH_TIMER``: replaced by ``make_timer_node()``, nothing mapped."""


def _u32(node: Node | None, name: str) -> int | None:
    prop = node.prop(name) if node is not None else None
    return prop.u32() if prop is not None else None


def _irq_parent(node: Node, phandles: dict[int, Node]) -> Node | None:
    """``dt_irq_find_parent()``: the nearest ``interrupt-parent``, from the node up."""
    n: Node | None = node
    while n is not None:
        ph = _u32(n, "interrupt-parent")
        if ph is not None:
            return phandles.get(ph)
        n = n.parent
    return None


def _gic_irq(cells: list[int]) -> int | None:
    """The GIC's three-cell specifier as an interrupt number: SPI n is 32 + n, PPI n is 16 + n."""
    if len(cells) < 2:
        return None
    return cells[1] + (32 if cells[0] == 0 else 16 if cells[0] == 1 else 0)


def _irqs(node: Node, gic: Node, phandles: dict[int, Node]) -> list[int]:
    """The node's interrupts that the primary GIC delivers (``interrupts`` or ``interrupts-extended``)."""
    out: list[int] = []
    ext = node.prop("interrupts-extended")
    if ext is not None:
        cells = ext.u32s()
        i = 0
        while i < len(cells):
            ctrl = phandles.get(cells[i])
            n = _u32(ctrl, "#interrupt-cells") or 0
            if ctrl is None or not n:
                break
            if ctrl is gic and (irq := _gic_irq(cells[i + 1 : i + 1 + n])) is not None:
                out.append(irq)
            i += 1 + n
        return out
    ints = node.prop("interrupts")
    ctrl = _irq_parent(node, phandles)
    n = _u32(ctrl, "#interrupt-cells") or 0
    if ints is None or ctrl is not gic or not n:
        return out
    cells = ints.u32s()
    for i in range(0, len(cells) - n + 1, n):
        irq = _gic_irq(cells[i : i + n])
        if irq is not None:
            out.append(irq)
    return out


def _translate(bus: Node | None, addr: int) -> int | None:
    """``dt_translate_address()``: up through each bus's ``ranges`` (absent: untranslatable,
    empty: 1:1) to a CPU address."""
    while bus is not None and bus.parent is not None:
        ranges = bus.prop("ranges")
        if ranges is None:
            return None
        cells = ranges.u32s()
        if cells:
            ac, sc = cells_of(bus, parent_cells(bus))
            pac = cells_of(bus.parent, parent_cells(bus.parent))[0]
            step = ac + pac + sc
            for i in range(0, len(cells) - step + 1, step):
                entry = cells[i : i + step]
                child = read_number(entry[ac - 2 : ac], 2) if ac > 2 else read_number(entry[:ac], ac)
                size = read_number(entry[ac + pac :], sc)
                if child <= addr < child + size:
                    addr = addr - child + read_number(entry[ac : ac + pac], pac)
                    break
            else:
                return None
        bus = bus.parent
    return addr


def _regs(node: Node) -> list[tuple[int, int]]:
    """``dt_device_get_paddr()`` for each ``reg`` entry; untranslatable and empty ones are left out."""
    reg = node.prop("reg")
    if reg is None or node.parent is None:
        return []
    ac, sc = cells_of(node.parent, parent_cells(node.parent))
    cells = reg.u32s()
    out = []
    for i in range(0, len(cells) - ac - sc + 1, ac + sc):
        size = read_number(cells[i + ac : i + ac + sc], sc)
        start = _translate(node.parent, read_number(cells[i : i + ac], ac))
        if start is not None and size:
            out.append((start, size))
    return out


def _pci(node: Node, gic: Node, phandles: dict[int, Node]) -> tuple[list[int], list[tuple[int, int]]]:
    """``map_device_children()``: the SPIs of ``interrupt-map`` (``dt_for_each_irq_map()``) and
    the CPU windows of ``ranges`` (``dt_for_each_range()``)."""
    irqs: list[int] = []
    ac = _u32(node, "#address-cells") or 3
    ic = _u32(node, "#interrupt-cells") or 1
    imap = node.prop("interrupt-map")
    cells = imap.u32s() if imap is not None else []
    i = 0
    while i + ac + ic < len(cells):
        ctrl = phandles.get(cells[i + ac + ic])
        pac, pic = _u32(ctrl, "#address-cells") or 0, _u32(ctrl, "#interrupt-cells") or 0
        if ctrl is None or not pic:
            break
        spec = cells[i + ac + ic + 1 + pac : i + ac + ic + 1 + pac + pic]
        if ctrl is gic and (irq := _gic_irq(spec)) is not None and irq >= 32:
            irqs.append(irq)
        i += ac + ic + 1 + pac + pic
    windows: list[tuple[int, int]] = []
    ranges = node.prop("ranges")
    rc = ranges.u32s() if ranges is not None else []
    pac = cells_of(node.parent, parent_cells(node.parent))[0] if node.parent is not None else ROOT_CELLS[0]
    sc = _u32(node, "#size-cells") or 2
    step = ac + pac + sc
    for j in range(0, len(rc) - step + 1, step):
        size = read_number(rc[j + ac + pac : j + step], sc)
        start = _translate(node.parent, read_number(rc[j + ac : j + ac + pac], pac))
        if start is not None and size:
            windows.append((start, size))
    return irqs, windows


def dom0_devices(tree: Tree, gic_path: str | None, xen_paths: frozenset[str]) -> tuple[Dom0Device, ...]:
    """``handle_node()`` from the root: every node dom0 is given, in Xen's visiting order.

    Skipped with their subtrees: ``skip_matches``, ``/cpus``, memory nodes, the GIC
    (``gic_path``, rebuilt by ``make_gic_node()``), the timer, nodes Xen uses itself
    (``xen_paths``: its console UART), IOMMUs and any node with a PPI.
    """
    gic = tree.find(gic_path) if gic_path else None
    if gic is None:
        return ()
    phandles = tree.phandles()
    out: list[Dom0Device] = []
    stack = [tree.root]
    while stack:
        node = stack.pop()
        compat = set(node.compatible())
        dtype = node.prop("device_type")
        if (compat & SKIP_COMPATIBLES or node.path == "/cpus" or (dtype is not None and dtype.string() == "memory")
                or node is gic or compat & TIMER_COMPATIBLES or node.path in xen_paths or node.has("#iommu-cells")):
            continue
        irqs = _irqs(node, gic, phandles)
        if any(16 <= irq < 32 for irq in irqs):
            continue
        pci_irqs, windows = (_pci(node, gic, phandles) if dtype is not None and dtype.string() == "pci"
                             else ([], []))
        regs = _regs(node)
        if irqs or regs or pci_irqs or windows:
            out.append(Dom0Device(path=node.path, irqs=tuple(irqs), regs=tuple(regs),
                                  mapped=not node.has("xen,passthrough"), pci_irqs=tuple(pci_irqs),
                                  pci_ranges=tuple(windows)))
        stack.extend(reversed(node.children))
    return tuple(out)
