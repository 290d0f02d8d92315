"""VER: what differs per Xen release.

VER-001 and VER-002 describe how the simulation is keyed on the release
(each event carries the release's behaviour, ``xenplan.boot.messages`` the
texts) and yield no findings of their own. VER-003, new in xenplan, reports
bindings the chosen release does not read at all: newer ones it does not
know yet, and 4.16's static-memory cells that later releases dropped.
"""

from __future__ import annotations

from collections.abc import Iterator

from xenplan.boot.result import BootResult
from xenplan.checks.registry import Hit, rule
from xenplan.model.system import Domain, ScanItem, System


@rule(id="VER-001", slug="stop-point-per-release", behaviour="INFO", since="4.16",
      xen_src="xen/arch/arm/setup.c: start_xen()")
def ver_001() -> None:
    """What Xen does: the first failure reached decides the verdict, and
    where each class of error stops Xen depends on the release:

    | class | 4.16 | 4.17 | 4.18 | 4.19+ |
    |---|---|---|---|---|
    | malformed or overlapping early-scan item | TRUNC (no overlap checks) | TRUNC (shm only) | TRUNC | PANIC early-fdt |
    | static pages outside RAM | CRASH | CRASH | CRASH | CRASH |
    | static pages initialised twice | CRASH | CRASH | unreachable | unreachable |
    | frame table does not fit the static heap | – | CRASH | CRASH | CRASH |
    | no domU kernel recorded | PANIC (stage other) | same | same | same |
    | static bank split over 3 GiB | PANIC | PANIC | PANIC | PANIC up to 4.21, boots on 4.22 |
    | guest DTB larger than its buffer | PANIC | PANIC | PANIC | PANIC up to 4.21 |

    Inside the early scan the first failing node in document order wins;
    among domains, the first failing domain in DT order, and inside it the
    construction steps in order.

    Why it matters: the same board can boot on one release, crash on an
    older one and stop in the early scan on a newer one; check against the
    release you flash.

    Example: two overlapping static banks crash 4.16/4.17, make 4.18 fail
    the second domain, and stop 4.19+ in the early scan; separate banks
    boot everywhere.

    Fix: pass `--xen-version` for the release you run.
    """


@rule(id="VER-002", slug="panic-texts-per-release", behaviour="INFO", since="4.16",
      xen_src="xen/common/device-tree/dom0less-build.c: create_domUs(); xen/arch/arm/domain_build.c: "
              "construct_dom0(); xen/common/page_alloc.c")
def ver_002() -> None:
    """What Xen does: the panic and BUG texts change between releases:

    | event | 4.16 | 4.17 | 4.18 | 4.20 | 4.22 |
    |---|---|---|---|---|---|
    | domain creation | Error creating domain D | same | ... (rc = -22) | same | same |
    | domain construction | Could not set up domain D | same | ... (rc = N) | same | same |
    | dom0 fallback | Could not set up DOM0 guest OS | same | ... (rc = -2) | same | Could not set up d0 guest OS (rc = -2) |
    | BUG in `mark_page_free()` | page_alloc.c:1419 | common/page_alloc.c:1423 | :1438 | :1480 | :1522 |
    | BUG in `alloc_boot_pages()` | page_alloc.c:436 | common/page_alloc.c:440 | :447 | :463 | :464 |

    Static-memory panics ("Failed to allocate requested static memory for
    domain dN.") and the data abort text are the same everywhere. BUG line
    numbers are those of the release tags; other point releases differ.

    Why it matters: `failed_at.message` is the text that release prints, so
    logs can be matched to a finding.

    Example: the same missing kernel prints "Could not set up DOM0 guest
    OS" on 4.17 and "Could not set up d0 guest OS (rc = -2)" on 4.22.

    Fix: nothing to fix; compare logs with the message for your release.
    """


#: Bindings a release reads, with the first release that reads them (and what ignoring them means).
#: Static shared memory and event channels on 4.16 are SHM-001 and EVT-001.
BINDINGS: tuple[tuple[str, str, str], ...] = (
    ("direct-map", "4.17", "the domain is not direct-mapped: its guest addresses are not its host addresses"),
    ("xen,enhanced", "4.17", "no PV interfaces (no grant table, xenstore or event-channel PPI)"),
    ("domain-cpupool", "4.17", "the domain runs in Pool-0"),
    ("sve", "4.18", "the domain gets no SVE"),
    ("passthrough", "4.19", "the IOMMU setting comes from the partial device tree alone"),
    ("llc-colors", "4.20", "the domain is not coloured"),
    ("capabilities", "4.21", "the domain is an ordinary domU: no control, hardware or xenstore role"),
    ("trap-unmapped-accesses", "4.21", "unmapped accesses fault as before"),
    ("xen,sci_type", "4.21", "no SCMI mediation"),
)
CHOSEN_BINDINGS: tuple[tuple[str, str, str], ...] = (
    ("xen,static-heap", "4.17", "Xen's heap is all free RAM, not the static heap banks"),
)


