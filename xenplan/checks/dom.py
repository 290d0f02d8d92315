"""DOM: the checks Xen makes on a ``xen,domain`` node and while creating it (§7.1).

The node checks and domain creation are replayed by ``boot/domains.py``,
which reports these rules by ID. DOM-016 (GICv3 redistributors of a
host-layout domain) is read here from the board and the domains.
"""

from __future__ import annotations

from collections.abc import Iterator

from xenplan.boot.build_context import vpl011_spi_unreserved
from xenplan.boot.domains import GICR_FRAME
from xenplan.boot.result import BootResult
from xenplan.checks.registry import Hit, rule
from xenplan.model.system import System

#: One GICv3 redistributor frame per vCPU (RD_base + SGI_base, 2 × 64 KiB).


@rule(id="DOM-002", slug="no-domu-kernel-recorded", behaviour="PANIC", since="4.16",
      xen_src="xen/arch/arm/setup.c: start_xen()",
      xen_message="Could not set up d0 guest OS (rc = -2)")
def no_domu_kernel_recorded() -> None:
    """What Xen does: Xen runs dom0less (no dom0) only if the early scan recorded
    at least one domU kernel module and no dom0 kernel. Otherwise it tries to
    build dom0, prints "Missing kernel boot module?" and panics: "Could not
    set up DOM0 guest OS" (4.16/4.17), "... (rc = -2)" (4.18-4.20), "Could not
    set up d0 guest OS (rc = -2)" (4.21+). Kernels dropped by an overlap or
    lost to a truncated scan do not count.

    Why it matters: no domain is built at all; the message talks about dom0,
    which a dom0less board does not even have.

    Example: a ``xen,domain`` node without a ``multiboot,kernel`` child fails:

        domU1 { compatible = "xen,domain"; memory = <0x0 0x20000>; cpus = <1>; };

    Fixed: add the kernel module:

        domU1 { ... module@4a000000 { compatible = "multiboot,kernel", "multiboot,module";
                                      reg = <0x0 0x4a000000 0x0 0x10000>; }; };

    Fix: give every domain a ``multiboot,kernel`` module whose range overlaps
    nothing else (Xen image, DTB, reserved memory, static banks, other modules).
    """


@rule(id="DOM-004", slug="memory-property-missing", behaviour="PANIC", since="4.16",
      xen_src="xen/common/device-tree/dom0less-build.c: construct_domU()",
      xen_message="Could not set up domain D (rc = -22)")
def memory_property_missing() -> None:
    """What Xen does: reads ``memory`` as one 64-bit number of KiB. If the property
    is missing or shorter than 8 bytes it prints "Error building DomU: cannot
    read \\"memory\\" property" and panics "Could not set up domain D"
    ("(rc = -22)" from 4.18).

    Why it matters: a one-cell ``memory = <N>`` looks fine to a reader and
    stops Xen.

    Example: ``memory = <0x20000>;`` fails; ``memory = <0x0 0x20000>;``
    (128 MiB) works.

    Fix: write ``memory`` as two cells (high, low) in KiB.
    """


@rule(id="DOM-006", slug="cpus-missing-or-invalid", behaviour="PANIC", since="4.16",
      xen_src="xen/common/device-tree/dom0less-bindings.c: parse_dom0less_node()",
      xen_message="Missing property 'cpus' for domain D")
def cpus_missing_or_invalid() -> None:
    """What Xen does: panics "Missing property 'cpus' for domain D" when ``cpus``
    is absent. A value of 0 or above what the vGIC supports (8 with GICv2 or
    on arm32, 128 with GICv3 on arm64) fails domain creation: "Error
    creating domain D" ("(rc = -22)" from 4.18).

    Why it matters: Xen stops before building the domain.

    Example: ``cpus = <129>;`` on GICv3 fails; ``cpus = <4>;`` works.

    Fix: give ``cpus`` a value from 1 to the vGIC limit.
    """


@rule(id="DOM-009", slug="nr-spis-too-large", behaviour="PANIC", since="4.16",
      xen_src="xen/arch/arm/vgic.c: domain_vgic_init()",
      xen_message="Error creating domain D (rc = -22)")
def nr_spis_too_large() -> None:
    """What Xen does: rounds ``nr_spis`` up to a multiple of 32 and refuses more
    than 988 SPIs, so the largest value accepted is 960. Without the property
    the host's SPI count is used (raised to cover the vPL011 interrupt).
    Above the limit: "Error creating domain D" ("(rc = -22)" from 4.18).

    Why it matters: Xen stops before building the domain.

    Example: ``nr_spis = <961>;`` fails; ``nr_spis = <960>;`` works.

    Fix: set ``nr_spis`` to at most 960, or just enough for the highest
    passed-through interrupt (SPI number - 32 + 1).
    """


