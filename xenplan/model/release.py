"""Every difference between the Xen releases xenplan models, as named fields.

A ``XenRelease`` is built once per (version, architecture, Kconfig) by
``release_of()`` and read everywhere else: the model, the boot replay and the
rules ask a field ("does this release have a P2M pool?"), never a version
number. ``XenVersion`` names the release in messages and reports only.

Adding a Xen release
--------------------
1. ``POINT_RELEASES``: the newest point release of the line (or a new line).
2. ``tests/model/test_release.py``: add one column to the table, with the value
   of every field for the new release. Start from the previous release's
   column and decide each field against Xen's source of the new tag:

   * device-tree bindings: ``xen/common/device-tree/bootfdt.c`` /
     ``bootinfo-fdt.c`` (``early_scan_node()``, ``process_chosen_node()``,
     ``process_shm_node()``), ``xen/common/device-tree/dom0less-build.c`` and
     ``xen/arch/arm/dom0less-build.c`` (``create_domUs()``,
     ``construct_domU()``, ``parse_dom0less_node()``);
   * panic and BUG texts: ``xen/arch/arm/setup.c``, ``xen/common/page_alloc.c``
     (the line of each ``BUG()``);
   * memory layout: ``xen/arch/arm/mmu/setup.c`` (``setup_frametable_mappings()``),
     ``xen/arch/arm/setup.c`` (``setup_mm()``, ``init_staticmem_pages()``);
   * structure sizes for the heap replay (``ReplaySizes``): measured on a
     release build with ``tools/xen-trace`` (``tests/data/heaptrace``).
3. Where a field's value changes, say so in its docstring (release and Xen
   function); a behaviour no field covers becomes a new field, never a
   version comparison at the call site.
"""

from __future__ import annotations

import re
from dataclasses import replace
from functools import lru_cache
from typing import Literal

from xenplan.model.base import value
from xenplan.records import record

#: Newest point release of each modelled release line.
POINT_RELEASES: dict[tuple[int, int], int] = {
    (4, 16): 7,
    (4, 17): 7,
    (4, 18): 6,
    (4, 19): 6,
    (4, 20): 4,
    (4, 21): 2,
    (4, 22): 0,
}
DEV_RELEASE = (4, 23)

EnhancedMode = Literal["xenstore", "legacy", "no-xenstore"]


@value
class XenVersion:
    """A Xen release's name, compared as (major, minor, patch); ``dev`` for 4.23-dev.

    Outside this module it is for display: behaviour is read from ``XenRelease``."""

    major: int
    minor: int
    patch: int = 0
    dev: bool = False

    @classmethod
    def parse(cls, text: str) -> XenVersion:
        """``4.22``, ``4.22.0`` or ``4.23-dev``; ``X.Y`` is the newest known point release."""
        m = re.fullmatch(r"\s*(\d+)\.(\d+)(?:\.(\d+))?(-dev)?\s*", text)
        if not m:
            raise ValueError(f"not a Xen version: {text!r} (expected e.g. 4.22, 4.20.4 or 4.23-dev)")
        major, minor = int(m.group(1)), int(m.group(2))
        line = (major, minor)
        if m.group(4):
            return cls(major=major, minor=minor, patch=0, dev=True)
        if line not in POINT_RELEASES:
            if line == DEV_RELEASE:
                return cls(major=major, minor=minor, patch=0, dev=True)
            known = ", ".join(f"{a}.{b}" for a, b in POINT_RELEASES) + ", 4.23-dev"
            raise ValueError(f"Xen {text} is not modelled (known: {known})")
        patch = int(m.group(3)) if m.group(3) is not None else POINT_RELEASES[line]
        return cls(major=major, minor=minor, patch=patch)

    @property
    def line(self) -> tuple[int, int]:
        return (self.major, self.minor)

    @property
    def key(self) -> tuple[int, int, int]:
        return (self.major, self.minor, self.patch)

    def at_least(self, major: int, minor: int, patch: int = 0) -> bool:
        return self.key >= (major, minor, patch)

    def __str__(self) -> str:
        if self.dev:
            return f"{self.major}.{self.minor}-dev"
        return f"{self.major}.{self.minor}.{self.patch}"


