"""KRN: the kernel, guest DTB and initrd in a domU's first guest bank (§7.5).

``boot/kernel.py`` places them and reports KRN-002/003; ``boot/domains.py``
reports a guest DTB that overflows its buffer (KRN-005). The estimate of
that DTB is approximate, so a DTB that fits by only a little is flagged
here as uncertain.
"""

from __future__ import annotations

from collections.abc import Iterator

from xenplan.boot.result import BootResult
from xenplan.checks.registry import Hit, rule
from xenplan.model.system import System

#: How close to the buffer an estimated DTB is too close to call (KRN-005: "a few hundred bytes").
DTB_MARGIN = 256


@rule(id="KRN-002", slug="zimage-does-not-fit", behaviour="PANIC", since="4.16",
      xen_src="xen/arch/arm/kernel.c: kernel_zimage_place(), kernel_zimage_place_in_bank()",
      xen_message="Unable to find suitable location for the kernel")
def zimage_does_not_fit() -> None:
    """What Xen does: a position-independent 32-bit zImage is loaded as high
    as possible below the first 128 MiB of the first guest bank (rounded
    down to 2 MiB). If the bank, or its first 128 MiB, is smaller than the
    image, Xen panics "Unable to find suitable location for the kernel".
    xenplan knows a kernel is a zImage only when given the file
    (``--kernel-image NODE=FILE``); otherwise it assumes an arm64 Image.

    Why it matters: the domain is never built and Xen stops booting.

    Example: a 32-bit guest with ``memory = <0x0 0x40>;`` (64 KiB) and a
    68 KiB zImage fails; ``memory = <0x0 0x4000>;`` (16 MiB) loads it at
    14 MiB and the DTB below it.

    Fix: give the domain (its first bank) room for the image, or link the
    kernel for a fixed load address.
    """


@rule(id="KRN-003", slug="first-bank-too-small", behaviour="PANIC", since="4.16",
      xen_src="xen/arch/arm/kernel.c: place_modules()",
      xen_message="Not enough memory in the first bank for the kernel+dtb+initrd")
def first_bank_too_small() -> None:
    """What Xen does: puts the kernel at the start of the first guest bank (plus
    the image's text offset) and the guest DTB (counted as 2 MiB) and initrd
    after it, everything rounded to 2 MiB. If they do not fit it panics "Not
    enough memory in the first bank for the kernel+dtb+initrd" (or "Unable
    to find suitable location for dtb+initrd"). The first bank is the first
    3 GiB of guest RAM for a normal domain, and the first LISTED static bank
    of a direct-mapped one.

    Why it matters: the domain is never built and Xen stops booting. A tiny
    first static bank is the usual cause.

    Example: a direct-mapped domain listing a 2 MiB bank first fails:

        xen,static-mem = <0x0 0x70000000 0x0 0x200000  0x0 0x60000000 0x0 0x8000000>;

    Fixed: list the large bank first:

        xen,static-mem = <0x0 0x60000000 0x0 0x8000000  0x0 0x70000000 0x0 0x200000>;

    Fix: make the first guest bank hold the kernel rounded up to 2 MiB, 2 MiB
    for the DTB and the initrd rounded up to 2 MiB.
    """


@rule(id="KRN-005", slug="guest-dtb-too-large", behaviour="PANIC", since="4.16", until="4.22",
      xen_src="xen/common/device-tree/dom0less-build.c: prepare_dtb_domU()",
      xen_message="Could not set up domain D (rc = -22)")
def guest_dtb_too_large(system: System, result: BootResult) -> Iterator[Hit]:
    """What Xen does: writes each domU's device tree into a buffer of 4 KiB plus
    the size of its passthrough DTB (up to 4.21; 4.22 made it 18 KiB on
    arm64). A minimal domU needs about 1 KiB plus 96 bytes per vCPU; vPL011,
    the hypervisor node, shared memory and more banks add to it. When it does
    not fit, Xen prints "Device tree generation failed (-3)." and panics
    "Could not set up domain D" ("(rc = -22)" from 4.18). The boot
    simulation reports the overflow; this rule also warns when the estimate
    lands just below the limit, where the estimate cannot decide.

    Why it matters: a domain with many vCPUs fails on 4.16-4.21 (``cpus =
    128`` boots only from 4.22).

    Example (4.20): ``cpus = <40>;`` fails; ``cpus = <16>;`` fits.

    Fix: fewer vCPUs (at most about 30 for a small domU), fewer optional
    nodes, or Xen 4.22.
    """
    from xenplan.boot import kernel as krn
    from xenplan.boot.state import BootState

    state = BootState(system=system)
    buf = krn.guest_dtb_buffer(state)
    banks = {d.path: len(d.xen_banks or d.banks or ()) for d in result.domains}
    for dom in system.domains:
        if dom.cpus is None:
            continue
        need = krn.guest_dtb_size(state, dom, max(banks.get(dom.path, 1), 1))
        if buf - DTB_MARGIN < need <= buf:
            yield Hit(message=f"the device tree Xen writes for {dom.name} needs about {need} bytes ({dom.cpus} "
                              f"vCPUs) and its buffer is {buf} bytes: too close to tell whether it fits",
                      path=dom.path, property="cpus", behaviour="HAZARD")
