"""The bridge from the boot state to the allocator replay and back.

Once the early scan is over, ``replay()`` turns what Xen recorded (RAM,
boot modules, reserved ranges, the command line, each ``xen,domain`` node)
into the frozen inputs of ``xenplan.boot.replay`` (``docs/replay.md``), runs
it once, and keeps its answer on the state; the stages then read it back as
events: the frame table that does not fit a static heap (HEAP-008,
``alloc_boot_pages()``), a P2M pool the heap cannot supply (ALLOC-006,
``p2m_set_allocation()``), dynamic RAM (ALLOC-001/002/004,
``allocate_memory()``) and dom0's 1:1 RAM (``allocate_memory_11()``).
"""
from __future__ import annotations

from dataclasses import replace

from xenplan.boot import messages as msg
from xenplan.boot.build_context import nr_spis, vpl011_spi_unreserved
from xenplan.boot.replay import (
    Dom0Request,
    DomainPlacement,
    HeapBoard,
    HeapDomain,
    PlacementResult,
    budget_domains,
    place_domains,
)
from xenplan.boot.state import BootState
from xenplan.boot.xen_params import parse_size
from xenplan.model.base import PAGE_SHIFT, Range, pfn_down, pfn_up
from xenplan.model.layout import guest_layout
from xenplan.model.system import Domain, System
from xenplan.model.target import Target
from xenplan.records import record


@record
class RamPlacement:
    """A domain's RAM as the stages use it: (guest, host or None when unknown, size), or the shortfall."""

    banks: list[tuple[int, int | None, int]]
    unallocated_kib: int | None = None
    colours_short: str | None = None


def heap_ranges(state: BootState) -> list[tuple[int, int]]:
    """Pfn ranges ``populate_boot_allocator()`` hands to the boot allocator (HEAP-003/004)."""
    heap = state.system.xen.static_heap if state.system.xen.static_heap_present and state.rel.static_heap else None
    if heap is not None:
        live = [b.range for b in state.reserved_mem if b.type == "static-heap" and b.live]
        return [(pfn_up(r.start), pfn_down(r.end)) for r in sorted(live, key=lambda r: r.start)
                if pfn_down(r.end) > pfn_up(r.start)]
    cut: list[Range] = [m.range for m in state.live_modules()]
    cut += [b.range for b in state.live_reserved()]
    cut += [s.range for s in state.shmem if s.live and s.range is not None]
    if not state.rel.memreserve_in_bootinfo:
        cut += list(state.system.board.memreserve)
    out: list[tuple[int, int]] = []
    for ram in state.ram:
        pieces = [(ram.start, ram.end)]
        for c in cut:
            nxt = []
            for s, e in pieces:
                if c.end <= s or c.start >= e:
                    nxt.append((s, e))
                    continue
                if c.start > s:
                    nxt.append((s, c.start))
                if c.end < e:
                    nxt.append((c.end, e))
            pieces = nxt
        for s, e in pieces:
            ps, pe = max(pfn_up(s), 1), pfn_down(e)
            if pe > ps:
                out.append((ps, pe))
    return sorted(out)


def debug_replayed(state: BootState) -> bool:
    """A debug build (``--kconfig DEBUG=y``) whose own requests the replay makes: the releases
    measured (``XenRelease.debug_replay``), on arm64, the only architecture traced."""
    return state.system.target.has("DEBUG") and state.rel.debug_replay and state.rel.arch == "arm64"