@record(frozen=True, slots=True)
class ReplaySizes:
    """Sizes and allocations of Xen's own structures that the heap replay
    (``xenplan/boot``, section 4 and 5 of the placement model) requests,
    measured on release builds of 4.16.7, 4.17.7, 4.18.6, 4.19.6, 4.20.4,
    4.21.2 and 4.22.0 (``tests/data/heaptrace``); 4.23-dev follows 4.22."""

    timer_irqs: int
    """Timer interrupt actions per CPU (a 40-byte ``xmalloc`` each): 4 up to 4.17, 3 up to 4.21, none from 4.22."""
    csched2_private: int
    """``csched2_init()``'s private data: 80 bytes up to 4.18, 72 from 4.19."""
    pool_scheduler: bool
    """``cpupool_create()`` allocates its own scheduler instance (4.17+)."""
    credit_small: bool
    """The credit scheduler's smaller private and per-CPU structures of 4.16 (``csched_init()``)."""
    gnttab: int
    """``sizeof(struct grant_table)``: 152 (4.16), 136 (4.17), 112 (4.18), 104 from 4.19."""
    active_entry: int
    """``sizeof(struct active_grant_entry)``: 40 up to 4.17, 32 from 4.18."""
    gnttab_gfn_arrays: bool
    """4.16's ``gnttab_init_arch()`` allocates its own per-frame GFN arrays."""
    gnttab_xv: bool
    """The grant-table arrays come from ``xvzalloc`` (4.20+): the pool up to a page, vmalloc above."""
    vgic_rank: int
    """``sizeof(struct vgic_irq_rank)``: 88 up to 4.18, 84 from 4.19."""
    waitqueue: bool
    """Each vCPU allocates a wait-queue entry (``init_waitqueue_vcpu()``, up to 4.21)."""
    pbuf: bool
    """``domain_create()``'s 200-byte ``d->pbuf`` (up to 4.21)."""
    console: bool
    """``domain_create()``'s 268-byte ``d->console`` (4.22+)."""
    intc_node: bool
    """``make_intc_domU_node()`` allocates and frees 32 bytes for GICv3's redistributor cells (4.17+)."""
    boot_vmap_pages: int
    """Pages ``vm_init()`` and the early page tables take from the heap before the
    xmalloc pool: 2 on 4.16, 3 on 4.17 and 4.18, none from 4.19."""
    console_flush_buffer: bool
    """The console allocates and frees a 32 KiB flush buffer after the unflattened device tree (4.21+)."""
    p2m_pool_initial_pages: int
    """Pages a new domain's P2M pool gets while the domain is created, before
    ``p2m_set_allocation()`` sizes it (the XSA-409 fix): 16 on 4.16.3+ and 4.17, none
    from 4.18 and none without a pool."""
    lock_debug_buffer: int = 0
    """A debug build's ``cpu_lockdebug_callback()`` buffer per CPU (512 bytes from 4.18, whose
    lock debugging records the locks each CPU holds); 0 in a release build and before 4.18."""


