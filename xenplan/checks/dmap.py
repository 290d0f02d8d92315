"""DMAP: direct-mapped (1:1) domUs, §7.4.

``boot/domains.py`` reports what Xen checks (DMAP-001/004/006). Two hazards
are read here: the fixed grant-table window over 1:1 RAM (DMAP-007) and DMA
of a passed-through device with no IOMMU into a domain that is not 1:1
(DMAP-008).
"""

from __future__ import annotations

from collections.abc import Iterator

from xenplan.boot.result import BootResult
from xenplan.checks.registry import Hit, rule
from xenplan.model.base import Range
from xenplan.model.layout import GUEST_GNTTAB
from xenplan.model.release import XenRelease
from xenplan.model.system import Domain, System

#: GUEST_GNTTAB_BASE / GUEST_GNTTAB_SIZE (``xen/include/public/arch-arm.h``).


def pv_enabled(rel: XenRelease, dom: Domain) -> bool:
    """The domain gets PV interfaces: ``construct_domU()`` sets a ``dom0less_feature`` only
    for the ``xen,enhanced`` values the release knows; any other value disables them
    (XS-001), and 4.16 does not read the property."""
    return rel.enhanced_mode(dom.enhanced) is not None


@rule(id="DMAP-001", slug="direct-map-without-static-mem", behaviour="PANIC", since="4.17",
      xen_src="xen/common/device-tree/dom0less-bindings.c: parse_dom0less_node()",
      xen_message="direct-map is not valid for domain D without static allocation.")
def direct_map_without_static_mem() -> None:
    """What Xen does: a ``direct-map`` domain must have ``xen,static-mem`` (and Xen
    must be built with ``CONFIG_STATIC_MEMORY``): its guest addresses are its
    host addresses, so they must be known. Otherwise Xen panics "direct-map
    is not valid for domain D without static allocation.".

    Why it matters: Xen stops before building the domain.

    Example: ``direct-map; memory = <0x0 0x20000>;`` fails; adding
    ``xen,static-mem = <0x0 0x60000000 0x0 0x8000000>;`` works.

    Fix: give the domain ``xen,static-mem`` banks (their sum in ``memory``), or
    drop ``direct-map``.
    """


@rule(id="DMAP-004", slug="direct-map-size-mismatch", behaviour="PANIC", since="4.17",
      xen_src="xen/common/device-tree/static-memory.c: assign_static_memory_11()",
      xen_message="Failed to assign requested static memory for direct-map domain dN.")
def direct_map_size_mismatch() -> None:
    """What Xen does: like SMEM-013 for a direct-mapped domain: after taking its
    static banks, Xen compares their total with ``memory`` (KiB). If the banks
    add up to less, it prints "Size of \\"memory\\" property doesn't match up
    with the sum-up of \\"xen,static-mem\\"" and panics "Failed to assign
    requested static memory for direct-map domain dN."; if they add up to
    more, PAGE-003 stops it first.

    Why it matters: the domain is never built and Xen stops booting.

    Example: ``memory = <0x0 0x40000>;`` (256 MiB) with one 128 MiB bank
    fails; ``memory = <0x0 0x20000>;`` works.

    Fix: set ``memory`` to the total of the banks, in KiB.
    """


@rule(id="DMAP-006", slug="direct-map-vpl011-without-uart", behaviour="PANIC", since="4.17",
      xen_src="xen/arch/arm/vpl011.c: domain_vpl011_init()",
      xen_message="Unable to re-use the Xen UART information")
def direct_map_vpl011_without_uart() -> None:
    """What Xen does: the emulated UART of a direct-mapped domain sits at the
    address and interrupt of Xen's own console UART. Without a device-tree
    console UART Xen panics "Unable to re-use the Xen UART information";
    when that UART's MMIO region is below 4 KiB, "Unable to re-use the Xen
    UART MMIO region as it is too small". A Xen built without
    ``CONFIG_SBSA_VUART_CONSOLE`` refuses ``vpl011`` on any domain.

    Why it matters: the domain is never built and Xen stops booting.

    Example: ``direct-map; vpl011;`` with no ``dtuart=`` and no
    ``stdout-path`` fails; ``stdout-path = "/pl011@9000000";`` in ``/chosen``
    works.

    Fix: give Xen a device-tree console (``stdout-path`` or ``dtuart=``) with a
    ``reg`` of at least 4 KiB, or remove ``vpl011`` from the domain.
    """


@rule(id="DMAP-007", slug="grant-window-over-direct-map-ram", behaviour="HAZARD", since="4.17",
      xen_src="xen/common/device-tree/dom0less-build.c: prepare_dtb_domU()")
