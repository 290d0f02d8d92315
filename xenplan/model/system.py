"""The modelled system: what Xen reads from the host device tree.

Everything here is a decoding of the tree, exactly as Xen decodes it for the
target release (cells, lengths, kinds); nothing here judges. A configuration
Xen would reject still models: the boot simulation and the rules decide.
"""

from __future__ import annotations

from dataclasses import field
from typing import Literal

from xenplan.model.base import Range, SourceRef, value
from xenplan.model.target import Target

ModuleKind = Literal["kernel", "ramdisk", "device-tree", "xsm", "microcode", "unknown"]
ScanKind = Literal["ram", "reserved", "module", "static-heap", "initrd", "static-mem", "shm"]


@value
class Located:
    """A model object that knows its node and where it was written."""

    path: str
    source: SourceRef | None = None


@value
class Module(Located):
    """A ``multiboot,module`` node under ``/chosen`` (``process_multiboot_node``)."""

    kind: ModuleKind
    explicit_kind: bool
    """Kind given by a compatible, not guessed (MOD-003)."""
    range: Range | None
    """First (addr, size) pair of reg in the parent's cells."""
    reg_error: str | None = None
    domain: str | None = None
    """Path of the xen,domain parent, if any."""
    compatible: tuple[str, ...] = ()
    bootargs_len: int = 0
    bootargs: str | None = None
    """The module's bootargs up to its NUL, as add_boot_cmdline() copies it; None when the property is absent."""
    uefi_binary: str | None = None
    """xen,uefi-binary: the file the EFI stub loads on a UEFI boot (handle_module_node()); never read on a
    device-tree boot."""


@value
class SharedMem(Located):
    """A ``xen,domain-shared-memory-v1`` node."""

    parent: str
    shm_id: str | None = None
    shm_id_len: int | None = None
    """Bytes before the NUL within the property."""
    role: str | None = None
    host: int | None = None
    guest: int | None = None
    size: int | None = None
    short_form: bool = False
    cells_error: str | None = None
    shape_error: str | None = None
    unchecked_read: tuple[int, int, int] | None = None
    """A short form's host address, guest address and size as a reader that assumes the long form sees them:
    the value, then the blob's next bytes (process_shm() of 4.17/4.18)."""
    address_cells: int = 2
    size_cells: int = 2

    @property
    def host_range(self) -> Range | None:
        if self.host is None or self.size is None:
            return None
        return Range(start=self.host, size=self.size)


@value
class EventChannel(Located):
    """A ``xen,evtchn-v1`` node."""

    parent: str
    phandle: int | None = None
    cells: int = 0
    port: int | None = None
    peer: int | None = None


@value
class VcpuNode(Located):
    """A ``xen,vcpu`` child of a domain (4.21+, DOM-015)."""

    id: int | None = None
    hard_affinity: str | None = None


@value
class PassthroughDevice(Located):
    """A node of a partial device tree that carries ``xen,reg`` / ``xen,path`` (PT-003/005)."""

    regs: tuple[tuple[int, int, int], ...] = ()
    """(host, guest, size) of xen,reg."""
    xen_path: str | None = None
    force: bool = False
    dma: bool = False
    """The partial node itself marks a DMA master (``iommus``, ``dma-coherent``, ``#dma-cells``)."""
    has_reg: bool = False
    cells: tuple[int, int] = (2, 1)


@value
class Dom0Device:
    """A host node ``handle_node()`` gives a classic dom0 (``model.hostwalk``)."""

    path: str
    irqs: tuple[int, ...] = ()
    """SPIs routed to dom0, in the node's order."""
    regs: tuple[tuple[int, int], ...] = ()
    """(CPU address, size) of each reg entry."""
    mapped: bool = True
    """Not xen,passthrough: IRQs routed, MMIO mapped."""
    pci_irqs: tuple[int, ...] = ()
    """SPIs of a PCI bridge's interrupt-map."""
    pci_ranges: tuple[tuple[int, int], ...] = ()
    """CPU windows of a PCI bridge's ranges."""


@value
class PartialDtb:
    """The passthrough device tree a domain's ``multiboot,device-tree`` module holds (PT-002)."""

    file: str
    size: int
    max_phandle: int = 0
    devices: tuple[PassthroughDevice, ...] = ()


@value
class ReservedRegion(Located):
    """A ``/reserved-memory`` descendant with ``reg`` (RSV-002)."""

    ranges: tuple[Range, ...]


