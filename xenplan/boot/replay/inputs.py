"""The replay's inputs: the board and Xen build as the heap sees them, each
``xen,domain`` node's requests, and a classic dom0's.

Frozen values built by ``xenplan.boot.replay_bridge`` from the boot state
(or by a test straight from a device tree); the replay reads nothing else.
``p2m_pool_pages()`` is the pool size ``p2m_set_allocation()`` is asked for.
"""

from __future__ import annotations

from xenplan.model.release import XenRelease
from xenplan.model.system import Dom0Device, default_p2m_pool_mb
from xenplan.records import record


@record(frozen=True)
class HeapBoard:
    """Everything of the board and of Xen that decides the heap's shape."""

    ram: tuple[tuple[int, int], ...]
    """(start, size) of each RAM bank, sorted."""
    modules: tuple[tuple[int, int], ...]
    """Boot modules in Xen's module-table order: Xen's image, the DTB (start,
    ``totalsize``), then the ``multiboot,module`` nodes Xen kept, in DT order."""
    reserved: tuple[tuple[int, int], ...]
    """Every range cut out of the heap as Xen recorded it: /memreserve/,
    /reserved-memory children, static-mem, static-heap and shm host banks."""
    static_heap: tuple[tuple[int, int], ...] | None
    """``xen,static-heap`` banks (4.17+), or None: then only they feed the heap."""
    fdt_size: int
    """The DTB's ``totalsize``: the size of Xen's relocated copy."""
    unflat_size: int
    """What ``unflatten_device_tree()`` asks ``xmalloc`` for: ``unflattened_size()``."""
    release: XenRelease
    """What the Xen release requests differently (``XenRelease``, its ``sizes`` above all)."""
    host_cpus: int = 2
    gic_version: int = 3
    gicv2m_frames: int = 1
    """GICv2: the host GIC's ``arm,gic-v2m-frame`` nodes (QEMU ``virt`` has one); each costs
    ``gicv2m_init()`` a 48-byte ``struct v2m_data``."""
    gicr_size: int = 0xF60000
    """GICv3: bytes of redistributor space Xen maps at boot (QEMU ``virt``'s by default)."""
    gicr_regions: int = 1
    """GICv3: redistributor regions of the host (a 1:1 domain's vGIC copies them)."""
    scheduler: str = "credit2"
    """``sched=`` as Xen resolves it: a built-in scheduler's name, else the default "credit2"."""
    console_ring: int = 16 << 10
    """``console_init_ring()``'s request: ``conring_size``, else CPUs << (9 + the lower log threshold)."""
    p2m_root_order: int = 0
    """0 for a 4-level P2M (44-bit IPA and up), 1 for the concatenated 40-bit root."""
    dom0_mem: int = 0
    """``dom0_mem`` from the command line (0 when absent): bounds bank 0 of any 1:1 hardware domain."""
    ipa_bits: int = 44
    """The P2M's IPA width: the top of the second guest RAM window's extended region."""
    debug: bool = False
    """A debug build whose requests are replayed (``XenRelease.debug_replay``): ``release.sizes``
    then holds its structure sizes and lock-debugging buffer (``XenRelease.debug_sizes``), and
    the domain console is larger."""
    pools: tuple[str, ...] = ()
    """Boot-time cpupools (``btcpupools_allocate_pools()``): each pool's scheduler by pool id,
    pool 0 holding CPU 0; empty for the one pool of every CPU under ``scheduler``."""
    cpu_pools: tuple[int, ...] = ()
    """The pool id of each logical CPU when ``pools`` is given."""
    membank_size: int = 24
    """``sizeof(struct membank)``: 40 on 4.17 and 4.18 built with ``CONFIG_STATIC_SHM`` (a
    shared-memory id and borrower count in every bank), else 24. Sizes the extended-region
    bank array ``make_hypervisor_node()`` allocates."""
    alias_sizes: tuple[int, ...] = ()
    """What ``dt_alias_scan()`` asks ``xmalloc`` for, one request per ``/aliases`` entry."""
    smmu_irqs: tuple[int, ...] = ()
    """The interrupt count of each SMMUv1/v2 ``arm_smmu_device_dt_probe()`` probes."""


