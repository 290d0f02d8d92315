"""XS: PV interfaces, xenstore and the grant table of dom0less domains.

``xen,enhanced`` decides whether a domU gets Xen's PV interfaces and a
xenstore connection. The hazards here are those of static and
direct-mapped domains: a xenstore page that must come from memory such a
domain does not have, or lands on its 1:1 RAM; and the xenstore domain that
must exist at all. How each release reads the property is
``XenRelease.enhanced_modes``.
"""

from __future__ import annotations

from collections.abc import Iterator

from xenplan.boot.result import BootResult
from xenplan.checks.registry import Hit, rule
from xenplan.checks.rt import is_direct_mapped, static_ranges
from xenplan.model.release import EnhancedMode
from xenplan.model.system import Domain, System

Mode = EnhancedMode

CAP_HARDWARE = 1 << 1
CAP_XENSTORE = 1 << 2
GUEST_MAGIC_BASE = 0x39000000
XENSTORE_PAGE = GUEST_MAGIC_BASE + 0x1000


def enhanced_mode(system: System, dom: Domain) -> Mode | None:
    """What ``xen,enhanced`` gives this domain on the target release (None: no PV interfaces)."""
    return system.target.release.enhanced_mode(dom.enhanced)


def wants_xenstore(system: System, dom: Domain) -> bool:
    return enhanced_mode(system, dom) in ("xenstore", "legacy")


def classic_dom0(system: System) -> bool:
    """A dom0 kernel module directly under ``/chosen``: Xen builds a classic dom0 first."""
    return any(m.kind == "kernel" for m in system.xen.dom0_modules)


@rule(id="XS-001", slug="enhanced-value-unknown", behaviour="INFO", since="4.17",
      xen_src="xen/common/device-tree/dom0less-build.c: construct_domU()")
def enhanced_value_unknown(system: System, result: BootResult) -> Iterator[Hit]:
    """What Xen does: ``xen,enhanced`` absent gives no PV interfaces; empty or
    ``"enabled"`` gives PV plus xenstore; ``"no-xenstore"`` PV without it;
    ``"legacy"`` (4.21+) PV with a xenstore page allocated late. Any other
    string, a typo included, silently disables PV interfaces, as if the
    property were absent; booting.txt does not say so.

    Why it matters: a misspelt value boots without a message, and the guest
    has no grant table, no extended regions and no xenstore.

    Example: ``xen,enhanced = "enable";`` disables PV; the fixed tree says
    ``xen,enhanced = "enabled";`` (or ``"disabled"``, or no property, when no
    PV interfaces are wanted).

    Fix: use one of the values the release knows, or remove the property.
    """
    table = dict(system.target.release.enhanced_modes)
    for dom in system.domains:
        if dom.enhanced is None or dom.enhanced in table or dom.enhanced == "disabled":
            continue
        known = ", ".join(f'"{k}"' for k in table if k) + ', "" (empty)'
        yield Hit(message=f'{dom.name}: xen,enhanced = "{dom.enhanced}" is not a value Xen '
                          f"{system.target.version} knows ({known}): it silently disables PV interfaces",
                  path=dom.path, property="xen,enhanced")


@rule(id="XS-002", slug="xenstore-without-xenstore-domain", behaviour="PANIC", since="4.17",
      xen_src="xen/common/device-tree/dom0less-build.c: create_domUs(), set_xs_domain()",
      xen_message="xenstore requested, but xenstore domain not present")
def xenstore_without_xenstore_domain() -> None:
    """What Xen does: a domU whose ``xen,enhanced`` asks for xenstore needs
    someone to serve it. 4.17 to 4.20 require a classic dom0 and panic while
    building the domU ("At the moment, Xenstore support requires dom0 to be
    present"). 4.21 and later accept dom0 or a domU with the XENSTORE
    capability (``capabilities`` bit 2) and, after building every domU, panic
    "xenstore requested, but xenstore domain not present"; a second
    xenstore domain panics "Only 1 xenstore domain can be specified".

    Why it matters: Xen stops booting; nothing runs.

    Example: a dom0less system without dom0 that writes::

        domU1 { xen,enhanced = "enabled"; };

    fails; ``xen,enhanced = "no-xenstore";`` boots (PV interfaces without
    xenstore), as does adding a xenstore domain on 4.21+::

        xsdom { compatible = "xen,domain"; capabilities = <0x4>; };

    Fix: use ``"no-xenstore"``, add a dom0 (4.17-4.20) or a xenstore domain
    (4.21+), and declare only one xenstore domain.
    """


