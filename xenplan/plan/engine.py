"""Where everything goes: static banks, shared memory, modules and the static heap, on a board's free RAM.

The engine works on host addresses only and in this order, most constrained
first, so that a later choice never takes room an earlier, narrower one
needed:

1. what the spec fixes (banks, shared-memory hosts) is kept as given;
2. 1:1 domains below 4 GiB, then the other 1:1 domains and the shared
   memory a 1:1 domain takes part in (guest == host, so this RAM also
   avoids Xen's fixed guest windows: ``xenplan.model.layout``);
3. static domains below 4 GiB, then the other static domains and the other
   shared-memory regions;
4. the boot modules, in 2 MiB steps as ImageBuilder loads them;
5. the static heap.

Each request prefers one bank aligned to 1 GiB (when at least that big),
then to 2 MiB, then to 4 KiB (or the alignment the spec asks), taken from
the top of its window and above 4 GiB where the window reaches there, so
the low memory and the largest contiguous run stay with Xen's heap; only
when no run holds it whole is it split over the largest runs, within the
release's bank limit, spilling below 4 GiB only what does not fit above.
Every step is a bisection over the sorted free ranges (``FreeSpace``) and a
walk of the runs it needs: linear or n log n in domains and banks.

When a step finds no room, ``infeasibility()`` looks for a proof that no
placement exists (a window or a union of windows holds less than what must
go there, or a bank limit), so that "does not fit" is only said with one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from xenplan.boot.early_scan import MAX_MODULES, NR_SHMEM_BANKS
from xenplan.model.layout import GUEST_GNTTAB, GUEST_MAGIC, GUEST_PL011, GUEST_RAM0, GUEST_RAM1, RESERVED_UNUSED
from xenplan.model.release import XenRelease
from xenplan.plan.space import FreeSpace
from xenplan.plan.spec import DomainSpec, Payload, SharedMemorySpec, Spec

MIB = 1 << 20
GIB = 1 << 30
PAGE = 4096
LOW_TOP = 4 * GIB
MODULE_STEP = 2 * MIB
"""ImageBuilder loads each file at the next 2 MiB boundary after the previous one."""


def _up(value: int, align: int) -> int:
    return -(-value // align) * align


def mib(n: int) -> str:
    """A size exactly, in the largest unit that divides it: ``384 MiB``, ``3 GiB``, ``12 KiB``."""
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n and n % (1 << shift) == 0:
            return f"{n >> shift} {unit}"
    return f"{n} bytes"


@dataclass(frozen=True, slots=True)
class Module:
    owner: str
    kind: str
    payload: Payload

    @property
    def slot(self) -> int:
        """Bytes from this module's start to the next one's: its footprint rounded up to 2 MiB."""
        return _up(self.payload.footprint, MODULE_STEP)


@dataclass(slots=True)
class HostBank:
    host: int
    size: int
    why: str


@dataclass(slots=True)
class PlacedModule:
    kind: str
    start: int
    size: int
    path: str | None = None
    owner: str = ""


@dataclass(slots=True)
class PlacedDomain:
    spec: DomainSpec
    vpl011: bool = True
    banks: list[HostBank] = field(default_factory=list)
    modules: list[PlacedModule] = field(default_factory=list)


@dataclass(slots=True)
class PlacedShm:
    id: str
    size: int
    host: int
    owner: str
    borrowers: tuple[str, ...]
    guest: dict[str, int]
    why: str


@dataclass(slots=True)
class Layout:
    """The engine's answer: placed items, or why not (``proof`` when it is proven impossible)."""

    domains: list[PlacedDomain]
    dom0_modules: list[PlacedModule] = field(default_factory=list)
    shm: list[PlacedShm] = field(default_factory=list)
    static_heap: list[tuple[int, int]] = field(default_factory=list)
    heap_why: str = ""
    failure: str | None = None
    proof: str | None = None
    tried: list[str] = field(default_factory=list)
    heap_room: int = 0
    """Bytes in 2 MiB-aligned free runs once everything but the static heap is placed."""


