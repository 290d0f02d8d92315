"""MOD: boot modules under `/chosen`.

The early-scan stage reports a module without a usable `reg` (MOD-002), a
command line that is too long (MOD-005), malformed `/chosen` initrd
properties (MOD-006) and modules dropped on overlap or when the table is
full (MOD-004); domain construction reports a kernel outside RAM (MOD-008).
The check here is the one Xen never makes: a domU module without a kind.
The boot-information stage says which modules name a UEFI file (MOD-009),
whose ``reg`` the EFI stub writes on a UEFI boot that xenplan does not model.
"""

from __future__ import annotations

from collections.abc import Iterator

from xenplan.boot.result import BootResult
from xenplan.checks.registry import Hit, rule
from xenplan.model.system import System


@rule(id="MOD-001", slug="module-recognition", behaviour="INFO", since="4.16",
      xen_src="xen/common/device-tree/bootinfo-fdt.c: process_multiboot_node()")
def mod_001() -> None:
    """What Xen does: a node is a boot module when it is at most three
    levels deep, its `compatible` holds `multiboot,module` (or the legacy
    `xen,multiboot-module`) and its path starts with `/chosen`. A module
    whose parent is a `xen,domain` node belongs to that domU; any other is
    dom0's or Xen's. Every other node is ignored.

    Why it matters: a module placed elsewhere (outside `/chosen`, or one
    level too deep) is silently not loaded.

    Example: `/chosen/domU1/mods/kernel@0` is deeper than three levels and
    ignored; `/chosen/domU1/kernel@0` is a module.

    Fix: put module nodes directly under `/chosen` or under their domain
    node.
    """


@rule(id="MOD-002", slug="module-reg-missing", behaviour="PANIC", since="4.16",
      xen_src="xen/common/device-tree/bootinfo-fdt.c: process_multiboot_node()",
      xen_message="node X missing `reg' property")
def mod_002() -> None:
    """What Xen does: a module node must have a `reg` with at least one
    (address, size) pair in its parent's cells; otherwise Xen panics while
    parsing the DT ("node X missing `reg' property" or "`reg` property
    length is too short"), on every release.

    Why it matters: nothing boots.

    Example: `kernel { compatible = "multiboot,kernel", "multiboot,module"; };`
    panics; add `reg = <0x0 0x50000000 0x0 0x800000>;`.

    Fix: give every module a `reg` with the address and size the boot
    loader used.
    """


@rule(id="MOD-003", slug="untyped-domu-module", behaviour="HAZARD", since="4.16",
      xen_src="xen/common/device-tree/bootinfo-fdt.c: process_multiboot_node(); "
              "xen/common/device-tree/bootfdt.c: fdt_node_to_kind()")
def mod_003(system: System, result: BootResult) -> Iterator[Hit]:
    """What Xen does: a module whose `compatible` names no kind gets one by
    guessing, with one counter for the whole tree: the first such module is
    a kernel, the second a ramdisk, later ones an XSM policy if they carry
    its magic, else unknown. dom0 and domU modules share the counter. A domU
    only uses children with `multiboot,kernel`, `multiboot,ramdisk` or
    `multiboot,device-tree`.

    Why it matters: an untyped domU module is never used by its domU (no
    kernel, or a lost ramdisk), and it shifts dom0's guesses, so dom0 may
    take its ramdisk for a kernel.

    Example: `module@50000000 { compatible = "multiboot,module"; reg = <...>; };`
    under a domU has no kind; write
    `compatible = "multiboot,kernel", "multiboot,module";`.

    Fix: give every domU module its kind compatible.
    """
    for m in system.modules:
        if m.domain is None or m.explicit_kind:
            continue
        guess = {"kernel": "a kernel", "ramdisk": "a ramdisk"}.get(m.kind, "an unknown module")
        yield Hit(message=f"{m.path} has no kind compatible: Xen guesses {guess} (one counter for the whole "
                  f"tree), and {m.domain} only uses modules that name their kind", path=m.path,
                  property="compatible")


@rule(id="MOD-004", slug="module-dropped", behaviour="DROP", since="4.16",
      xen_src="xen/common/device-tree/bootinfo.c: add_boot_module()",
      xen_message="Region: [...) overlapping with mod[...]")
def mod_004() -> None:
    """What Xen does: a module is not recorded when it overlaps a reserved,
    static or shared-memory region or an earlier module, or when the table
    already holds MAX_MODULES (32, counting Xen and the DTB).

    | release | overlapping module |
    |---|---|
    | 4.16–4.17 | kept (no check); two overlapping kernels cannot both be valid, and the one whose header is overwritten fails its domain: PANIC "Could not set up domain D" |
    | 4.18+ | dropped (DROP) |

    A dropped kernel makes its domain fail (rc -2), or, when it was the only
    domU kernel, makes Xen build dom0 and panic; a dropped ramdisk is simply
    missing; a dropped guest DTB means no passthrough.

    Why it matters: the failure shows up later, as a missing kernel.

    Example: a kernel at 0x60000000 inside its domain's static bank
    `<0x0 0x60000000 0x0 0x10000000>` is dropped on 4.18+; load it at
    0x50000000 instead.

    Fix: load modules outside every static bank, heap bank, reserved region
    and other module.
    """


