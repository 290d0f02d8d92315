"""Device passthrough from a domain's partial device tree (PT-002…007).

Mirrors ``domain_handle_dtb_boot_module()``, ``check_partial_fdt()``,
``scan_pfdt_node()`` and ``handle_passthrough_prop()``
(``xen/common/device-tree/dom0less-build.c`` 4.22; ``xen/arch/arm/`` before):
the partial DTB must fit its module and keep its phandles below the guest
GIC's; each ``/passthrough`` node with ``xen,reg`` needs ``xen,path`` (or
``xen,force-assign-without-iommu``), page-aligned ranges, a host node that
exists, interrupts inside the domain's SPIs, and an IOMMU in front of the
device unless forced. Each range is mapped at its guest address as device
memory, over whatever is there (GMAP-020).
"""

from __future__ import annotations

from xenplan.boot import messages as msg
from xenplan.boot.build_context import DomainBuild
from xenplan.boot.construction import Construction
from xenplan.model.base import PAGE_SIZE, Range

GUEST_PHANDLE_GIC = 65000
EINVAL, EOVERFLOW = -22, -75


def construct(build: DomainBuild, construction: Construction) -> None:
    dom, v, rel = construction.dom, build.v, build.rel
    pdt = dom.partial_dtb
    mod = dom.child_module("multiboot,device-tree")
    if mod is None or mod.path not in {m.path for m in build.state.live_modules()}:
        return
    if pdt is None:
        build.state.notes.append(f"{dom.name}: its partial device tree ({mod.path}) was not given with --partial-dtb; "
                                 "passthrough not checked")
        return
    fail_rc = msg.could_not_set_up(rel, dom.name, EINVAL)
    if mod.range is not None and pdt.size > mod.range.size:
        build.fail(construction, "PT-002", f"the partial DTB {pdt.file} is {pdt.size:#x} bytes, more than its module "
                   f"{mod.path} ({mod.range.size:#x}): Partial FDT totalsize is too big", fail_rc, ranges=[mod.range])
    if pdt.max_phandle + 1 >= GUEST_PHANDLE_GIC:
        build.fail(construction,
                   "PT-002", f"the partial DTB {pdt.file} uses phandle {pdt.max_phandle}: Xen's own start at "
                   f"{GUEST_PHANDLE_GIC}", msg.could_not_set_up(rel, dom.name, EOVERFLOW))
    hosts = build.state.system.host_nodes
    spis = build.nr_spis(dom)
    iommu = bool(build.state.system.board.iommus)
    for dev in pdt.devices:
        if not dev.has_reg or (dev.xen_path is None and not dev.force):
            build.fail(construction, "PT-005", f"{pdt.file}:{dev.path}: xen,reg or xen,path missing", fail_rc)
        ac, sc = dev.cells
        if not (1 <= ac <= 2 and 1 <= sc <= 2):
            if rel.passthrough_cells_checked:
                build.fail(construction,
                           "PT-003", f"{pdt.file}:{dev.path}: Invalid address_cells {ac} or size_cells {sc}",
                           fail_rc)
            build.fail(construction,
                       "PT-003", f"{pdt.file}:{dev.path}: xen,reg decoded with {ac}/{sc} cells: Xen {v} divides "
                       "by zero or reads garbage", msg.DATA_ABORT, outcome="crash", behaviour="CRASH")
        for host, guest, size in dev.regs:
            if host % PAGE_SIZE or guest % PAGE_SIZE or size % PAGE_SIZE:
                build.fail(construction,
                           "PT-003", f"{pdt.file}:{dev.path}: xen,reg <{host:#x} {size:#x} {guest:#x}>: DomU "
                           "passthrough config has not page aligned addresses/sizes", fail_rc,
                           ranges=[Range(start=host, size=size)])
            construction.mmio.append((Range(start=guest, size=size), host, dev.xen_path or dev.path))
        if dev.xen_path is None:
            continue
        if dev.xen_path not in hosts:
            build.fail(construction,
                       "PT-005", f"{pdt.file}:{dev.path}: Couldn't find node {dev.xen_path} in host_dt!", fail_rc)
        protected, _marked, irqs = hosts[dev.xen_path]
        for irq in irqs:
            if irq - 32 >= spis:
                build.fail(construction,
                           "PT-006", f"{dev.xen_path} uses SPI {irq}, above the {spis} SPIs of {dom.name}",
                           fail_rc, prop="nr_spis")
        if not dev.force and not (iommu and protected):
            why = "the board has no IOMMU" if not iommu else f"{dev.xen_path} has no iommus property"
            build.fail(construction, "PT-007", f"{dev.xen_path} cannot be assigned to {dom.name}: {why} and "
                       "xen,force-assign-without-iommu is not set", fail_rc)
