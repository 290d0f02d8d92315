"""Guest RAM of one domain (S9): dynamic, static, or 1:1.

Mirrors ``allocate_memory()`` (dynamic, from the heap replay: ALLOC-001…007),
``allocate_static_memory()`` (static banks laid end to end from
GUEST_RAM0: SMEM-010…015) and ``assign_static_memory_11()`` (1:1, property
order: DMAP-002/004), each bank taken through ``acquire_domstatic_pages()``'s
checks (PAGE-002/003, SMEM-004) on the frame table; and the IPA ceiling
(ALLOC-003, SMEM-012). Files: ``xen/common/device-tree/domain-build.c``,
``static-memory.c`` (4.22; ``xen/arch/arm/domain_build.c`` before).
"""

from __future__ import annotations

from xenplan.boot import messages as msg
from xenplan.boot import replay_bridge
from xenplan.boot.build_context import DomainBuild
from xenplan.boot.construction import Construction
from xenplan.boot.result import Event
from xenplan.model.base import PAGE_SHIFT, PAGE_SIZE, Range, pfn_down
from xenplan.model.layout import GUEST_RAM0, GUEST_RAM1, guest_layout

UINT_MAX = (1 << 32) - 1


def ram(build: DomainBuild, construction: Construction) -> None:
    """The domain's RAM by kind; without CONFIG_STATIC_MEMORY static banks give none (SMEM-002)."""
    dom = construction.dom
    if dom.static_mem_present and not build.state.system.target.has("STATIC_MEMORY"):
        if build.rel.static_mem_kconfig_in_scan:
            return  # refused by the early scan (4.23-dev)
        build.state.event("SMEM-002", "PANIC-DBG", f"{dom.name} has xen,static-mem but Xen is built without "
                          "CONFIG_STATIC_MEMORY: its banks are reserved, never initialised, and the domain gets no RAM "
                          "(a debug build asserts here)", path=dom.path, prop="xen,static-mem",
                          source=dom.prop_sources.get("xen,static-mem"), ranges=dom.static_mem)
        return
    if replay_bridge.hardware_11(build.state, dom):
        _ram_hardware_11(build, construction)
    elif dom.static_mem_present:
        if dom.direct_map and build.rel.direct_map:
            _ram_direct(build, construction)
        else:
            _ram_static(build, construction)
    else:
        _ram_dynamic(build, construction)
    _ipa_ceiling(build, construction)


def _ram_hardware_11(build: DomainBuild, construction: Construction) -> None:
    """``construct_hwdom()`` for a dom0less hardware domain with ``direct-map`` (4.21+):
    ``allocate_memory_11()`` as for dom0, ``memory`` bytes 1:1 from the heap; its
    static banks, if any, are left alone (HWD-011). Not enough heap: HWD-002."""
    dom = construction.dom
    placement = replay_bridge.replay(build.state)
    if placement is None or placement.budgeted:
        why = ("the heap is only budgeted here" if placement is not None
               else "--xen-image and --fdt-address are needed")
        build.state.notes.append(f"{dom.name}: the hardware domain's 1:1 RAM comes from the heap and is not "
                                 f"placed: {why}")
        return
    placed = replay_bridge.domain_ram(build.state, dom)
    if placed.unallocated_kib is not None:
        text = f"Failed to allocate requested dom0 memory. {placed.unallocated_kib >> 10}MB unallocated"
        build.fail(construction,
                   "HWD-002", f"{dom.name} is the hardware domain: its {dom.memory_kib} KiB 1:1 from the heap do "
                   f"not fit, {placed.unallocated_kib >> 10} MiB could not be placed", text, prop="memory")
    banks = [(g, h, z) for g, h, z in placed.banks]
    construction.guest_banks = banks
    construction.xen_banks = list(banks)
    construction.nr_guest_banks = len(banks)
    if banks:
        construction.first_bank = Range(start=banks[0][0], size=banks[0][2])