@value
class ScanItem(Located):
    """One thing Xen's early scan records, in document order (S4).

    ``pairs`` are the decoded (address, size) pairs, zero-size ones included
    (the overlap test runs before they are skipped). ``error`` means the
    handler fails with ``rc`` before reading any pair; ``panic`` means the
    handler panics directly (MOD-002, MOD-005).
    """

    kind: ScanKind
    prop: str | None = None
    cells: tuple[int, int] = (2, 1)
    pairs: tuple[Range, ...] = ()
    error: str | None = None
    rc: int = 0
    panic: str | None = None
    module: Module | None = None
    shm: SharedMem | None = None
    domain: str | None = None


@value
class Gic(Located):
    version: int
    dist: Range | None = None
    cpu: Range | None = None
    redist: tuple[Range, ...] = ()
    v2m: tuple[tuple[int, int, int, int], ...] = ()
    """GICv2m MSI frames: (base, size, first SPI, SPIs), as ``gicv2m_init()`` reads them."""


@value
class Uart(Located):
    """The UART Xen uses as its console (``dtuart=``)."""

    base: int | None = None
    size: int | None = None
    irq: int | None = None


@value
class Board:
    """Host hardware as the device tree describes it."""

    ram: tuple[Range, ...] = ()
    memreserve: tuple[Range, ...] = ()
    reserved: tuple[ReservedRegion, ...] = ()
    gic: Gic | None = None
    uart: Uart | None = None
    iommus: tuple[str, ...] = ()
    cpu_compatibles: tuple[str, ...] = ()
    nr_cpus: int = 0
    model: str | None = None
    llc_way_size: int | None = None
    """Bytes of one way of the last-level cache, from the tree's unified cache node of the
    highest ``cache-level`` (``cache-line-size`` x ``cache-sets``): what LLC colouring probes."""


#: CPU physical address size by ``compatible``.
CPU_PA_BITS = (("cortex-a53", 40), ("cortex-a55", 40), ("cortex-a57", 44), ("cortex-a72", 44),
               ("cortex-a76", 44), ("neoverse", 48))
#: PADDR_BITS: what the P2M can address at most, per architecture.
PADDR_BITS = {"arm64": 48, "arm32": 40}


