"""PT: device passthrough from a domain's partial device tree.

``boot/passthrough.py`` reads the partial DTB given with ``--partial-dtb``
and reports what Xen refuses (PT-001 on 4.16, PT-002, 003, 005, 006, 007) while building the
domain; the mappings appear as ``mmio`` in the guest map, where GMAP-020
reports what they cover. PT-008 reads the host tree.
"""

from __future__ import annotations

from collections.abc import Iterator

from xenplan.boot.result import BootResult
from xenplan.checks.registry import Hit, rule
from xenplan.model.system import System


@rule(id="PT-001", slug="partial-dtb-needs-iommu", behaviour="PANIC", since="4.16", until="4.17",
      xen_src="xen/arch/arm/domain_build.c: create_domUs(); xen/common/domain.c: sanitise_domain_config()",
      xen_message="Error creating domain D")
def partial_dtb_needs_iommu() -> None:
    """What Xen does: on 4.16 a ``xen,domain`` node with a
    ``multiboot,device-tree`` module always asks for IOMMU mappings
    (``XEN_DOMCTL_CDF_iommu``). When the IOMMU is not enabled (no SMMU on the
    board, or no driver), ``domain_create()`` refuses the configuration and
    Xen panics "Error creating domain D", even with
    ``xen,force-assign-without-iommu``. From 4.17 the flag is only set when
    the IOMMU is enabled.

    Why it matters: on 4.16 no domain with a partial device tree can be built
    on a board without an IOMMU, so Xen stops booting.

    Example: on QEMU ``virt`` (no SMMU) a domU with a partial DTB passing the
    PL061 through fails on 4.16.7 and boots on 4.17.7.

    Fix: use 4.17 or later, or a board whose IOMMU Xen enables.
    """


@rule(id="PT-002", slug="partial-dtb-invalid", behaviour="PANIC", since="4.16",
      xen_src="xen/common/device-tree/dom0less-build.c: check_partial_fdt(), domain_handle_dtb_boot_module()",
      xen_message="Could not set up domain D (rc = -22)")
def partial_dtb_invalid() -> None:
    """What Xen does: before copying a domain's partial device tree into the
    guest's, Xen checks its header, that its total size fits the
    ``multiboot,device-tree`` module's ``reg`` size, and that its phandles stay
    below 65000 (where Xen's own guest GIC and IOMMU phandles start). A
    failure ends the domain's construction: "Could not set up domain D".

    Why it matters: the domain is never built and Xen stops booting. A
    module ``reg`` sized for an older, smaller blob is the usual cause.

    Example: ``reg = <0x0 0x2200000 0x0 0x800>;`` for a 0x129a-byte partial DTB
    fails; ``<0x0 0x2200000 0x0 0x2000>`` works.

    Fix: size the module's ``reg`` to the blob (or more), and keep the partial
    DTB's phandles below 65000.
    """


@rule(id="PT-003", slug="passthrough-range-not-page-aligned", behaviour="PANIC", since="4.16",
      xen_src="xen/common/device-tree/dom0less-build.c: handle_passthrough_prop()",
      xen_message="DomU passthrough config has not page aligned addresses/sizes")
def passthrough_range_not_page_aligned() -> None:
    """What Xen does: reads each ``xen,reg`` entry as <host-address size
    guest-address> with the cells of the node's parent inside the partial DTB
    (``/passthrough`` itself with 2/1) and maps it page by page. A host
    address, guest address or size that is not a multiple of 4 KiB is
    refused ("DomU passthrough config has not page aligned addresses/sizes")
    and the domain is not built. Cells outside 1..2 are refused from 4.22
    ("Invalid address_cells ... or size_cells ..."); earlier releases divide
    by zero on 0.

    Why it matters: Xen stops booting; a device with registers smaller than a
    page must still be passed as whole pages.

    Example: ``xen,reg = <0x0 0xff0e0800 0x0 0x800 0x0 0xff0e0800>;`` fails;
    ``<0x0 0xff0e0000 0x0 0x1000 0x0 0xff0e0000>`` maps the page.

    Fix: round each range out to 4 KiB pages (all three numbers), and give
    ``/passthrough`` and its children 1 or 2 cells.
    """


@rule(id="PT-005", slug="passthrough-path-missing", behaviour="PANIC", since="4.16",
      xen_src="xen/common/device-tree/dom0less-build.c: handle_prop_pfdt(), handle_passthrough_prop()",
      xen_message="Could not set up domain D (rc = -22)")
