"""GMAP: each domU's guest physical map (§8), read from the boot result's P2M.

Xen never checks a guest map for overlaps: a later mapping silently replaces
an earlier one, and an emulated device hidden under a mapping stops working.
These rules read ``result.domains[i].p2m`` (built by ``boot/finish.py``) and,
for RAM, the banks as Xen laid them out (``xen_banks``: the usable ``banks``
already have shared-memory windows cut out).
"""

from __future__ import annotations

from collections.abc import Iterator

from xenplan.boot.result import BootResult, DomainResult
from xenplan.checks.dmap import pv_enabled
from xenplan.checks.registry import Hit, rule
from xenplan.model.base import Range
from xenplan.model.layout import RESERVED_UNUSED
from xenplan.model.system import Domain, System

EMULATED = ("gicd", "gicr", "vpl011")


def guest_regions(dom: Domain, res: DomainResult) -> list[tuple[str, Range, str]]:
    """(kind, guest range, owner path) of every region in the domain's guest map."""
    out: list[tuple[str, Range, str]] = []
    for b in res.xen_banks or res.banks or ():
        out.append(("ram", Range(start=b.guest, size=b.size), dom.path))
    for r in res.p2m:
        if r.kind == "ram" or r.size == 0:
            continue
        owner = r.note if r.kind == "shm" and r.note else dom.path
        out.append((r.kind, Range(start=r.guest, size=r.size), owner))
    return out


@rule(id="GMAP-001", slug="guest-range-in-reserved-window", behaviour="INFO", since="4.17",
      xen_src="xen/include/public/arch-arm.h")
def guest_range_in_reserved_window(system: System, result: BootResult) -> Iterator[Hit]:
    """What Xen does: fixes the guest map of every domU that is not direct-mapped:
    vGIC at 0x03001000, vPL011 at 0x22000000, grant table at 0x38000000,
    magic pages at 0x39000000, RAM at 0x40000000 (3 GiB) and 0x200000000. It
    also reserves windows that dom0less does not use: virtio-mmio
    0x02000000 (1 MiB, 4.17+), vPCI ECAM 0x10000000 (256 MiB), ACPI
    0x20000000 (32 MiB), vPCI memory 0x23000000 (256 MiB) and 0x100000000
    (4 GiB). Nothing stops a shared-memory window from landing there.

    Why it matters: guests built by the toolstack, virtio or vPCI use these
    windows; a shared-memory window there clashes as soon as the domain is
    moved to such a set-up or the feature is enabled.

    Example: ``xen,shared-mem = <0x0 0x70000000 0x0 0x10000000 0x0 0x200000>;``
    (guest 0x10000000, vPCI ECAM) is flagged; guest ``0x0 0x8000000`` is not.

    Fix: put shared-memory guest windows outside the reserved windows, for
    instance between 0x04000000 and 0x10000000, or above the guest RAM.
    """
    reserved = system.target.release.guest_reserved_windows
    for dom in system.domains:
        for sh in dom.shm:
            if sh.guest is None or not sh.size:
                continue
            g = Range(start=sh.guest, size=sh.size)
            for name, w in RESERVED_UNUSED:
                if name in reserved and g.overlaps(w):
                    yield Hit(message=f"{dom.name}: shared memory {sh.path} at guest {g.start:#x}+{g.size:#x} lies "
                                      f"in the {name} window {w.start:#x}+{w.size:#x} that Xen reserves in every "
                                      "guest map",
                              path=dom.path, ranges=((g.start, g.size),),
                              related=((dom.path, ((w.start, w.size),)),), behaviour="HAZARD")


@rule(id="GMAP-020", slug="guest-map-overlap", behaviour="HAZARD", since="4.16",
      xen_src="xen/arch/arm/mmu/p2m.c: p2m_set_entry()")