@record(frozen=True, slots=True)
class XenRelease:
    """What a Xen release (and its architecture and Kconfig) does differently.

    Built by ``release_of()``; every field names one behaviour and the
    releases it holds for."""

    version: XenVersion
    """The release's name, for messages and reports."""
    arch: Literal["arm64", "arm32"]
    """The architecture Xen is built for."""

    # -- device-tree bindings read by the early scan and the dom0less builder --
    memory_node_needs_device_type: bool
    """``early_scan_node()`` (4.20+) recognises a memory node only at depth 1 with
    ``device_type = "memory"``; before, any node named ``memory``/``memory@…`` at any depth."""
    static_mem_cells_props: bool
    """``process_domain_node()`` of 4.16 decodes ``xen,static-mem`` with the domain's
    ``#xen,static-mem-address-cells``/``-size-cells`` (0 when absent); from 4.17 with
    ``/chosen``'s ``#address-cells``/``#size-cells``."""
    static_heap: bool
    """``process_chosen_node()`` reads ``xen,static-heap`` and ``setup_mm()`` takes the
    heap from it (4.17+); before, the property is ignored."""
    direct_map: bool
    """``create_domUs()`` reads ``direct-map`` (4.17+): the domain's RAM is mapped 1:1."""
    domain_props: frozenset[str]
    """Optional ``xen,domain`` properties ``create_domUs()``/``parse_dom0less_node()`` read:
    ``direct-map``, ``xen,enhanced``, ``domain-cpupool`` (4.17), ``sve`` (4.18),
    ``passthrough`` (4.19), ``llc-colors`` (4.20), ``capabilities``,
    ``trap-unmapped-accesses``, ``xen,sci_type`` (4.21)."""
    chosen_props: frozenset[str]
    """Optional ``/chosen`` properties ``process_chosen_node()`` reads: ``xen,static-heap`` (4.17)."""
    vcpu_affinity_nodes: bool
    """``xen,vcpu`` children (hard affinity) are read by ``domain_vcpu_affinity()`` (4.21+)."""
    domain_capabilities: bool
    """``capabilities`` (control, hardware, xenstore) is read by ``parse_dom0less_node()``
    (4.21+): a ``xen,domain`` node may be the hardware or the xenstore domain."""
    enhanced_modes: tuple[tuple[str, EnhancedMode], ...]
    """``xen,enhanced`` values ``construct_domU()`` understands and what each gives:
    none on 4.16 (the property is not read), ``""``/``enabled``/``no-xenstore`` from
    4.17, ``legacy`` from 4.21; any other value disables the PV interfaces."""
    late_xenstore_modes: frozenset[EnhancedMode]
    """The ``xen,enhanced`` modes whose xenstore page init-dom0less populates after boot
    (XS-005): ``xenstore`` on 4.17-4.20; from 4.21 Xen allocates the page itself
    (``alloc_xenstore_page()``) and only ``legacy`` is left late."""
    xenstore_page_by_xen: bool
    """``construct_domU()`` allocates the xenstore page from the heap for
    ``xen,enhanced`` domains (``alloc_xenstore_page()``, 4.21+)."""
    grant_frame_props: bool
    """``max_grant_frames``/``max_maptrack_frames`` are read from the node and checked
    against ``INT32_MAX`` (4.18+); before, Xen's defaults apply."""
    static_shm_binding: bool
    """``xen,domain-shared-memory-v1`` nodes exist (``process_shm_node()``, 4.17+);
    4.16 ignores them."""
    static_evtchn_binding: bool
    """``xen,evtchn-v1`` nodes are bound by ``alloc_static_evtchn()`` (4.17+)."""
    static_evtchn_kconfig_gate: bool
    """``CONFIG_STATIC_EVTCHN`` exists (4.19+): built without it, Xen ignores the nodes."""
    static_mem_kconfig_in_scan: bool
    """The early scan itself refuses ``xen,static-mem`` on a build without
    ``CONFIG_STATIC_MEMORY`` (4.23-dev, ``process_domain_node()``); before, construction does."""
    partial_dt_needs_iommu: bool
    """4.16's ``domain_handle_dtb_bootmodule()`` asks for an IOMMU for any partial
    device tree (PT-001)."""
    passthrough_cells_checked: bool
    """``handle_passthrough_prop()`` rejects ``#address-cells``/``#size-cells`` outside
    1..2 in a partial device tree (4.22+)."""
    cpupool_binding: bool
    """``domain-cpupool`` is resolved by ``btcpupools_get_domain_pool_id()`` (4.17+)."""
    llc_coloring: bool
    """LLC colouring can be on: 4.20+ built with ``CONFIG_LLC_COLORING``."""

    # -- early scan and reserved memory --
    nr_mem_banks: int
    """``NR_MEM_BANKS``: 128 in 4.16.0, 256 from 4.16.1. Also the bank limit of
    ``allocate_memory_11()``."""
    early_fdt_error: Literal["truncate", "panic"]
    """A handler of the early scan returns an error: up to 4.18 ``early_scan_node()``'s
    caller stops the scan without a panic (what follows is never recorded); from 4.19
    ``boot_fdt_info()`` panics "Early FDT parsing failed"."""
    early_fdt_overlap: Literal["none", "truncate", "panic"]
    """``check_reserved_regions_overlap()`` on each bank and module the early scan
    records: absent up to 4.17; 4.18 fails the handler (the scan stops); from 4.19
    it panics (with ``early_fdt_error``)."""
    fdt_xen_overlap_refused: bool
    """``add_boot_module()`` refuses a DTB overlapping Xen's image (4.18+)."""
    memreserve_in_bootinfo: bool
    """``/memreserve/`` entries are recorded in ``bootinfo.reserved_mem`` (4.19+, at most
    ``NR_MEM_BANKS``); before, ``setup_mm()`` and ``dt_unreserved_regions()`` skip them
    separately."""
    memreserve_covers_shm: bool
    """A ``/memreserve/`` entry that contains a new region is not an overlap for it
    (4.19.2+, ``meminfo_overlap_check()``), except for static shared memory."""
    shm_banks_tracked: bool
    """Static shared-memory host regions live in ``bootinfo.shmem`` (4.19+): checked for
    overlaps, initialised as static pages and cut from extended regions."""
    shm_scan: Literal["4.17", "4.18", "4.19"]
    """``process_shm_node()``'s overlap loop: 4.17 compares with the ``reserved_mem``
    entries recorded before it, 4.18 runs the global check inside the loop over
    ``reserved_mem``, 4.19+ loops over the shm list then checks the new host region once."""
    shm_host_optional: bool
    """``xen,shared-mem`` may omit the host address (4.19+: Xen takes the region from
    its heap); before, the host address is required."""
    shm_alignment_in_scan: bool
    """Page alignment of ``xen,shared-mem`` is checked by the early scan (4.19+); before,
    by ``process_shm()`` at construction."""
    shm_direct_map_checked: bool
    """``process_shm()`` requires host == guest for a direct-mapped domain (4.19+)."""
    dom0_shm_host_checked: bool
    """``construct_dom0()`` fails when dom0's shared memory has host != guest (4.19+, HWD-005)."""
    nr_shm_banks_per_domain: int
    """Entries of a domain's shared-memory table: ``NR_MEM_BANKS`` (256) up to 4.18,
    ``NR_SHMEM_BANKS`` (32) from 4.19."""
    node_struct_size: int
    """``sizeof(struct dt_device_node)`` counted by ``unflatten_device_tree()``: 144 up to 4.20, 128 from 4.21."""

    # -- memory set-up --
    frametable_per_pdx_group: bool
    """``setup_frametable_mappings()`` (4.22+): the frame table counts from the start of
    the first PDX group and is padded to a page; before, from the first RAM page and
    padded to 32 MiB (2 MiB when smaller)."""
    boot_directmap_table: bool
    """``setup_directmap_mappings()`` takes a page-table page from the boot allocator
    before the frame table (4.17+)."""
    boot_frametable_tables: int
    """Page-table pages the boot allocator gives after the frame table: one up to 4.18
    ("frame-table table"), four from 4.19 (frame table and vmap)."""
    sub_page_static_bank_panics: bool
    """``init_staticmem_pages()`` of 4.16-4.18 panics on a static bank smaller than a
    page; from 4.19 it skips it."""
    static_free_overlap_scan: bool
    """4.16's ``setup_mm()`` walks the free static pages again for pages that are also
    in the static heap."""
    static_total_ram0_bug: bool
    """``allocate_static_memory()`` up to 4.21 counts a bank that crosses the end of
    guest RAM0 twice in the running total (SMEM-015)."""

    # -- construction --
    dom016: Literal["WARN", "PANIC"] | None
    """A direct-mapped GICv3 domain with more vCPUs than host redistributor frames
    (``vgic_v3_vcpu_init()``, DOM-016): not possible on 4.16 (no direct map);
    4.17-4.19 build it with fewer vCPUs than its device tree lists (WARN); from 4.20
    ``construct_domain()`` fails and Xen panics (PANIC)."""
    guest_dtb_buffer: int
    """``prepare_dtb_domU()``'s buffer: 4 KiB up to 4.21, 2 KiB + 128 B x ``MAX_VIRT_CPUS``
    (128) from 4.22."""
    guest_dtb_includes_pdt: bool
    """The guest DTB buffer also holds the partial device tree module (4.18+)."""
    guest_dtb_base: int
    """Size of the DTB ``prepare_dtb_domU()`` generates for a minimal domU without vCPUs
    (KRN-005), measured from the recorded boots ("Loading dN DTB to …": exactly linear in
    the vCPUs), less the 37 bytes the recordings' one-word kernel ``bootargs`` take."""
    guest_dtb_shm_nodes: bool
    """``make_resv_memory_node()`` adds the shared-memory nodes to the guest DTB (4.17+)."""
    extended_regions: bool
    """``make_hypervisor_node()`` advertises extended regions (4.17+)."""
    hwdom_extended_regions: bool
    """``make_hypervisor_node()`` gives the hardware domain extended regions (every release
    from 4.16.0: 4.16.7 prints them as "Extended region N", later releases as "d0: extended
    region N")."""
    ext_region_rounding_bug: bool
    """``add_ext_regions()`` of 4.18-4.20 rounds the region ends the wrong way (GMAP-008)."""
    ext_region_rangesets: bool
    """``find_domU_holes()``/``find_host_extended_regions()`` build range sets (4.21+)."""
    dom0_construct: bool
    """The heap replay follows ``construct_dom0()`` past dom0's RAM (the host walk, the
    ``/hypervisor`` node, the secondary vCPUs): measured allocation by allocation on
    4.16.7, 4.17.7, 4.18.6, 4.19.6, 4.20.4, 4.21.2 and 4.22.0. Not before 4.16.3, whose
    missing P2M pool already makes the replay approximate."""
    debug_replay: bool
    """An arm64 debug build's own requests are replayed (``--kconfig DEBUG=y``): the releases
    of ``_DEBUG_MEASURED``, each measured allocation by allocation (``tests/data/debug``); on
    other releases, and on arm32 whose debug builds were not traced (``debug_replayed()`` in
    the boot), a debug build's chunks under 16 MiB get no host address."""
    debug_sizes: ReplaySizes
    """``sizes`` as a debug build has them (``--kconfig DEBUG=y``; ``sizes`` where not replayed)."""
    log_lower_threshold: int
    """A release build's default lower log threshold (``XENLOG_LOWER_THRESHOLD``): 2 up to 4.17,
    3 from 4.18; a debug build's is 4. It sizes the console ring of many CPUs (measured:
    4.17.7 with 8 CPUs and no ``loglvl=`` asks for 16 KiB)."""
    maxcpus: bool
    """``maxcpus=`` on Xen's command line caps the CPUs Xen brings up (``smp_get_max_cpus()``,
    4.17+); 4.16.7 ignores it (measured: 8 CPUs brought up with ``maxcpus=3``)."""
    vgic_v2_maps_gicc: bool
    """``vgic_v2_domain_init()`` maps the GICv2 virtual CPU interface while the domain is
    created (before 4.18; from 4.18 on first access): the hardware domain's P2M tables
    for the host's whole CPU interface come from the heap then."""
    dom0_fdt_bank_room: bool
    """``DOM0_FDT_EXTRA_SIZE`` leaves room for a ``/memory`` node of ``NR_MEM_BANKS`` banks
    and the shared-memory banks (4.22+); before, only the ``/hypervisor`` node and the
    reserve-map terminator (144 bytes)."""
    dom0_gnttab_bank: bool
    """``make_hypervisor_node()`` puts dom0's grant window in a one-bank ``membanks``
    of its own (a 40-byte ``xzalloc``) before finding the extended regions (4.20+)."""
    membank_shm_id: bool
    """``struct membank`` carries a shared-memory id and borrower count when built with
    ``CONFIG_STATIC_SHM`` (40 bytes instead of 24; 4.17 and 4.18)."""
    ext_bank_header: int
    """Header bytes of ``make_hypervisor_node()``'s extended-region bank array: 8 up to
    4.19, 16 from 4.20."""
    xen_reg_assigned_set: bool
    """``domain_handle_dtb_bootmodule()`` builds a ``xen_reg_assigned`` range set (4.21+)."""
    vpl011_backend_late: bool
    """4.16 allocates the vPL011 backend after the secondary vCPUs; 4.17+ before the guest DTB."""
    vpl011_spi_error: Literal["fail-late", "ignored", "fail"]
    """What ``construct_domU()`` does when ``domain_vpl011_init()`` returns -EINVAL because
    ``vgic_reserve_virq()`` finds the vUART's SPI at or above ``vgic_num_irqs()`` (32 + the
    rounded ``nr_spis``): 4.16 calls it last, after ``construct_domain()``, and fails with its
    rc ("fail-late"); 4.17 calls it before ``prepare_dtb_domU()`` and overwrites its rc with
    that call's, so the domain runs with an unreserved UART interrupt ("ignored"); 4.18+
    calls it at the same point and returns the error ("fail")."""
    xenstore_domain: bool
    """A domain with the xenstore capability may serve xenstore (4.21+); before,
    ``alloc_xenstore_evtchn()`` needs dom0 and dereferences it when missing."""
    guest_reserved_windows: frozenset[str]
    """Guest-map windows the release reserves (``public/arch-arm.h``): vPCI ECAM, ACPI,
    vPCI MEM and vPCI prefetchable MEM, plus virtio-mmio from 4.17."""

    # -- messages --
    rc_in_panic: bool
    """"Error creating domain" / "Could not set up domain" panics end with ``(rc = N)`` (4.18+)."""
    dom0_panic_names_d0: bool
    """The dom0 construction panic reads "Could not set up d0 guest OS" (4.21+), not "... DOM0 ..."."""
    bug_file: str
    """How ``BUG()`` names ``page_alloc.c``: ``page_alloc.c`` on 4.16, ``common/page_alloc.c`` after."""
    bug_mark_page_free_line: int
    """Line of ``mark_page_free()``'s ``BUG()`` in the release tag."""
    bug_alloc_boot_pages_line: int
    """Line of ``alloc_boot_pages()``'s final ``BUG()`` in the release tag."""
    xen_image_size: int
    """Size of Xen's arm64 image (``_start`` … ``_end``) of the recorded release build."""
    xen_image_max: int
    """The largest image the release can link: text, data and bss share one 2 MiB slot of Xen's
    virtual layout up to 4.17 (``config.h``); from 4.18 ``xen.lds.S`` asserts ``_end - _start <=
    XEN_VIRT_SIZE`` (8 MiB), "Xen is too big"."""

    # -- run time (``xenplan/boot/runtime``) --
    static_free_to_resv_list: bool
    """A static page whose last reference goes (balloon-out, destruction) keeps ``PGC_static``
    and is queued on its domain's ``resv_page_list`` (``put_page_nr()`` ->
    ``free_domstatic_page()``, 4.17+). 4.16's ``put_page()`` calls ``free_domheap_page()``:
    ``mark_page_free()`` drops ``PGC_reserved`` and the page joins the heap."""
    static_populate_from_resv: bool
    """``populate_physmap()`` of a static, not direct-mapped domain takes order-0 pages from
    the domain's reserved list (``acquire_reserved_page()``, 4.17+); 4.16 has no such branch
    and allocates from the heap (``alloc_domheap_pages()``)."""

    # -- heap replay --
    p2m_pool: bool
    """Domains have a P2M pool (``p2m_set_allocation()``, XSA-409): 4.16.3+, every 4.17+
    release; before, P2M tables come from the heap while RAM is mapped."""
    sizes: ReplaySizes
    """Structure sizes the heap replay requests."""

    def enhanced_mode(self, value: str | None) -> EnhancedMode | None:
        """What ``xen,enhanced = value`` gives: None when absent, unknown or not read."""
        if value is None:
            return None
        return dict(self.enhanced_modes).get(value)

    def within(self, since: str, until: str | None = None) -> bool:
        """The release lies in [``since``, ``until``): a rule's version metadata. A bare
        ``X.Y`` is the line's first release (``X.Y.0``: the rule holds for every point
        release of the line); a point release is written out where it matters
        (``4.16.3``, the first with a P2M pool)."""
        key = self.version.key
        if key < _first_release(since):
            return False
        return until is None or key < _first_release(until)


