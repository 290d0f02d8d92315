"""RT: what happens after boot, when a guest gives memory back or asks for more.

Xen never looks at any of this while booting. A guest kernel can issue
memory hypercalls (balloon out, populate, increase reservation) whether or
not the device tree gives it PV interfaces, so every static or
direct-mapped domain is flagged; ``xen,enhanced`` only makes a balloon
driver likely, and the messages say so. Which behaviour a release has is
data here (``since``/``until`` and ``XenRelease`` fields), never a version test in a body.

Replayed, not read from the model: ``xenplan check`` runs one run-time
scenario (``CANNED``) on the booted system for every built static and 1:1
domain: balloon out 4 KiB, populate it back at the top of its RAM, set the
target one page above ``max_pages``, increase the reservation by 4 KiB, and
destroy it. The RT-001 … RT-005 and RT-020 messages say what Xen did at each
step; ``xenplan simulate`` replays any other sequence. A domain the boot
never built is reported from the model.

The helpers at the top are shared by the XS, HWD, SHM and EVT modules.
"""

from __future__ import annotations

from collections.abc import Iterator

from xenplan.boot.result import BootResult, DomainResult, Event
from xenplan.boot.runtime import Runtime, parse_ops
from xenplan.boot.runtime.machine import DESTROY_NEEDS_TOOLSTACK
from xenplan.checks.dmap import pv_enabled
from xenplan.checks.registry import Hit, rule
from xenplan.model.system import Domain, System, default_p2m_pool_mb

_BY_PATH: list[tuple[BootResult, dict[str, DomainResult]]] = []


def results_by_path(result: BootResult) -> dict[str, DomainResult]:
    """Domain results by node path, built once per result (called per domain and rule)."""
    if not _BY_PATH or _BY_PATH[0][0] is not result:
        _BY_PATH[:] = [(result, {d.path: d for d in result.domains})]
    return _BY_PATH[0][1]


def is_direct_mapped(system: System, result: BootResult, dom: Domain) -> bool:
    """1:1 as the release sees it (no ``direct-map`` before 4.17): the boot result decides."""
    r = results_by_path(result).get(dom.path)
    return r.direct_map if r is not None else False


def static_ranges(dom: Domain) -> tuple[tuple[int, int], ...]:
    return tuple((b.start, b.size) for b in dom.static_mem)


def fmt_ranges(ranges: tuple[tuple[int, int], ...]) -> str:
    return ", ".join(f"[{s:#x}, {s + z:#x})" for s, z in ranges) or "no banks"


def balloon_hint(system: System, dom: Domain) -> str:
    """The sentence that says how likely ballooning is for this domain: a balloon driver comes
    with the PV interfaces, which only a ``xen,enhanced`` value the release knows turns on."""
    if pv_enabled(system.target.release, dom):
        return (f"{dom.name} has xen,enhanced, so its kernel gets Xen's PV interfaces and a balloon driver "
                "is likely")
    why = ("'s xen,enhanced turns on no PV interfaces on this release" if dom.enhanced is not None
           else " has no xen,enhanced")
    return (f"{dom.name}{why}, so a Linux guest loads no balloon driver, but any guest kernel "
            "can still issue memory hypercalls")


def _static_non_direct(system: System, result: BootResult) -> Iterator[Domain]:
    for dom in system.domains:
        if dom.static_mem_present and not is_direct_mapped(system, result, dom):
            yield dom


def _direct(system: System, result: BootResult) -> Iterator[Domain]:
    for dom in system.domains:
        if is_direct_mapped(system, result, dom):
            yield dom


CANNED = ("balloon-out 4K", "populate 4K@TOP", "set-target MEMORY+4K", "increase-reservation 4K", "destroy")
"""The run-time scenario ``check`` replays for every constructed static and 1:1 domain, one
domain after the other on one replay (``xenplan simulate`` shows each step): release the top
page, take it back, grow by one page, ask for one page with increase_reservation, destroy."""

REPLAYED = ("RT-001", "RT-002", "RT-003", "RT-004", "RT-005", "RT-020")
"""The rules whose findings come from the canned scenario (``xenplan simulate`` replaces them,
for the domains it operates on, by what its own operations raised)."""

_CANNED: list[tuple[BootResult, dict[tuple[str, str | None], list[Event]], frozenset[str]]] = []