@dataclass(frozen=True, slots=True)
class BoardFacts:
    """What the engine needs of the board and the target: RAM, what is already taken, the release."""

    ram: tuple[tuple[int, int], ...]
    taken: tuple[tuple[int, int, str], ...]
    release: XenRelease
    fdt_address: int | None
    uart_size: int | None = None
    """The host UART's region: a 1:1 domain's vPL011 sits on it and needs a whole page (DMAP-006)."""

    def vpl011(self, d: DomainSpec) -> bool:
        """Whether the domain gets a vPL011: as the spec says, else on unless 1:1 over a sub-page UART."""
        if d.vpl011 is not None:
            return d.vpl011
        return not (d.direct_map and self.uart_size is not None and self.uart_size < PAGE)


@dataclass(slots=True)
class _Spaces:
    """The free host space twice: all of it, and the part a 1:1 domain may use (guest windows cut)."""

    all: FreeSpace
    direct: FreeSpace

    def remove(self, start: int, end: int) -> None:
        self.all.remove(start, end)
        self.direct.remove(start, end)

    def of(self, direct: bool) -> FreeSpace:
        return self.direct if direct else self.all


def direct_map_holes(release: XenRelease) -> list[tuple[int, int, str]]:
    """Guest windows a 1:1 domain's RAM must not cover (``public/arch-arm.h``): its guest map is its host map."""
    out = [(GUEST_GNTTAB.start, GUEST_GNTTAB.end, "the grant-table window"),
           (GUEST_MAGIC.start, GUEST_MAGIC.end, "the magic pages"),
           (GUEST_PL011.start, GUEST_PL011.end, "the vPL011 window")]
    out += [(r.start, r.end, f"the {name} window") for name, r in RESERVED_UNUSED
            if name in release.guest_reserved_windows]
    return out


def initial_space(facts: BoardFacts) -> _Spaces:
    everything = FreeSpace.of(facts.ram)
    for start, end, _ in facts.taken:
        everything.remove(start, end)
    direct = everything.copy()
    for start, end, _ in direct_map_holes(facts.release):
        direct.remove(start, end)
    return _Spaces(everything, direct)


def _aligns(size: int, given: int | None) -> list[int]:
    if given is not None:
        return [given]
    out = [a for a in (GIB, 2 * MIB) if size >= a]
    return [*out, PAGE]


class _NoRoom(Exception):
    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


def _take_banks(space: FreeSpace, others: Sequence[FreeSpace], size: int, align: int | None, hi: int,
                limit: int, what: str, lo: int = 0, prefer: Literal["high", "low"] = "high") -> list[tuple[int, int]]:
    """``size`` bytes inside ``[lo, hi)``: one aligned run (highest first), else the largest runs, at most
    ``limit`` of them; marked used in ``space`` and ``others``."""
    for a in _aligns(size, align):
        start = space.find(size, a, lo=lo, hi=hi, prefer=prefer)
        if start is not None:
            for s in (space, *others):
                s.remove(start, start + size)
            return [(start, size)]
    step = align or PAGE
    runs: list[tuple[int, int]] = []
    left = size
    trial = space.copy()
    while left > 0 and len(runs) < limit:
        best = trial.largest(step, lo=lo, hi=hi)
        if best is None:
            break
        start, run = best
        take = min(run, left)
        start = start + run - take if prefer == "high" else start
        trial.remove(start, start + take)
        runs.append((start, take))
        left -= take
    if left > 0:
        raise _NoRoom(what)
    for start, take in runs:
        for s in (space, *others):
            s.remove(start, start + take)
    return sorted(runs)


def _take_high_first(space: FreeSpace, others: Sequence[FreeSpace], size: int, align: int | None, hi: int,
                     limit: int, what: str, prefer: Literal["high", "low"] = "high") -> list[tuple[int, int]]:
    """Above 4 GiB when the window reaches there and it holds the request, else anywhere in the window:
    low memory goes only where it is asked for (or where nothing else is left). ``prefer="low"`` is the
    second strategy: every request from the bottom of its window, leaving the top of RAM to Xen."""
    if prefer == "low":
        return _take_banks(space, others, size, align, hi, limit, what, prefer="low")
    if hi <= LOW_TOP:
        return _take_banks(space, others, size, align, hi, limit, what)
    above = space.total(lo=LOW_TOP)
    if above >= size:
        try:
            return _take_banks(space, others, size, align, hi, limit, what, lo=LOW_TOP)
        except _NoRoom:
            pass
    if 0 < above < size and limit > 1:
        trial, trial_others = space.copy(), [o.copy() for o in others]
        try:
            step = align or PAGE
            usable = sum(e - s for s, e in _aligned_runs(trial, step, LOW_TOP, hi))
            high = _take_banks(trial, trial_others, usable, step, hi, limit - 1, what, lo=LOW_TOP) if usable else []
            low = _take_banks(trial, trial_others, size - usable, align, LOW_TOP, limit - len(high), what)
        except _NoRoom:
            pass
        else:
            space.starts, space.ends = trial.starts, trial.ends
            for o, t in zip(others, trial_others, strict=True):
                o.starts, o.ends = t.starts, t.ends
            return sorted([*high, *low])
    return _take_banks(space, others, size, align, hi, limit, what)


