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

from typing import TYPE_CHECKING

from xenplan.boot import messages as msg
from xenplan.model.base import PAGE_SHIFT, PAGE_SIZE, Range, pfn_down
from xenplan.model.layout import GUEST_RAM0, GUEST_RAM1, guest_layout

if TYPE_CHECKING:
    from xenplan.boot.domains import Construction, _Domains

UINT_MAX = (1 << 32) - 1


def ram(d: _Domains, c: Construction) -> None:
    """The domain's RAM by kind; without CONFIG_STATIC_MEMORY static banks give none (SMEM-002)."""
    dom = c.dom
    if dom.static_mem_present and not d.s.system.target.has("STATIC_MEMORY"):
        if d.v.at_least(4, 23):
            return  # refused by the early scan (4.23-dev)
        d.s.event("SMEM-002", "PANIC-DBG", f"{dom.name} has xen,static-mem but Xen is built without "
                     "CONFIG_STATIC_MEMORY: its banks are reserved, never initialised, and the domain gets no RAM "
                     "(a debug build asserts here)", path=dom.path, prop="xen,static-mem",
                     source=dom.prop_sources.get("xen,static-mem"), ranges=dom.static_mem)
        return
    from xenplan.boot import heap

    if heap.hardware_11(d.s, dom):
        _ram_hardware_11(d, c)
    elif dom.static_mem_present:
        if dom.direct_map and d.v.at_least(4, 17):
            _ram_direct(d, c)
        else:
            _ram_static(d, c)
    else:
        _ram_dynamic(d, c)
    _ipa_ceiling(d, c)


def _ram_hardware_11(d: _Domains, c: Construction) -> None:
    """``construct_hwdom()`` for a dom0less hardware domain with ``direct-map`` (4.21+):
    ``allocate_memory_11()`` as for dom0, ``memory`` bytes 1:1 from the heap; its
    static banks, if any, are left alone (HWD-011). Not enough heap: HWD-002."""
    from xenplan.boot import heap

    dom = c.dom
    r = heap.replay(d.s)
    if r is None or r.budgeted:
        why = "the heap is only budgeted here" if r is not None else "--xen-image and --fdt-address are needed"
        d.s.notes.append(f"{dom.name}: the hardware domain's 1:1 RAM comes from the heap and is not placed: {why}")
        return
    placed = heap.domain_ram(d.s, dom)
    if placed.unallocated_kib is not None:
        text = f"Failed to allocate requested dom0 memory. {placed.unallocated_kib >> 10}MB unallocated"
        d.fail(c, "HWD-002", f"{dom.name} is the hardware domain: its {dom.memory_kib} KiB 1:1 from the heap do "
                  f"not fit, {placed.unallocated_kib >> 10} MiB could not be placed", text, prop="memory")
    banks = [(g, h, z) for g, h, z in placed.banks]
    c.guest_banks = banks
    c.xen_banks = list(banks)
    c.nr_guest_banks = len(banks)
    if banks:
        c.first_bank = Range(start=banks[0][0], size=banks[0][2])

def _ipa_ceiling(d: _Domains, c: Construction) -> None:
    """ALLOC-003 / SMEM-012: a guest address at or above 2^ipa_bits cannot be mapped."""
    bits = d.s.system.ipa_bits
    top = 1 << bits
    over = [(g, z) for g, _h, z in c.xen_banks if g + z > top]
    if not over:
        return
    dom = c.dom
    g, z = over[0]
    where = f"guest RAM [{g:#x}, {g + z:#x}) ends above the {bits}-bit guest address space ({top:#x})"
    if dom.static_mem_present:
        d.fail(c, "SMEM-012", f"{where}: Failed to map pages to DOMU", d.static_failed(c),
                  prop="xen,static-mem", ranges=[Range(start=g, size=z)])
    unallocated = sum(z for g, _h, z in c.xen_banks if g + z > top) // 1024
    d.fail(c, "ALLOC-003", where, msg.dyn_alloc_failed(unallocated), prop="memory",
              ranges=[Range(start=g, size=z)])