def heap_board(state: BootState) -> HeapBoard:
    """The allocator's view of the board after the early scan (what Xen recorded, live)."""
    sysm = state.system
    t = sysm.target
    reserved = [(b.range.start, b.range.size) for b in state.live_reserved()]
    if not state.rel.memreserve_in_bootinfo:
        reserved += [(r.start, r.size) for r in sysm.board.memreserve]
    reserved += [(s.range.start, s.range.size) for s in state.shmem if s.live and s.range is not None]
    heap = None
    if sysm.xen.static_heap_present and state.rel.static_heap:
        heap = tuple((b.range.start, b.range.size) for b in state.live_reserved() if b.type == "static-heap")
    # The P2M root's order follows the CPUs' PA range when --pa-bits or a known CPU gives it
    # (a Cortex-A53's 40 bits: a concatenated 2-page root); unknown CPUs keep one page.
    bits, origin = sysm.ipa()
    pa = None if origin == "default" else bits
    pools, cpu_pools = _cpupools(state)
    debug = debug_replayed(state)
    return HeapBoard(
        ram=tuple((r.start, r.size) for r in state.ram),
        modules=tuple((m.range.start, m.range.size) for m in state.live_modules()),
        reserved=tuple(reserved), static_heap=heap,
        fdt_size=t.fdt_size or sysm.dtb_size or 0, unflat_size=sysm.unflat_size,
        alias_sizes=sysm.alias_sizes, smmu_irqs=sysm.smmu_irqs if _iommu_on(sysm) else (),
        release=replace(state.rel, sizes=state.rel.debug_sizes) if debug else state.rel, debug=debug,
        host_cpus=online_cpus(state, sysm.board.nr_cpus or 2),
        console_ring=console_ring(sysm.xen.cmdline, online_cpus(state, sysm.board.nr_cpus or 2), t.has("DEBUG"),
                                  state.rel.log_lower_threshold),
        scheduler=scheduler(sysm.xen.cmdline.get("sched"), t),
        **_gic(state),
        p2m_root_order=1 if pa is not None and pa <= 40 else 0, ipa_bits=sysm.ipa_bits,
        membank_size=membank_size(t),
        pools=pools, cpu_pools=cpu_pools,
        dom0_mem=parse_size(sysm.xen.cmdline.get("dom0_mem", "")) or 0)


def _iommu_on(sysm: System) -> bool:
    """Whether ``iommu_setup()`` probes the IOMMUs: the SMMU driver built (``CONFIG_ARM_SMMU``,
    in arm64's defconfig) and ``iommu=`` not turning it off (``parse_iommu_param()``)."""
    value = sysm.xen.cmdline.get("iommu")
    off = value is not None and value.split(",")[0].lower() in ("0", "no", "false", "off", "disable")
    return sysm.target.kconfig.get("ARM_SMMU", True) and not off


def _cpupools(state: BootState) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """Boot-time cpupools as ``btcpupools_allocate_pools()`` makes them (4.17+, built with
    ``CONFIG_BOOT_TIME_CPUPOOLS``): pool ids in ``/chosen`` order, CPUs left out in one more
    pool, and the pool holding CPU 0 swapped with pool 0. Empty where Xen would panic on
    the pools (a CPU twice or unknown): the boot does not get that far."""
    sysm = state.system
    t = sysm.target
    if not (sysm.boot_cpupools and state.rel.cpupool_binding and t.has("BOOT_TIME_CPUPOOLS")):
        return (), ()
    default = scheduler(sysm.xen.cmdline.get("sched"), t)
    ncpu = sysm.board.nr_cpus or 2
    cpu_map = [-1] * ncpu
    sched: dict[int, str] = {}
    for pid, pool in enumerate(sysm.boot_cpupools):
        for cpu in pool.cpus:
            if not 0 <= cpu < ncpu or cpu_map[cpu] >= 0:
                return (), ()
            cpu_map[cpu] = pid
        sched[pid] = scheduler(pool.sched, t) if pool.sched is not None else default
    count = len(sysm.boot_cpupools)
    extra = False
    swap = -1
    for cpu in range(ncpu):
        if cpu_map[cpu] < 0:
            cpu_map[cpu] = count
            extra = True
        if cpu == 0 and cpu_map[0] != 0:
            swap = cpu_map[0]
        if swap != -1:
            cpu_map[cpu] = 0 if cpu_map[cpu] == swap else swap if cpu_map[cpu] == 0 else cpu_map[cpu]
    if swap != -1:
        sched[swap], sched[0] = sched.get(0, default), sched.get(swap, default)
    count += extra
    return tuple(sched.get(i, default) for i in range(count)), tuple(cpu_map)


def _domain_scheduler(state: BootState, board: HeapBoard, dom: Domain) -> str | None:
    """The scheduler of ``dom``'s cpupool (``btcpupools_get_domain_pool_id()``: the pool
    of the first CPU its ``domain-cpupool`` lists), else of pool 0."""
    if not board.pools:
        return None
    path = state.system.phandles.get(dom.cpupool) if dom.cpupool is not None else None
    pool = next((p for p in state.system.boot_cpupools if p.path == path), None)
    if pool is not None and pool.cpus and 0 <= pool.cpus[0] < len(board.cpu_pools):
        return board.pools[board.cpu_pools[pool.cpus[0]]]
    return board.pools[0]