def canned_events(system: System, result: BootResult) -> tuple[dict[tuple[str, str | None], list[Event]],
                                                                frozenset[str]]:
    """The canned scenario's events by (rule, domain path), and the paths of the domains it
    replayed; run once per result. "Grow by one page" sets the target one page above the
    domain's ``max_pages`` (its RAM and any shared pages it owns)."""
    if not _CANNED or _CANNED[0][0] is not result:
        rt = Runtime(system, result, check_invariants=False)
        replayed = [d for d in result.domains if d.status == "constructed" and (d.static or d.direct_map)
                    and d.banks and d.name in rt.doms]
        for d in replayed:
            top = max(b.guest + b.size for b in d.banks or ())
            grow = (rt.doms[d.name].max_pages + 1) << 12
            ops = [f"{d.name} balloon-out 4K", f"{d.name} populate 4K@{top - 0x1000:#x}",
                   f"{d.name} set-target {grow:#x}", f"{d.name} increase-reservation 4K", f"{d.name} destroy"]
            for op in parse_ops(ops, rt.doms):
                rt.apply(op)
        events: dict[tuple[str, str | None], list[Event]] = {}
        for ev in rt.events:
            events.setdefault((ev.rule, ev.path), []).append(ev)
        _CANNED[:] = [(result, events, frozenset(d.path for d in replayed))]
    return _CANNED[0][1], _CANNED[0][2]


def _replayed(system: System, result: BootResult, rule_id: str, prop: str,
              model: Iterator[Hit]) -> Iterator[Hit]:
    """One hit per domain the canned scenario raised ``rule_id`` for, saying what Xen did at
    each step; a domain the boot never built cannot be replayed and keeps the hit read from
    the model (``model``)."""
    models = {d.path: d for d in system.domains}
    events, replayed = canned_events(system, result)
    for (rid, path), evs in events.items():
        dom = models.get(path or "")
        if rid != rule_id or dom is None:
            continue
        ranges = tuple(sorted({(r.start, r.size) for ev in evs for r in ev.ranges}))
        yield Hit(message="; ".join(ev.message for ev in evs) + "; " + balloon_hint(system, dom),
                  path=dom.path, property=prop, ranges=ranges or static_ranges(dom))
    yield from (h for h in model if h.path not in replayed)


@rule(id="RT-001", slug="static-page-freed-to-reserved-list", behaviour="INFO", since="4.17",
      xen_src="xen/arch/arm/mm.c: put_page_nr() -> xen/common/page_alloc.c: free_domstatic_page()",
      kconfig=("STATIC_MEMORY",))
def static_page_freed_to_reserved_list(system: System, result: BootResult) -> Iterator[Hit]:
    """What Xen does: when the last reference to a static page of a static,
    not direct-mapped domain goes (the guest balloons it out, or the domain is
    destroyed), Xen marks it free and static again, drops it from the
    domain's page count and queues it on that domain's private list of
    reserved pages. It never reaches the heap. (4.16 gives it to the heap:
    RT-020.)

    Replayed: ``check`` runs balloon-out 4K, populate it back, set-target
    above max_pages, increase-reservation 4K and destroy on every built
    static and 1:1 domain; ``xenplan simulate`` replays any other sequence.

    Why it matters: memory a static guest gives back helps nobody else; only
    the same domain can take it again (RT-002). Sizing other domains on the
    assumption that ballooning frees memory does not work.

    Example: a static domain with a balloon driver::

        domU1 { xen,static-mem = <0x0 0x60000000 0x0 0x8000000>; xen,enhanced = "enabled"; };

    gives nothing back to the system when it balloons down. A dynamic domain
    (no ``xen,static-mem``) returns freed pages to the heap.

    Fix: nothing to fix in the tree; plan static domains at their final size,
    or use a dynamic domain where memory must move between guests.
    """
    yield from _replayed(system, result, "RT-001", "xen,static-mem", _model_001(system, result))


def _model_001(system: System, result: BootResult) -> Iterator[Hit]:
    """RT-001 read from the model, for a domain the boot never built."""
    for dom in _static_non_direct(system, result):
        yield Hit(message=f"{dom.name}: static pages it releases ({fmt_ranges(static_ranges(dom))}) go to its "
                          "own reserved list, never to Xen's heap; " + balloon_hint(system, dom),
                  path=dom.path, property="xen,static-mem", ranges=static_ranges(dom))