def _first_release(text: str) -> tuple[int, int, int]:
    """A rule's ``since``/``until`` as (major, minor, patch): ``X.Y`` (or ``X.Y-dev``) is
    ``X.Y.0``, ``X.Y.Z`` that point release."""
    v = XenVersion.parse(text)
    return v.key if re.fullmatch(r"\s*\d+\.\d+\.\d+\s*", text) else (v.major, v.minor, 0)


_BUG_MARK_PAGE_FREE = {16: 1419, 17: 1423, 18: 1438, 19: 1480, 20: 1480, 21: 1522, 22: 1522, 23: 1522}
_BUG_ALLOC_BOOT_PAGES = {16: 436, 17: 440, 18: 447, 19: 463, 20: 463, 21: 464, 22: 464, 23: 464}
_GUEST_DTB_BASE = {16: 902, 17: 898, 18: 822, 19: 861, 20: 861, 21: 861, 22: 854, 23: 854}
_XEN_IMAGE_SIZE = {16: 0x1300C8, 17: 0x1360C8, 18: 0x145000, 19: 0x14C000, 20: 0x14C000,
                   21: 0x154000, 22: 0x154000, 23: 0x154000}
_GNTTAB = {16: 152, 17: 136, 18: 112}
_DOMAIN_PROPS = (("direct-map", (4, 17)), ("xen,enhanced", (4, 17)), ("domain-cpupool", (4, 17)),
                 ("sve", (4, 18)), ("passthrough", (4, 19)), ("llc-colors", (4, 20)), ("capabilities", (4, 21)),
                 ("trap-unmapped-accesses", (4, 21)), ("xen,sci_type", (4, 21)))