@rule(id="VER-003", slug="binding-unknown-to-release", behaviour="HAZARD", since="4.16",
      xen_src="xen/arch/arm/domain_build.c: create_domUs(), construct_domU(); "
              "xen/arch/arm/bootfdt.c: process_chosen_node() (per release)")
def binding_unknown_to_release(system: System, result: BootResult) -> Iterator[Hit]:
    """What Xen does: a property that the release does not implement is never
    read: no message, no error; the domain (or Xen) is built as if it were
    absent. ``direct-map``, ``xen,enhanced``, ``domain-cpupool`` and
    ``xen,static-heap`` arrived in 4.17, ``sve`` in 4.18, ``passthrough`` in
    4.19, ``llc-colors`` in 4.20, ``capabilities``, ``trap-unmapped-accesses``,
    ``xen,sci_type`` and ``xen,vcpu`` children in 4.21 (static shared memory
    and event channels on 4.16: SHM-001, EVT-001). The other way round, a
    domain's ``#xen,static-mem-address-cells`` and
    ``#xen,static-mem-size-cells`` are read only by 4.16's
    ``process_domain_node()``: from 4.17 ``xen,static-mem`` is decoded with
    ``/chosen``'s ``#address-cells``/``#size-cells`` and those two are
    ignored. xenplan reports them when they differ from ``/chosen``'s cells,
    because then a 4.16 tree is read differently (DT-002).

    Why it matters: the system boots, but not as configured: a
    "direct-mapped" domain is not 1:1 (its DMA goes to the wrong place), a
    "static heap" is not used, a PV domain has no PV interfaces.

    Example: on Xen 4.16::

        domU1 { compatible = "xen,domain"; direct-map; xen,static-mem = <...>; ... };

    boots as an ordinary static domain; on 4.17 and later it is 1:1. On Xen
    4.17 and later, under a ``/chosen`` with 2/2 cells::

        domU1 { #xen,static-mem-address-cells = <1>; #xen,static-mem-size-cells = <1>;
                xen,static-mem = <0x60000000 0x10000000>; ... };

    is read with 2/2 cells: two cells are less than one bank, so the domain
    is static with no bank at all. ``xen,static-mem = <0x0 0x60000000 0x0
    0x10000000>;`` is the same bank in ``/chosen``'s cells.

    Fix: use a release that implements the binding (``--xen-version``), or
    drop the property and configure what the release offers. For static
    memory from 4.17, write ``xen,static-mem`` in ``/chosen``'s cells and
    drop the ``#xen,static-mem-*-cells`` properties.
    """
    rel = system.target.release
    v = rel.version
    for dom in system.domains:
        for prop, since, effect in BINDINGS:
            if prop in dom.prop_sources and prop not in rel.domain_props:
                yield Hit(message=f"{dom.name}: {prop} is read only from Xen {since}; Xen {v} ignores it: {effect}",
                          path=dom.path, property=prop)
        if dom.vcpus and not rel.vcpu_affinity_nodes:
            yield Hit(message=f"{dom.name}: xen,vcpu children are read only from Xen 4.21; Xen {v} ignores them: "
                      "no vCPU affinity is set", path=dom.vcpus[0].path)
    if not rel.static_mem_cells_props:
        static_mem: dict[str, ScanItem] = {}
        for i in system.scan:
            if i.kind == "static-mem":
                static_mem.setdefault(i.path, i)
        for dom in system.domains:
            hit = _static_mem_cells_ignored(system, dom, static_mem.get(dom.path))
            if hit is not None:
                yield hit
    for prop, since, effect in CHOSEN_BINDINGS:
        if prop in system.xen.chosen_props and prop not in rel.chosen_props:
            yield Hit(message=f"/chosen: {prop} is read only from Xen {since}; Xen {v} ignores it: {effect}",
                      path="/chosen", property=prop)


STATIC_MEM_CELLS = ("#xen,static-mem-address-cells", "#xen,static-mem-size-cells")


def _static_mem_cells_ignored(system: System, dom: Domain, item: ScanItem | None) -> Hit | None:
    """4.16's static-memory cells on a release that reads ``xen,static-mem`` with ``/chosen``'s
    cells (``process_domain_node()``, ``parse_static_mem_prop()``), when the two disagree; ``item``
    is the domain's first static-mem scan item (looked up by path once for every domain)."""
    given = [p for p in STATIC_MEM_CELLS if p in dom.prop_sources]
    if not given or item is None or dom.static_mem_cells == item.cells:
        return None
    ac, sc = item.cells
    if dom.static_mem_error is not None:
        got = f"which fails ({dom.static_mem_error})"
    elif dom.static_mem:
        got = "which gives " + ", ".join(str(r) for r in dom.static_mem)
    else:
        got = "which gives no bank at all"
    v = system.target.release.version
    return Hit(message=f"{dom.name}: {' and '.join(given)} are read only by Xen 4.16; Xen {v} ignores them and "
               f"decodes xen,static-mem with /chosen's #address-cells/#size-cells ({ac}/{sc}), {got}: write "
               f"xen,static-mem in /chosen's cells ({ac} address, {sc} size) and drop {' and '.join(given)}",
               path=dom.path, property=given[0])