@rule(id="DOM-010", slug="direct-map-needs-uart-irq", behaviour="PANIC", since="4.17",
      xen_src="xen/arch/arm/dom0less-build.c: arch_parse_dom0less_node()",
      xen_message="Error getting IRQ number for this serial port")
def direct_map_needs_uart_irq() -> None:
    """What Xen does: for a ``direct-map`` domain without ``nr_spis``, Xen sizes
    the vGIC from the interrupt of its own console UART (the vPL011 of a 1:1
    domain uses it). When Xen's console is not a device-tree UART with an
    interrupt it panics "Error getting IRQ number for this serial port" -
    even if the domain has no ``vpl011``.

    Why it matters: Xen stops before building the domain.

    Example: ``direct-map;`` with no ``nr_spis`` on a board whose console has no
    ``interrupts`` fails; adding ``nr_spis = <64>;`` works.

    Fix: give the direct-mapped domain an explicit ``nr_spis``, or point
    ``dtuart=``/``stdout-path`` at a UART node with ``interrupts``.
    """


@rule(id="DOM-005", slug="domain-without-ram", behaviour="PANIC", since="4.16",
      xen_src="xen/common/device-tree/dom0less-build.c: prepare_dtb_domU() -> domain-build.c: make_memory_node()",
      xen_message="Could not set up domain D (rc = -22)")
def domain_without_ram() -> None:
    """What Xen does: writes the guest's device tree before it places the
    kernel, and ``make_memory_node()`` refuses a domain with no RAM bank
    ("Device tree generation failed (-2)"); Xen then panics "Could not set up
    domain D (rc = -22)". That happens to ``memory = <0x0 0x0>`` on a domain
    without static memory, and to a domain whose ``xen,static-mem`` Xen
    ignores because it was built without ``CONFIG_STATIC_MEMORY`` (SMEM-002).
    ``memory`` that is not whole pages hangs instead (ALLOC-007); a static
    mismatch fails earlier (SMEM-013). Reading the code suggests the kernel
    placement (KRN-003) fails first; boots of 4.18.6 and 4.22.0 fail here.

    Why it matters: the domain is never built and Xen stops booting.

    Example: ``memory = <0x0 0x0>;`` fails; ``memory = <0x0 0x20000>;`` boots.

    Fix: give the domain RAM, or build Xen with the features its banks need.
    """


@rule(id="DOM-011", slug="domain-cpupool-invalid", behaviour="PANIC", since="4.17",
      xen_src="xen/common/device-tree/dom0less-bindings.c: parse_dom0less_node(); "
              "xen/common/sched/boot-cpupool.c: btcpupools_get_domain_pool_id()",
      xen_message="Error getting cpupool id from domain-cpupool (-3)", kconfig=("BOOT_TIME_CPUPOOLS",))
def domain_cpupool_invalid() -> None:
    """What Xen does: with ``CONFIG_BOOT_TIME_CPUPOOLS`` (off in the default
    build: ``--kconfig BOOT_TIME_CPUPOOLS=y``) it resolves the
    ``domain-cpupool`` phandle to a boot cpupool, a ``xen,cpupool`` node under
    ``/chosen``. A phandle naming another kind of node makes Xen panic "Error
    getting cpupool id from domain-cpupool (-3)". A phandle naming no node is
    ignored, and so is the whole property without the option: the domain
    then runs in Pool-0.

    Why it matters: Xen stops before building the domain.

    Example: ``domain-cpupool = <&pool9>;`` where ``pool9`` is not a
    ``xen,cpupool`` node fails; pointing at a real ``xen,cpupool`` node works.

    Fix: point ``domain-cpupool`` at a ``compatible = "xen,cpupool"`` node under
    ``/chosen``, or remove the property.
    """


@rule(id="DOM-022", slug="boot-cpupool-invalid", behaviour="PANIC", since="4.17",
      xen_src="xen/common/sched/boot-cpupool.c: btcpupools_dtb_parse()",
      xen_message="Scheduler NAME does not exists!", kconfig=("BOOT_TIME_CPUPOOLS",))