def membank_size(target: Target) -> int:
    """``sizeof(struct membank)``: 4.17 and 4.18 built with ``CONFIG_STATIC_SHM`` add a
    16-byte shared-memory id and a borrower count (40 bytes), else 24."""
    return 40 if target.release.membank_shm_id and target.has("STATIC_SHM") else 24


EXACT_CHUNK = 16 << 20
"""Where the replay leaves requests out (a hardware domain's device-tree walk, a debug build),
domU chunks from this size up are still placed exactly; smaller ones are not predicted."""
DOM0_DEFAULT_MEM = 512 << 20
"""What ``construct_dom0()`` gives dom0 when ``dom0_mem`` is not on the command line (HWD-001)."""


def scheduler(name: str | None, target: Target) -> str:
    """The scheduler ``scheduler_init()`` ends up with: ``sched=`` when that scheduler is
    built in (``--kconfig SCHED_NULL=y`` …), else the default, credit2."""
    if name in ("credit", "credit2", "null", "rtds", "arinc653") and target.has(f"SCHED_{name.upper()}"):
        return name
    return "credit2"


def _gic(state: BootState) -> dict[str, int]:
    """The host GIC as the replay needs it (QEMU ``virt``'s GICv3 when the tree has none)."""
    gic = state.system.board.gic
    if gic is None:
        return {}
    if gic.version == 2:
        return {"gic_version": 2, "gicv2m_frames": len(gic.v2m)}
    out = {"gic_version": 3, "gicr_regions": max(1, len(gic.redist))}
    if gic.redist:
        out["gicr_size"] = sum(r.size for r in gic.redist)
    return out


LOG_LEVELS = (("none", 0), ("error", 1), ("warning", 2), ("info", 3), ("debug", 4), ("all", 4))
"""``__parse_loglvl()``'s words, tried as prefixes in this order; anything else is 2."""


MAX_VIRT_CPUS = 128
"""``dom0_max_vcpus()``'s ceiling on arm64: an explicit ``dom0_max_vcpus`` is not capped by
the host's CPUs (8 on 3 online CPUs gives dom0 8 vCPUs, measured on 4.22.0)."""


def online_cpus(state: BootState, present: int) -> int:
    """CPUs ``smp_get_max_cpus()`` allows and ``start_xen()`` brings up: the tree's, at most
    ``maxcpus=`` where the release reads it (0 or absent: no limit). The console ring is
    sized by them too."""
    limit = state.system.xen.cmdline.get("maxcpus", "") if state.rel.maxcpus else ""
    return min(present, int(limit)) if limit.isdigit() and int(limit) else present


def console_ring(cmdline: dict[str, str], cpus: int, debug: bool = False, threshold: int = 3) -> int:
    """Bytes ``console_init_postirq()`` asks for: ``conring_size`` if given, else the CPUs
    shifted by 9 + the lower log threshold (``threshold`` in a release build, 4 in a debug
    build, ``loglvl=`` sets it)."""
    if "conring_size" in cmdline:
        size = parse_size(cmdline["conring_size"])
        if size:
            return size
    lower = 4 if debug else threshold
    if "loglvl" in cmdline:
        word = cmdline["loglvl"]
        lower = next((n for w, n in LOG_LEVELS if word.startswith(w)), 2)
    return cpus << (9 + lower)


def dom0_request(state: BootState) -> Dom0Request | None:
    """dom0 as ``create_dom0()`` sees it, when a dom0 kernel makes Xen build one."""
    if not any(m.kind == "kernel" and m.domain is None for m in state.live_modules()):
        return None
    sysm = state.system
    cmdline = sysm.xen.cmdline
    memory = parse_size(cmdline["dom0_mem"]) if "dom0_mem" in cmdline else None
    cpus = online_cpus(state, sysm.board.nr_cpus or 2)
    if cmdline.get("dom0_max_vcpus", "").isdigit():
        cpus = min(int(cmdline["dom0_max_vcpus"]), MAX_VIRT_CPUS) or cpus
    xen = sysm.target.xen_image
    gic = sysm.board.gic if sysm.board.gic is not None and sysm.board.gic.version == 2 else None
    gicc = (gic.cpu.start, gic.cpu.size) if gic is not None and gic.cpu is not None else None
    return Dom0Request(memory=memory or DOM0_DEFAULT_MEM, cpus=cpus, nr_spis=sysm.target.gic_spis,
                       gicc=gicc if sysm.target.release.vgic_v2_maps_gicc else None,
                       v2m=gic.v2m if gic is not None else (),
                       devices=sysm.dom0_devices, fdt_extra=dom0_fdt_extra(sysm),
                       ext_bank_size=membank_size(sysm.target),
                       gnttab_start=xen.start if xen is not None else 0)