def _ram_dynamic(d: _Domains, c: Construction) -> None:
    """``allocate_memory()``: RAM0 then RAM1, from the heap (ALLOC-001/002/007)."""
    from xenplan.boot import heap

    dom = c.dom
    mem = (dom.memory_kib or 0) * 1024
    if (dom.memory_kib or 0) % 4:
        d.fail(c, "ALLOC-007", f"memory = {dom.memory_kib} KiB is not a whole number of 4 KiB pages: the "
                  "allocator retries a sub-page remainder about 4.3 billion times (Xen hangs)", None,
                  outcome="hang", behaviour="HANG", prop="memory")
    if mem > GUEST_RAM0.size + GUEST_RAM1.size:
        d.fail(c, "ALLOC-002", f"memory = {dom.memory_kib} KiB exceeds the guest RAM windows (1019 GiB)",
                  msg.dyn_alloc_failed(dom.memory_kib or 0), prop="memory")
    placed = heap.domain_ram(d.s, dom)
    if placed.unallocated_kib is not None:
        d.fail(c, "ALLOC-002", f"the heap cannot supply {dom.memory_kib} KiB for {dom.name}",
                  msg.dyn_alloc_failed(placed.unallocated_kib), prop="memory")
    c.guest_banks = list(placed.banks)
    layout = guest_layout(mem)
    c.xen_banks = [(g, None, z) for g, z in layout]
    c.nr_guest_banks = len(layout)
    if layout:
        c.first_bank = Range(start=layout[0][0], size=layout[0][1])

def _acquire(d: _Domains, c: Construction, bank: Range) -> None:
    """``acquire_domstatic_pages()``: all pages free + PGC_static, within ``max_pages`` (PAGE-002/003)."""
    ft = d.s.ft
    dom = c.dom
    if _refused_earlier(d, dom.path, bank):
        return  # an earlier stage refused or crashed on this bank and says so
    smfn, nr = pfn_down(bank.start), pfn_down(bank.size)
    if nr > UINT_MAX:
        d.fail(c, "SMEM-004", f"static bank {bank} has {nr} pages (more than 2^32 - 1)",
                  d.static_failed(c), prop="xen,static-mem", ranges=[bank])
    if c.tot_pages + nr > c.max_pages:
        d.fail(c, "PAGE-003", f"Over-allocation for d{c.domid}: acquiring static bank {bank} would give "
                  f"{c.tot_pages + nr} pages, above memory = {dom.memory_kib} KiB ({c.max_pages} pages)",
                  d.static_failed(c), prop="memory", ranges=[bank])
    bad = ft.first_not(smfn, smfn + nr, "static-free", True, None)
    if bad is not None:
        ext = next(ft.extents(bad, bad + 1))
        why = ("was never initialised as static (its start is not page aligned)" if bank.start % PAGE_SIZE
               and bad == smfn else f"is {ext.state}" + (f" (owned by {ext.owner})" if ext.owner else ""))
        d.fail(c, "PAGE-002", f"page {bad << PAGE_SHIFT:#x} of static bank {bank} {why}: "
                  f"pg Static MFN {bad:#x}, d{c.domid}: failed to acquire static memory",
                  d.static_failed(c), prop="xen,static-mem", ranges=[bank])
    ft.set(smfn, smfn + nr, "inuse", static=True, owner=dom.path)
    c.tot_pages += nr

REFUSALS = ("RSV-010", "RSV-003", "RSV-011", "RSV-012", "DT-004", "PAGE-005", "PAGE-006")


