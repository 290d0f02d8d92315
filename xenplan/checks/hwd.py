"""HWD: dom0 and the hardware domain.

The boot stages build a classic dom0's RAM (HWD-002, reported by
``boot/domains.py`` from the heap replay); the rest of what Xen does with it
is read here from the model: its memory size, its view of host
reservations, its shared memory. From 4.21 a ``xen,domain`` node can be the
hardware domain (``capabilities`` bit 1); the checks Xen makes on it and the
static memory it ignores are here too.
"""

from __future__ import annotations

from collections.abc import Iterator

from xenplan.boot.result import BootResult
from xenplan.checks.registry import Hit, rule
from xenplan.checks.rt import static_ranges
from xenplan.checks.xs import CAP_HARDWARE, classic_dom0
from xenplan.model.system import Domain, System

DOMAIN_CAPS_MASK = 0x7


def hardware_domus(system: System) -> list[Domain]:
    return [d for d in system.domains if (d.capabilities or 0) & CAP_HARDWARE]


@rule(id="HWD-001", slug="dom0-mem-unset", behaviour="WARN", since="4.16",
      xen_src="xen/arch/arm/domain_build.c: construct_dom0(), parse_dom0_mem()",
      xen_message="PLEASE SPECIFY dom0_mem PARAMETER - USING 512M FOR NOW")
def dom0_mem_unset(system: System, result: BootResult) -> Iterator[Hit]:
    """What Xen does: dom0 gets ``dom0_mem`` from Xen's command line, else
    ``CONFIG_DOM0_MEM``, else 512 MiB with the warning "PLEASE SPECIFY
    dom0_mem PARAMETER - USING 512M FOR NOW".

    Why it matters: 512 MiB is a guess: too little for many dom0s, and
    memory the dom0less domains may need. xenplan cannot see
    ``CONFIG_DOM0_MEM`` and assumes it is empty (the default).

    Example: ``xen,xen-bootargs = "console=dtuart";`` with a dom0 kernel
    warns; ``"console=dtuart dom0_mem=1G"`` does not.

    Fix: add ``dom0_mem=<size>`` to the property Xen reads its command line
    from: ``xen,xen-bootargs``, or ``bootargs`` where Xen falls back to it
    (see DT-010).
    """
    if not classic_dom0(system) or "dom0_mem" in system.xen.cmdline:
        return
    kernel = next(m for m in system.xen.dom0_modules if m.kind == "kernel")
    prop = system.xen.bootargs_prop or "xen,xen-bootargs"
    where = "" if prop == "xen,xen-bootargs" else f" (read from /chosen/{prop})"
    yield Hit(message=f"dom0 ({kernel.path}) is built without dom0_mem on Xen's command line{where}: unless "
                      "Xen was built with CONFIG_DOM0_MEM it gets 512 MiB", path="/chosen", property=prop)


@rule(id="HWD-002", slug="dom0-ram-unallocatable", behaviour="PANIC", since="4.16",
      xen_src="xen/arch/arm/domain_build.c: allocate_memory_11(), insert_11_bank()",
      xen_message="Failed to allocate requested dom0 memory. NMB unallocated")
def dom0_ram_unallocatable() -> None:
    """What Xen does: builds dom0 before any domU and maps its RAM 1:1 from the
    heap. Bank 0 is the largest power-of-two chunk (at least min(128 MiB,
    ``dom0_mem``)) found in the lowest memory below 4 GiB; the rest comes in
    the largest chunks left, first below 4 GiB, then anywhere, down to 4 MiB,
    a chunk below bank 0 only if it is 128 MiB or more. When the chunks run
    out before ``dom0_mem`` is covered it panics "Failed to allocate requested
    dom0 memory. NMB unallocated". Static memory, static heap, reserved
    memory and the boot modules are not heap, so they shrink what dom0 can get.
    From 4.21 a ``xen,domain`` node with the HARDWARE capability and
    ``direct-map`` is built the same way, with ``memory`` for ``dom0_mem``.

    Why it matters: dom0 is never built, no domU is built and Xen stops booting.

    Example: on a 4 GiB board ``dom0_mem=3800M`` fails with 24 MB unallocated;
    ``dom0_mem=3G`` fits (2816 MiB at 0x50000000 and 256 MiB at 0x120000000).

    Fix: lower ``dom0_mem`` or free RAM from static banks and reservations.
    """


@rule(id="HWD-004", slug="dom0-told-static-heap-is-ram", behaviour="HAZARD", since="4.17",
      xen_src="xen/common/device-tree/domain-build.c: make_memory_node()")
def dom0_told_static_heap_is_ram(system: System, result: BootResult) -> Iterator[Hit]:
    """What Xen does: the hardware domain gets ``/reserved-memory`` regions
    mapped 1:1 and described in a second memory node. Xen builds that node
    from its ``reserved_mem`` list starting at the first ordinary reserved
    region, and leaves out static banks and /memreserve/ entries, but not
    static heap banks recorded after that region.

    Why it matters: dom0 is told that Xen's static heap is RAM it may use,
    although nothing is mapped there: its kernel faults or, with an IOMMU
    off, devices write into Xen's heap. (Derived from the code, not
    reproduced on hardware.)

    Example: ``/reserved-memory`` written before ``/chosen`` (recorded first)
    and ``xen,static-heap`` in ``/chosen``, with a dom0 kernel. Writing
    ``/reserved-memory`` after ``/chosen`` records the heap first and keeps
    it out of the node.

    Fix: place ``/reserved-memory`` after ``/chosen`` in the tree, or do not
    combine a static heap with reserved regions on a system with dom0.
    """
    if not (classic_dom0(system) or hardware_domus(system)) or not system.xen.static_heap:
        return
    kinds = [it.kind for it in system.scan if it.kind in ("reserved", "static-heap") and it.pairs]
    if "reserved" not in kinds or "static-heap" not in kinds[kinds.index("reserved"):]:
        return
    first = next(it for it in system.scan if it.kind == "reserved" and it.pairs)
    heap = tuple((r.start, r.size) for r in system.xen.static_heap)
    yield Hit(message=f"the hardware domain's reserved-memory node starts at {first.path} and so also lists the "
                      f"static heap ({', '.join(f'{s:#x}+{z:#x}' for s, z in heap)}) as memory, which is not "
                      "mapped to it", path="/chosen", property="xen,static-heap", ranges=heap,
              related=((first.path, tuple((r.start, r.size) for r in first.pairs)),))