def grant_window_over_direct_map_ram(system: System, result: BootResult) -> Iterator[Hit]:
    """What Xen does: tells every PV-enabled domU (``xen,enhanced``) to map its
    grant-table frames at the fixed guest address 0x38000000 (16 MiB) - also
    a direct-mapped domain, whose guest addresses are host addresses. Xen
    does not check whether its RAM or shared memory is already there.

    Why it matters: when the guest maps grant frames, they replace its own RAM
    (or shared memory) at those addresses; what it kept there vanishes and
    the replaced pages leak (GMAP-020).

    Example: 1:1 RAM across 0x38000000 with PV on:

        xen,static-mem = <0x0 0x30000000 0x0 0x0c000000>; direct-map; xen,enhanced = "no-xenstore";

    Fixed: RAM elsewhere, e.g. ``<0x0 0x60000000 0x0 0x0c000000>``.

    Fix: keep the 1:1 RAM and shared memory of a PV-enabled direct-mapped
    domain out of 0x38000000-0x38ffffff, or drop ``xen,enhanced``.
    """
    direct = {d.path for d in result.domains if d.direct_map}
    for dom in system.domains:
        if dom.path not in direct or not pv_enabled(system.target.release, dom):
            continue
        hits: list[tuple[str, Range]] = [("RAM", b) for b in dom.static_mem if b.size and b.overlaps(GUEST_GNTTAB)]
        for sh in dom.shm:
            if sh.guest is not None and sh.size:
                g = Range(start=sh.guest, size=sh.size)
                if g.overlaps(GUEST_GNTTAB):
                    hits.append((f"shared memory {sh.path}", g))
        for what, r in hits:
            yield Hit(message=f"{dom.name} is direct-mapped with xen,enhanced = \"{dom.enhanced}\": its {what} "
                              f"{r.start:#x}+{r.size:#x} covers the grant-table window "
                              f"{GUEST_GNTTAB.start:#x}+{GUEST_GNTTAB.size:#x}; grant mappings will replace it",
                      path=dom.path, property="xen,static-mem" if what == "RAM" else "xen,enhanced",
                      ranges=((r.start, r.size),),
                      related=((dom.path, ((GUEST_GNTTAB.start, GUEST_GNTTAB.size),)),))


@rule(id="DMAP-008", slug="dma-without-iommu-not-direct-mapped", behaviour="HAZARD", since="4.16",
      xen_src="xen/common/device-tree/dom0less-build.c: handle_passthrough_prop()", isolation=True)
def dma_without_iommu_not_direct_mapped(system: System, result: BootResult) -> Iterator[Hit]:
    """What Xen does: without an IOMMU, a device can only be assigned with
    ``xen,force-assign-without-iommu``; ``handle_passthrough_prop()`` then
    maps its registers and interrupts and, as ``dt_device_is_protected()``
    is false, skips ``iommu_assign_dt_device()``: nothing translates the
    device's DMA. Xen checks neither that the domain is direct-mapped nor
    whether the device can do DMA at all (its own passthrough documentation
    calls the platform unsafe "if the device is DMA-capable").

    Why it matters: a device that masters the bus is programmed by the guest
    with guest-physical addresses; it uses them as host addresses and reads
    or writes memory of Xen or of other domains. Direct map exists for
    exactly this case. A device that never masters the bus (an RTC, a
    timer, a UART without a DMA engine) only has its registers mapped, and
    Xen boots it as it boots any other.

    What the finding says depends on what the trees tell. With the partial
    device tree (``--partial-dtb``, or ImageBuilder's
    ``DOMU_PASSTHROUGH_DTB``) each force-assigned device is looked up: one
    whose host node or partial node carries ``iommus``, ``dma-coherent`` or
    ``#dma-cells`` masters the bus (an error); one with none of them may
    still be a bus master the tree does not describe (a warning naming it).
    A domain whose partial device tree is not given is an error: its devices
    are unknown.

    Example: a domain with a ``multiboot,device-tree`` (passthrough) module on
    a board with no IOMMU node, dynamic RAM:

        domU1 { memory = <0x0 0x20000>; module@4c000000 { compatible = "multiboot,device-tree", ...; }; };

    Fixed: make it 1:1:

        domU1 { xen,static-mem = <0x0 0x60000000 0x0 0x8000000>; direct-map; nr_spis = <64>; ... };

    Fix: give domains with DMA-capable passthrough devices ``direct-map`` (with
    ``xen,static-mem``), or put the devices behind an enabled IOMMU.
    """
    if system.board.iommus:
        return
    direct = {d.path for d in result.domains if d.direct_map}
    masters = set(system.dma_masters)
    for dom in system.domains:
        pdt = dom.child_module("multiboot,device-tree")
        if pdt is None or dom.path in direct:
            continue
        rng = ((pdt.range.start, pdt.range.size),) if pdt.range is not None else ()
        if dom.partial_dtb is None:
            yield Hit(message=f"{dom.name} has a passthrough device tree ({pdt.path}) but the board has no IOMMU "
                              f"and {dom.name} is not direct-mapped: a device assigned without an IOMMU DMAs to "
                              "its guest-physical addresses as if they were host addresses",
                      path=dom.path, property="direct-map", ranges=rng)
            continue
        forced = [d for d in dom.partial_dtb.devices if d.force]
        dma = [d for d in forced if d.dma or (d.xen_path is not None and d.xen_path in masters)]
        if dma:
            names = ", ".join(d.xen_path or d.path for d in dma)
            yield Hit(message=f"{dom.name} is given {names} without an IOMMU (xen,force-assign-without-iommu) and "
                              f"is not direct-mapped: the tree marks {'it' if len(dma) == 1 else 'them'} as DMA "
                              "master (iommus, dma-coherent or #dma-cells), and a device assigned without an IOMMU "
                              "DMAs to its guest-physical addresses as if they were host addresses",
                      path=dom.path, property="direct-map", ranges=rng)
        elif forced:
            names = ", ".join(d.xen_path or d.path for d in forced)
            yield Hit(message=f"{dom.name} is given {names} without an IOMMU (xen,force-assign-without-iommu) and "
                              "is not direct-mapped; the tree marks no DMA master (no iommus, dma-coherent or "
                              "#dma-cells), so only if such a device masters the bus anyway does it DMA to "
                              "guest-physical addresses as if they were host addresses",
                      path=dom.path, property="direct-map", ranges=rng, isolation=False)