@rule(id="RT-002", slug="static-domain-cannot-grow", behaviour="HAZARD", since="4.17",
      xen_src="xen/common/memory.c: populate_physmap(); xen/common/page_alloc.c: acquire_reserved_page()",
      kconfig=("STATIC_MEMORY",))
def static_domain_cannot_grow(system: System, result: BootResult) -> Iterator[Hit]:
    """What Xen does: XENMEM_populate_physmap on a static, not direct-mapped
    domain takes each page from that domain's reserved list (pages it released
    earlier), one 4 KiB page at a time. A larger extent fails ("Cannot
    allocate static order-N pages"); an empty list fails ("failed to retrieve
    a reserved page"). The page may come back at any guest address.

    Replayed: ``check`` runs balloon-out 4K, populate it back, set-target
    above max_pages, increase-reservation 4K and destroy on every built
    static and 1:1 domain; ``xenplan simulate`` replays any other sequence.

    Why it matters: the domain can never grow beyond what it released:
    ``xl mem-set`` / ``mem-max`` upwards has no effect, and a balloon driver
    that asks for large extents (or more pages than it gave back) sees
    failures.

    Example: this domain cannot be given more than its 128 MiB::

        domU1 { memory = <0x0 0x20000>; xen,static-mem = <0x0 0x60000000 0x0 0x8000000>; };

    Giving it the final size up front avoids growing it later::

        domU1 { memory = <0x0 0x40000>; xen,static-mem = <0x0 0x60000000 0x0 0x10000000>; };

    Fix: size the static banks for the largest memory the guest will need, and
    configure its balloon driver (if any) not to request more than it released.
    """
    yield from _replayed(system, result, "RT-002", "xen,static-mem", _model_002(system, result))


def _model_002(system: System, result: BootResult) -> Iterator[Hit]:
    """RT-002 read from the model, for a domain the boot never built."""
    for dom in _static_non_direct(system, result):
        rng = static_ranges(dom)
        yield Hit(message=f"{dom.name} can never grow beyond its static banks ({fmt_ranges(rng)}): populating "
                          "memory only re-uses pages it released, one 4 KiB page at a time; "
                          + balloon_hint(system, dom), path=dom.path, property="xen,static-mem", ranges=rng)


@rule(id="RT-003", slug="increase-reservation-gives-heap-pages", behaviour="HAZARD", since="4.16",
      xen_src="xen/common/memory.c: increase_reservation()")
def increase_reservation_gives_heap_pages(system: System, result: BootResult) -> Iterator[Hit]:
    """What Xen does: XENMEM_increase_reservation has no static or 1:1 path on
    any release, 4.16 included. A static or direct-mapped domain that released
    pages and then calls it gets ordinary heap pages, up to its
    ``max_pages``. On an auto-translated guest they are not mapped anywhere;
    they only use up the headroom.

    Replayed: ``check`` runs balloon-out 4K, populate it back, set-target
    above max_pages, increase-reservation 4K and destroy on every built
    static and 1:1 domain; ``xenplan simulate`` replays any other sequence.
    On 4.16 the canned ``set-target`` step already grows a
    static domain from the heap (RT-020), so the headroom is gone when it
    calls increase_reservation and the canned run raises no RT-003; a
    balloon-out followed by ``increase-reservation`` in ``xenplan simulate``
    shows it.

    Why it matters: the domain ends up owning heap memory it cannot use, the
    heap shrinks for everyone else, and re-populating its own static pages
    (RT-002) afterwards fails with an over-allocation. Linux does not use this
    call on Arm, other guests may.

    Example: any static or direct-mapped domain::

        domU1 { xen,static-mem = <0x0 0x60000000 0x0 0x8000000>; direct-map; };

    has this exposure; a dynamic domain (no ``xen,static-mem``) does not.

    Fix: run a guest whose memory driver uses populate_physmap only (Linux
    does), or use a dynamic domain.
    """
    yield from _replayed(system, result, "RT-003", "xen,static-mem", _model_003(system, result))


def _model_003(system: System, result: BootResult) -> Iterator[Hit]:
    """RT-003 read from the model, for a domain the boot never built."""
    for dom in system.domains:
        direct = is_direct_mapped(system, result, dom)
        if not (dom.static_mem_present or direct):
            continue
        kind = "direct-mapped" if direct else "static"
        rng = static_ranges(dom)
        yield Hit(message=f"{dom.name} is {kind} ({fmt_ranges(rng)}): XENMEM_increase_reservation gives it "
                          "ordinary heap pages that are never mapped, eating its max_pages headroom; "
                          + balloon_hint(system, dom), path=dom.path, property="xen,static-mem", ranges=rng)