def _aligned_runs(space: FreeSpace, step: int, lo: int, hi: int) -> list[tuple[int, int]]:
    out = []
    for free_start, free_end in space:
        s, e = _up(max(free_start, lo), step), min(free_end, hi) // step * step
        if e > s:
            out.append((s, e))
    return out


def place(spec: Spec, facts: BoardFacts, modules: Sequence[Module],
          heap_size: int | None, prefer: Literal["high", "low"] = "high") -> Layout:
    """Place ``spec`` on the board; ``modules`` in load order.

    ``heap_size`` is the static heap to set aside (None: no static heap). A
    request that finds no room stops the placement and sets ``failure``;
    ``proof`` is filled by ``infeasibility()`` when a proof exists."""
    spaces = initial_space(facts)
    rel = facts.release
    limit = rel.nr_mem_banks
    placed = {d.name: PlacedDomain(d, facts.vpl011(d)) for d in spec.domain}
    layout = Layout(domains=_build_order(spec, rel, list(placed.values())))
    direct_names = {d.name for d in spec.domain if d.direct_map}
    try:
        for d in spec.domain:
            for start, size in d.banks:
                if not spaces.of(d.direct_map).contains(start, start + size):
                    raise _NoRoom(f"{d.name}: the fixed bank {start:#x}-{start + size - 1:#x} is not free "
                                  f"{'1:1 ' if d.direct_map else ''}RAM")
                spaces.remove(start, start + size)
                placed[d.name].banks.append(HostBank(start, size, "fixed by the spec"))
        for s in spec.shared_memory:
            if s.host is not None:
                direct = bool(direct_names & {s.owner, *s.borrowers})
                if not spaces.of(direct).contains(s.host, s.host + s.size):
                    raise _NoRoom(f"shared memory {s.id}: the fixed host range {s.host:#x}-"
                                  f"{s.host + s.size - 1:#x} is not free RAM")
                spaces.remove(s.host, s.host + s.size)
        shm_direct = {s.id: bool(direct_names & {s.owner, *s.borrowers}) for s in spec.shared_memory}
        requests: list[tuple[int, int, DomainSpec | None, SharedMemorySpec | None]] = []
        for i, d in enumerate(spec.domain):
            if d.is_static and not d.banks:
                requests.append((_window_class(d.direct_map, d.near == "low"), i, d, None))
        for i, sm in enumerate(spec.shared_memory):
            if sm.host is None:
                requests.append((_window_class(shm_direct[sm.id], False), len(spec.domain) + i, None, sm))
        shm_host: dict[str, tuple[int, str]] = {sm.id: (sm.host, "fixed by the spec")
                                                for sm in spec.shared_memory if sm.host is not None}
        for _, _, rd, rs in sorted(requests, key=lambda r: (r[0], r[1])):
            if rd is not None:
                hi = LOW_TOP if rd.near == "low" else 1 << 64
                space = spaces.of(rd.direct_map)
                other = spaces.all if rd.direct_map else spaces.direct
                where = f"{'1:1 ' if rd.direct_map else ''}RAM{' below 4 GiB' if rd.near == 'low' else ''}"
                runs = _take_high_first(space, [other], rd.memory, rd.align, hi, limit, rd.name, prefer)
                why = (f"{where}, " + ("one bank" if len(runs) == 1 else f"{len(runs)} banks (no run holds "
                                       f"{mib(rd.memory)})") + f", aligned to {mib(_best_align(runs))}")
                placed[rd.name].banks = [HostBank(st, n, why) for st, n in runs]
            elif rs is not None:
                direct = shm_direct[rs.id]
                space = spaces.of(direct)
                got = _take_high_first(space, [spaces.all if direct else spaces.direct], rs.size, None,
                                       1 << 64, 1, f"shared memory {rs.id}", prefer)
                shm_host[rs.id] = (got[0][0], f"{'1:1 ' if direct else ''}RAM, aligned to {mib(_best_align(got))}")
        for sm in spec.shared_memory:
            host, why = shm_host[sm.id]
            layout.shm.append(PlacedShm(sm.id, sm.size, host, sm.owner, sm.borrowers, {}, why))
        _guest_shm(spec, layout)
        _modules(spaces, modules, layout, placed)
        layout.heap_room = sum(e - s for s, e in _aligned_runs(spaces.all, 2 * MIB, 0, 1 << 64))
        if heap_size is not None:
            runs = _take_banks(spaces.all, [spaces.direct], heap_size, 2 * MIB, 1 << 64, limit, "the static heap")
            layout.static_heap = runs
    except _NoRoom as exc:
        layout.failure = exc.what
        layout.tried.append("1:1 domains first (below 4 GiB, then anywhere), then static domains, shared "
                            "memory, modules and the static heap; each one aligned run from the top of its "
                            f"window, else split over the largest runs (at most {limit} banks)")
    return layout