def dom0_fdt_extra(sysm: System) -> int:
    """``DOM0_FDT_EXTRA_SIZE``: room for the ``/hypervisor`` node and the reserve-map
    terminator; from 4.22 also a ``/memory`` node of ``NR_MEM_BANKS`` banks and, built
    with ``CONFIG_STATIC_SHM``, 176 bytes for each of the 32 shared-memory banks."""
    rel = sysm.target.release
    if not rel.dom0_fdt_bank_room:
        return 128 + 16
    shm = 32 * 176 if sysm.target.has("STATIC_SHM") else 0
    return 128 + 16 + rel.nr_mem_banks * 16 + shm


def hypervisor_node(state: BootState, enhanced: str | None) -> bool:
    """GMAP-003: the /hypervisor node (grant window, extended regions) exists for PV-enabled domains."""
    return state.rel.enhanced_mode(enhanced) is not None


def hardware_11(state: BootState, dom: Domain) -> bool:
    """A ``xen,domain`` node that is the hardware domain (4.21+) with ``direct-map``:
    ``construct_hwdom()`` gives it 1:1 RAM from the heap, static banks or not (HWD-011)."""
    return bool((dom.capabilities or 0) & 2) and dom.direct_map and state.rel.domain_capabilities


def _dtb_module(dom: Domain) -> int:
    mod = dom.child_module("multiboot,device-tree")
    return mod.range.size if mod is not None and mod.range is not None else 0


def _passthrough(state: BootState, dom: Domain) -> tuple[tuple[tuple[tuple[int, int], ...], tuple[int, ...]], ...]:
    """The partial DTB's devices as the allocator sees them: ``xen,reg`` host ranges and
    the host node's interrupts (empty without ``--partial-dtb``)."""
    pdt = dom.partial_dtb
    if pdt is None:
        return ()
    hosts = state.system.host_nodes
    out = []
    for dev in pdt.devices:
        irqs = tuple(hosts[dev.xen_path][2]) if dev.xen_path in hosts else ()
        out.append((tuple((h, z) for h, _g, z in dev.regs), irqs))
    return tuple(out)


def _passthrough_unknown(state: BootState, dom: Domain) -> bool:
    """A live ``multiboot,device-tree`` module without its partial DTB: Xen assigns devices the
    replay does not know (``domain_handle_dtb_bootmodule()``)."""
    mod = dom.child_module("multiboot,device-tree")
    return dom.partial_dtb is None and mod is not None and mod.path in {m.path for m in state.live_modules()}


def _grant_limit(state: BootState, value: int | None, default: int) -> int:
    """``max_grant_frames`` / ``max_maptrack_frames``: read from the node from 4.18, else Xen's default."""
    return default if value is None or not state.rel.grant_frame_props else value


def heap_domain(state: BootState, dom: Domain, shm_seen: set[str] | None = None,
                board: HeapBoard | None = None) -> HeapDomain:
    """The allocator's view of one domain. ``shm_seen``: ids of heap-backed shared
    memory an earlier domain already allocated (only the first user allocates it);
    ``board``: gives the domain its cpupool's scheduler."""
    static = dom.static_mem_present and state.system.target.has("STATIC_MEMORY")
    seen = set() if shm_seen is None else shm_seen
    short: list[int] = []
    for s in dom.shm:
        if s.short_form and s.size and state.rel.shm_host_optional and s.shm_id not in seen:
            short.append(s.size)
            if s.shm_id is not None:
                seen.add(s.shm_id)
    short_shm = tuple(short)
    return HeapDomain(name=dom.name, cpus=dom.cpus or 1, memory_kib=dom.memory_kib or 0, static=static,
                      p2m_mem_mb=dom.p2m_mem_mb, nr_spis=nr_spis(state, dom),
                      enhanced=state.rel.enhanced_mode(dom.enhanced) in ("xenstore", "legacy"),
                      heap_shm_sizes=short_shm,
                      vpl011=dom.vpl011, vpl011_refused=vpl011_spi_unreserved(state.system, dom) is not None,
                      direct_map=dom.direct_map and state.rel.direct_map,
                      hypervisor_node=hypervisor_node(state, dom.enhanced),
                      hardware_11=hardware_11(state, dom),
                      dtb_module=_dtb_module(dom), passthrough=_passthrough(state, dom),
                      passthrough_unknown=_passthrough_unknown(state, dom),
                      passthrough_guest=tuple((g, z) for dev in dom.partial_dtb.devices for _h, g, z in dev.regs)
                      if dom.partial_dtb is not None else (),
                      host_ram=tuple((b.start, b.size) for b in dom.static_mem) if dom.direct_map else (),
                      max_grant_frames=_grant_limit(state, dom.max_grant_frames, 64),
                      max_maptrack_frames=_grant_limit(state, dom.max_maptrack_frames, 1024),
                      shm_windows=tuple((s.guest, s.size) for s in dom.shm if s.guest is not None and s.size
                                        and state.rel.static_shm_binding),
                      scheduler=_domain_scheduler(state, board, dom) if board is not None else None)