@rule(id="RT-004", slug="direct-map-balloon-frees-nothing", behaviour="HAZARD", since="4.17",
      xen_src="xen/common/memory.c: guest_remove_page(), populate_physmap()")
def direct_map_balloon_frees_nothing(system: System, result: BootResult) -> Iterator[Hit]:
    """What Xen does: on a direct-mapped domain, XENMEM_decrease_reservation
    unmaps the page but the domain keeps it (its allocation reference stays).
    XENMEM_populate_physmap then accepts only a guest frame equal to a machine
    frame the domain still owns, and maps it 1:1 again; anything else fails
    ("mfn ... doesn't belong to dN").

    Replayed: ``check`` runs balloon-out 4K, populate it back, set-target
    above max_pages, increase-reservation 4K and destroy on every built
    static and 1:1 domain; ``xenplan simulate`` replays any other sequence.

    Why it matters: ballooning such a domain frees nothing for anyone, and a
    balloon driver can only re-populate the very addresses it released. A
    driver that populates elsewhere (or a toolstack that expects memory back)
    fails.

    Example: this 1:1 domain cannot lend memory to others::

        domU1 { direct-map; xen,static-mem = <0x0 0x60000000 0x0 0x8000000>; xen,enhanced = "enabled"; };

    Without ``direct-map`` (a static, translated domain) released pages at
    least return to its reserved list (RT-001).

    Fix: do not rely on ballooning a direct-mapped domain; size it once.
    """
    yield from _replayed(system, result, "RT-004", "direct-map", _model_004(system, result))


def _model_004(system: System, result: BootResult) -> Iterator[Hit]:
    """RT-004 read from the model, for a domain the boot never built."""
    for dom in _direct(system, result):
        rng = static_ranges(dom)
        yield Hit(message=f"{dom.name} is direct-mapped ({fmt_ranges(rng)}): pages it balloons out stay "
                          "allocated to it, and it can only re-populate the same addresses (gfn == mfn); "
                          + balloon_hint(system, dom), path=dom.path, property="direct-map", ranges=rng)


@rule(id="RT-005", slug="static-memory-stranded-on-destroy", behaviour="HAZARD", since="4.17",
      xen_src="xen/common/page_alloc.c: free_domstatic_page()", kconfig=("STATIC_MEMORY",))
def static_memory_stranded_on_destroy(system: System, result: BootResult) -> Iterator[Hit]:
    """What Xen does: when a static domain (direct-mapped or not) is destroyed,
    its pages end free and static on the dead domain's reserved list. Nothing
    at run time can take them: no toolstack path creates a static domain.

    Destruction needs a toolstack: only XEN_DOMCTL_destroydomain
    (``domain_kill()``, ``xl destroy`` in dom0 or in another control domain)
    relinquishes a domain's memory. A guest's own SCHEDOP_shutdown, poweroff
    or reboot alike, goes to ``domain_shutdown()``: Xen pauses its vCPUs,
    marks it shut down and raises ``VIRQ_DOM_EXC`` for a toolstack to act on;
    it frees nothing, and Xen never restarts a domU by itself. Recorded on
    4.16.7 and 4.22.0: after a dom0less guest's poweroff or reboot, with no
    toolstack, no page is freed and the domain keeps all its memory.

    Replayed: ``check`` runs balloon-out 4K, populate it back, set-target
    above max_pages, increase-reservation 4K and destroy on every built
    static and 1:1 domain; ``xenplan simulate`` replays any other sequence.

    Why it matters: destroying a static dom0less guest (``xl destroy``, or a
    toolstack that destroys a guest which shut down or asked to reboot)
    loses its memory until the whole system reboots; the guest cannot be
    restarted in place. Without a toolstack a guest that powers off or
    reboots is not destroyed: it stays shut down, holding its pages, and
    cannot run again either.

    Example: any static domain::

        domU1 { xen,static-mem = <0x0 0x60000000 0x0 0x8000000>; };

    Fix: treat static domains as living as long as the host; restart the
    host, not the guest, or use a dynamic domain where restarts are needed.
    """
    yield from _replayed(system, result, "RT-005", "xen,static-mem", _model_005(system, result))