def _refused_earlier(d: _Domains, path: str, bank: Range) -> bool:
    """A bank whose refusal or crash already stopped Xen: the what-if analysis leaves it alone.

    A truncated scan (TRUNC, up to 4.18) does not stop Xen: what follows from it is real.
    """
    return any(ev.rule in REFUSALS and ev.behaviour in ("PANIC", "CRASH") and ev.path == path
               and any(r.overlaps(bank) for r in ev.ranges) for ev in d.s.events)


def _ram_static(d: _Domains, c: Construction) -> None:
    """``allocate_static_memory()``: host banks laid end to end from GUEST_RAM0 (SMEM-010…015)."""
    dom = c.dom
    windows = [GUEST_RAM0, GUEST_RAM1]
    gi, goff = 0, 0
    for bank in dom.static_mem:
        _acquire(d, c, bank)
        host, left = bank.start, bank.size
        while left:
            if gi < len(windows) and goff >= windows[gi].size:
                gi, goff = gi + 1, 0
            if gi >= len(windows):
                d.fail(c, "SMEM-011", "Exhausted all possible guest banks.", d.static_failed(c),
                          prop="xen,static-mem", ranges=[bank])
            take = min(windows[gi].size - goff, left)
            c.xen_banks.append((windows[gi].start + goff, host, take))
            goff += take
            host += take
            left -= take
            if left:
                gi, goff = gi + 1, 0
    tot_size = _static_total(d, dom.static_mem)
    mem = (dom.memory_kib or 0) * 1024
    if tot_size != mem and not any(_refused_earlier(d, dom.path, b) for b in dom.static_mem):
        if tot_size == sum(b.size for b in dom.static_mem):
            why = (f"memory = {dom.memory_kib} KiB but the static banks sum to {tot_size // 1024} KiB: "
                   "Size of \"memory\" property doesn't match up with the sum-up of \"xen,static-mem\"")
            rule = "SMEM-013"
        else:
            why = (f"a static bank is split across the 3 GiB guest boundary and Xen {d.v} counts only its "
                   "upper part, so the total no longer matches memory")
            rule = "SMEM-015"
        d.fail(c, rule, why, d.static_failed(c), prop="memory")
    c.guest_banks = [(g, h, s) for g, h, s in c.xen_banks]
    used = [sum(z for g, _h, z in c.xen_banks if w.start <= g < w.end) for w in windows]
    c.nr_guest_banks = sum(1 for u in used if u)
    if used[0]:
        c.first_bank = Range(start=GUEST_RAM0.start, size=used[0])

def _static_total(d: _Domains, banks: tuple[Range, ...]) -> int:
    """The running total ``allocate_static_memory()`` compares with ``memory`` (SMEM-015 up to 4.21)."""
    total = 0
    used0 = 0
    for b in banks:
        if used0 < GUEST_RAM0.size and used0 + b.size > GUEST_RAM0.size and not d.v.at_least(4, 22):
            total += used0 + b.size - GUEST_RAM0.size
            used0 = GUEST_RAM0.size
            continue
        used0 = min(GUEST_RAM0.size, used0 + b.size) if used0 < GUEST_RAM0.size else used0
        total += b.size
    return total

def _ram_direct(d: _Domains, c: Construction) -> None:
    """``assign_static_memory_11()``: guest == host, property order (DMAP-002/004)."""
    dom = c.dom
    for bank in dom.static_mem:
        _acquire(d, c, bank)
        c.xen_banks.append((bank.start, bank.start, bank.size))
    mem = (dom.memory_kib or 0) * 1024
    total = sum(b.size for b in dom.static_mem)
    if total != mem and not any(_refused_earlier(d, dom.path, b) for b in dom.static_mem):
        d.fail(c, "DMAP-004", f"memory = {dom.memory_kib} KiB but the static banks sum to {total // 1024} "
                  "KiB", d.static_failed(c), prop="memory")
    c.guest_banks = list(c.xen_banks)
    c.nr_guest_banks = len(c.xen_banks)
    if c.xen_banks:
        c.first_bank = Range(start=c.xen_banks[0][0], size=c.xen_banks[0][2])