def _build_order(spec: Spec, rel: XenRelease, domains: list[PlacedDomain]) -> list[PlacedDomain]:
    """The domains in spec order, except on a release whose shared-memory scan (4.18) records a region
    named twice only as the first entry of its reserved-memory list: there a member without static
    memory that names the first region moves to the front, so the region is recorded before any bank."""
    if rel.shm_scan != "4.18" or not spec.shared_memory:
        return domains
    region = spec.shared_memory[0]
    members = {region.owner, *region.borrowers}
    first = next((p for p in domains if p.spec.name in members and not p.spec.is_static), None)
    if first is None:
        return domains
    return [first, *(p for p in domains if p is not first)]


def _window_class(direct: bool, low: bool) -> int:
    """The order requests are placed in, narrowest window first: 1:1 below 4 GiB, 1:1, below 4 GiB, any."""
    return 0 if direct and low else 1 if direct else 2 if low else 3


def _best_align(runs: Iterable[tuple[int, int]]) -> int:
    low = min(start & -start if start else 1 << 63 for start, _ in runs)
    return min(low, GIB) if low >= 2 * MIB else PAGE if low >= PAGE else low


def guest_ram(d: DomainSpec, host_banks: Sequence[HostBank]) -> list[tuple[int, int]]:
    """The guest RAM banks Xen gives the domain: its host banks for 1:1, else RAM0 then RAM1 filled in order."""
    if d.direct_map:
        return [(b.host, b.size) for b in host_banks]
    out = []
    b0 = min(d.memory, GUEST_RAM0.size)
    out.append((GUEST_RAM0.start, b0))
    if d.memory > b0:
        out.append((GUEST_RAM1.start, d.memory - b0))
    return out


def _guest_shm(spec: Spec, layout: Layout) -> None:
    """Guest addresses of each region per member: the host address for a 1:1 member; for the others the
    first 2 MiB boundary after the domain's RAM in guest RAM0 (after RAM1's part when RAM0 is full),
    regions stacked in spec order."""
    by_name = {p.spec.name: p for p in layout.domains}
    cursor: dict[str, int] = {}
    for r in layout.shm:
        for who in (r.owner, *r.borrowers):
            p = by_name.get(who)
            if p is not None and p.spec.direct_map:
                r.guest[who] = r.host
                continue
            if who not in cursor:
                memory = p.spec.memory if p is not None else 0
                ram0 = min(memory, GUEST_RAM0.size)
                if GUEST_RAM0.start + ram0 + 2 * MIB <= GUEST_RAM0.end - MIB:
                    cursor[who] = _up(GUEST_RAM0.start + ram0, 2 * MIB)
                else:
                    cursor[who] = _up(GUEST_RAM1.start + max(0, memory - GUEST_RAM0.size), 2 * MIB)
            start = _up(cursor[who], 2 * MIB if r.size >= 2 * MIB else PAGE)
            if start < GUEST_RAM0.end < start + r.size:
                start = _up(GUEST_RAM1.start + max(0, (p.spec.memory if p else 0) - GUEST_RAM0.size), 2 * MIB)
            r.guest[who] = start
            cursor[who] = start + r.size