def _model_005(system: System, result: BootResult) -> Iterator[Hit]:
    """RT-005 read from the model, for a domain the boot never built."""
    for dom in system.domains:
        if not dom.static_mem_present:
            continue
        rng = static_ranges(dom)
        yield Hit(message=f"if {dom.name} is destroyed, its static memory ({fmt_ranges(rng)}) stays reserved "
                          f"for a domain that no longer exists until the host reboots ({DESTROY_NEEDS_TOOLSTACK})",
                  path=dom.path, property="xen,static-mem", ranges=rng)


@rule(id="RT-006", slug="borrower-cannot-balloon-shm", behaviour="INFO", since="4.17",
      xen_src="xen/common/memory.c: guest_remove_page()", kconfig=("STATIC_SHM",))
def borrower_cannot_balloon_shm(system: System, result: BootResult) -> Iterator[Hit]:
    """What Xen does: a borrower maps the shared pages as foreign pages, so a
    XENMEM_decrease_reservation on them fails: the borrower does not own them.

    Why it matters: a balloon driver in the borrower that picks pages of the
    shared window (the window is also listed as RAM in 4.19+ guest device
    trees) gets errors; nothing is freed.

    Example: the borrower side of a region::

        shm@1 { compatible = "xen,domain-shared-memory-v1"; role = "borrower";
                xen,shm-id = "buf"; xen,shared-mem = <0x0 0x70000000 0x0 0x50000000 0x0 0x200000>; };

    Fix: keep the guest's balloon driver away from the shared window (Linux
    takes it from ``/reserved-memory``, which Xen generates for it).
    """
    for dom in system.domains:
        for sh in dom.shm:
            if sh.role == "owner" or sh.guest is None or sh.size is None:
                continue
            yield Hit(message=f"{sh.path}: {dom.name} maps shared region \"{sh.shm_id}\" at guest "
                              f"[{sh.guest:#x}, {sh.guest + sh.size:#x}) as foreign pages; ballooning them out "
                              "fails", path=dom.path, property="xen,shared-mem", ranges=((sh.guest, sh.size),))


@rule(id="RT-007", slug="shm-owner-balloons-region", behaviour="HAZARD", since="4.17",
      xen_src="xen/arch/arm/mm.c: put_page_nr() -> xen/common/page_alloc.c: free_domstatic_page()",
      kconfig=("STATIC_SHM",))
def shm_owner_balloons_region(system: System, result: BootResult) -> Iterator[Hit]:
    """What Xen does: the owner of a shared region holds its pages as ordinary
    RAM. If it balloons them out, the borrowers' references keep the pages
    alive and the owner merely loses its view; with no borrower, a page with a
    host address goes to the owner's reserved list and comes back as plain
    RAM at whatever guest address the owner next populates.

    Why it matters: the owner's side of the shared buffer silently vanishes,
    or shared pages reappear as the owner's private RAM elsewhere.

    Example: an owner node::

        shm@0 { compatible = "xen,domain-shared-memory-v1"; role = "owner";
                xen,shm-id = "buf"; xen,shared-mem = <0x0 0x70000000 0x0 0x50000000 0x0 0x200000>; };

    Fix: keep the owner's balloon driver away from the shared window, or use
    the DOMID_IO model (no ``role`` anywhere) so no guest owns the pages.
    """
    by_id: dict[str | None, list[str]] = {}
    for x in system.shm:
        by_id.setdefault(x.shm_id, []).append(x.path)
    for dom in system.domains:
        for sh in dom.shm:
            if sh.role != "owner" or sh.guest is None or sh.size is None:
                continue
            peers = [p for p in by_id.get(sh.shm_id, ()) if p != sh.path]
            who = (f"borrowers ({', '.join(peers)}) keep the pages and {dom.name} just loses its view" if peers
                   else "with no borrower the pages return to its reserved list and come back as plain RAM")
            yield Hit(message=f"{sh.path}: {dom.name} owns shared region \"{sh.shm_id}\" at guest "
                              f"[{sh.guest:#x}, {sh.guest + sh.size:#x}); if it balloons them out, {who}; "
                              + balloon_hint(system, dom), path=dom.path, property="xen,shared-mem",
                      ranges=((sh.guest, sh.size),), related=tuple((p, ()) for p in peers))


