"""SMEM: static memory banks (``xen,static-mem``).

Most of these Xen meets while building a domain, and the boot stages report
them (``boot/setup_mm.py``, ``boot/domains.py``). Two are hazards read here:
a ``xen,domain`` node outside ``/chosen`` whose banks are reserved but never
used (SMEM-001), and banks whose size is not whole pages (SMEM-003).
"""

from __future__ import annotations

from collections.abc import Iterator

from xenplan.boot.result import BootResult
from xenplan.checks.registry import Hit, rule
from xenplan.model.base import PAGE_SIZE
from xenplan.model.system import System


@rule(id="SMEM-001", slug="static-mem-domain-outside-chosen", behaviour="INFO", since="4.16",
      xen_src="xen/common/device-tree/bootinfo-fdt.c: process_domain_node()")
def static_mem_domain_outside_chosen(system: System, result: BootResult) -> Iterator[Hit]:
    """What Xen does: the early scan looks for ``xen,static-mem`` in every node
    two levels deep whose compatible is ``xen,domain``, not only in children of
    ``/chosen``. The banks of such a node are taken out of the heap and marked
    static, but only children of ``/chosen`` become domains.

    Why it matters: a domain node written under another parent (a typo such as
    ``/choosen``, or a node moved by an overlay) boots without any message,
    builds no domain, and its memory is lost to everyone: reserved but unused.

    Example: this node reserves 256 MiB that nobody will ever use:

        /soc { vm1 { compatible = "xen,domain";
                     xen,static-mem = <0x0 0x60000000 0x0 0x10000000>; }; };

    The fix moves it under ``/chosen``:

        /chosen { vm1 { compatible = "xen,domain"; ... }; };

    Fix: move the ``xen,domain`` node under ``/chosen``, or delete it (and its
    ``xen,static-mem``) if the domain is not wanted.
    """
    domains = {d.path for d in system.domains}
    for item in system.scan:
        if item.kind != "static-mem" or item.domain in domains:
            continue
        banks = tuple((r.start, r.size) for r in item.pairs if r.size)
        if not banks:
            continue
        where = ", ".join(f"{s:#x}+{z:#x}" for s, z in banks)
        yield Hit(message=f"{item.domain or item.path} is a xen,domain node outside /chosen: Xen reserves its "
                          f"static memory ({where}) but never builds a domain from it, so that memory is unused",
                  path=item.domain or item.path, property="xen,static-mem", ranges=banks, behaviour="HAZARD")


@rule(id="SMEM-002", slug="static-mem-without-kconfig", behaviour="PANIC-DBG", since="4.16",
      xen_src="xen/common/device-tree/bootinfo-fdt.c: process_domain_node()",
      xen_message="Not enough memory in the first bank for the kernel+dtb+initrd")
def static_mem_without_kconfig() -> None:
    """What Xen does: when Xen is built without ``CONFIG_STATIC_MEMORY``, releases
    up to 4.22 still take the ``xen,static-mem`` ranges out of the heap, but
    never initialise their pages and do not flag the domain as static. A
    ``direct-map`` domain then panics (DMAP-001). Any other domain reaches a
    stub that asserts in debug builds (PANIC-DBG); a release build gives the
    domain no RAM at all, which ends in the kernel placement panic (KRN-003).
    The 4.23 development tree refuses the property while parsing the device
    tree instead.

    Why it matters: the binding looks accepted, yet the domain cannot run and
    the reserved memory is lost.

    Example: ``xenplan check board.dts --kconfig STATIC_MEMORY=n`` on:

        domU1 { xen,static-mem = <0x0 0x60000000 0x0 0x8000000>; memory = <0x0 0x20000>; };

    passes once Xen is rebuilt with ``CONFIG_STATIC_MEMORY=y`` (an
    UNSUPPORTED option: also set ``CONFIG_UNSUPPORTED=y``).

    Fix: enable ``CONFIG_STATIC_MEMORY`` in Xen's configuration, or remove
    ``xen,static-mem`` and let Xen allocate the domain's RAM.
    """


@rule(id="SMEM-003", slug="static-bank-not-page-aligned", behaviour="PANIC-DBG", since="4.16",
      xen_src="xen/common/device-tree/static-memory.c: acquire_static_memory_bank()")
