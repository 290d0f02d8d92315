"""LLC: last-level cache colouring (§15, Xen 4.20+, ``CONFIG_LLC_COLORING``).

The heap replay steps aside when colouring is on (``System.llc_coloring``):
coloured domains take order-0 pages of their colours, which is budgeted, not
replayed. LLC-002 (``llc-colors`` on a Xen
without colouring) is read here from the model; LLC-001 and LLC-003 are
panics Xen meets while creating the domain and belong to a stage.
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
    4 KiB) makes Xen panic "Error initializing LLC coloring for domain D".

    Why it matters: Xen stops while building the domain.

    Example: ``llc-colors = "3-1";`` fails; ``llc-colors = "1-3";`` works.

    Fix: write ascending, non-overlapping colours and ranges separated by
    commas, without spaces, below the number of colours of the board.
    """