def passthrough_path_missing() -> None:
    """What Xen does: a partial-DTB node with ``xen,reg`` needs ``xen,path``
    (the host node whose interrupts and IOMMU stream Xen assigns), unless it
    has ``xen,force-assign-without-iommu``; a ``xen,path`` needs ``xen,reg``;
    and the path must exist in the host tree ("Couldn't find node ... in
    host_dt!"). Otherwise the domain is not built.

    Why it matters: Xen stops booting, typically after the host tree was
    renamed or re-parented and the partial DTB was not.

    Example: ``xen,path = "/amba/ethernet@ff0e0000";`` on a host tree whose node
    is ``/axi/ethernet@ff0e0000`` fails; the matching path works.

    Fix: keep ``xen,path`` equal to the host node's full path, and give both
    ``xen,reg`` and ``xen,path`` (or force the assignment knowingly).
    """


@rule(id="PT-006", slug="passthrough-irq-above-nr-spis", behaviour="PANIC", since="4.16",
      xen_src="xen/arch/arm/device.c: map_device_irqs_to_domain(); xen/arch/arm/vgic.c: vgic_reserve_virq()",
      xen_message="Could not set up domain D (rc = -22)")
def passthrough_irq_above_nr_spis() -> None:
    """What Xen does: routes the host device's interrupts to the domain 1:1
    (virtual SPI = physical SPI). An SPI beyond the domain's ``nr_spis`` does
    not exist in its vGIC, the routing fails and the domain is not built.

    Why it matters: Xen stops booting; it happens when ``nr_spis`` is set
    small to save memory while passing through a device with a high SPI.

    Example: a device on SPI 95 (``interrupts = <0 63 4>``) with ``nr_spis =
    <32>;`` fails; ``nr_spis = <64>;`` (or no ``nr_spis``) works.

    Fix: raise ``nr_spis`` above the highest passed-through SPI minus 32, or
    drop it for the default.
    """


@rule(id="PT-007", slug="passthrough-without-iommu", behaviour="PANIC", since="4.16",
      xen_src="xen/common/device-tree/dom0less-build.c: handle_passthrough_prop(); "
              "xen/drivers/passthrough/device_tree.c: iommu_assign_dt_device()",
      xen_message="Could not set up domain D (rc = -22)")
def passthrough_without_iommu() -> None:
    """What Xen does: assigns the host device to the domain through the IOMMU
    (``iommu_assign_dt_device()``). A device that is not behind an IOMMU (no
    ``iommus`` property, or no IOMMU at all) cannot be assigned and the
    domain is not built, unless the node has
    ``xen,force-assign-without-iommu``.

    Why it matters: Xen stops booting. Forcing the assignment works but lets
    the device DMA anywhere (see DMAP-008: use a direct-mapped domain).

    Example: a GEM without ``iommus`` on a board without SMMU fails; adding
    ``xen,force-assign-without-iommu;`` to the partial-DTB node (and
    ``direct-map`` to the domain) boots.

    Fix: enable the SMMU and describe the device's stream (``iommus``), or
    force the assignment on a direct-mapped domain.
    """


@rule(id="PT-008", slug="passthrough-device-not-hidden", behaviour="HAZARD", since="4.16",
      xen_src="xen/arch/arm/domain_build.c: handle_node() (xen,passthrough)")
def passthrough_device_not_hidden(system: System, result: BootResult) -> Iterator[Hit]:
    """What Xen does: dom0 gets every host device except those marked
    ``xen,passthrough``. A device passed to a domU without the mark is also
    mapped into dom0 and driven by it.

    Why it matters: two operating systems drive the same device: corrupted
    state, DMA into the wrong memory. (Only with a dom0.)

    Example: ``ethernet@ff0e0000 { ... };`` passed to a domU while dom0
    boots; add ``xen,passthrough;`` to the host node.

    Fix: mark every passed-through host node with ``xen,passthrough``.
    """
    if not any(m.kind == "kernel" and m.domain is None for m in system.modules):
        return
    for dom in system.domains:
        for dev in dom.partial_dtb.devices if dom.partial_dtb is not None else ():
            node = system.host_nodes.get(dev.xen_path or "")
            if node is not None and not node[1]:
                yield Hit(message=f"{dev.xen_path} is passed to {dom.name} but has no xen,passthrough: dom0 "
                          "also maps and drives it", path=dev.xen_path, related=((dom.path, ()),),
                          isolation=True)