def _sizes(v: XenVersion) -> ReplaySizes:
    """The replay's sizes; 4.19 requests as 4.20 and 4.21 as 4.20 except where noted."""
    model = 20 if v.minor in (19, 21) else min(v.minor, 22)
    return ReplaySizes(
        timer_irqs=4 if model <= 17 else 3 if model <= 21 else 0,
        csched2_private=80 if model <= 18 else 72,
        pool_scheduler=model >= 17,
        credit_small=model <= 16,
        gnttab=_GNTTAB.get(model, 104),
        active_entry=40 if model <= 17 else 32,
        gnttab_gfn_arrays=model == 16,
        gnttab_xv=v.at_least(4, 20),
        vgic_rank=88 if model <= 18 else 84,
        waitqueue=model <= 21,
        pbuf=model <= 21,
        console=model >= 22,
        intc_node=model >= 17,
        boot_vmap_pages=2 if model == 16 else 3 if model <= 18 else 0,
        console_flush_buffer=v.at_least(4, 21),
        p2m_pool_initial_pages=16 if model <= 17 and _has_p2m_pool(v) else 0,
    )


_DEBUG_MEASURED = frozenset({16, 17, 18, 19, 20, 21, 22})
"""Minor releases whose arm64 ``debug=y`` build was traced and replayed allocation by
allocation (4.16.7 to 4.22.0, ``tests/data/debug``)."""