def static_bank_not_page_aligned(system: System, result: BootResult) -> Iterator[Hit]:
    """What Xen does: a debug build asserts that every static bank starts and
    ends on a 4 KiB page. A release build does not check. With a start that
    is not page aligned, acquisition begins at a page that was never set up
    as static and the domain fails (reported as PAGE-002; on 4.16 PAGE-006 may
    crash Xen earlier). With an aligned start but a size that is not a whole
    number of pages, Xen initialises, acquires and maps only the whole pages,
    yet counts the full size in the guest's memory node and in the
    ``memory`` comparison.

    Why it matters: the guest is told it has RAM in a partial page that is not
    mapped; touching it faults. A bank smaller than one page also stops static
    page set-up for every later bank on 4.16-4.18 (SMEM-016).

    Example: the second bank is 6 KiB, so the guest is promised 2 KiB that
    do not exist:

        xen,static-mem = <0x0 0x60000000 0x0 0x8000000  0x0 0x70000000 0x0 0x1800>;

    Fixed: whole pages only:

        xen,static-mem = <0x0 0x60000000 0x0 0x8000000  0x0 0x70000000 0x0 0x2000>;

    Fix: make every bank's start and size multiples of 4 KiB (0x1000), and set
    ``memory`` to the new sum.
    """
    for dom in system.domains:
        for bank in dom.static_mem:
            if bank.start % PAGE_SIZE == 0 and bank.size % PAGE_SIZE:
                whole = bank.size // PAGE_SIZE * PAGE_SIZE
                yield Hit(message=f"{dom.name}: static bank {bank.start:#x}+{bank.size:#x} is not a whole number of "
                                  f"pages: Xen maps only {whole:#x} bytes but tells the guest it has "
                                  f"{bank.size:#x} (the last {bank.size - whole:#x} bytes are not backed)",
                          path=dom.path, property="xen,static-mem", ranges=((bank.start, bank.size),))


@rule(id="SMEM-004", slug="static-bank-too-large", behaviour="PANIC", since="4.16",
      xen_src="xen/common/device-tree/static-memory.c: acquire_static_memory_bank()",
      xen_message="static memory size too large")
def static_bank_too_large() -> None:
    """What Xen does: refuses a static bank of 2^32 pages (16 TiB) or more
    while acquiring it, and panics.

    Why it matters: the panic happens while the domain is built, so nothing
    after it boots.

    Example: ``xen,static-mem = <0x1000 0x0 0x1000 0x0>;`` (16 TiB) fails;
    ``xen,static-mem = <0x1000 0x0 0x800 0x0  0x1800 0x0 0x800 0x0>;`` (two
    8 TiB banks) is accepted.

    Fix: split the bank into banks below 16 TiB each.
    """


@rule(id="SMEM-011", slug="static-mem-exhausts-guest-banks", behaviour="PANIC", since="4.16",
      xen_src="xen/common/device-tree/static-memory.c: allocate_static_memory()",
      xen_message="Exhausted all possible guest banks.")
def static_mem_exhausts_guest_banks() -> None:
    """What Xen does: lays the static banks of a domain that is not direct-mapped
    end to end in the two guest RAM windows (3 GiB at 0x40000000, 1016 GiB at
    0x200000000). When they hold more than that, it prints "Exhausted all
    possible guest banks." and panics with "Failed to allocate requested
    static memory for domain dN.".

    Why it matters: the domain is never built and Xen stops booting.

    Example: 1020 GiB of static banks on one domain fails; 1019 GiB or less
    fits.

    Fix: give the domain at most 1019 GiB of static memory.
    """


@rule(id="SMEM-012", slug="static-mem-mapping-failed", behaviour="PANIC", since="4.16",
      xen_src="xen/common/device-tree/static-memory.c: append_static_memory_to_bank()",
      xen_message="Failed to allocate requested static memory for domain dN.")
def static_mem_mapping_failed() -> None:
    """What Xen does: maps each static bank into the guest as it lays it out. If
    the mapping fails - the guest address is beyond what the P2M can hold
    (the IPA size, GMAP-021) or the P2M pool runs out - Xen prints "Failed to
    map pages to DOMU" and panics with "Failed to allocate requested static
    memory for domain dN.".

    Why it matters: the domain is never built and Xen stops booting.

    Example: with a 36-bit IPA (64 GiB), 60 GiB of static memory puts guest
    RAM up to 65 GiB and fails; 56 GiB or less fits.

    Fix: reduce the domain's static memory so its guest addresses stay below
    2^IPA bits, or give it a larger ``xen,domain-p2m-mem-mb``.
    """


@rule(id="SMEM-013", slug="static-mem-size-mismatch", behaviour="PANIC", since="4.16",
      xen_src="xen/common/device-tree/static-memory.c: allocate_static_memory()",
      xen_message="Failed to allocate requested static memory for domain dN.")