def replay(state: BootState) -> PlacementResult | None:
    """Run the allocator replay once, for every domain in DT order (cached on the state)."""
    if not state.replayed:
        state.replayed = True
        arm32 = state.system.target.arch == "arm32"
        coloured = None
        if state.system.llc_coloring and state.system.target.arch == "arm64":
            from xenplan.boot import llc  # the coloured heap: imported by the boards that colour

            named: set[str] = set()
            coloured = llc.coloured_replay(state, heap_board(state),
                                           [heap_domain(state, d, named) for d in state.system.domains],
                                           dom0_request(state))
        if coloured is not None:
            state.placement = coloured
            state.heap_free = coloured.free_bytes
            state.notes.extend(coloured.notes)
        elif arm32 and not state.system.llc_coloring and _replayable(state) and state.xenheap is not None:
            _arm32(state, state.xenheap)
        elif arm32 or state.system.llc_coloring:
            _budget(state)
            if state.system.llc_coloring:
                from xenplan.boot.llc import budget_note

                state.notes.append(budget_note(state))
        elif not _replayable(state):
            state.notes.append("dynamic domains' host addresses not predicted: --xen-image and --fdt-address "
                               "are needed to replay Xen's allocator")
        else:
            board = heap_board(state)
            seen: set[str] = set()
            doms = [heap_domain(state, d, seen, board) for d in state.system.domains]
            result = place_domains(board, doms, dom0_request(state))
            state.placement = result
            state.heap_free = result.free_bytes_after_discard or result.free_bytes
            state.notes.extend(result.notes)
            if state.system.target.has("DEBUG") and not debug_replayed(state) and doms:
                state.notes.append("debug build: lock debugging and other debug-only allocations change the "
                                   "small requests (not replayed), so domU chunks under 16 MiB get no host address; "
                                   "larger ones are placed as in a release build")
            unknown = [d.name for d in doms if d.passthrough_unknown]
            if unknown and any(p.small_unknown for p in result.domains):
                state.notes.append(f"{unknown[0]}: without its partial device tree (--partial-dtb) the requests of "
                                   "its devices are not replayed (a 32-byte range-set node per MMIO range, 56 bytes "
                                   "per routed interrupt, from 4.21 a 96-byte range set more): they can take a page "
                                   "more of Xen's xmalloc pool, so later domUs' chunks under 16 MiB get no host "
                                   "address")
            walking = dom0_request(state) is not None or any(d.hardware_11 for d in doms)
            if walking and any(p.small_unknown for p in result.domains):
                state.notes.append("a hardware domain walks the host device tree: its RAM and P2M tables are "
                                   "replayed, but not the heap pages the walk takes (device mappings, interrupt "
                                   "routing, its DTB), so later domUs' chunks under 16 MiB get no host address")
    return state.placement


def _replayable(state: BootState) -> bool:
    """The replay needs the RAM, the boot modules and where Xen and the DTB lie."""
    t = state.system.target
    return bool(state.ram and state.modules) and t.xen_image is not None and t.fdt_address is not None


