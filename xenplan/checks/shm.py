"""SHM: static shared memory (``xen,domain-shared-memory-v1``).

Most of these Xen meets itself: the early scan (``boot/early_scan.py``:
SHM-003 to SHM-010, SHM-015) and domain construction (``boot/shm.py``:
SHM-005, SHM-013 from 4.19, SHM-014, SHM-031 for two host-form owners)
report them, and they are metadata here. Read here is what no stage sees:
a release or build without the feature (SHM-001), nodes nobody maps
(SHM-002), mixed host and short forms (SHM-011), SHM-013 where 4.17/4.18
do not check it, ownership mixes (SHM-031) and the per-domain limit
(SHM-032). Findings met while scanning name the shm node; those met while
building a domain name the domain, as the stages do.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from xenplan.boot.result import BootResult
from xenplan.checks.registry import Hit, rule
from xenplan.checks.rt import is_direct_mapped
from xenplan.checks.xs import classic_dom0
from xenplan.model.system import SharedMem, System

#: SHM-032: ``append_shm_bank_to_domain()``'s per-domain table.


def _rng(sh: SharedMem) -> tuple[tuple[int, int], ...]:
    return ((sh.host, sh.size),) if sh.host is not None and sh.size else ()


def _by_id(system: System) -> dict[str, list[SharedMem]]:
    out: dict[str, list[SharedMem]] = defaultdict(list)
    for sh in system.shm:
        if sh.shm_id is not None:
            out[sh.shm_id].append(sh)
    return out


@rule(id="SHM-001", slug="shm-feature-missing", behaviour="PANIC", since="4.16",
      xen_src="xen/common/device-tree/bootinfo-fdt.c: process_shm_node() (!CONFIG_STATIC_SHM stub)",
      xen_message="Early FDT parsing failed (-22)")
def shm_feature_missing(system: System, result: BootResult) -> Iterator[Hit]:
    """What Xen does: a Xen built without ``CONFIG_STATIC_SHM`` still finds
    ``xen,domain-shared-memory-v1`` nodes in its early scan and fails on the
    first one ("CONFIG_STATIC_SHM must be enabled for parsing static shared
    memory nodes", -EINVAL). From 4.19 that panics "Early FDT parsing failed";
    4.17 and 4.18 stop the scan there without a panic, so every node after it
    is lost (TRUNC). Xen 4.16 does not know the binding and ignores the nodes.

    Why it matters: on 4.19+ nothing boots; on 4.17/4.18 later domains lose
    their kernels; on 4.16 the guests boot without the shared memory they
    expect.

    Example: ``--kconfig STATIC_SHM=n`` with::

        shm@0 { compatible = "xen,domain-shared-memory-v1"; xen,shm-id = "buf";
                xen,shared-mem = <0x0 0x70000000 0x0 0x50000000 0x0 0x200000>; };

    passes with a Xen built with ``CONFIG_STATIC_SHM=y`` (which needs
    ``CONFIG_STATIC_MEMORY`` and ``CONFIG_UNSUPPORTED``).

    Fix: enable ``CONFIG_STATIC_SHM`` (Xen 4.17+), or remove the nodes.
    """
    if system.target.release.static_shm_binding:
        return  # 4.17+: the early scan meets a Kconfig-less build itself (boot/early_scan.py)
    why = f"Xen {system.target.version} does not know this binding and ignores the node"
    for sh in system.shm:
        yield Hit(message=f"{sh.path}: static shared memory node, but {why}", path=sh.path,
                  property="xen,shared-mem", ranges=_rng(sh), behaviour="DROP")


@rule(id="SHM-002", slug="shm-node-not-in-domain", behaviour="HAZARD", since="4.17",
      xen_src="xen/common/device-tree/bootinfo-fdt.c: early_scan_node(); "
              "xen/common/device-tree/static-shmem.c: process_shm()", kconfig=("STATIC_SHM",))
def shm_node_not_in_domain(system: System, result: BootResult) -> Iterator[Hit]:
    """What Xen does: the early scan records every node with this compatible
    down to depth 3, wherever it sits: its region is reserved, checked for
    overlaps and counted. Only nodes that are direct children of a
    ``xen,domain`` node (or of ``/chosen`` when a classic dom0 exists) are ever
    mapped into a domain.

    Why it matters: a node in the wrong place boots silently; its region is
    taken out of the heap and never used, and the domain meant to use it has
    no shared memory.

    Example: ``/chosen/box/shm@1`` (``box`` is not a domain), or
    ``/chosen/shm@2`` on a dom0less system; moved into
    ``/chosen/domU2/shm@1`` it is mapped into domU2.

    Fix: put each shm node directly inside the ``xen,domain`` node that uses it.
    """
    domains = {d.path for d in system.domains}
    for sh in system.shm:
        if sh.parent in domains or (sh.parent == "/chosen" and classic_dom0(system)):
            continue
        where = ("/chosen, and there is no dom0 to map it" if sh.parent == "/chosen"
                 else f"{sh.parent}, which is not a xen,domain child of /chosen")
        yield Hit(message=f"{sh.path}: shared memory \"{sh.shm_id}\" sits under {where}: Xen reserves its region "
                          "but maps it into no domain", path=sh.path, property="xen,shared-mem", ranges=_rng(sh))


@rule(id="SHM-003", slug="shm-parent-cells-zero", behaviour="PANIC", since="4.17",
      xen_src="xen/common/device-tree/static-shmem.c: process_shm_node()",
      xen_message="Early FDT parsing failed (-22)")
def shm_parent_cells_zero() -> None:
    """What Xen does: ``xen,shared-mem`` is decoded with the parent's
    ``#address-cells`` (host and guest) and ``#size-cells``; if either is
    below 1 the early scan fails ("invalid #address-cells or #size-cells"):
    TRUNC on 4.17/4.18, "Early FDT parsing failed" from 4.19.

    Why it matters: Xen stops (4.19+) or loses every later node (4.17/4.18).

    Example: ``domU1 { #address-cells = <0>; shm@0 {...}; };`` fails;
    ``#address-cells = <2>; #size-cells = <2>;`` (or no override) works.

    Fix: give the parent at least one address and one size cell.
    """


@rule(id="SHM-004", slug="shm-id-missing-or-too-long", behaviour="PANIC", since="4.17",
      xen_src="xen/common/device-tree/static-shmem.c: process_shm_node(), process_shm()",
      xen_message="Early FDT parsing failed (-22)")
def shm_id_missing_or_too_long() -> None:
    """What Xen does: ``xen,shm-id`` is mandatory (-ENOENT) and must be shorter
    than 16 characters ("fdt: invalid xen,shm-id ..., it must be limited to 16
    characters", -EINVAL). Both are early-scan errors: TRUNC on 4.17/4.18,
    "Early FDT parsing failed" from 4.19. An empty id passes the scan and
    hits a BUG when the domain is built.

    Why it matters: Xen stops booting, or on 4.17/4.18 the domain's kernel
    (after the node) is lost and Xen falls back to a dom0 that does not exist.

    Example: ``xen,shm-id = "abcdefghijklmnop";`` (16) fails;
    ``"abcdefghijklmno"`` (15) works.

    Fix: use a non-empty id of at most 15 characters.
    """


@rule(id="SHM-005", slug="shm-role-invalid", behaviour="PANIC", since="4.17",
      xen_src="xen/common/device-tree/static-shmem.c: process_shm_node()",
      xen_message="Early FDT parsing failed (-22)")
def shm_role_invalid() -> None:
    """What Xen does: ``role`` is optional; if present it must be ``"owner"`` or
    ``"borrower"``. Anything else fails the early scan ("fdt: invalid `role`
    property for static shared memory node."): TRUNC on 4.17/4.18, "Early
    FDT parsing failed" from 4.19.

    Why it matters: Xen stops booting (4.19+) or loses every later node.

    Example: ``role = "master";`` fails; ``role = "owner";`` works.

    Fix: use ``"owner"`` or ``"borrower"``, or omit ``role`` everywhere for
    the DOMID_IO model.
    """


@rule(id="SHM-006", slug="shm-shared-mem-malformed", behaviour="PANIC", since="4.17",
      xen_src="xen/common/device-tree/static-shmem.c: process_shm_node()",
      xen_message="Early FDT parsing failed (-22)")
def shm_shared_mem_malformed() -> None:
    """What Xen does: ``xen,shared-mem`` must be ``<host guest size>`` (or, from
    4.19, ``<guest size>``), every number page aligned, the size non-zero and
    the host range must not wrap. 4.19+ check all of it in the early scan and
    panic "Early FDT parsing failed". 4.17/4.18 reject the shape, the short
    form and a zero size in the scan (TRUNC) and the alignment only when the
    domain is built ("Could not set up domain D").

    Why it matters: Xen stops booting, or on 4.17/4.18 loses every node after
    this one.

    Example: guest ``0x50000800`` fails; ``0x50000000`` works. On 4.17/4.18
    the short form ``<0x0 0x50000000 0x0 0x200000>`` fails; give the host
    address.

    Fix: page-align host, guest and size, use a non-zero size, and on
    4.17/4.18 always give the host address.
    """


@rule(id="SHM-007", slug="shm-id-names-two-regions", behaviour="PANIC", since="4.17",
      xen_src="xen/common/device-tree/static-shmem.c: process_shm_node()",
      xen_message="Early FDT parsing failed (-22)")
def shm_id_names_two_regions() -> None:
    """What Xen does: every node of one ``xen,shm-id`` must describe the same
    region: same host address and size (host form), same size (short form).
    Otherwise "different shared memory region could not share the same shm
    ID": TRUNC on 4.17/4.18, "Early FDT parsing failed" from 4.19. A
    host-form node after a short-form node of the same id fails too.

    Why it matters: Xen stops booting (4.19+) or loses every later node.

    Example: owner ``<0x0 0x70000000 ...>`` and borrower ``<0x0 0x70200000 ...>``
    with the same id fail; the same host address on both works.

    Fix: copy the owner's host address and size into every node of the id.
    """


@rule(id="SHM-008", slug="shm-region-has-two-ids", behaviour="PANIC", since="4.17",
      xen_src="xen/common/device-tree/static-shmem.c: process_shm_node()",
      xen_message="Early FDT parsing failed (-22)")
def shm_region_has_two_ids() -> None:
    """What Xen does: two host-form nodes with the same host address and size
    must carry the same id ("xen,shm-id ... does not match for all the nodes
    using the same region"): TRUNC on 4.17/4.18, "Early FDT parsing failed"
    from 4.19.

    Why it matters: Xen stops booting (4.19+) or loses every later node.

    Example: ids ``"buf"`` and ``"other"`` on the same region fail; ``"buf"``
    on both works.

    Fix: one region, one id.
    """


@rule(id="SHM-009", slug="shm-region-overlap", behaviour="PANIC", since="4.17",
      xen_src="xen/common/device-tree/static-shmem.c: process_shm_node(); "
              "xen/common/device-tree/bootinfo.c: check_reserved_regions_overlap()",
      xen_message="Early FDT parsing failed (-22)")
def shm_region_overlap() -> None:
    """What Xen does: a host-form region must not overlap static banks,
    ``/reserved-memory``, the static heap, other shm regions or boot modules.
    4.19+ check all of them and panic "Early FDT parsing failed". 4.17
    compares only with what was recorded before it, 4.18 only when something
    was recorded before it, and both stop the scan without a panic (TRUNC);
    a later static bank over an earlier region crashes 4.17 (BUG).

    Why it matters: the same pages would belong to a domain and be shared,
    or be given to the heap; Xen stops, crashes, or loses later nodes.

    Example: a region at ``0x60000000`` inside domU1's static bank
    ``0x60000000+128 MiB`` fails; ``0x70000000`` works.

    Fix: take shared regions from host memory that nothing else reserves.
    """


@rule(id="SHM-010", slug="shm-too-many-regions", behaviour="PANIC", since="4.17",
      xen_src="xen/common/device-tree/static-shmem.c: process_shm_node()",
      xen_message="Early FDT parsing failed (-28)")
def shm_too_many_regions() -> None:
    """What Xen does: from 4.19 Xen holds at most 32 distinct regions
    (NR_SHMEM_BANKS); the 33rd fails "Max number of supported memory regions
    reached" (-ENOSPC) and panics. 4.17/4.18 count them among the 256
    ``reserved_mem`` banks.

    Why it matters: Xen stops booting.

    Example: 33 different ``xen,shm-id`` values fail; 32 work.

    Fix: merge small regions into larger ones (one id can be split by the
    guests themselves).
    """


@rule(id="SHM-011", slug="shm-host-and-short-forms-mixed", behaviour="HAZARD", since="4.19",
      xen_src="xen/common/device-tree/static-shmem.c: process_shm_node(), process_shm()", isolation=True,
      kconfig=("STATIC_SHM",))
def shm_host_and_short_forms_mixed(system: System, result: BootResult) -> Iterator[Hit]:
    """What Xen does: when the first node of an id gives a host address, a
    later node of the same id in the short form ``<guest size>`` passes the
    early scan (only the size is compared). When its domain is built Xen
    sees that the region has a host address and reads the node as
    ``<host guest size>``: the size cell becomes the guest address. (In the
    other order, short form first, the host-form node fails, SHM-007.)

    Why it matters: the shared pages are mapped at a wrong guest address,
    typically over the domain's RAM or a device: the guest's memory is
    silently replaced by memory another domain writes.

    Example::

        domU1 { shm@0 { ...; xen,shared-mem = <0x0 0x70000000 0x0 0x50000000 0x0 0x200000>; }; };
        domU2 { shm@1 { ...; xen,shared-mem = <0x0 0x50000000 0x0 0x200000>; }; };

    Fixed: give domU2's node the host address too,
    ``<0x0 0x70000000 0x0 0x50000000 0x0 0x200000>``.

    Fix: use one form for all nodes of an id.
    """
    for nodes in _by_id(system).values():
        first = nodes[0]
        if first.short_form or first.host is None:
            continue
        for sh in nodes[1:]:
            if sh.short_form and sh.size == first.size:
                yield Hit(message=f"{sh.path}: \"{sh.shm_id}\" is given without a host address here but with one "
                                  f"in {first.path}: Xen reads this node as <host guest size> and maps the region "
                                  f"at the wrong guest address ({sh.size:#x}, the size cell)",
                          path=sh.path, property="xen,shared-mem",
                          related=((first.path, _rng(first)),), isolation=True)


@rule(id="SHM-013", slug="shm-direct-map-host-ne-guest", behaviour="PANIC", since="4.17",
      xen_src="xen/common/device-tree/static-shmem.c: process_shm()",
      xen_message="Could not set up domain D (rc = -22)", kconfig=("STATIC_SHM",))
def shm_direct_map_host_ne_guest(system: System, result: BootResult) -> Iterator[Hit]:
    """What Xen does: on a direct-mapped domain the shared region must appear
    at its host address. From 4.19 Xen refuses anything else while building
    the domain ("physical address ... and guest address ... are not
    direct-mapped", then "Could not set up domain D (rc = -22)"); the boot
    stage reports that. 4.17 and 4.18 do not check: the region is mapped at
    the guest address given.

    Why it matters: on 4.17/4.18 the domain boots with a window that breaks
    its 1:1 view (devices it drives DMA to the wrong place); 4.19+ stop.

    Example: ``direct-map`` and ``<0x0 0x70000000 0x0 0x50000000 0x0 0x200000>``;
    fixed: ``<0x0 0x70000000 0x0 0x70000000 0x0 0x200000>``.

    Fix: make the guest address equal to the host address on 1:1 domains.
    """
    rel = system.target.release
    if not rel.static_shm_binding or rel.shm_direct_map_checked:
        return
    for dom in system.domains:
        if not is_direct_mapped(system, result, dom):
            continue
        for sh in dom.shm:
            if sh.host is not None and sh.guest is not None and sh.host != sh.guest:
                yield Hit(message=f"{sh.path}: {dom.name} is direct-mapped but shares host {sh.host:#x} at guest "
                                  f"{sh.guest:#x}; Xen {system.target.version} maps it there unchecked, breaking "
                                  "the 1:1 view", path=dom.path, property="xen,shared-mem", ranges=_rng(sh),
                          behaviour="HAZARD")


@rule(id="SHM-014", slug="shm-direct-map-needs-host", behaviour="PANIC", since="4.19",
      xen_src="xen/common/device-tree/static-shmem.c: process_shm()",
      xen_message="Could not set up domain D (rc = -22)")
def shm_direct_map_needs_host() -> None:
    """What Xen does: a direct-mapped domain cannot take a heap-backed (short
    form) region: "host and guest physical address must be supplied for
    direct-mapped domains", and the domain fails. (4.17/4.18 refuse the short
    form in the early scan anyway, SHM-006.)

    Why it matters: Xen stops booting.

    Example: ``direct-map`` with ``<0x0 0x50000000 0x0 0x200000>`` fails;
    ``<0x0 0x70000000 0x0 0x70000000 0x0 0x200000>`` works.

    Fix: give a host address equal to the guest address.
    """


@rule(id="SHM-015", slug="shm-repeated-region-trips-418", behaviour="TRUNC", since="4.18", until="4.19",
      xen_src="xen/arch/arm/bootfdt.c: process_shm_node(); xen/arch/arm/setup.c: check_reserved_regions_overlap()",
      xen_message="fdt: node `shm@...': parsing failed")
def shm_repeated_region_trips_418() -> None:
    """What Xen does: Xen 4.18 only. A later node of a region already recorded
    (same id, host and size) runs the global overlap check for each earlier
    ``reserved_mem`` entry that is not the region itself; that check finds the
    region and fails ("overlapping with bank[k]"), unless the region is entry
    0. The scan stops there without a panic.

    Why it matters: the borrower's domain and every later one lose their
    kernels: Xen panics building that domain, or falls back to dom0.

    Example: domU1 with a static bank (entry 0) and an owner node, domU2 with
    the borrower node: domU2's node trips. Without domU1's static bank (the
    region is entry 0), or on 4.17/4.19+, it boots.

    Fix: on 4.18, make the shared region the first thing Xen records (place
    its owner node before any static bank, static heap or reserved memory),
    or use another release.
    """


@rule(id="SHM-031", slug="shm-ownership-invalid", behaviour="PANIC", since="4.17",
      xen_src="xen/common/device-tree/static-shmem.c: handle_shared_mem_bank(), assign_shared_memory()",
      xen_message="Could not set up domain D (rc = -22)", kconfig=("STATIC_SHM",))
def shm_ownership_invalid(system: System, result: BootResult) -> Iterator[Hit]:
    """What Xen does: for one id, either no node has ``role`` (DOMID_IO owns
    the region) or exactly one is ``"owner"`` and all others ``"borrower"``.
    A node without ``role`` next to an owner makes DOMID_IO acquire the
    pages too: with a host address the second acquisition fails and Xen
    panics (as with two owners, which the construction stage reports);
    heap-backed regions are re-assigned without a check (undefined). With
    only borrowers, nobody acquires the pages: borrowers map static or heap
    pages that no domain owns, without references.

    Why it matters: Xen stops booting, or the region is unowned memory that
    the heap (or a static domain) may hand out again.

    Example: ``role = "borrower"`` on every node of ``"buf"``; fixed by making
    one of them ``role = "owner"`` (or by removing ``role`` from all).

    Fix: one owner and borrowers, or no ``role`` at all.
    """
    for sid, nodes in _by_id(system).items():
        owners = [s for s in nodes if s.role == "owner"]
        roleless = [s for s in nodes if s.role is None]
        heap = nodes[0].short_form or nodes[0].host is None
        if all(s.role == "borrower" for s in nodes):
            yield Hit(message=f"every node of \"{sid}\" ({', '.join(s.path for s in nodes)}) is a borrower: no "
                              "domain acquires the region, and borrowers map pages nobody owns",
                      path=nodes[0].parent, property="role", ranges=_rng(nodes[0]),
                      related=tuple((s.path, ()) for s in nodes[1:]), behaviour="HAZARD", isolation=True)
        for sh in roleless if owners and heap else ():
            yield Hit(message=f"{sh.path}: no role next to owner {owners[0].path} for \"{sid}\": DOMID_IO acquires "
                              "the heap-backed region again without a check (undefined)",
                      path=sh.parent, property="role", ranges=_rng(sh), related=((owners[0].path, ()),),
                      behaviour="UB")
        for sh in owners[1:] if heap else ():
            yield Hit(message=f"{sh.path}: a second owner of heap-backed \"{sid}\" (first: {owners[0].path}): the "
                              "pages are re-assigned without a check (undefined)", path=sh.parent, property="role",
                      related=((owners[0].path, ()),), behaviour="UB")


@rule(id="SHM-032", slug="shm-too-many-per-domain", behaviour="PANIC", since="4.17",
      xen_src="xen/common/device-tree/static-shmem.c: append_shm_bank_to_domain()",
      xen_message="Could not set up domain D (rc = -12)", kconfig=("STATIC_SHM",))
def shm_too_many_per_domain() -> None:
    """What Xen does: each domain records its shared-memory nodes in a table
    of 32 entries from 4.19 (NR_SHMEM_BANKS; 256 on 4.17/4.18). One more
    fails with -ENOMEM and Xen panics "Could not set up domain D". Two
    borrower nodes of the same id each take an entry.

    Why it matters: Xen stops booting, although the global limit of distinct
    regions (SHM-010) is respected.

    Example: a domain with 33 borrower nodes fails on 4.19+; with 32 it
    works.

    Fix: at most 32 shared-memory nodes per domain; share larger regions
    instead of many small ones.
    """