def static_mem_size_mismatch() -> None:
    """What Xen does: a domain with ``xen,static-mem`` gets exactly the memory of
    its static banks; nothing comes from the heap. After taking all the banks,
    Xen compares their total with the domain's ``memory`` property (which is
    in KiB). If they differ it prints:

        Size of "memory" property doesn't match up with the sum-up of
        "xen,static-mem". Unsupported configuration.

    and stops booting with the panic "Failed to allocate requested static
    memory for domain dN." (dN is the domain number: d1 for the first domain,
    d2 for the second...). When the banks add up to MORE than ``memory``, Xen
    stops even earlier, at the first bank that does not fit, printing
    "Over-allocation for dN" and "dN: failed to acquire static memory: -22."
    (reported as PAGE-003) before the same panic. This happens on every
    release from 4.16 on.

    Why it matters: Xen panics while building this domain, so this domain and
    every domain after it are never started. Mixing static banks with some
    extra heap memory in one domain is not possible.

    Example: the bank is 128 MiB (0x8000000 bytes) but ``memory`` asks for
    256 MiB (0x40000 KiB):

        domU1 {
            memory = <0x0 0x40000>;
            xen,static-mem = <0x0 0x60000000 0x0 0x8000000>;
        };

    Fixed: ``memory`` is the bank total written in KiB, 0x8000000 / 1024 =
    0x20000:

        domU1 {
            memory = <0x0 0x20000>;
            xen,static-mem = <0x0 0x60000000 0x0 0x8000000>;
        };

    Fix: add up the sizes of all banks in ``xen,static-mem`` (bytes), divide by
    1024 and write that number in ``memory``; or resize the banks until they
    add up to ``memory``. The same rule for direct-mapped domains is DMAP-004.
    """


@rule(id="SMEM-015", slug="static-bank-split-at-3g", behaviour="PANIC", since="4.16", until="4.22",
      xen_src="xen/common/device-tree/static-memory.c: allocate_static_memory()",
      xen_message="Failed to allocate requested static memory for domain dN.")
def static_bank_split_at_3g() -> None:
    """What Xen does: when a host bank of a static, not direct-mapped domain
    straddles the end of the first guest RAM window (3 GiB), Xen splits it
    correctly but, up to 4.21, adds only the upper part to its running total.
    The total then falls short of ``memory`` and Xen panics as if the two
    differed ("Size of \\"memory\\" property doesn't match up with the sum-up of
    \\"xen,static-mem\\""). 4.22.0 fixed the count.

    Why it matters: a correct configuration fails on 4.16-4.21 and boots on
    4.22: a board that works in a new release breaks after a downgrade.

    Example (4.20): banks 256 MiB then 2.875 GiB with ``memory`` 3.125 GiB:

        xen,static-mem = <0x0 0x60000000 0x0 0x10000000  0x0 0x80000000 0x0 0xb8000000>;

    Fixed: order or size the banks so the earlier ones add up to exactly
    3 GiB, or keep the total at or below 3 GiB:

        xen,static-mem = <0x0 0x80000000 0x0 0xb8000000  0x0 0x60000000 0x0 0x8000000>;

    Fix: keep every host bank wholly inside one guest window (the banks listed
    before it summing to 3 GiB exactly, or all of them within 3 GiB), or use
    Xen 4.22.
    """


@rule(id="SMEM-016", slug="sub-page-static-bank-stops-init", behaviour="PANIC", since="4.16", until="4.19",
      xen_src="xen/arch/arm/setup.c: init_staticmem_pages()",
      xen_message="Failed to allocate requested static memory for domain dN.")
def sub_page_static_bank_stops_init() -> None:
    """What Xen does: on 4.16-4.18, the loop that sets up static pages stops (it
    returns instead of skipping) at a static bank with less than one whole
    page. Every static bank listed after it, of any domain, stays
    uninitialised, so the domain owning it fails to acquire it ("pg[0]
    Static MFN ... c=0", "failed to acquire static memory: -2") and Xen
    panics. 4.19 skips just that bank.

    Why it matters: one tiny bank breaks a different, correct domain.

    Example (4.18): ``xen,static-mem = <0x0 0x60000000 0x0 0x800>;`` in domU1
    stops the set-up of domU2's banks.

    Fixed: ``xen,static-mem = <0x0 0x60000000 0x0 0x1000>;`` (at least one
    whole, aligned page).

    Fix: remove banks smaller than a page, or round them up to whole pages.
    """