def _debug_sizes(v: XenVersion, sizes: ReplaySizes) -> ReplaySizes | None:
    """``sizes`` in an arm64 debug build of ``v``; ``None`` for a release not measured.
    Lock debugging makes every spinlock larger:
    each active grant entry grows by 8 bytes on every release, the grant table by 8 up to
    4.18 and by 16 from 4.19 (104 to 120); credit2's private data is 80 bytes and a vGIC
    rank 88 in every debug build, as in the release builds up to 4.18; from 4.18 each CPU
    also gets a 512-byte lock-debugging buffer (``cpu_lockdebug_callback()``). Each figure
    was read from the ``xmalloc`` sizes of a debug and a release boot of the same tree."""
    minor = min(v.minor, 22)
    if minor not in _DEBUG_MEASURED:
        return None
    return replace(sizes, gnttab=sizes.gnttab + (16 if minor >= 19 else 8), active_entry=sizes.active_entry + 8,
                   csched2_private=80, vgic_rank=88, lock_debug_buffer=512 if minor >= 18 else 0)


def _has_p2m_pool(v: XenVersion) -> bool:
    return v.line != (4, 16) or v.patch >= 3


def _build(version: XenVersion, arch: Literal["arm64", "arm32"], llc_coloring: bool) -> XenRelease:
    v = version
    at = v.at_least
    minor = min(v.minor, 23)
    sizes = _sizes(v)
    debug = _debug_sizes(v, sizes)
    enhanced: tuple[tuple[str, EnhancedMode], ...] = ()
    if at(4, 17):
        legacy: tuple[tuple[str, EnhancedMode], ...] = (("legacy", "legacy"),) if at(4, 21) else ()
        enhanced = (("", "xenstore"), ("enabled", "xenstore"), *legacy, ("no-xenstore", "no-xenstore"))
    return XenRelease(
        version=v,
        arch=arch,
        memory_node_needs_device_type=at(4, 20),
        static_mem_cells_props=not at(4, 17),
        static_heap=at(4, 17),
        direct_map=at(4, 17),
        domain_props=frozenset(p for p, since in _DOMAIN_PROPS if at(*since)),
        chosen_props=frozenset({"xen,static-heap"} if at(4, 17) else ()),
        vcpu_affinity_nodes=at(4, 21),
        domain_capabilities=at(4, 21),
        enhanced_modes=enhanced,
        late_xenstore_modes=frozenset() if not at(4, 17) else frozenset(
            {"legacy"} if at(4, 21) else {"xenstore"}),
        xenstore_page_by_xen=at(4, 21),
        grant_frame_props=at(4, 18),
        static_shm_binding=at(4, 17),
        static_evtchn_binding=at(4, 17),
        static_evtchn_kconfig_gate=at(4, 19),
        static_mem_kconfig_in_scan=at(4, 23),
        partial_dt_needs_iommu=not at(4, 17),
        passthrough_cells_checked=at(4, 22),
        cpupool_binding=at(4, 17),
        llc_coloring=llc_coloring and at(4, 20),
        nr_mem_banks=256 if at(4, 16, 1) else 128,
        early_fdt_error="panic" if at(4, 19) else "truncate",
        early_fdt_overlap="panic" if at(4, 19) else "truncate" if at(4, 18) else "none",
        fdt_xen_overlap_refused=at(4, 18),
        memreserve_in_bootinfo=at(4, 19),
        memreserve_covers_shm=at(4, 19, 2),
        shm_banks_tracked=at(4, 19),
        shm_scan="4.19" if at(4, 19) else "4.18" if at(4, 18) else "4.17",
        shm_host_optional=at(4, 19),
        shm_alignment_in_scan=at(4, 19),
        shm_direct_map_checked=at(4, 19),
        dom0_shm_host_checked=at(4, 19),
        nr_shm_banks_per_domain=32 if at(4, 19) else 256,
        node_struct_size=128 if at(4, 21) else 144,
        frametable_per_pdx_group=at(4, 22),
        boot_directmap_table=at(4, 17),
        boot_frametable_tables=4 if at(4, 19) else 1,
        sub_page_static_bank_panics=not at(4, 19),
        static_free_overlap_scan=v.line == (4, 16),
        static_total_ram0_bug=not at(4, 22),
        dom016="PANIC" if at(4, 20) else "WARN" if at(4, 17) else None,
        guest_dtb_buffer=2048 + 128 * 128 if at(4, 22) else 4096,
        guest_dtb_includes_pdt=at(4, 18),
        guest_dtb_base=_GUEST_DTB_BASE[minor],
        guest_dtb_shm_nodes=at(4, 17),
        extended_regions=at(4, 17),
        hwdom_extended_regions=at(4, 16),
        ext_region_rounding_bug=at(4, 18) and not at(4, 21),
        ext_region_rangesets=at(4, 21),
        dom0_construct=at(4, 16, 3),
        debug_replay=debug is not None,
        debug_sizes=debug or sizes,
        log_lower_threshold=3 if at(4, 18) else 2,
        vgic_v2_maps_gicc=not at(4, 18),
        maxcpus=at(4, 17),
        dom0_fdt_bank_room=at(4, 22),
        dom0_gnttab_bank=at(4, 20),
        membank_shm_id=at(4, 17) and not at(4, 19),
        ext_bank_header=16 if at(4, 20) else 8,
        xen_reg_assigned_set=at(4, 21),
        vpl011_backend_late=not at(4, 17),
        vpl011_spi_error="fail" if at(4, 18) else "ignored" if at(4, 17) else "fail-late",
        xenstore_domain=at(4, 21),
        guest_reserved_windows=frozenset(
            {"vPCI ECAM", "ACPI", "vPCI MEM", "vPCI prefetchable MEM"} | ({"virtio-mmio"} if at(4, 17) else set())),
        rc_in_panic=at(4, 18),
        dom0_panic_names_d0=at(4, 21),
        bug_file="page_alloc.c" if v.line == (4, 16) else "common/page_alloc.c",
        bug_mark_page_free_line=_BUG_MARK_PAGE_FREE[minor],
        bug_alloc_boot_pages_line=_BUG_ALLOC_BOOT_PAGES[minor],
        xen_image_size=_XEN_IMAGE_SIZE[minor],
        xen_image_max=(8 if v.at_least(4, 18) else 2) << 20,
        static_free_to_resv_list=at(4, 17),
        static_populate_from_resv=at(4, 17),
        p2m_pool=_has_p2m_pool(v),
        sizes=sizes,
    )