def _ipa_ceiling(build: DomainBuild, construction: Construction) -> None:
    """ALLOC-003 / SMEM-012: a guest address at or above 2^ipa_bits cannot be mapped."""
    bits = build.state.system.ipa_bits
    top = 1 << bits
    over = [(g, z) for g, _h, z in construction.xen_banks if g + z > top]
    if not over:
        return
    dom = construction.dom
    g, z = over[0]
    where = f"guest RAM [{g:#x}, {g + z:#x}) ends above the {bits}-bit guest address space ({top:#x})"
    if dom.static_mem_present:
        build.fail(construction, "SMEM-012", f"{where}: Failed to map pages to DOMU", build.static_failed(construction),
                   prop="xen,static-mem", ranges=[Range(start=g, size=z)])
    unallocated = sum(z for g, _h, z in construction.xen_banks if g + z > top) // 1024
    build.fail(construction, "ALLOC-003", where, msg.dyn_alloc_failed(unallocated), prop="memory",
               ranges=[Range(start=g, size=z)])

def _ram_dynamic(build: DomainBuild, construction: Construction) -> None:
    """``allocate_memory()``: RAM0 then RAM1, from the heap (ALLOC-001/002/007)."""
    dom = construction.dom
    mem = (dom.memory_kib or 0) * 1024
    if (dom.memory_kib or 0) % 4:
        build.fail(construction,
                   "ALLOC-007", f"memory = {dom.memory_kib} KiB is not a whole number of 4 KiB pages: the "
                   "allocator retries a sub-page remainder about 4.3 billion times (Xen hangs)", None,
                   outcome="hang", behaviour="HANG", prop="memory")
    if mem > GUEST_RAM0.size + GUEST_RAM1.size:
        build.fail(construction, "ALLOC-002", f"memory = {dom.memory_kib} KiB exceeds the guest RAM windows (1019 GiB)",
                   msg.dyn_alloc_failed(dom.memory_kib or 0), prop="memory")
    placed = replay_bridge.domain_ram(build.state, dom)
    if placed.unallocated_kib is not None and placed.colours_short is not None:
        build.fail(construction, "LLC-004", placed.colours_short, msg.dyn_alloc_failed(placed.unallocated_kib),
                   prop="llc-colors" if dom.llc_colors is not None else "memory")
    if placed.unallocated_kib is not None:
        build.fail(construction, "ALLOC-002", f"the heap cannot supply {dom.memory_kib} KiB for {dom.name}",
                   msg.dyn_alloc_failed(placed.unallocated_kib), prop="memory")
    construction.guest_banks = list(placed.banks)
    layout = guest_layout(mem)
    construction.xen_banks = [(g, None, z) for g, z in layout]
    construction.nr_guest_banks = len(layout)
    if layout:
        construction.first_bank = Range(start=layout[0][0], size=layout[0][1])

def _acquire(build: DomainBuild, construction: Construction, bank: Range) -> None:
    """``acquire_domstatic_pages()``: all pages free + PGC_static, within ``max_pages`` (PAGE-002/003)."""
    ft = build.state.ft
    dom = construction.dom
    if _refused_earlier(build, dom.path, bank):
        return  # an earlier stage refused or crashed on this bank and says so
    smfn, nr = pfn_down(bank.start), pfn_down(bank.size)
    if nr > UINT_MAX:
        build.fail(construction, "SMEM-004", f"static bank {bank} has {nr} pages (more than 2^32 - 1)",
                   build.static_failed(construction), prop="xen,static-mem", ranges=[bank])
    if construction.tot_pages + nr > construction.max_pages:
        build.fail(construction,
                   "PAGE-003", f"Over-allocation for d{construction.domid}: acquiring static bank {bank} would "
                   f"give {construction.tot_pages + nr} pages, above memory = {dom.memory_kib} KiB "
                   f"({construction.max_pages} pages)",
                   build.static_failed(construction), prop="memory", ranges=[bank])
    bad = ft.first_not(smfn, smfn + nr, "static-free", True, None)
    if bad is not None:
        ext = next(ft.extents(bad, bad + 1))
        why = ("was never initialised as static (its start is not page aligned)" if bank.start % PAGE_SIZE
               and bad == smfn else f"is {ext.state}" + (f" (owned by {ext.owner})" if ext.owner else ""))
        build.fail(construction, "PAGE-002", f"page {bad << PAGE_SHIFT:#x} of static bank {bank} {why}: "
                   f"pg Static MFN {bad:#x}, d{construction.domid}: failed to acquire static memory",
                   build.static_failed(construction), prop="xen,static-mem", ranges=[bank])
    ft.set(smfn, smfn + nr, "inuse", static=True, owner=dom.path)
    construction.tot_pages += nr

REFUSALS = ("RSV-010", "RSV-003", "RSV-011", "RSV-012", "DT-004", "PAGE-005", "PAGE-006")