def _modules(spaces: _Spaces, modules: Sequence[Module], layout: Layout,
             placed: dict[str, PlacedDomain]) -> None:
    """One window holding every module at 2 MiB steps, the lowest that fits (ImageBuilder's order)."""
    if not modules:
        return
    total = sum(m.slot for m in modules)
    start = spaces.all.find(total, MODULE_STEP, prefer="low")
    if start is None:
        raise _NoRoom(f"the boot modules ({mib(total)} in 2 MiB steps)")
    spaces.remove(start, start + total)
    at = start
    for mod in modules:
        m = PlacedModule(mod.kind, at, mod.payload.size, mod.payload.path, mod.owner)
        if mod.owner == "dom0":
            layout.dom0_modules.append(m)
        else:
            placed[mod.owner].modules.append(m)
        at += mod.slot


def module_list(spec: Spec) -> list[Module]:
    """Every module in the order ImageBuilder loads them: dom0's, then each domain's kernel, ramdisk, DTB."""
    out: list[Module] = []
    if spec.dom0 is not None:
        out.append(Module("dom0", "kernel", spec.dom0.kernel))
        if spec.dom0.ramdisk is not None:
            out.append(Module("dom0", "ramdisk", spec.dom0.ramdisk))
    for d in spec.domain:
        out.append(Module(d.name, "kernel", d.kernel))
        if d.ramdisk is not None:
            out.append(Module(d.name, "ramdisk", d.ramdisk))
        if d.dtb is not None:
            out.append(Module(d.name, "dtb", d.dtb))
    return out


def table_limits(spec: Spec, facts: BoardFacts, heap: bool) -> str | None:
    """A proof from the sizes of the tables Xen's early scan fills (``bootinfo``), or None.

    Boot modules: ``MAX_MODULES`` entries, Xen's image and the DTB among them.
    Reserved memory (``NR_MEM_BANKS``): at least one bank per static domain, the
    static heap, the board's ``/reserved-memory`` (and from 4.19 ``/memreserve/``)
    regions, and before 4.19 every shared-memory region; from 4.19 those have their
    own ``NR_SHMEM_BANKS`` table."""
    rel = facts.release
    mods = len(module_list(spec))
    if mods + 2 > MAX_MODULES:
        return (f"the spec has {mods} boot modules; Xen {rel.version} records at most {MAX_MODULES} counting its "
                f"own image and the DTB (MAX_MODULES), so at most {MAX_MODULES - 2}")
    board = sum(1 for _, _, why in facts.taken if why.startswith("reserved memory")
                or (why == "/memreserve/" and rel.memreserve_in_bootinfo))
    banks = sum(max(1, len(d.banks)) for d in spec.domain if d.is_static)
    shm = len(spec.shared_memory)
    total = board + banks + (1 if heap else 0) + (0 if rel.shm_banks_tracked else shm)
    if total > rel.nr_mem_banks:
        return (f"Xen {rel.version}'s reserved-memory table holds {rel.nr_mem_banks} regions (NR_MEM_BANKS); "
                f"the plan needs at least {total}: {banks} static bank(s), {board} board region(s)"
                + (", the static heap" if heap else "")
                + ("" if rel.shm_banks_tracked else f", {shm} shared-memory region(s)"))
    if shm > NR_SHMEM_BANKS:
        return (f"the spec has {shm} shared-memory regions; Xen {rel.version} records at most {NR_SHMEM_BANKS} "
                "(NR_SHMEM_BANKS)")
    return None


