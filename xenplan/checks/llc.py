"""LLC: last-level cache colouring (§15, Xen 4.20+, ``CONFIG_LLC_COLORING``).

With colouring on (``System.llc_coloring``) domains take order-0 pages of
their own colours from the coloured heap, which ``xenplan.boot.llc`` replays
per colour, page-exact, when the number of colours is known (LLC-004).
LLC-002 (``llc-colors`` on a Xen without colouring) is read here from the
model; LLC-001, LLC-003 and LLC-004 are panics Xen meets while creating the
domain and belong to a stage.
"""

from __future__ import annotations

from xenplan.checks.registry import rule


@rule(id="LLC-001", slug="llc-coloring-with-static-mem", behaviour="PANIC", since="4.20",
      xen_src="xen/common/device-tree/dom0less-build.c: create_domUs()", kconfig=("LLC_COLORING",),
      xen_message="LLC coloring and static memory are incompatible")
def llc_coloring_with_static_mem() -> None:
    """What Xen does: with cache colouring on (built in and ``llc-coloring=on``,
    or ``llc-size`` and ``llc-nr-ways`` given), any domain node carrying
    ``xen,static-mem`` (even empty) makes Xen panic "LLC coloring and static
    memory are incompatible": coloured domains get scattered order-0 pages of
    their colours, which static banks cannot provide.

    Why it matters: Xen stops before building the domain.

    Example: ``xen,static-mem = <...>;`` on a Xen with ``CONFIG_LLC_COLORING=y``
    and ``llc-coloring=on`` fails; ``llc-colors = "0-3";`` with dynamic ``memory`` works.

    Fix: drop ``xen,static-mem`` (and ``direct-map``) from every domain, or
    turn colouring off (``llc-coloring=0`` on Xen's command line).
    """


@rule(id="LLC-002", slug="llc-colors-without-coloring", behaviour="PANIC", since="4.20",
      xen_src="xen/common/device-tree/dom0less-build.c: create_domUs()",
      xen_message="'llc-colors' found, but LLC coloring is disabled")
def llc_colors_without_coloring() -> None:
    """What Xen does: on arm64, a domain with ``llc-colors`` while colouring is
    off makes Xen panic "'llc-colors' found, but LLC coloring is disabled".
    Colouring is off when Xen is built without ``CONFIG_LLC_COLORING``, and
    also when it is built in but not switched on. Switching it on takes
    ``llc-coloring=on`` on Xen's command line, or both ``llc-size`` and
    ``llc-nr-ways``; a real 4.22 build with colouring and no such option
    panics so. Architectures without colouring support ignore the property.

    Why it matters: Xen stops before building the domain.

    Example: ``llc-colors = "0-3";`` with a default Xen build fails; the same
    with ``--kconfig LLC_COLORING=y`` and ``llc-coloring=on`` in
    ``xen,xen-bootargs`` works.

    Fix: build Xen with ``CONFIG_LLC_COLORING`` and pass ``llc-coloring=on``,
    or remove ``llc-colors`` from the domain.
    """


@rule(id="LLC-003", slug="llc-colors-invalid", behaviour="PANIC", since="4.20",
      xen_src="xen/common/device-tree/dom0less-build.c: create_domUs()", kconfig=("LLC_COLORING",),
      xen_message="Error initializing LLC coloring for domain D")
def llc_colors_invalid() -> None:
    """What Xen does: parses ``llc-colors`` as a list of colours and ranges
    ("0-3,8"). Spaces, a descending range, a colour listed twice or a colour
    the cache does not have (at least the number of colours, LLC way size /
    4 KiB), or more colours than it has, makes Xen panic "Error initializing
    LLC coloring for domain D" (after "LLC color 32 >= 32 (max allowed)").
    xenplan knows the number of colours from ``llc-size`` and
    ``llc-nr-ways``, or from the tree's last-level cache node.

    Why it matters: Xen stops while building the domain.

    Example: ``llc-colors = "3-1";`` fails; ``llc-colors = "1-3";`` works.

    Fix: write ascending, non-overlapping colours and ranges separated by
    commas, without spaces, below the number of colours of the board.
    """


@rule(id="LLC-004", slug="llc-colors-short", behaviour="PANIC", since="4.20",
      xen_src="xen/common/page_alloc.c: alloc_color_heap_page()", kconfig=("LLC_COLORING",),
      xen_message="Failed to allocate requested domain memory. NKB unallocated. Fix the VMs configurations.")
def llc_colours_short() -> None:
    """What Xen does: with colouring on, ``end_boot_allocator()`` gives the
    buddy the lowest boot region and ``buddy-alloc-size`` (64 MiB) more, and
    files every other free page under its colour (page frame number modulo
    the number of colours: LLC way size / 4 KiB, 32 on QEMU's Cortex-A57).
    Each page a domain owns (its P2M pool, its RAM, its xenstore page) is then
    one call to ``alloc_color_heap_page()``, which takes it from whichever of
    the domain's own colours has most pages left. When all of them are empty
    the request fails, however much the other colours hold: RAM makes Xen
    panic "Failed to allocate requested domain memory. NKB unallocated. Fix
    the VMs configurations.", the P2M pool "Could not set up domain D".
    A domain without ``llc-colors`` uses every colour, so it drains all of
    them, and colours shared by several domains are shared pages. xenplan
    counts the pages of each colour exactly (Xen's image moved to its
    coloured window, the boot allocations, the buddy's share) and takes each
    domain's pages as Xen's picks do, in DT order.

    Why it matters: a colour holds only 1/N of the heap; a domain on 4 of
    32 colours gets at most an eighth of it, and Xen stops while building it.

    Example: on QEMU ``virt`` with 1 GiB and one domU (kernel at
    0x48200000), Xen 4.22.0 leaves colours 0-3 6190 pages each;
    ``llc-colors = "0-3"; memory = <0x0 0x17ae0>;`` (96992 KiB, plus a 2 MiB
    P2M pool: 24760 pages) fits exactly, and ``memory = <0x0 0x17ae4>;`` fails
    with "Failed to allocate requested domain memory. 96996KB unallocated".

    Fix: give the domain more colours, shrink its ``memory``, or move other
    domains off its colours (give every domain ``llc-colors``).
    """