def _refusal(ev: Event) -> bool:
    return ev.rule in REFUSALS and ev.behaviour in ("PANIC", "CRASH")


def _refused_earlier(build: DomainBuild, path: str, bank: Range) -> bool:
    """A bank whose refusal or crash already stopped Xen: the what-if analysis leaves it alone.

    A truncated scan (TRUNC, up to 4.18) does not stop Xen: what follows from it is real.
    """
    return any(any(r.overlaps(bank) for r in ev.ranges) for ev in build.state.events_at(path, "refusals", _refusal))


def _ram_static(build: DomainBuild, construction: Construction) -> None:
    """``allocate_static_memory()``: host banks laid end to end from GUEST_RAM0 (SMEM-010…015)."""
    dom = construction.dom
    windows = [GUEST_RAM0, GUEST_RAM1]
    gi, goff = 0, 0
    for bank in dom.static_mem:
        _acquire(build, construction, bank)
        host, left = bank.start, bank.size
        while left:
            if gi < len(windows) and goff >= windows[gi].size:
                gi, goff = gi + 1, 0
            if gi >= len(windows):
                build.fail(construction,
                           "SMEM-011", "Exhausted all possible guest banks.", build.static_failed(construction),
                           prop="xen,static-mem", ranges=[bank])
            take = min(windows[gi].size - goff, left)
            construction.xen_banks.append((windows[gi].start + goff, host, take))
            goff += take
            host += take
            left -= take
            if left:
                gi, goff = gi + 1, 0
    tot_size = _static_total(build, dom.static_mem)
    mem = (dom.memory_kib or 0) * 1024
    if tot_size != mem and not any(_refused_earlier(build, dom.path, b) for b in dom.static_mem):
        if tot_size == sum(b.size for b in dom.static_mem):
            why = (f"memory = {dom.memory_kib} KiB but the static banks sum to {tot_size // 1024} KiB: "
                   "Size of \"memory\" property doesn't match up with the sum-up of \"xen,static-mem\"")
            rule = "SMEM-013"
        else:
            why = (f"a static bank is split across the 3 GiB guest boundary and Xen {build.v} counts only its "
                   "upper part, so the total no longer matches memory")
            rule = "SMEM-015"
        build.fail(construction, rule, why, build.static_failed(construction), prop="memory")
    construction.guest_banks = [(g, h, s) for g, h, s in construction.xen_banks]
    used = [sum(z for g, _h, z in construction.xen_banks if w.start <= g < w.end) for w in windows]
    construction.nr_guest_banks = sum(1 for u in used if u)
    if used[0]:
        construction.first_bank = Range(start=GUEST_RAM0.start, size=used[0])

def _static_total(build: DomainBuild, banks: tuple[Range, ...]) -> int:
    """The running total ``allocate_static_memory()`` compares with ``memory`` (SMEM-015 up to 4.21)."""
    total = 0
    used0 = 0
    for b in banks:
        if used0 < GUEST_RAM0.size and used0 + b.size > GUEST_RAM0.size and build.rel.static_total_ram0_bug:
            total += used0 + b.size - GUEST_RAM0.size
            used0 = GUEST_RAM0.size
            continue
        used0 = min(GUEST_RAM0.size, used0 + b.size) if used0 < GUEST_RAM0.size else used0
        total += b.size
    return total

def _ram_direct(build: DomainBuild, construction: Construction) -> None:
    """``assign_static_memory_11()``: guest == host, property order (DMAP-002/004)."""
    dom = construction.dom
    for bank in dom.static_mem:
        _acquire(build, construction, bank)
        construction.xen_banks.append((bank.start, bank.start, bank.size))
    mem = (dom.memory_kib or 0) * 1024
    total = sum(b.size for b in dom.static_mem)
    if total != mem and not any(_refused_earlier(build, dom.path, b) for b in dom.static_mem):
        build.fail(construction,
                   "DMAP-004", f"memory = {dom.memory_kib} KiB but the static banks sum to {total // 1024} "
                   "KiB", build.static_failed(construction), prop="memory")
    construction.guest_banks = list(construction.xen_banks)
    construction.nr_guest_banks = len(construction.xen_banks)
    if construction.xen_banks:
        construction.first_bank = Range(start=construction.xen_banks[0][0], size=construction.xen_banks[0][2])