@rule(id="RT-012", slug="p2m-pool-below-default", behaviour="HAZARD", since="4.17",
      xen_src="xen/arch/arm/mmu/p2m.c: p2m_set_allocation(); dom0less-build.c: domain_p2m_pages()")
def p2m_pool_below_default(system: System, result: BootResult) -> Iterator[Hit]:
    """What Xen does: ``xen,domain-p2m-mem-mb`` replaces the default size of the
    domain's P2M pool (1 MiB per vCPU, 4 KiB per MiB of RAM, 512 KiB, rounded
    up to MiB). The pool is fixed at boot; no toolstack resizes it for a
    dom0less domain.

    Why it matters: grant and foreign mappings and the splitting of
    superpages need pool pages at run time. A pool smaller than Xen's own
    default may suffice to boot and then fail those mappings (PV backends,
    shared memory, ballooning).

    Example: 2 vCPUs and 512 MiB need 5 MiB by default::

        domU1 { cpus = <2>; memory = <0x0 0x80000>; xen,domain-p2m-mem-mb = <2>; };

    Fixed::

        domU1 { cpus = <2>; memory = <0x0 0x80000>; xen,domain-p2m-mem-mb = <5>; };

    Fix: remove the property, or give at least the default size.
    """
    for dom in system.domains:
        if dom.p2m_mem_mb is None:
            continue
        need = default_p2m_pool_mb(dom.cpus or 0, dom.memory_kib or 0)
        if dom.p2m_mem_mb < need:
            yield Hit(message=f"{dom.name}: xen,domain-p2m-mem-mb = {dom.p2m_mem_mb} MiB is below the default "
                              f"{need} MiB for {dom.cpus} vCPUs and {(dom.memory_kib or 0) >> 10} MiB of RAM: "
                              "run-time grant/foreign mappings can fail", path=dom.path,
                      property="xen,domain-p2m-mem-mb")


@rule(id="RT-020", slug="static-pages-released-to-heap", behaviour="HAZARD", since="4.16", until="4.17",
      xen_src="xen/common/page_alloc.c: free_domheap_pages()", isolation=True, kconfig=("STATIC_MEMORY",))
def static_pages_released_to_heap(system: System, result: BootResult) -> Iterator[Hit]:
    """What Xen does: Xen 4.16 has no private reserved list. A static page
    (PGC_reserved in 4.16) that the guest balloons out, or that a destroyed
    domain leaves behind, is freed into the general heap; a later populate
    by that domain takes whatever the heap gives. ``free_domheap_pages()``
    scrubs only a dying domain's pages (or every page with
    ``scrub_domheap``): a page a live guest balloons out joins the heap with
    its contents, and the next allocation of that order can hand it, as it
    is, to another domain. Recorded on 4.16.7
    (``tests/data/runtime/static-pages-reuse``): the page another domain
    populated held the static guest's stamp.

    Replayed: ``check`` runs balloon-out 4K, populate it back, set-target
    above max_pages, increase-reservation 4K and destroy on every built
    static and 1:1 domain; ``xenplan simulate`` replays any other sequence.

    Why it matters: after the first balloon-out, the static domain's memory
    is given to other domains and it receives heap memory in exchange: the
    isolation static allocation was chosen for is gone, and the data it
    left in the released pages leaks to whichever domain gets them. (4.16
    can also crash at boot when heap pages merge with free static pages:
    PAGE-006.)

    Example: ``--xen-version 4.16`` with any static domain::

        domU1 { xen,static-mem = <0x0 0x60000000 0x0 0x8000000>; };

    Fix: use Xen 4.17 or later, where released static pages stay with their
    domain (RT-001), or make sure the guest never balloons.
    """
    yield from _replayed(system, result, "RT-020", "xen,static-mem", _model_020(system, result))


def _model_020(system: System, result: BootResult) -> Iterator[Hit]:
    """RT-020 read from the model, for a domain the boot never built."""
    for dom in system.domains:
        if not dom.static_mem_present:
            continue
        rng = static_ranges(dom)
        yield Hit(message=f"{dom.name}: on Xen 4.16 static pages it releases ({fmt_ranges(rng)}) are freed into "
                          "the general heap unscrubbed, where other domains get them with its data in them, and it "
                          "re-populates from the heap: isolation is lost and data leaked after the first "
                          "balloon-out; " + balloon_hint(system, dom),
                  path=dom.path, property="xen,static-mem", ranges=rng, isolation=True)
