"""Xen after boot: the memory hypercalls a guest makes on itself, the
toolstack's target and destruction, replayed on the booted frame table,
P2Ms and heap (``docs/runtime.md``).

Mirrors ``xen/common/memory.c`` (``decrease_reservation()``,
``guest_remove_page()``, ``populate_physmap()``, ``increase_reservation()``),
``xen/common/page_alloc.c`` (``assign_pages()``, ``free_domheap_pages()``,
``free_domstatic_page()``, ``acquire_reserved_page()``) and
``xen/arch/arm/domain.c`` (``relinquish_memory()``). What differs between
releases is read from ``XenRelease`` (``static_free_to_resv_list``,
``static_populate_from_resv``). Heap pages come from the allocator replay's
own free lists as they stand at the end of boot (``BuddyHeap``), so a page
freed clean by a balloon-out is the first one the next order-0 request gets,
as in Xen.
"""

from __future__ import annotations

import bisect
import itertools
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import field
from typing import Literal

from xenplan.boot.replay.buddy import BuddyHeap
from xenplan.boot.replay.requests import Replay
from xenplan.boot.result import Bank, BootResult, Event
from xenplan.boot.runtime.ops import PAGE_SHIFT, Op
from xenplan.boot.runtime.pages import NONE, P2M, Page, PageMap, Run
from xenplan.model.base import Range
from xenplan.model.layout import guest_layout
from xenplan.model.system import System
from xenplan.records import record

DOMU_MAX_ORDER = 9
"""``CONFIG_DOMU_MAX_ORDER`` on Arm, every modelled release (``max_order()``)."""
HWDOM_MAX_ORDER = 10
"""``CONFIG_HWDOM_MAX_ORDER`` on Arm."""
SUPERPAGE_ORDER = 9
"""The 2 MiB extents libxc populates a new guest's RAM with (``populate_guest_memory()``)."""
UINT_MAX = (1 << 32) - 1
DESTROY_NEEDS_TOOLSTACK = ("only a toolstack's XEN_DOMCTL_destroydomain (xl destroy in dom0 or a control domain) "
                           "destroys it: its own SCHEDOP_shutdown, poweroff or reboot, only stops its vCPUs and "
                           "it keeps every page")
"""What frees a domain at all (``domain_shutdown()`` pauses and raises ``VIRQ_DOM_EXC`` for a
toolstack; only ``domain_kill()`` relinquishes memory), as recorded on 4.16.7 and 4.22.0."""


@record(frozen=True)
class PageReport:
    """One run of host frames an operation touched, as it is afterwards."""

    mfn_start: int
    mfn_end: int
    gfn_start: int | None
    owner: str | None
    state: str
    flags: tuple[str, ...]


@record(frozen=True)
class OpResult:
    """What Xen answered: ``rc`` is the hypercall's return (extents done for memory ops)."""

    op: str
    result: Literal["ok", "error"]
    rc: int
    xen_message: str | None
    pages: tuple[PageReport, ...]


@record
class Dom:
    """A domain's run-time accounting (``struct domain``)."""

    name: str
    path: str | None
    domid: int
    static: bool
    direct: bool
    max_order: int
    max_pages: int
    tot_pages: int
    p2m: P2M
    ram: list[tuple[int, int]]
    """Guest frame ranges of its RAM banks at boot: where a balloon driver re-populates."""
    resv: deque[tuple[int, int]] = field(default_factory=deque)
    """``resv_page_list``, head first: (first frame, pages)."""
    unmapped: list[tuple[int, int]] = field(default_factory=list)
    """Frames it owns that no guest frame maps (1:1 pages ballooned out, increase_reservation)."""
    pool: list[tuple[int, int]] = field(default_factory=list)
    alive: bool = True