def guest_map_overlap(system: System, result: BootResult) -> Iterator[Hit]:
    """What Xen does: inserts every guest mapping of a domU - RAM, shared memory,
    passthrough MMIO, the GICv2 CPU interface, grant and xenstore pages - with
    no check against what is already mapped there; a later entry silently
    replaces the earlier one. Emulated devices (vGIC distributor and
    redistributors, vPL011) only work where nothing is mapped.

    Why it matters: a replaced RAM page stays allocated but unreachable, the
    guest is told it has RAM that is in fact another domain's shared memory
    (the kernel may even be loaded into it), or an emulated device disappears
    behind a mapping. Shared memory over RAM breaks the isolation between the
    domains sharing it (error); other overlaps are warnings.

    Example: a shared-memory window at guest 0x40000000 lands in the guest's
    RAM:

        xen,shared-mem = <0x0 0x70000000 0x0 0x40000000 0x0 0x200000>;

    Fixed: a guest window outside RAM, e.g. ``0x0 0x8000000``.

    Fix: choose guest addresses for shared memory (and passthrough ``xen,reg``)
    outside guest RAM (0x40000000-0xffffffff, 0x200000000 up) and outside the
    vGIC, vPL011, grant-table and magic windows.
    """
    doms = {d.path: d for d in system.domains}
    rel = system.target.release
    for res in result.domains:
        dom = doms.get(res.path)
        if dom is None or res.status != "constructed":
            continue
        regions = [r for r in guest_regions(dom, res)
                   if not (r[0] in ("gnttab", "magic") and (res.direct_map or not pv_enabled(rel, dom)))]
        for i, (ka, ra, pa) in enumerate(regions):
            for kb, rb, pb in regions[i + 1:]:
                if ka == kb == "ram" or not ra.overlaps(rb):
                    continue
                if ka in EMULATED and kb in EMULATED:
                    continue
                emulated = ka in EMULATED or kb in EMULATED
                effect = ("the emulated device stops working behind the mapping" if emulated
                          else "the later mapping replaces the earlier one")
                cross = {ka, kb} == {"ram", "shm"}
                if cross:
                    effect = "guest RAM there is backed by shared pages another domain can see, and the RAM it " \
                             "replaced leaks"
                a = f"{ka} {ra.start:#x}+{ra.size:#x}" + (f" ({pa})" if pa != dom.path else "")
                b = f"{kb} {rb.start:#x}+{rb.size:#x}" + (f" ({pb})" if pb != dom.path else "")
                other = pb if pb != dom.path else pa
                yield Hit(message=f"{dom.name}: guest {a} overlaps {b}: {effect}", path=dom.path,
                          ranges=((ra.start, ra.size),), related=((other, ((rb.start, rb.size),)),),
                          isolation=cross)


@rule(id="GMAP-021", slug="guest-address-above-ipa", behaviour="PANIC", since="4.16",
      xen_src="xen/arch/arm/mmu/p2m.c: p2m_set_entry()")
def guest_address_above_ipa(system: System, result: BootResult) -> Iterator[Hit]:
    """What Xen does: a domU's stage-2 tables cover guest addresses below
    2^IPA bits (the CPU's physical address size, at most 48 bits on arm64
    and 40 on arm32, smaller with some SMMUs). Mapping anything above fails
    while the domain is built, and Xen panics (for RAM: "Failed to allocate
    requested domain memory..." or "Failed to allocate requested static
    memory for domain dN."). xenplan takes the size from ``--pa-bits``, else
    from the CPU ``compatible``, else 40 bits.

    Why it matters: the domain is never built and Xen stops booting.

    Example (``--pa-bits 36``, 64 GiB): a shared-memory window at guest
    ``0x10 0x0`` (64 GiB) fails; one at ``0x0 0x8000000`` maps.

    Fix: keep every guest range - RAM (second window starts at 8 GiB),
    shared memory, passthrough - below 2^IPA bits; lower ``memory`` if the
    RAM itself runs past it.
    """
    bits, origin = system.ipa()
    ceiling = 1 << bits
    doms = {d.path: d for d in system.domains}
    for res in result.domains:
        dom = doms.get(res.path)
        if dom is None:
            continue
        for kind, r, owner in guest_regions(dom, res):
            if r.end > ceiling:
                who = f" ({owner})" if owner != dom.path else ""
                yield Hit(message=f"{dom.name}: guest {kind}{who} {r.start:#x}+{r.size:#x} ends above the "
                                  f"{bits}-bit guest address space ({ceiling:#x}, IPA size from {origin}): "
                                  "Xen cannot map it",
                          path=dom.path, ranges=((r.start, r.size),),
                          related=((owner, ()),) if owner != dom.path else ())