@record(frozen=True)
class HeapDomain:
    """What one ``xen,domain`` node asks of the heap."""

    name: str
    cpus: int
    memory_kib: int
    static: bool = False
    """``xen,static-mem`` or ``direct-map``: the same requests, but RAM from static banks."""
    p2m_mem_mb: int | None = None
    """``xen,domain-p2m-mem-mb`` when present."""
    nr_spis: int = 224
    enhanced: bool = False
    """A xenstore page is wanted (``xen,enhanced`` gives xenstore or legacy); Xen allocates it
    where ``XenRelease.xenstore_page_by_xen`` holds."""
    heap_shm_sizes: tuple[int, ...] = ()
    """Sizes of heap-backed shm regions this domain is the first to use (4.19+)."""
    shm_windows: tuple[tuple[int, int], ...] = ()
    """Guest (start, size) of every shm mapping of this domain: they replace RAM there."""
    max_grant_frames: int = 64
    """``max_grant_frames`` (Xen's default ``gnttab_max_frames``): sizes the grant-table arrays."""
    host_ram: tuple[tuple[int, int], ...] = ()
    """(start, size) of a 1:1 domain's static banks: removed from its host-layout extended regions."""
    dtb_module: int = 0
    """Size of the node's ``multiboot,device-tree`` module: the guest DTB buffer grows by it (4.18+)."""
    passthrough: tuple[tuple[tuple[tuple[int, int], ...], tuple[int, ...]], ...] = ()
    """Per passthrough device of the partial DTB: its ``xen,reg`` host (start, size) and its host IRQs."""
    hardware_11: bool = False
    """A dom0less hardware domain with ``direct-map`` (4.21+): RAM 1:1 from the heap, as dom0's."""
    hypervisor_node: bool = False
    """The guest DTB gets a /hypervisor node (``make_hypervisor_node()``: extended regions)."""
    direct_map: bool = False
    """1:1: extended regions come from the host layout, not from the guest RAM windows."""
    vpl011: bool = False
    """``vpl011``: ``domain_vpl011_init()`` allocates its Xen-side backend (172 bytes)."""
    vpl011_refused: bool = False
    """The vUART's interrupt is outside the vGIC (DOM-018): ``domain_vpl011_init()`` frees
    the backend again; 4.17 goes on building the domain without it."""
    max_maptrack_frames: int = 1024
    passthrough_guest: tuple[tuple[int, int], ...] = ()
    """Guest (start, size) of every ``xen,reg`` range of the partial DTB, in order: from 4.21
    ``xen_reg_assigned``, which ``find_domU_holes()`` subtracts from the extended regions."""
    passthrough_unknown: bool = False
    """A ``multiboot,device-tree`` module whose partial DTB was not given (``--partial-dtb``): its
    devices' range-set nodes and routed interrupts are not replayed, so the xmalloc pool may
    take a page more than the replay does (``DomainPlacement.unreplayed_after``)."""
    scheduler: str | None = None
    """The scheduler of the domain's cpupool (``domain-cpupool``, else pool 0); None: ``HeapBoard.scheduler``."""
    """``max_maptrack_frames`` (default ``gnttab_max_maptrack_frames``): sizes the vmalloc'd maptrack."""


@record(frozen=True)
class Dom0Request:
    """What a classic dom0 asks of the heap (``create_dom0()``, ``construct_dom0()``)."""

    memory: int
    """``dom0_mem`` in bytes (512 MiB when the command line does not say, HWD-001)."""
    cpus: int = 2
    """``dom0_max_vcpus()``: every online CPU unless the command line says how many."""
    nr_spis: int = 224
    """The host GIC's SPIs: dom0's vGIC mirrors the hardware."""
    max_grant_frames: int = 64
    """``gnttab_dom0_frames()``."""
    devices: tuple[Dom0Device, ...] = ()
    """The host nodes ``handle_node()`` gives dom0, in its order (``model.hostwalk``)."""
    fdt_extra: int = 0
    """``DOM0_FDT_EXTRA_SIZE``: what ``hwdom_get_fdt_alloc_size()`` adds to the host DTB's size."""
    ext_bank_size: int = 24
    """``sizeof(struct membank)``: the entry size of ``make_hypervisor_node()``'s bank array."""
    gnttab_start: int = 0
    """``find_gnttab_region()``: dom0's grant-table window starts at Xen's own image."""
    gicc: tuple[int, int] | None = None
    """GICv2: the host CPU interface (base, size) ``vgic_v2_domain_init()`` maps into the
    hardware domain on releases with ``vgic_v2_maps_gicc``."""
    v2m: tuple[tuple[int, int, int, int], ...] = ()
    """GICv2m frames (base, size, first SPI, SPIs) ``gicv2_map_hwdom_extra_mappings()`` gives dom0."""


def p2m_pool_pages(domain: HeapDomain) -> int:
    """ALLOC-006: ``xen,domain-p2m-mem-mb`` MiB, else 1 MiB per vCPU +
    4 KiB per MiB of RAM + 512 KiB, rounded up to whole MiB."""
    if domain.p2m_mem_mb is not None:
        return domain.p2m_mem_mb << 8
    return default_p2m_pool_mb(domain.cpus, domain.memory_kib) << 8