def _arm32(state: BootState, xenheap: Range) -> None:
    """arm32: the domain heap replayed next to the xenheap ``setup_mm()`` carved; budgeted
    when a dom0less hardware domain takes its RAM 1:1 from the heap (not measured on arm32)."""
    from xenplan.boot.replay import arm32  # imported by arm32 boards only

    seen: set[str] = set()
    doms = [heap_domain(state, d, seen) for d in state.system.domains]
    if any(d.hardware_11 for d in doms):
        _budget(state)
        return
    gic = state.system.board.gic
    cpu = gic.cpu if gic is not None and gic.version == 2 else None
    result = arm32.place_domains(heap_board(state), doms, (xenheap.start, xenheap.size), dom0_request(state),
                                 (cpu.start, cpu.size) if cpu is not None else None)
    state.placement = result
    state.heap_free = result.free_bytes_after_discard or result.free_bytes
    state.notes.extend(result.notes)


def _budget(state: BootState) -> None:
    """arm32 or LLC colouring: what the domain heap holds once the xenheap is carved
    out (arm32) and dom0's RAM taken, then each domain's domain-heap pages in DT
    order (``budget_domains``)."""
    ranges = heap_ranges(state)
    free = sum(e - s for s, e in ranges)
    xh = state.xenheap
    if xh is not None:
        lo, hi = pfn_up(xh.start), pfn_down(xh.end)
        free -= sum(max(0, min(e, hi) - max(s, lo)) for s, e in ranges)
    dom0 = dom0_request(state)
    if dom0 is not None:
        free -= dom0.memory >> PAGE_SHIFT
    seen: set[str] = set()
    doms = [heap_domain(state, d, seen) for d in state.system.domains]
    result = budget_domains(max(free, 0), doms, state.rel)
    state.placement = result
    state.heap_free = result.free_bytes
    state.notes.extend(result.notes)


def boot_pages_fit(state: BootState) -> None:
    """S6b: the frame table must fit in what the boot allocator holds (HEAP-008)."""
    placement = replay(state)
    if placement is None or placement.boot_failure is None:
        return
    message = msg.bug_alloc_boot_pages(state.rel)
    state.event("HEAP-008", "CRASH", f"{placement.boot_failure}: the frame table must come from the static heap, "
                "which has no suitably aligned room for it", path="/chosen", prop="xen,static-heap",
                xen_message=message)
    state.stop("crash", "other", "HEAP-008", message)


def _placement(state: BootState, dom: Domain) -> DomainPlacement | None:
    """The replay's answer for ``dom`` (the first domain of that name, as Xen builds them)."""
    placement = replay(state)
    if placement is None:
        return None
    if state.placement_by_name is None:
        state.placement_by_name = {}
        for p in placement.domains:
            state.placement_by_name.setdefault(p.name, p)
    return state.placement_by_name.get(dom.name)


def domain_pool_failure(state: BootState, dom: Domain) -> str | None:
    """ALLOC-006: why the P2M pool (or an earlier heap request) of ``dom`` fails, or None."""
    p = _placement(state, dom)
    if p is None or p.outcome not in ("p2m-pool-exhausted", "heap-exhausted"):
        return None
    if p.outcome == "p2m-pool-exhausted":
        if p.colours_short is not None:
            return f"{p.colours_short}: Failed to allocate P2M pages."
        return f"the heap cannot supply {dom.name}'s P2M pool: Failed to allocate P2M pages."
    return f"the heap is exhausted while creating {dom.name}"


def short_of_colours(state: BootState, dom: Domain) -> bool:
    """LLC-004: the coloured heap replay stopped ``dom`` because its own colours ran out."""
    p = _placement(state, dom)
    return p is not None and p.colours_short is not None


def domain_ram(state: BootState, dom: Domain) -> RamPlacement:
    """Host chunks of a dynamic domain's RAM (ALLOC-001/002/004)."""
    mem = (dom.memory_kib or 0) * 1024
    p = _placement(state, dom)
    if p is not None and p.outcome == "out-of-memory":
        return RamPlacement(banks=[], unallocated_kib=p.unallocated_kib, colours_short=p.colours_short)
    if p is not None and p.outcome == "ok" and p.banks is not None:
        approximate = p.small_unknown or (state.system.target.has("DEBUG") and not debug_replayed(state))
        return RamPlacement(banks=[(g, None if approximate and s < EXACT_CHUNK else h, s)
                                   for g, h, s in p.banks])
    return RamPlacement(banks=[(g, None, z) for g, z in guest_layout(mem)])