@rule(id="HWD-005", slug="dom0-shm-not-direct-mapped", behaviour="PANIC", since="4.17",
      xen_src="xen/common/device-tree/static-shmem.c: process_shm()",
      xen_message="Could not set up DOM0 guest OS (rc = -22)", kconfig=("STATIC_SHM",))
def dom0_shm_not_direct_mapped(system: System, result: BootResult) -> Iterator[Hit]:
    """What Xen does: shared-memory nodes directly under ``/chosen`` belong to
    dom0, which is direct-mapped. From 4.19 a node whose guest address differs
    from its host address, or that omits the host address, makes building
    dom0 fail and Xen panics. 4.17 and 4.18 do not compare them (the window
    then breaks dom0's 1:1 view, a hazard); the short form is refused earlier
    (SHM-006).

    Why it matters: Xen stops booting, or dom0 sees the region at a place
    that is not its host address.

    Example: ``/chosen/shm@0`` with ``<0x0 0x70000000 0x0 0x50000000 0x0 0x200000>``
    fails; ``<0x0 0x70000000 0x0 0x70000000 0x0 0x200000>`` works.

    Fix: give dom0's shared memory a guest address equal to its host address.
    """
    if not classic_dom0(system):
        return
    checked = system.target.release.dom0_shm_host_checked
    if checked:
        return  # the boot stage fails dom0 and reports it
    for sh in system.xen.dom0_shm:
        if sh.guest is None:
            continue
        if sh.host is None and checked:
            why = "has no host address, which a direct-mapped dom0 needs"
        elif sh.host is not None and sh.host != sh.guest:
            why = f"maps host {sh.host:#x} at guest {sh.guest:#x}, but dom0 is direct-mapped"
        else:
            continue
        yield Hit(message=f"{sh.path}: dom0's shared memory \"{sh.shm_id}\" {why}"
                          + ("" if checked else f"; Xen {system.target.version} does not check it"),
                  path=sh.path, property="xen,shared-mem",
                  ranges=((sh.host, sh.size),) if sh.host is not None and sh.size else (),
                  behaviour="PANIC" if checked else "HAZARD")


@rule(id="HWD-010", slug="hardware-domain-invalid", behaviour="PANIC", since="4.21",
      xen_src="xen/common/device-tree/dom0less-bindings.c: parse_dom0less_node(); "
              "xen/arch/arm/dom0less-build.c: arch_parse_dom0less_node()")
def hardware_domain_invalid() -> None:
    """What Xen does: from 4.21 a ``xen,domain`` node with ``capabilities`` bit
    1 (HARDWARE) becomes the hardware domain. Xen panics while reading the
    node when: the value has unknown bits ("Invalid capabilities"); a hardware
    domain already exists, dom0 included ("Only 1 hardware domain can be
    specified!"); it has ``passthrough`` ("Don't specify passthrough for
    hardware domain"); it is not direct-mapped and there is no IOMMU
    ("non-direct mapped hardware domain requires iommu"); it has a
    ``multiboot,device-tree`` module; or it sets ``nr_spis``.

    Why it matters: Xen stops booting.

    Example: ``capabilities = <0x2>; nr_spis = <64>;`` fails; without
    ``nr_spis`` (the hardware domain gets the host's interrupts) it works.

    Fix: one hardware domain, direct-mapped (or an enabled IOMMU), without
    ``passthrough``, ``nr_spis`` or a partial device tree.
    """


@rule(id="HWD-011", slug="hardware-domain-static-mem-unused", behaviour="HAZARD", since="4.21",
      xen_src="xen/common/device-tree/dom0less-build.c: construct_domU() -> xen/arch/arm/domain_build.c: "
              "construct_hwdom()", kconfig=("STATIC_MEMORY",))
def hardware_domain_static_mem_unused(system: System, result: BootResult) -> Iterator[Hit]:
    """What Xen does: a hardware domain built from a ``xen,domain`` node takes
    its RAM from the heap, like dom0 (1:1 with ``direct-map``, host layout
    otherwise), even when the node has ``xen,static-mem``. The static banks are
    still reserved and initialised, and never used; without ``direct-map`` the
    domain is also flagged static, so ballooning follows RT-002 with an empty
    reserved list.

    Why it matters: the static banks are lost to everyone, the domain's RAM
    is not where the tree says, and it can never re-populate memory it
    balloons out.

    Example: ``capabilities = <0x2>; xen,static-mem = <...>;`` wastes the
    banks; dropping ``xen,static-mem`` (and sizing it with ``memory``) does
    not.

    Fix: do not give the hardware domain ``xen,static-mem``.
    """
    for dom in hardware_domus(system):
        if dom.static_mem_present:
            rng = static_ranges(dom)
            yield Hit(message=f"{dom.name} is the hardware domain: Xen allocates its RAM from the heap and its "
                              f"static banks ({', '.join(f'{s:#x}+{z:#x}' for s, z in rng)}) stay reserved and "
                              "unused", path=dom.path, property="xen,static-mem", ranges=rng)