def boot_cpupool_invalid() -> None:
    """What Xen does: with ``CONFIG_BOOT_TIME_CPUPOOLS`` (``--kconfig
    BOOT_TIME_CPUPOOLS=y``) ``cpupool_init()`` reads every ``xen,cpupool`` child
    of ``/chosen`` before any domain is built, and panics when a pool's
    ``cpupool-sched`` names a scheduler the build lacks ("Scheduler NAME does
    not exists!", measured on 4.22.0 with ``arinc653``), when ``cpupool-cpus``
    is missing or empty, when it names a node whose ``reg`` is no CPU's ("Error
    retrieving logical cpu from node POOL (-2)", -1 for a node without
    ``reg``), or when a CPU is in two pools ("Logical cpu N already added to a
    cpupool!").

    Why it matters: Xen stops before building any domain.

    Example: ``cpupool-sched = "rtds";`` on a Xen built without
    ``CONFIG_SCHED_RTDS`` panics; ``"credit2"`` boots.

    Fix: name a scheduler the build has (``credit``, ``credit2``, or ``null``,
    ``rtds``, ``arinc653`` when enabled), list CPU nodes by phandle, each in one
    pool only.
    """


@rule(id="DOM-012", slug="grant-frames-overflow", behaviour="PANIC", since="4.18",
      xen_src="xen/common/device-tree/dom0less-bindings.c: parse_dom0less_node()",
      xen_message="max_grant_frames (N) overflow")
def grant_frames_overflow() -> None:
    """What Xen does: panics "max_grant_frames (N) overflow" or
    "max_maptrack_frames (N) overflow" when the property is above INT32_MAX.

    Why it matters: Xen stops before building the domain.

    Example: ``max_grant_frames = <0x80000000>;`` fails;
    ``max_grant_frames = <64>;`` works.

    Fix: use a small value (the default, 64 frames, suits most guests) or
    remove the property.
    """


@rule(id="DOM-013", slug="trap-unmapped-accesses-invalid", behaviour="PANIC", since="4.21",
      xen_src="xen/common/device-tree/dom0less-bindings.c: parse_dom0less_node()",
      xen_message=None)
def trap_unmapped_accesses_invalid() -> None:
    """What Xen does: accepts 0 or 1 for ``trap-unmapped-accesses`` and panics on
    any other value. With 0, reads of unmapped guest addresses return all
    ones instead of faulting.

    Why it matters: Xen stops before building the domain.

    Example: ``trap-unmapped-accesses = <2>;`` fails; ``<0>`` or ``<1>`` works.

    Fix: use 0 or 1.
    """


@rule(id="DOM-015", slug="vcpu-affinity-invalid", behaviour="PANIC", since="4.21",
      xen_src="xen/common/device-tree/dom0less-build.c: domain_vcpu_affinity()",
      xen_message="Invalid vcpu_id N for domain D, max_vcpus=M")
def vcpu_affinity_invalid() -> None:
    """What Xen does: reads the ``xen,vcpu`` children of a domain (4.21+). A child
    without ``id``, with ``id`` not below ``cpus``, or whose ``hard-affinity``
    names a physical CPU Xen does not have, makes Xen panic ("Invalid xen,vcpu
    node for domain D", "Invalid vcpu_id N for domain D, max_vcpus=M").

    Why it matters: Xen stops while building the domain.

    Example: ``vcpu1 { compatible = "xen,vcpu"; id = <1>; };`` in a domain with
    ``cpus = <1>`` fails; ``id = <0>`` works.

    Fix: number ``xen,vcpu`` children from 0 to ``cpus`` - 1 and list only
    existing physical CPUs in ``hard-affinity``.
    """


@rule(id="DOM-016", slug="gicv3-redistributors-too-few", behaviour="PANIC", since="4.17",
      xen_src="xen/arch/arm/vgic-v3.c: vgic_v3_vcpu_init()",
      xen_message="Could not set up domain D (rc = -12)")
def gicv3_redistributors_too_few(system: System, result: BootResult) -> Iterator[Hit]:
    """What Xen does: a direct-mapped domain on GICv3 uses the host's
    redistributor regions, one 128 KiB frame per vCPU. When the host regions
    hold fewer frames than ``cpus``, creating a vCPU fails with "Failed to
    allocate dXvY". Per release: 4.17-4.19 run the domain with fewer vCPUs
    than asked (its device tree still lists them all, so the guest waits for
    CPUs that never come up) - WARN; from 4.20 Xen panics "Could not set up
    domain D (rc = -12)" - PANIC (both seen on real boots).

    Why it matters: silent loss of vCPUs up to 4.19, a boot failure from 4.20.

    Example: host ``reg`` of the GIC with one 0x40000 redistributor region (2
    frames) and a direct-mapped domain with ``cpus = <4>;`` fails; ``cpus =
    <2>;`` fits.

    Fix: give a direct-mapped domain at most as many vCPUs as the host GIC has
    redistributor frames (total GICR size / 128 KiB).
    """
    gic = system.board.gic
    if gic is None or gic.version != 3 or not gic.redist:
        return
    frames = sum(r.size for r in gic.redist) // GICR_FRAME
    behaviour = system.target.release.dom016
    if behaviour != "WARN":
        return  # PANIC: the construction stage fails the domain and reports it
    direct = {d.path for d in result.domains if d.direct_map}
    for dom in system.domains:
        if dom.path in direct and dom.cpus is not None and dom.cpus > frames:
            yield Hit(message=f"{dom.name} is direct-mapped with {dom.cpus} vCPUs but the host GICv3 "
                              f"redistributor regions of {gic.path} hold only {frames} frames of 128 KiB: "
                              f"Failed to allocate d{dom.index + 1}v{frames}",
                      path=dom.path, property="cpus", behaviour=behaviour,
                      related=((gic.path, tuple((r.start, r.size) for r in gic.redist)),))