class Runtime:
    """The booted system, changed one operation at a time."""

    def __init__(self, system: System, result: BootResult, check_invariants: bool = True) -> None:
        self.system = system
        self.rel = system.target.release
        self.pgc = "PGC_static" if self.rel.static_free_to_resv_list else "PGC_reserved"
        self.check = check_invariants
        self.events: list[Event] = []
        self.notes: list[str] = []
        self.pm = PageMap()
        self.doms: dict[str, Dom] = {}
        self.static_banks: list[tuple[int, int, str]] = []
        """(first frame, end, domain) of every static bank at boot, sorted."""
        self.stale = PageMap()
        """Heap frames still holding what a domain wrote (state ``stale``, ``owner`` the writer): static
        frames a live domain freed, which ``free_domheap_pages()`` does not scrub."""
        self._heap_src: BuddyHeap | None = None
        self._heap: BuddyHeap | None = None
        self._build(result)

    # ------------------------------------------------------------------ state after boot

    def _build(self, result: BootResult) -> None:
        """The state right after boot: the host map's regions as page runs, the heap's free chunks
        over them, every built domain's P2M from its banks (a dynamic domain's from the allocator
        replay's placement), ``tot_pages`` counting every frame it owns (shared pages included,
        as ``acquire_shared_memory_bank()`` raises ``max_pages`` with them)."""
        names = {d.path: d.name for d in result.domains}
        for h in result.host_map:
            s, e = h.start >> PAGE_SHIFT, (h.start + h.size) >> PAGE_SHIFT
            if h.kind in ("static-domain", "domain"):
                self.pm.set(s, e, Page("inuse", names.get(h.owner or "", h.owner), h.kind == "static-domain"))
            elif h.kind == "static-free":
                self.pm.set(s, e, Page("static-free", None, True))
            elif h.kind == "shm":
                self.pm.set(s, e, Page("inuse", "DOMID_IO", True))
            else:
                self.pm.set(s, e, Page("xen" if h.kind == "heap" else h.kind))
        placement = result.placement
        src = getattr(placement, "heap", None)
        by_name = {p.name: p for p in getattr(placement, "domains", ())}
        if src is not None:
            self._heap_src = src
            for run in src.lists():
                size = 1 << run.order
                first = run.pfn + min(0, run.stride * (run.count - 1))
                if abs(run.stride) == size:
                    self.pm.set(first, first + run.count * size, Page("heap"))
                else:
                    for i in range(run.count):
                        self.pm.set(run.pfn + i * run.stride, run.pfn + i * run.stride + size, Page("heap"))
        else:
            self._heap = BuddyHeap()
            for h in result.host_map:
                if h.kind == "heap":
                    s, n = h.start >> PAGE_SHIFT, h.size >> PAGE_SHIFT
                    self._heap.free_range(s, n, dirty=False)
                    self.pm.set(s, s + n, Page("heap"))
            if any(not d.static and d.status == "constructed" for d in result.domains):
                self.notes.append("the heap was not replayed at boot (--xen-image and --fdt-address, or a named "
                                  "--board, are needed): dynamic domains' RAM is placed on a heap rebuilt from the "
                                  "host map, so their host frames are approximate")
        model = {d.path: d for d in self.system.domains}
        for d in result.domains:
            if d.status != "constructed":
                continue
            m = model.get(d.path)
            banks = list(d.banks or ())
            ram = [(b.guest >> PAGE_SHIFT, (b.guest + b.size) >> PAGE_SHIFT) for b in banks]
            p2m = P2M()
            hardware = d.name == "dom0"
            domid = d.domid if d.domid is not None else len(self.doms) + 1
            dom = Dom(d.name, d.path, domid, d.static, d.direct_map, HWDOM_MAX_ORDER if hardware else DOMU_MAX_ORDER,
                      0, 0, p2m, ram)
            placed = by_name.get(d.name)
            if not d.static and not d.direct_map:
                chunks = list(placed.banks) if placed is not None and placed.banks else self._place_dynamic(dom, banks)
                for guest, host, size in chunks:
                    p2m.add(Run(guest >> PAGE_SHIFT, host >> PAGE_SHIFT, size >> PAGE_SHIFT))
                    self.pm.set(host >> PAGE_SHIFT, (host + size) >> PAGE_SHIFT, Page("inuse", d.name))
                if placed is not None:
                    for s, z in placed.p2m_pool:
                        dom.pool.append((s >> PAGE_SHIFT, (s + z) >> PAGE_SHIFT))
                        self.pm.set(s >> PAGE_SHIFT, (s + z) >> PAGE_SHIFT, Page("p2m-pool", d.name))
            else:
                for b in banks:
                    if b.host is not None:
                        p2m.add(Run(b.guest >> PAGE_SHIFT, b.host >> PAGE_SHIFT, b.size >> PAGE_SHIFT))
                if not d.static:
                    for b in banks:
                        if b.host is not None:
                            self.pm.set(b.host >> PAGE_SHIFT, (b.host + b.size) >> PAGE_SHIFT, Page("inuse", d.name))
            dom.tot_pages = p2m.pages()
            mem = (m.memory_kib or 0) >> 2 if m is not None and m.memory_kib else dom.tot_pages
            dom.max_pages = max(mem, dom.tot_pages)
            if m is not None and m.static_mem_present:
                for r in m.static_mem:
                    self.static_banks.append((r.start >> PAGE_SHIFT, r.end >> PAGE_SHIFT, d.name))
            self.doms[d.name] = dom
        self.static_banks.sort()
        runs: dict[str | None, list[tuple[int, int]]] = {}
        for s, e, p in self.pm.runs():
            if p.state == "inuse":
                runs.setdefault(p.owner, []).append((s, e))
        for dom in self.doms.values():
            mine = runs.get(dom.name, [])
            extra = sum(e - s for s, e in mine) - dom.tot_pages
            dom.tot_pages += extra
            dom.max_pages += extra
            dom.unmapped = _minus_ranges(mine, sorted(r.mfn_range for r in dom.p2m.all()))
        self._bank_starts = [a for a, _b, _n in self.static_banks]

    def _place_dynamic(self, dom: Dom, banks: Sequence[Bank]) -> list[tuple[int, int, int]]:
        """``allocate_memory()`` on the rebuilt heap, bank by bank, when the boot had no heap replay."""
        replay = Replay(self.heap)
        out = []
        for b in banks:
            guest, size = b.guest, b.size
            chunks, _left = replay.bank(size >> PAGE_SHIFT)
            for pfn, n in chunks:
                out.append((guest, pfn << PAGE_SHIFT, n << PAGE_SHIFT))
                guest += n << PAGE_SHIFT
        return out

    @property
    def heap(self) -> BuddyHeap:
        """The heap's free lists, copied from the boot replay on first use (the boot result stays as it was)."""
        if self._heap is None:
            self._heap = self._heap_src.copy() if self._heap_src is not None else BuddyHeap()
        return self._heap

    # ------------------------------------------------------------------ reporting

    def _gd(self, text: str) -> str | None:
        """A ``gdprintk()`` line: Xen prints it on debug builds only (``CONFIG_DEBUG``)."""
        return text if self.system.target.debug else None

    def _flags(self, p: Page) -> tuple[str, ...]:
        return ((self.pgc,) if p.static else ()) + (("reserved-list",) if p.resv else ())

    def _report(self, out: list[PageReport], lo: int, hi: int, run: Run | None = None) -> None:
        """The frame-table runs of [lo, hi) as they are now; ``gfn_start`` is the guest frame the
        operation named for each run's first host frame (mapped by a populate, released by a
        balloon-out), ``run`` giving the mapping (runs handed out downwards count down)."""
        for s, e, p in self.pm.runs(lo, hi):
            g = None if run is None else run.gfn + (s - run.mfn) * run.step
            down = ("gfn-descending",) if run is not None and run.step < 0 and e - s > 1 else ()
            out.append(PageReport(s, e, g, p.owner, p.state, self._flags(p) + down))

    def _event(self, rule: str, behaviour: Literal["INFO", "HAZARD"], dom: Dom, message: str,
               ranges: Sequence[tuple[int, int]], prop: str = "xen,static-mem") -> None:
        self.events.append(Event(rule=rule, behaviour=behaviour, message=message, path=dom.path,
                                 property=prop if dom.path else None,
                                 ranges=tuple(Range(start=s << PAGE_SHIFT, size=(e - s) << PAGE_SHIFT)
                                              for s, e in _merge(ranges))))

    # ------------------------------------------------------------------ operations

    def apply(self, op: Op) -> OpResult:
        """One operation; Xen's refusals are results, never exceptions."""
        if op.kind == "create":
            res = self._create(op)
        else:
            dom = self.doms[op.domain]
            if not dom.alive:
                res = OpResult(op.text, "error", -3, None, ())  # -ESRCH: the domain is gone
            elif op.kind == "balloon-out":
                res = self._balloon_out(dom, op)
            elif op.kind == "populate":
                res = self._populate(dom, op)
            elif op.kind == "increase-reservation":
                res = self._increase(dom, op)
            elif op.kind == "set-target":
                res = self._set_target(dom, op)
            else:
                res = self._destroy(dom, op)
        if self.check:
            self.invariants()
        return OpResult(res.op, res.result, res.rc, res.xen_message, compact(res.pages))

    def _top_ranges(self, dom: Dom, pages: int) -> list[tuple[int, int]]:
        """The highest ``pages`` mapped guest frames, ascending: what a balloon-out with no address releases."""
        out: list[tuple[int, int]] = []
        for r in reversed(dom.p2m.all()):
            if pages <= 0:
                break
            n = min(pages, r.count)
            out.append((r.gfn + r.count - n, r.gfn + r.count))
            pages -= n
        if pages > 0:
            top = out[-1][0] if out else (dom.ram[0][0] if dom.ram else 0)
            if top > 0:
                out.append((max(top - pages, 0), top))
        return sorted(out)

    def _balloon_out(self, dom: Dom, op: Op) -> OpResult:
        n = op.size >> PAGE_SHIFT
        gfns = [(op.gaddr >> PAGE_SHIFT, (op.gaddr >> PAGE_SHIFT) + n)] if op.gaddr is not None \
            else self._top_ranges(dom, n)
        done, msg, pages = self._decrease(dom, gfns)
        return OpResult(op.text, "ok" if done == n else "error", done, msg, tuple(pages))

    def _decrease(self, dom: Dom, gfns: Sequence[tuple[int, int]]) -> tuple[int, str | None, list[PageReport]]:
        """``decrease_reservation()``, order-0 extents in the order given; stops at the first gfn
        ``guest_remove_page()`` refuses (not mapped: "page number … invalid")."""
        done, pages = 0, list[PageReport]()
        freed_resv: list[tuple[int, int]] = []
        to_heap: list[tuple[int, int]] = []
        kept: list[tuple[int, int]] = []
        msg = None
        for lo, hi in gfns:
            g = lo
            for r in list(dom.p2m.runs(lo, hi)):
                if r.gfn != g:
                    break
                self._release_run(dom, r, pages, freed_resv, to_heap, kept)
                done += r.count
                g = r.gfn + r.count
            if g < hi:
                msg = self._gd(f"Domain {dom.domid} page number {g:x} invalid")
                break
        self._release_events(dom, "balloons out", freed_resv, to_heap, kept)
        return done, msg, pages

    def _release_run(self, dom: Dom, r: Run, pages: list[PageReport], freed_resv: list[tuple[int, int]],
                     to_heap: list[tuple[int, int]], kept: list[tuple[int, int]]) -> None:
        """``guest_remove_page()`` for one run: unmap; the allocation reference goes unless 1:1; the
        last reference frees the page (``put_page_nr()``)."""
        dom.p2m.remove(r.gfn, r.gfn + r.count)
        lo, hi = r.mfn_range
        if dom.direct:
            dom.unmapped.append((lo, hi))
            kept.append((lo, hi))
            self._report(pages, lo, hi, r)
            return
        pieces = list(self.pm.runs(lo, hi))
        if r.step < 0:
            pieces.reverse()
        for s, e, p in pieces:
            self._free(dom, s, e, p, dying=False, freed_resv=freed_resv, to_heap=to_heap)
            self._report(pages, s, e, r)

    def _free(self, dom: Dom, s: int, e: int, p: Page, dying: bool, freed_resv: list[tuple[int, int]],
              to_heap: list[tuple[int, int]]) -> None:
        dom.tot_pages -= e - s
        if p.static and self.rel.static_free_to_resv_list:
            self.pm.set(s, e, Page("static-free", dom.name, True, True))
            dom.resv.append((s, e - s))
            freed_resv.append((s, e))
        else:
            self.pm.set(s, e, Page("heap"))
            self.heap.free_range(s, e - s, dirty=dying)
            if p.static or self._in_static(s, e):
                to_heap.append((s, e))
                if not dying:
                    self.stale.set(s, e, Page("stale", dom.name))

    def _release_events(self, dom: Dom, verb: str, freed_resv: list[tuple[int, int]],
                        to_heap: list[tuple[int, int]], kept: list[tuple[int, int]]) -> None:
        if freed_resv and verb != "is destroyed":
            self._event("RT-001", "INFO", dom, f"{dom.name} {verb}: static frames {_fmt(freed_resv)} go to its own "
                        "reserved list (free, PGC_static), not to Xen's heap; only it can take them back", freed_resv)
        if to_heap:
            how = ("(PGC_reserved dropped), to be scrubbed before reuse, where any domain's next allocation can get "
                   "them" if verb == "is destroyed" else "unscrubbed (PGC_reserved dropped; a live domain's pages are "
                   "not scrubbed), where any domain's next allocation gets them with its data in them")
            self._event("RT-020", "HAZARD", dom, f"{dom.name} {verb}: static frames {_fmt(to_heap)} are freed into "
                        f"Xen's heap {how}", to_heap)
        if kept:
            self._event("RT-004", "HAZARD", dom, f"{dom.name} {verb}: it is direct-mapped, so frames {_fmt(kept)} are "
                        "unmapped but stay allocated to it; nothing is freed for anyone", kept, "direct-map")

    def _in_static(self, s: int, e: int) -> bool:
        return bool(self._static_owners(s, e))

    def _static_owners(self, s: int, e: int) -> list[tuple[int, int, str]]:
        """The parts of [s, e) inside a domain's static bank, with the domain (banks are disjoint)."""
        out = []
        i = bisect.bisect_left(self._bank_starts, e) - 1
        while i >= 0 and self.static_banks[i][1] > s:
            a, b, n = self.static_banks[i]
            out.append((max(a, s), min(b, e), n))
            i -= 1
        return out[::-1]

    def _assign_refusal(self, dom: Dom, nr: int) -> str | None:
        """``assign_pages()``'s accounting checks and the line it prints (``gprintk``)."""
        if dom.tot_pages > dom.max_pages:
            return f"Inconsistent allocation for d{dom.domid}: {dom.tot_pages} > {dom.max_pages}"
        if nr > dom.max_pages - dom.tot_pages:
            return f"Over-allocation for d{dom.domid}: {dom.tot_pages + nr} > {dom.max_pages}"
        return None

    def _populate(self, dom: Dom, op: Op) -> OpResult:
        assert op.gaddr is not None
        done, msg, pages = self._populate_at(dom, op.gaddr >> PAGE_SHIFT, op.extents, op.order)
        return OpResult(op.text, "ok" if done == op.extents else "error", done, msg, tuple(pages))

    def _populate_at(self, dom: Dom, gfn: int, nr: int, order: int) -> tuple[int, str | None, list[PageReport]]:
        """``populate_physmap()``: the 1:1 branch, the static branch (4.17+) or the heap."""
        pages: list[PageReport] = []
        if order > dom.max_order:
            return 0, None, pages
        size = 1 << order
        if dom.direct:
            bad, why = self._first_not_owned(dom, gfn, gfn + nr * size)
            done = nr if bad is None else (bad - gfn) >> order
            if done:
                self._map(dom, Run(gfn, gfn, done * size), pages)
            msg = None
            if bad is not None:
                text = (f"Invalid mfn {bad:#x}" if why == "invalid" else
                        f"mfn {bad:#x} doesn't belong to d{dom.domid}")
                msg = self._gd(text)
                self._event("RT-004", "HAZARD", dom, f"{dom.name} is direct-mapped: populating guest frame "
                            f"{bad:#x} needs host frame {bad:#x} to be its own, and it is not ({text}); it can only "
                            "re-populate the frames it released", [(bad, bad + 1)], "direct-map")
            return done, msg, pages
        if dom.static and self.rel.static_populate_from_resv:
            return self._populate_static(dom, gfn, nr, order, pages)
        done, msg = self._heap_extents(dom, gfn, nr, order, pages, mapped=True)
        return done, msg, pages

    def _first_not_owned(self, dom: Dom, lo: int, hi: int) -> tuple[int | None, str]:
        for s, _e, p in self.pm.runs(lo, hi):
            if p.state == "none":
                return s, "invalid"
            if p.state != "inuse" or p.owner != dom.name:
                return s, "owner"
        return None, ""

    def _map(self, dom: Dom, run: Run, pages: list[PageReport]) -> None:
        """``guest_physmap_add_page()``; frames the guest frames mapped before stay owned, unmapped."""
        for old in list(dom.p2m.runs(run.gfn, run.gfn + run.count)):
            dom.unmapped.append(old.mfn_range)
        dom.p2m.add(run)
        lo, hi = run.mfn_range
        dom.unmapped = _subtract_all(dom.unmapped, lo, hi)
        self._report(pages, lo, hi, run)

    def _populate_static(self, dom: Dom, gfn: int, nr: int, order: int,
                         pages: list[PageReport]) -> tuple[int, str | None, list[PageReport]]:
        """The static branch: order 0 only; each page the head of ``resv_page_list``
        (``acquire_reserved_page()``), refused back to its tail over ``max_pages``."""
        if order:
            refused = f"Cannot allocate static order-{order} pages for d{dom.domid}"
            self._event("RT-002", "HAZARD", dom, f"{dom.name} asks for order-{order} extents: a static domain "
                        f"re-populates one 4 KiB page at a time ({refused})", [])
            return 0, self._gd(refused), pages
        want = min(nr, sum(n for _s, n in dom.resv), max(dom.max_pages - dom.tot_pages, 0))
        done = 0
        while done < want:
            s, n = dom.resv.popleft()
            k = min(n, want - done)
            if k < n:
                dom.resv.appendleft((s + k, n - k))
            self.pm.set(s, s + k, Page("inuse", dom.name, True))
            dom.tot_pages += k
            self._map(dom, Run(gfn + done, s, k), pages)
            done += k
        msg: str | None = None
        if done < nr:
            if dom.resv:
                refusal = self._assign_refusal(dom, 1)
                s, n = dom.resv.popleft()
                if n > 1:
                    dom.resv.appendleft((s + 1, n - 1))
                dom.resv.append((s, 1))
                msg = _lines(refusal, self._gd(f"d{dom.domid}: failed to retrieve a reserved page"))
            else:
                msg = self._gd(f"d{dom.domid}: failed to retrieve a reserved page")
            g = (gfn + done) << PAGE_SHIFT
            self._event("RT-002", "HAZARD", dom, f"{dom.name} cannot populate guest {g:#x}: a static domain only "
                        f"takes back pages it released (d{dom.domid}: failed to retrieve a reserved page); it "
                        "never grows beyond its static banks", [])
        return done, msg, pages

    def _heap_extents(self, dom: Dom, gfn: int, nr: int, order: int, pages: list[PageReport],
                      mapped: bool) -> tuple[int, str | None]:
        """``alloc_domheap_pages()`` per extent, then ``assign_pages()``; on a translated guest
        ``increase_reservation()`` maps nothing (``mapped`` False)."""
        size = 1 << order
        room = max(dom.max_pages - dom.tot_pages, 0) // size
        want = min(nr, room)
        got: list[tuple[int, int, int]] = []
        if order == 0:
            for pfn, n in self.heap.alloc_pages(want):
                got.append((pfn + n - 1, n, -1))
        else:
            got = [(p, size, 1) for p in self.heap.alloc_repeat(order, want)]
        done = sum(n for _p, n, _s in got) >> order
        g = gfn
        isolation: list[tuple[int, int, str]] = []
        leaked: list[tuple[int, int, str]] = []
        for first, n, step in got:
            lo, hi = (first - n + 1, first + 1) if step < 0 else (first, first + n)
            self.pm.set(lo, hi, Page("inuse", dom.name))
            dom.tot_pages += n
            isolation += self._static_owners(lo, hi)
            leaked += [(s, e, p.owner or "") for s, e, p in self.stale.runs(lo, hi)
                       if p.state == "stale" and p.owner != dom.name]
            self.stale.set(lo, hi, NONE)
            if mapped:
                self._map(dom, Run(g, first, n, step), pages)
            else:
                dom.unmapped.append((lo, hi))
                self._report(pages, lo, hi, None)
            g += n
        msg = None
        if done < nr:
            head = self._assign_refusal(dom, size) if done == want and want < nr else None
            fail = self._gd(f"Could not allocate order={order} extent: id={dom.domid} memflags=0 ({done} of {nr})")
            msg = _lines(head, fail)
        if got and mapped and dom.static and not self.rel.static_populate_from_resv:
            frames = [(lo, hi) for p in pages for lo, hi in [(p.mfn_start, p.mfn_end)]]
            self._event("RT-020", "HAZARD", dom, f"{dom.name} is static, but this release populates it from Xen's "
                        f"heap: it receives frames {_fmt(frames)}, not its own static pages", frames)
        if isolation:
            owners = sorted({n for _a, _b, n in isolation})
            data = ""
            if leaked:
                writers = sorted({n for _a, _b, n in leaked})
                data = (f" and data leaked: frames {_fmt([(a, b) for a, b, _n in leaked])} still hold what "
                        f"{', '.join(writers)} wrote (a live domain's released pages are not scrubbed)")
            self._event("RT-020", "HAZARD", dom, f"{dom.name} receives heap frames "
                        f"{_fmt([(a, b) for a, b, _n in isolation])} from the static banks of {', '.join(owners)}: "
                        f"static isolation is lost{data}", [(a, b) for a, b, _n in isolation])
        return done, msg

    def _increase(self, dom: Dom, op: Op) -> OpResult:
        pages: list[PageReport] = []
        if op.order > dom.max_order:
            return OpResult(op.text, "error", 0, None, ())
        done, msg = self._heap_extents(dom, 0, op.extents, op.order, pages, mapped=False)
        if done and (dom.static or dom.direct):
            got = [(p.mfn_start, p.mfn_end) for p in pages]
            kind = "direct-mapped" if dom.direct else "static"
            self._event("RT-003", "HAZARD", dom, f"{dom.name} is {kind}: XENMEM_increase_reservation gives it "
                        f"ordinary heap frames {_fmt(got)}, mapped nowhere, using up its max_pages headroom", got)
        return OpResult(op.text, "ok" if done == op.extents else "error", done, msg, tuple(pages))

    def _set_target(self, dom: Dom, op: Op) -> OpResult:
        """``xl mem-set``: ``XEN_DOMCTL_max_mem`` (``max_pages``, never refused), then the guest's
        balloon driver moves ``tot_pages`` to the target: it releases its top frames, or
        re-populates the holes of its RAM banks first, then above its last bank. ``rc``: the
        pages the driver moved."""
        target = op.size >> PAGE_SHIFT
        dom.max_pages = min(target, UINT_MAX)
        cur = dom.tot_pages
        if target < cur:
            done, msg, pages = self._decrease(dom, self._top_ranges(dom, cur - target))
            return OpResult(op.text, "ok" if done == cur - target else "error", done, msg, tuple(pages))
        need, done, msg = target - cur, 0, None
        all_pages: list[PageReport] = []
        for lo, hi in self._holes(dom, need):
            d, msg, pages = self._populate_at(dom, lo, hi - lo, 0)
            done += d
            all_pages += pages
            if d < hi - lo:
                break
        return OpResult(op.text, "ok" if done == need else "error", done, msg, tuple(all_pages))

    def _holes(self, dom: Dom, need: int) -> Iterator[tuple[int, int]]:
        top = 0
        for lo, hi in dom.ram:
            top = max(top, hi)
            g = lo
            for r in [*dom.p2m.runs(lo, hi), Run(hi, 0, 0)]:
                if r.gfn > g and need:
                    n = min(need, r.gfn - g)
                    yield g, g + n
                    need -= n
                g = max(g, r.gfn + r.count)
        if need:
            yield top, top + need

    def _destroy(self, dom: Dom, op: Op) -> OpResult:
        """``domain_kill()`` -> ``relinquish_memory()``: every page loses its allocation reference;
        static pages end on the dead domain's reserved list (4.17+) or in the heap (4.16)."""
        pages: list[PageReport] = []
        freed_resv: list[tuple[int, int]] = []
        to_heap: list[tuple[int, int]] = []
        owned = sorted([r.mfn_range for r in dom.p2m.all()] + dom.unmapped)
        dom.p2m = P2M()
        dom.unmapped = []
        for lo, hi in owned:
            for s, e, p in list(self.pm.runs(lo, hi)):
                if p.state == "inuse" and p.owner == dom.name:
                    self._free(dom, s, e, p, dying=True, freed_resv=freed_resv, to_heap=to_heap)
                self._report(pages, s, e, None)
        for lo, hi in dom.pool:
            self.pm.set(lo, hi, Page("heap"))
            self.heap.free_range(lo, hi - lo, dirty=True)
            self._report(pages, lo, hi, None)
        dom.pool = []
        dom.alive = False
        self._release_events(dom, "is destroyed", freed_resv, to_heap, [])
        stranded = [(s, s + n) for s, n in dom.resv]
        if stranded:
            self._event("RT-005", "HAZARD", dom, f"{dom.name} is destroyed: its static frames {_fmt(stranded)} stay "
                        "free on the dead domain's reserved list; nothing can take them until the host reboots "
                        f"({DESTROY_NEEDS_TOOLSTACK})", stranded)
        return OpResult(op.text, "ok", 0, None, tuple(pages))

    def _create(self, op: Op) -> OpResult:
        """``xl create`` of a dynamic domain: libxc populates its RAM banks with 2 MiB extents
        where they fit, 4 KiB pages for the rest (``populate_guest_memory()``); the domain's
        own structures and P2M pool are not replayed."""
        domid = max((d.domid for d in self.doms.values()), default=0) + 1
        mem = op.size >> PAGE_SHIFT
        banks = [(g >> PAGE_SHIFT, (g + z) >> PAGE_SHIFT) for g, z in guest_layout(op.size)]
        dom = Dom(op.domain, None, domid, False, False, DOMU_MAX_ORDER, mem, 0, P2M(), banks)
        self.doms[op.domain] = dom
        pages: list[PageReport] = []
        msg = None
        for lo, hi in banks:
            big = (hi - lo) >> SUPERPAGE_ORDER
            done, msg = self._heap_extents(dom, lo, big, SUPERPAGE_ORDER, pages, mapped=True)
            if done == big:
                rest = (hi - lo) - (big << SUPERPAGE_ORDER)
                start = lo + (big << SUPERPAGE_ORDER)
                d0, msg = self._heap_extents(dom, start, rest, 0, pages, mapped=True) if rest else (0, None)
                if d0 == rest:
                    continue
            break
        ok = dom.tot_pages == mem
        return OpResult(op.text, "ok" if ok else "error", 0 if ok else -12, msg, tuple(pages))

    # ------------------------------------------------------------------ invariants

    def invariants(self) -> None:
        """No frame mapped by two domains or mapped by a domain that does not own it, every
        domain's ``tot_pages`` what it owns, the heap's count what the frame table calls free,
        and (4.17+) no static frame in the heap. A violation is a bug of this replay."""
        owned: dict[str, int] = {}
        heap_pages = 0
        heap_runs = []
        for s, e, p in self.pm.runs():
            if p.state == "inuse" and p.owner is not None:
                owned[p.owner] = owned.get(p.owner, 0) + e - s
            elif p.state == "heap":
                heap_pages += e - s
                heap_runs.append((s, e))
                if p.static:
                    raise AssertionError(f"static frame {s:#x} in the heap")
        if self._heap is not None and self._heap.free_pages != heap_pages:
            raise AssertionError(f"heap holds {self._heap.free_pages} pages, the frame table {heap_pages}")
        mapped = []
        for d in self.doms.values():
            if d.tot_pages != owned.get(d.name, 0):
                raise AssertionError(f"{d.name}: tot_pages {d.tot_pages} but owns {owned.get(d.name, 0)}")
            for r in d.p2m.all():
                lo, hi = r.mfn_range
                mapped.append((lo, hi, d.name))
                for _s, _e, p in self.pm.runs(lo, hi):
                    if p.owner != d.name or p.state != "inuse":
                        raise AssertionError(f"{d.name} maps frame {lo:#x} it does not own")
        mapped.sort()
        for a, b in itertools.pairwise(mapped):
            if b[0] < a[1]:
                raise AssertionError(f"frame {b[0]:#x} mapped by {a[2]} and {b[2]}")
        if self.rel.static_free_to_resv_list:
            for s, e in heap_runs:
                if self._in_static(s, e):
                    raise AssertionError(f"frames from {s:#x} of a static bank are in the heap")