@rule(id="MOD-005", slug="module-cmdline-too-long", behaviour="PANIC", since="4.16",
      xen_src="xen/common/device-tree/bootinfo.c: add_boot_cmdline()",
      xen_message="module X command line too long")
def mod_005() -> None:
    """What Xen does: a module's `bootargs` longer than 1024 characters makes
    Xen panic "command line too long" while it parses the DT.

    Why it matters: nothing boots.

    Example: a `bootargs` of 1100 characters panics; shorten it to at most
    1024 (move options into the kernel's own config).

    Fix: keep each module command line within 1024 characters.
    """


@rule(id="MOD-006", slug="chosen-initrd-malformed", behaviour="PANIC", since="4.16",
      xen_src="xen/common/device-tree/bootinfo-fdt.c: process_chosen_node()",
      xen_message="Early FDT parsing failed (-22)")
def mod_006() -> None:
    """What Xen does: when `/chosen` has `linux,initrd-start`, it must be 4 or
    8 bytes, `linux,initrd-end` must exist with 4 or 8 bytes, and start must
    be below end. Otherwise the chosen handler fails: up to 4.18 the early
    scan stops (TRUNC), from 4.19 Xen panics "Early FDT parsing failed". A
    valid pair adds a dom0 ramdisk module.

    Why it matters: from 4.19 nothing boots; before, every later node
    (usually every domain) is lost.

    Example: `linux,initrd-start = <0x48000000>;` alone fails; add
    `linux,initrd-end = <0x48800000>;`.

    Fix: give both properties, each one or two cells, start below end; or
    remove both.
    """


@rule(id="MOD-007", slug="modules-and-heap", behaviour="INFO", since="4.16",
      xen_src="xen/arch/arm/setup.c: discard_initial_modules(); xen/common/device-tree/kernel.c: kernel_decompress()")
def mod_007() -> None:
    """What Xen does: module ranges stay out of the boot allocator while Xen
    boots; once every domain is built they are given back to the heap
    (except Xen's image, ranges inside a reserved region, and everything
    when a static heap is used). A gzip kernel is decompressed into new heap
    pages and the compressed copy is freed at once (kept with a static heap).

    Why it matters: with a static heap, module memory is never reused, and
    decompressing kernels takes heap space.

    Example: a 30 MiB gzip kernel needs a 64 MiB power-of-two heap buffer
    while its domain is built; an uncompressed Image needs none.

    Fix: nothing to fix; budget the heap for decompression.
    """


@rule(id="MOD-008", slug="kernel-outside-ram", behaviour="CRASH", since="4.16",
      xen_src="xen/arch/arm/kernel.c: kernel_probe(); xen/arch/arm/mmu/setup.c: copy_from_paddr()",
      xen_message="CPU0: Unexpected Trap: Data Abort")
def mod_008() -> None:
    """What Xen does: a module's range is never checked against RAM. When its
    domain is built, Xen reads the kernel header through a mapping of that
    address, and the access faults: data abort (outcome crash, stage
    domain; earlier domains constructed).

    Why it matters: Xen crashes while building that domain.

    Example: on a board with RAM `<0x0 0x40000000 0x1 0x0>`, a kernel at
    `<0x2 0x0 0x0 0x800000>` (8 GiB) crashes; load it at 0x50000000.

    Fix: load every module inside RAM.
    """


@rule(id="MOD-009", slug="uefi-binary-module", behaviour="INFO", since="4.16",
      xen_src="xen/arch/arm/efi/efi-boot.h: efi_check_dt_boot(), handle_module_node()")
def mod_009() -> None:
    """What Xen does: on a UEFI boot, before `start_xen()`, Xen's EFI stub
    walks `/chosen` (`efi_check_dt_boot()`) and, for each `multiboot,module`
    directly under it or under a `xen,domain` node, with `xen,uefi-binary`,
    loads that file from the ESP, renames the node `module@<address>` and
    writes its `reg` (`handle_module_node()`). On a device-tree boot (U-Boot
    `booti`) nothing reads `xen,uefi-binary`: the module needs its own
    `reg`, or Xen panics (MOD-002). xenplan models the device-tree boot path
    only; UEFI boot is out of its scope.

    Why it matters: a tree written for UEFI has modules without `reg`;
    checked as a device-tree boot they panic, which says nothing about the
    UEFI boot. With both properties, the `reg` xenplan checks is replaced on
    a UEFI boot by wherever the firmware put the file.

    Example: `kernel { compatible = "multiboot,kernel", "multiboot,module";
    xen,uefi-binary = "Image-domU1"; };` boots on the EFI path and panics on
    a device-tree boot; `reg = <0x0 0x50000000 0x0 0x800000>;` makes the
    device-tree boot work.

    Fix: for a device-tree boot, give every module the `reg` the boot loader
    used; for a UEFI boot, check the placement on the EFI path itself
    (xenplan cannot predict where the firmware loads the files).
    """