@rule(id="XS-004", slug="xenstore-page-in-direct-map-ram", behaviour="HAZARD", since="4.21",
      xen_src="xen/common/device-tree/dom0less-build.c: alloc_xenstore_page()")
def xenstore_page_in_direct_map_ram(system: System, result: BootResult) -> Iterator[Hit]:
    """What Xen does: from 4.21 Xen allocates the xenstore page of a domain
    with ``xen,enhanced = "enabled"`` from its heap (preferring below 4 GiB)
    and, on a direct-mapped domain, maps it at the guest address equal to
    its host address.

    Why it matters: the page appears at an address of host RAM that cannot be
    predicted. It may fall on one of the domain's shared-memory or
    passthrough guest ranges, or inside an extended region Xen advertised to
    it (without an IOMMU those are host RAM the domain does not own), and the
    guest may then use that region for something else.

    Example: ``domU1 { direct-map; xen,enhanced = "enabled"; ... };`` gets
    the page somewhere in host RAM; ``xen,enhanced = "no-xenstore";`` gets
    none.

    Fix: use ``"no-xenstore"`` on direct-mapped domains that do not need
    xenstore; otherwise keep its shm and passthrough guest ranges out of host
    RAM and do not hand extended regions to other uses.
    """
    for dom in system.domains:
        if is_direct_mapped(system, result, dom) and enhanced_mode(system, dom) == "xenstore":
            yield Hit(message=f"{dom.name} is direct-mapped: Xen maps its xenstore page 1:1 at an unpredictable "
                              "host RAM address, which may collide with its shm/passthrough ranges or extended "
                              "regions", path=dom.path, property="xen,enhanced")


@rule(id="XS-005", slug="late-xenstore-page-on-static-domain", behaviour="HAZARD", since="4.17",
      xen_src="xen/common/memory.c: populate_physmap(); tools/helpers/init-dom0less.c: alloc_xs_page()",
      isolation=True)
def late_xenstore_page_on_static_domain(system: System, result: BootResult) -> Iterator[Hit]:
    """What Xen does: 4.17 to 4.20 (and 4.21+ with ``"legacy"``) leave the
    xenstore page to ``init-dom0less``, which raises the domain's maximum by
    4 KiB and populates guest frame 0x39001000. A static, translated domain
    has no spare reserved page, so that fails ("failed to retrieve a reserved
    page"). A direct-mapped domain can only populate frames it owns 1:1: it
    fails, unless its static RAM covers 0x39001000, in which case the
    "xenstore page" is a live page of the guest's own RAM.

    Why it matters: xenstore never comes up for the guest, or worse, xenstore
    traffic overwrites guest memory. The documentation states that legacy
    mode does not support static-memory guests.

    Example: ``--xen-version 4.20`` and::

        domU1 { xen,static-mem = <0x0 0x60000000 0x0 0x8000000>; xen,enhanced = "enabled"; };

    Fixed: ``xen,enhanced = "no-xenstore";``, or (4.21+) ``"enabled"``, where
    Xen allocates the page itself.

    Fix: on static or direct-mapped domains use ``"no-xenstore"``, or move to
    4.21+ and use ``"enabled"`` rather than ``"legacy"``.
    """
    late = system.target.release.late_xenstore_modes
    for dom in system.domains:
        mode = enhanced_mode(system, dom)
        direct = is_direct_mapped(system, result, dom)
        if mode not in late or not (dom.static_mem_present or direct):
            continue
        covers = [b for b in dom.static_mem if b.start <= XENSTORE_PAGE < b.end]
        if direct and covers:
            why = (f"its 1:1 RAM {covers[0]} covers {XENSTORE_PAGE:#x}, so the xenstore page is a live page of "
                   "its own RAM (corruption)")
        elif direct:
            why = f"it does not own host page {XENSTORE_PAGE:#x}, so populating it fails"
        else:
            why = "a static domain has no spare reserved page, so populating it fails"
        yield Hit(message=f'{dom.name}: xen,enhanced = "{dom.enhanced}" leaves the xenstore page to init-dom0less, '
                          f"which populates guest page {XENSTORE_PAGE:#x}: {why}", path=dom.path,
                  property="xen,enhanced", ranges=static_ranges(dom), isolation=True)
