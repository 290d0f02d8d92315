"""Static shared memory at domain construction (SHM-005…034, 4.17+).

Mirrors ``process_shm()`` (``xen/arch/arm/domain_build.c`` 4.17/4.18,
``xen/arch/arm/static-shmem.c`` 4.20, ``xen/common/device-tree/static-shmem.c``
4.22): the owner acquires the region's static pages and its ``max_pages``
grows by their number; borrowers map them as foreign pages; with no owner
the region belongs to DOMID_IO (a node without ``role`` acquires it for
DOMID_IO the first time; a ``borrower`` acquires nothing). The mapping replaces whatever the guest had
at that address (GMAP-020).
"""

from __future__ import annotations

from xenplan.boot import messages as msg
from xenplan.boot.build_context import DomainBuild
from xenplan.boot.construction import Construction
from xenplan.boot.result import Event
from xenplan.model.base import PAGE_SIZE, Range, pfn_down

DOMID_IO = "DOMID_IO"


def construct(build: DomainBuild, construction: Construction) -> None:
    v, rel = build.v, build.rel
    dom = construction.dom
    if not rel.static_shm_binding or not build.state.system.target.has("STATIC_SHM"):
        return
    for i, sh in enumerate(dom.shm):
        if sh.size is None or sh.guest is None or build.state.events_at(sh.path, "shm-refusals", _refusal):
            continue
        rc_fail = msg.could_not_set_up(rel, dom.name, -22)
        host, guest, size = sh.host, sh.guest, sh.size
        if sh.short_form and not rel.shm_host_optional and sh.unchecked_read is not None:
            host, guest, size = _read_past(build, construction, sh.path, sh.unchecked_read, rc_fail)
        if i >= rel.nr_shm_banks_per_domain:
            build.fail(construction,
                       "SHM-032", f"{dom.name} has {len(dom.shm)} shared-memory nodes; Xen {v} records at most "
                       f"{rel.nr_shm_banks_per_domain} per domain and fails on {sh.path} with -ENOMEM",
                       msg.could_not_set_up(rel, dom.name, -12), prop="xen,shared-mem")
        if not rel.shm_alignment_in_scan:
            bad = [n for n, x in (("guest address", guest), ("host address", host), ("size", size))
                   if x is not None and x % PAGE_SIZE]
            if bad:
                build.fail(construction,
                           "SHM-006", f"{sh.path}: xen,shared-mem {', '.join(bad)} not page aligned", rc_fail,
                           prop="xen,shared-mem")
        if dom.direct_map and rel.shm_direct_map_checked:
            if host is None:
                build.fail(construction,
                           "SHM-014", f"{sh.path}: a direct-mapped domain needs the host address", rc_fail,
                           prop="xen,shared-mem")
            if host != guest:
                build.fail(construction, "SHM-013", f"{sh.path}: host {host:#x} and guest {guest:#x} differ on a "
                           "direct-mapped domain", rc_fail, prop="xen,shared-mem")
        rng = Range(start=host, size=size) if host is not None and size else None
        if rng is not None and sh.role in (None, "owner"):
            owner = dom.path if sh.role == "owner" else DOMID_IO
            s, n = pfn_down(rng.start), pfn_down(rng.size)
            ft = build.state.ft
            already = next(ft.extents(s, s + 1), None)
            if owner == DOMID_IO and already is not None and already.owner == DOMID_IO:
                pass
            else:
                if sh.role == "owner":
                    construction.max_pages += n
                taken = ft.first_not(s, s + n, "static-free", True, None)
                if taken is not None:
                    ext = next(ft.extents(taken, taken + 1))
                    build.fail(construction, "SHM-031" if ext.state == "inuse" else "PAGE-002",
                               f"{sh.path}: page {taken * PAGE_SIZE:#x} of shared region {rng} is {ext.state}"
                               + (f" (owned by {ext.owner})" if ext.owner else "") + ": acquiring it fails",
                               rc_fail, prop="xen,shared-mem", ranges=[rng])
                ft.set(s, s + n, "inuse", static=True, owner=owner)
        construction.shm_windows.append((Range(start=guest, size=size), host, sh.path))


def _refusal(ev: Event) -> bool:
    """The early scan refused the node: its region was never recorded."""
    return (ev.rule.startswith("SHM-0") or ev.rule == "RSV-010") and ev.behaviour in ("PANIC", "CRASH")


def _read_past(build: DomainBuild, construction: Construction, path: str, read: tuple[int, int, int],
               rc_fail: str) -> tuple[int, int, int]:
    """``process_shm()`` of 4.17 and 4.18 reads host address, guest address and size from
    ``xen,shared-mem`` without checking its length. A short form (no host address) lost
    its early-scan entry already; here its guest address is taken for the host address,
    its size for the guest address, and the size comes from the blob's next tags
    (``SharedMem.unchecked_read``). Xen then checks alignment and ``mfn_valid()`` of every
    page, as for a long form, before using those numbers."""
    host, guest, size = read
    explain = (f"{path}: xen,shared-mem has no host address and Xen {build.v} reads one anyway: past the "
               f"property it takes host {host:#x}, guest {guest:#x}, size {size:#x}")
    if host % PAGE_SIZE or guest % PAGE_SIZE:
        build.fail(construction, "SHM-006", f"{explain}; physical address {host:#x}, or guest address "
                   f"{guest:#x} is not suitably aligned", rc_fail, prop="xen,shared-mem")
    if size % PAGE_SIZE:
        build.fail(construction, "SHM-006", f"{explain}; size {size:#x} is not suitably aligned", rc_fail,
                   prop="xen,shared-mem")
    start = pfn_down(host)
    for ext in build.state.ft.extents(start, start + pfn_down(size)):
        if ext.state == "none":
            bad = max(ext.start, start)
            build.fail(construction, "SHM-006", f"{explain}; invalid physical address {bad:#x} (page "
                       f"{bad * PAGE_SIZE:#x} is not RAM Xen knows of)", rc_fail, prop="xen,shared-mem")
    return host, guest, size