@record(frozen=True, slots=True)
class Arm32Memory:
    """How an arm32 build (``CONFIG_SEPARATE_XENHEAP``) sets up and uses its domain heap,
    measured on release builds booted on QEMU ``virt`` with a Cortex-A15
    (``tests/data/heaptrace-arm32``). Only the domain heap is described: the
    xenheap is a zone of its own that domain RAM never comes from."""

    page_info_size: int
    """``sizeof(struct page_info)`` on arm32: the frame table's cost per page (32 bytes)."""
    pdx_group_pages: int
    """``PDX_GROUP_COUNT`` on arm32 (2 MiB of frame table over 32-byte entries): from 4.22 the
    frame table counts from the start of such a group."""
    boot_tables_before: int
    """Page-table pages ``alloc_boot_pages()`` gives before the frame table
    (``setup_directmap_mappings()``, 4.17+; 4.16 maps the xenheap with static tables)."""
    boot_tables: int
    """Page-table pages ``alloc_boot_pages()`` gives after the frame table: two from 4.19,
    where ``vm_init_type()`` takes its bitmap and table pages from the boot allocator."""
    boot_domheap_pages: int
    """Order-0 domain-heap pages the boot takes before the first domain: up to 4.18
    ``vm_init_type()``'s first bitmap page, plus on 4.17 (and, by the source, 4.18) two
    page tables ``xen_pt_update()`` maps the vmap area with; from 4.19 one such table."""
    dom0_gic_cpu_at_create: bool
    """``vgic_v2_domain_init()`` maps the virtual CPU interface into the hardware domain
    while the domain is created (4.16, 4.17): its P2M tables come before the maptrack
    and the RAM; from 4.18 the mapping is made while dom0 is constructed."""


def arm32_memory(version: XenVersion) -> Arm32Memory:
    """The ``Arm32Memory`` of a release."""
    at = version.at_least
    return Arm32Memory(page_info_size=32, pdx_group_pages=0x10000,
                       boot_tables_before=1 if at(4, 17) else 0,
                       boot_tables=2 if at(4, 19) else 0,
                       boot_domheap_pages=3 if at(4, 17) and not at(4, 19) else 1,
                       dom0_gic_cpu_at_create=not at(4, 18))


@lru_cache(maxsize=64)
def release_of(version: XenVersion, arch: Literal["arm64", "arm32"] = "arm64",
               llc_coloring: bool = False) -> XenRelease:
    """The ``XenRelease`` of a version, architecture and the Kconfig options that
    change a release field (``CONFIG_LLC_COLORING``); built once per combination."""
    return _build(version, arch, llc_coloring)