def _lines(*parts: str | None) -> str | None:
    """Console lines in order, the ones a build does not print left out; None when none is left."""
    kept = [p for p in parts if p]
    return "\n".join(kept) if kept else None


def compact(pages: Sequence[PageReport]) -> tuple[PageReport, ...]:
    """Consecutive reports that continue each other (frames, guest frames, owner, state, flags) as one."""
    out: list[PageReport] = []
    for p in pages:
        q = out[-1] if out else None
        if q is not None and q.mfn_end == p.mfn_start and (q.owner, q.state, q.flags) == (p.owner, p.state, p.flags) \
                and (q.gfn_start is None) == (p.gfn_start is None) \
                and (q.gfn_start is None or p.gfn_start == q.gfn_start + (q.mfn_end - q.mfn_start)):
            out[-1] = PageReport(q.mfn_start, p.mfn_end, q.gfn_start, q.owner, q.state, q.flags)
        else:
            out.append(p)
    return tuple(out)


def _merge(ranges: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for s, e in sorted(ranges):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def _fmt(ranges: Sequence[tuple[int, int]]) -> str:
    return ", ".join(f"[{s << PAGE_SHIFT:#x}, {e << PAGE_SHIFT:#x})" for s, e in _merge(ranges))


def _minus_ranges(ranges: Sequence[tuple[int, int]], cut: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted disjoint ``ranges`` less sorted disjoint ``cut``, in one sweep."""
    out: list[tuple[int, int]] = []
    j = 0
    for start, e in ranges:
        while j < len(cut) and cut[j][1] <= start:
            j += 1
        k, s = j, start
        while s < e:
            if k < len(cut) and cut[k][0] < e:
                if cut[k][0] > s:
                    out.append((s, cut[k][0]))
                s = max(s, cut[k][1])
                k += 1
            else:
                out.append((s, e))
                break
    return out


def _subtract_all(ranges: list[tuple[int, int]], lo: int, hi: int) -> list[tuple[int, int]]:
    out = []
    for s, e in ranges:
        if e <= lo or hi <= s:
            out.append((s, e))
            continue
        if s < lo:
            out.append((s, lo))
        if hi < e:
            out.append((hi, e))
    return out