def default_p2m_pool_mb(cpus: int, memory_kib: int) -> int:
    """ALLOC-006, ``domain_p2m_pages()``: 1 MiB per vCPU + 4 KiB per MiB of RAM + 512 KiB, in whole MiB."""
    kib = 4 * (256 * cpus + (memory_kib >> 10) + 128)
    return -(-kib // 1024)


@value
class Domain(Located):
    """A ``xen,domain`` child of ``/chosen``, as Xen decodes it."""

    name: str
    index: int
    memory_kib: int | None = None
    """None when missing or < 8 bytes (DOM-004)."""
    memory_len: int = 0
    cpus: int | None = None
    static_mem_present: bool = False
    static_mem: tuple[Range, ...] = ()
    static_mem_error: str | None = None
    static_mem_cells: tuple[int, int] = (0, 0)
    """The node's own #xen,static-mem-address-cells/-size-cells, 0 when absent: what 4.16 decodes
    xen,static-mem with (DT-002)."""
    direct_map: bool = False
    enhanced: str | None = None
    vpl011: bool = False
    nr_spis: int | None = None
    passthrough: str | None = None
    p2m_mem_mb: int | None = None
    cpupool: int | None = None
    llc_colors: str | None = None
    capabilities: int | None = None
    max_grant_frames: int | None = None
    max_maptrack_frames: int | None = None
    trap_unmapped_accesses: int | None = None
    modules: tuple[Module, ...] = ()
    shm: tuple[SharedMem, ...] = ()
    evtchns: tuple[EventChannel, ...] = ()
    vcpus: tuple[VcpuNode, ...] = ()
    sve: bool = False
    partial_dtb: PartialDtb | None = None
    prop_sources: dict[str, SourceRef] = field(default_factory=dict)

    @property
    def is_static(self) -> bool:
        return self.static_mem_present

    def kernel(self) -> Module | None:
        """The child Xen's ``kernel_probe`` looks at: compatible ``multiboot,kernel``."""
        for m in self.modules:
            if "multiboot,kernel" in m.compatible:
                return m
        return None

    def child_module(self, compatible: str) -> Module | None:
        for m in self.modules:
            if compatible in m.compatible:
                return m
        return None


CmdlineProp = Literal["xen,xen-bootargs", "bootargs"]


@value
class XenConfig:
    """What ``/chosen`` tells Xen about itself."""

    bootargs: str | None = None
    """Xen's command line as boot_fdt_cmdline() returns it; None when it returns nothing."""
    bootargs_prop: CmdlineProp | None = None
    """The /chosen property Xen's command line is read from."""
    chosen_bootargs: str | None = None
    """/chosen/bootargs, whether Xen reads it or not."""
    dom0_bootargs_prop: bool = False
    """/chosen has xen,dom0-bootargs."""
    dom0_kernel_cmdline: str | None = None
    """Path of the module whose command line boot_cmdline_find_by_kind(BOOTMOD_KERNEL) finds: the first dom0
    kernel module with a bootargs property."""
    static_heap_present: bool = False
    static_heap: tuple[Range, ...] = ()
    dom0_modules: tuple[Module, ...] = ()
    dom0_shm: tuple[SharedMem, ...] = ()
    dom0_evtchns: tuple[EventChannel, ...] = ()
    cmdline: dict[str, str] = field(default_factory=dict)
    chosen_props: tuple[str, ...] = ()
    """Names of /chosen's properties, as written."""


@value
class BootCpupool:
    """A ``xen,cpupool`` child of ``/chosen`` as ``btcpupools_dtb_parse()`` reads it."""

    path: str
    name: str = ""
    """The node's name without its unit address (``dt_node_name()``), as Xen's messages give it."""
    sched: str | None = None
    """``cpupool-sched``, or None for the default scheduler."""
    cpus: tuple[int, ...] = ()
    """Logical CPU of each ``cpupool-cpus`` phandle, in order, up to the first naming no node
    (-1: a node without ``reg``, -2: a ``reg`` no CPU has); empty: the property is missing or empty."""


@value
class System:
    """Everything a simulation needs: board, Xen, domains and the early-scan list."""

    file: str
    target: Target
    board: Board
    xen: XenConfig
    domains: tuple[Domain, ...]
    scan: tuple[ScanItem, ...]
    modules: tuple[Module, ...]
    shm: tuple[SharedMem, ...]
    phandles: dict[int, str] = field(default_factory=dict)
    dtb_size: int | None = None
    unflat_size: int = 0
    alias_sizes: tuple[int, ...] = ()
    """``dt_alias_scan()``'s ``xmalloc`` sizes, one per usable ``/aliases`` entry."""
    smmu_irqs: tuple[int, ...] = ()
    """Interrupts of each SMMUv1/v2 the SMMU driver probes (``smmu_probes()``)."""
    dropped_nodes: tuple[str, ...] = ()
    """Nodes deeper than Xen walks (DT-007)."""
    cpupools: tuple[str, ...] = ()
    """Paths of xen,cpupool nodes."""
    boot_cpupools: tuple[BootCpupool, ...] = ()
    """The xen,cpupool children of /chosen, in order, with their CPUs and scheduler."""
    host_nodes: dict[str, tuple[bool, bool, tuple[int, ...]]] = field(default_factory=dict)
    """Path -> (behind an IOMMU, xen,passthrough, SPIs) for passthrough."""
    dma_masters: tuple[str, ...] = ()
    """Host nodes the tree marks as DMA masters (iommus, dma-coherent, #dma-cells), for passthrough
    (DMAP-008)."""
    sources: dict[str, SourceRef] = field(default_factory=dict)
    """Every node's source, by path."""
    dom0_devices: tuple[Dom0Device, ...] = ()
    """Host nodes a classic dom0 is given, in handle_node()'s order."""
    notes: tuple[str, ...] = ()
    """What the decoding found worth saying: where Xen's command line comes from, what --board replaced."""

    @property
    def ipa_bits(self) -> int:
        return self.ipa()[0]

    @property
    def llc_coloring(self) -> bool:
        """``llc_coloring_enabled`` (``llc_coloring_init()``): 4.20+ and built in, then on with
        ``llc-coloring`` (a boolean, bare means on), or with both ``llc-size`` and
        ``llc-nr-ways`` unless ``llc-coloring`` turns it off. Absent, it is off."""
        if not self.target.release.llc_coloring:
            return False
        cmd = self.xen.cmdline
        value = cmd.get("llc-coloring")
        if value is not None:
            word = value.lower()
            if word in ("", "1", "yes", "true", "on", "enable"):
                return True
            if word in ("0", "no", "false", "off", "disable"):
                return False
        return cmd.get("llc-size", "0") not in ("", "0") and cmd.get("llc-nr-ways", "0") not in ("", "0")

    def ipa(self) -> tuple[int, str]:
        """P2M IPA width and where it came from: ``--pa-bits``, else the first CPU ``compatible`` with a
        known PA range, else 40; never above PADDR_BITS (48 on arm64, 40 on arm32)."""
        cap = PADDR_BITS[self.target.arch]
        if self.target.pa_bits is not None:
            return min(self.target.pa_bits, cap), "--pa-bits"
        for compat in self.board.cpu_compatibles:
            for key, bits in CPU_PA_BITS:
                if key in compat:
                    return min(bits, cap), compat
        return min(40, cap), "default"

    def domain(self, path: str) -> Domain | None:
        for d in self.domains:
            if d.path == path:
                return d
        return None