@rule(id="DOM-018", slug="vpl011-spi-outside-nr-spis", behaviour="PANIC", since="4.16",
      xen_src="xen/arch/arm/vpl011.c: domain_vpl011_init() -> vgic.c: vgic_reserve_virq()",
      xen_message="Could not set up domain D (rc = -22)")
def vpl011_spi_outside_nr_spis(system: System, result: BootResult) -> Iterator[Hit]:
    """What Xen does: the emulated UART of a ``vpl011`` domain raises SPI 32
    (a direct-mapped domain's uses the interrupt of Xen's console UART).
    ``domain_vpl011_init()`` reserves it in the vGIC, which holds 32 +
    ``nr_spis`` (rounded up to 32) interrupts; without ``nr_spis`` Xen sizes
    the vGIC to cover it, but an explicit ``nr_spis = <0>;`` leaves it out
    and the reservation fails with -EINVAL. Per release (all seen on real
    boots): 4.16 panics "Could not set up domain D" after loading the kernel;
    4.17 ignores the error and runs the domain with a UART whose interrupt
    was never reserved (WARN: it may be handed to another device, and the
    guest's console gets no interrupts); 4.18+ panic "Could not set up domain
    D (rc = -22)" before the guest device tree is written.

    Why it matters: a boot failure, or on 4.17 a guest console that silently
    misbehaves.

    Example: ``vpl011; nr_spis = <0>;`` fails; ``nr_spis = <32>;`` or no
    ``nr_spis`` works.

    Fix: drop ``nr_spis`` or give it a value that covers the UART's interrupt
    (at least 1; for a direct-mapped domain, the console UART's IRQ - 32 + 1).
    """
    if system.target.release.vpl011_spi_error != "ignored":
        return  # the construction stage fails the domain and reports it
    built = {d.path for d in result.domains if d.status == "constructed"}
    for dom in system.domains:
        virq = vpl011_spi_unreserved(system, dom)
        if dom.path in built and virq is not None:
            yield Hit(message=f"{dom.name} has vpl011 but nr_spis = {dom.nr_spis} gives the vGIC no IRQ {virq}: "
                              "Xen 4.17 ignores the failed reservation and runs the domain with an emulated "
                              "UART whose interrupt is not reserved",
                      path=dom.path, property="nr_spis", behaviour="WARN")


@rule(id="DOM-020", slug="domain-kernel-missing", behaviour="PANIC", since="4.16",
      xen_src="xen/common/device-tree/kernel.c: kernel_probe()",
      xen_message="Could not set up domain D (rc = -2)")
def domain_kernel_missing() -> None:
    """What Xen does: looks for the domain's child with compatible
    ``multiboot,kernel`` and for the boot module recorded at its start
    address. If there is none - no such child, a module the early scan
    dropped (overlap) or never reached, or a module of size 0 - it prints
    "Missing kernel boot module?" and panics "Could not set up domain D"
    ("(rc = -2)" from 4.18). Up to 4.17 a kernel module whose ``reg`` starts
    inside Xen's own image is kept, and the probe reads Xen's code there: no
    kernel header, so it panics "Could not set up domain D" (4.18 and later
    drop such a module: MOD-004).

    Why it matters: this domain and every later one are never built.

    Example: ``domU2 { compatible = "xen,domain"; memory = <0x0 0x20000>;
    cpus = <1>; };`` with no module child fails; adding
    ``module@4b000000 { compatible = "multiboot,kernel", "multiboot,module";
    reg = <0x0 0x4b000000 0x0 0x10000>; };`` works.

    Fix: give every domain a ``multiboot,kernel`` module whose range overlaps
    nothing else, and check that its ``reg`` uses the domain node's cells.
    """