def infeasibility(spec: Spec, facts: BoardFacts, heap_size: int | None = None,
                  modules: Sequence[Module] | None = None) -> str | None:
    """A proof that no placement of the static requests exists, or None.

    The requests are grouped by the window they must come from: 1:1 below
    4 GiB, 1:1, below 4 GiB, anywhere. For every union of groups, what the
    groups need must fit in the union of their windows (the condition of
    Hall's theorem; with banks splittable at page granularity it is also
    sufficient for the total). Then each domain against its own window, and
    its bank limit against the largest runs there."""
    if modules is None:
        limit = table_limits(spec, facts, heap_size is not None)
        if limit is not None:
            return limit
    spaces = initial_space(facts)
    rel = facts.release
    fixed: list[tuple[int, int]] = [b for d in spec.domain for b in d.banks]
    fixed += [(s.host, s.size) for s in spec.shared_memory if s.host is not None]
    for start, size in fixed:
        spaces.remove(start, start + size)
    direct_names = {d.name for d in spec.domain if d.direct_map}
    need = {"11low": 0, "11": 0, "low": 0, "any": 0}
    for d in spec.domain:
        if d.is_static and not d.banks:
            need[("11" if d.direct_map else "") + ("low" if d.near == "low" else "") or "any"] += d.memory
    for s in spec.shared_memory:
        if s.host is None:
            need["11" if direct_names & {s.owner, *s.borrowers} else "any"] += s.size
    slots = sum(m.slot for m in (module_list(spec) if modules is None else modules))
    need["any"] += slots + (heap_size or 0)
    free11, freeall = spaces.direct, spaces.all
    f11low, f11, flow, fall = (free11.total(hi=LOW_TOP), free11.total(), freeall.total(hi=LOW_TOP),
                               freeall.total())
    f11_or_low = f11 + freeall.total(hi=LOW_TOP) - free11.total(hi=LOW_TOP)
    checks = [
        (need["11low"], f11low, "1:1 memory below 4 GiB", free11, LOW_TOP),
        (need["11low"] + need["11"], f11, "1:1 memory", free11, 1 << 64),
        (need["11low"] + need["low"], flow, "memory below 4 GiB", freeall, LOW_TOP),
        (need["11low"] + need["11"] + need["low"], f11_or_low, "1:1 memory or memory below 4 GiB", None, 0),
        (sum(need.values()), fall, "host memory in all", freeall, 1 << 64),
    ]
    for d in spec.domain:
        if not d.is_static or d.banks:
            continue
        space = free11 if d.direct_map else freeall
        hi = LOW_TOP if d.near == "low" else 1 << 64
        where = f"{'1:1 ' if d.direct_map else ''}memory{' below 4 GiB' if d.near == 'low' else ''}"
        have = space.total(hi=hi)
        big = space.largest(d.align or PAGE, hi=hi)
        if d.memory > have:
            largest = f"; the largest free range there is {mib(big[1])} at {big[0]:#x}" if big else ""
            return f"{d.name} needs {mib(d.memory)} of {where}; {mib(have)} is free there in all{largest}"
        runs = sorted((min(e, hi) - max(s, 0) for s, e in space if s < hi), reverse=True)
        got, count = 0, 0
        for r in runs:
            if got >= d.memory:
                break
            got += r
            count += 1
        if got >= d.memory and count > rel.nr_mem_banks:
            return (f"{d.name} needs {mib(d.memory)} of {where}; even the largest free runs give it in "
                    f"{count} banks, above Xen {rel.version}'s limit of {rel.nr_mem_banks} (NR_MEM_BANKS)")
    for wanted, have, what, window, hi in checks:
        if wanted > have:
            detail = ""
            if window is not None:
                big = window.largest(hi=hi)
                detail = f"; the largest free range is {mib(big[1])} at {big[0]:#x}" if big else "; none is free"
            return (f"the spec needs {mib(wanted)} of {what} (static banks, shared memory"
                    f"{', modules and the static heap' if what == 'host memory in all' else ''}); "
                    f"only {mib(have)} is free{detail}")
    return None


def heap_room(spec: Spec, facts: BoardFacts) -> int:
    """Bytes of free host RAM left once every static request and module is taken (the static heap's ceiling)."""
    spaces = initial_space(facts)
    used = sum(d.memory for d in spec.domain if d.is_static)
    used += sum(s.size for s in spec.shared_memory)
    used += sum(m.slot for m in module_list(spec))
    return max(0, spaces.all.total() - used)


def ranges(layout: Layout) -> list[tuple[int, int, str]]:
    """Every host range the layout uses, with its owner (for the tables and the tests)."""
    out = [(b.host, b.size, p.spec.name) for p in layout.domains for b in p.banks]
    out += [(r.host, r.size, f"shm {r.id}") for r in layout.shm]
    out += [(m.start, m.size, f"{m.owner} {m.kind}") for p in layout.domains for m in p.modules]
    out += [(m.start, m.size, f"dom0 {m.kind}") for m in layout.dom0_modules]
    out += [(s, n, "static heap") for s, n in layout.static_heap]
    return sorted(out)
