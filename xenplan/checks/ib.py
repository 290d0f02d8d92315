"""IB: ImageBuilder configs and U-Boot scripts, before Xen sees the tree they build.

These rules are met while reading ``--imagebuilder`` and ``--uboot-script``
inputs (``xenplan.dt.imagebuilder.lints``); they describe mistakes the
tools let through, so the tree Xen receives differs from the one the
config's author meant. They have no check function: the reader reports them
by ID, with the config or script line as their source.
"""

from __future__ import annotations

from xenplan.checks.registry import rule

_IB = "ImageBuilder scripts/uboot-script-gen: xen_device_tree_editing()"


@rule(id="IB-001", slug="ib-index-beyond-count", behaviour="DROP", since="4.16", xen_src=_IB)
def ib_001() -> None:
    """What Xen does: nothing; it never sees the entry. uboot-script-gen
    loops over indices 0 to NUM_DOMUS - 1 (NUM_CPUPOOLS, NUM_DT_OVERLAY for
    their arrays) and ignores any other index without a message.

    Why it matters: a `DOMU_STATIC_MEM[1]` or `DOMU_KERNEL[2]` beyond the
    count looks configured but no domain gets it; Xen's CI configs carry
    such entries for variants that raise the count.

    Example: `NUM_DOMUS=1` with `DOMU_MEM[1]="256"`.

    Fix: raise NUM_DOMUS, or delete the entry.
    """


@rule(id="IB-002", slug="ib-domu-mem-vs-static-mem", behaviour="DROP", since="4.16", xen_src=_IB)
def ib_002() -> None:
    """What Xen does: reads `memory` from the domain node; ImageBuilder
    writes the sum of the `DOMU_STATIC_MEM` bank sizes there and ignores a
    `DOMU_MEM` that disagrees (it prints a line and goes on).

    Why it matters: the domain gets the static banks' size, not what
    DOMU_MEM says; one of the two values is a mistake.

    Example: `DOMU_MEM[0]=512` with `DOMU_STATIC_MEM[0]="0x50000000 0x10000000"` (256 MiB).

    Fix: make DOMU_MEM equal the banks' total in MiB, or drop it.
    """


@rule(id="IB-003", slug="ib-size-units", behaviour="HAZARD", since="4.16", xen_src=_IB)
def ib_003() -> None:
    """What Xen does: takes `memory` in KiB (ImageBuilder multiplies
    DOMU_MEM, in MiB, by 1024) and `xen,static-mem`/`xen,static-heap` in
    bytes, page aligned.

    Why it matters: DOMU_MEM is MiB but DOMU_STATIC_MEM, XEN_STATIC_HEAP
    and DOMU_SHARED_MEM are bytes; a byte count in DOMU_MEM asks for
    terabytes, a MiB count in DOMU_STATIC_MEM gives a bank of a few hundred
    bytes that Xen refuses or rounds.

    Example: `DOMU_MEM[0]=268435456` (bytes) or `DOMU_STATIC_MEM[0]="0x50000000 256"`.

    Fix: DOMU_MEM in MiB; static banks as byte addresses and sizes, 4 KiB aligned.
    """


@rule(id="IB-004", slug="ib-colour-dialect", behaviour="DROP", since="4.16", xen_src=_IB)
def ib_004() -> None:
    """What Xen does: Xilinx's Xen (its cache-colouring series) reads a
    `colors` bitmask in the domain node and `xen_colors=`/`dom0_colors=` on
    its command line; upstream Xen from 4.20 (LLC_COLORING) reads the
    string property `llc-colors` and `llc-coloring=on`,
    `xen-llc-colors=`, `dom0-llc-colors=`, and ignores the Xilinx keys.
    ImageBuilder's release script writes the Xilinx ones, from a single
    FIRST-LAST range.

    Why it matters: on the other Xen the domain runs uncoloured, sharing
    cache with everyone, and nothing says so; a colour list in the wrong
    syntax becomes a wrong bitmask.

    Example: `DOMU_COLORS[0]="6-14"` booted on upstream Xen 4.20.

    Fix: match the keys to the Xen you boot (upstream: set llc-colors
    through an overlay or APPEND_EXTRA_CMDS), and give one range.
    """


@rule(id="IB-005", slug="ib-passthrough-path-absent", behaviour="DROP", since="4.16", xen_src=_IB)
def ib_005() -> None:
    """What Xen does: assigns to the domain only devices marked
    `xen,passthrough` in the host tree. ImageBuilder marks each
    DOMU_PASSTHROUGH_PATHS entry with `fdt set`, and U-Boot fails that
    command for a path the board's tree does not have, then goes on.

    Why it matters: the device stays with dom0 (or nobody) while the
    domain's partial device tree describes it; boards rename buses
    (`/amba` on older ZynqMP trees, `/axi` on newer ones).

    Example: `DOMU_PASSTHROUGH_PATHS[0]="/axi/ethernet@ff0e0000"` on a tree with `/amba/ethernet@ff0e0000`.

    Fix: use the path as the board's DTB spells it.
    """


@rule(id="IB-006", slug="ib-files-in-static-region", behaviour="HAZARD", since="4.16", xen_src=_IB,
      isolation=True)
def ib_006() -> None:
    """What Xen does: gives static banks to their domain, the static heap
    to its allocator and shared regions to their owners, without asking
    whether a boot module still lies there. ImageBuilder places files from
    MEMORY_START up and never looks at those regions.

    Why it matters: a file loaded into a static region is overwritten by
    the domain, or the domain's memory holds a kernel image.

    Example: `DOMU_STATIC_MEM[0]="0x41000000 0x1000000"` while the kernels load from 0x40400000.

    Fix: end MEMORY_END below every static, heap and shared region, or move the region.
    """


@rule(id="IB-010", slug="ib-module-window-over-static", behaviour="HAZARD", since="4.16", xen_src=_IB)
def ib_010() -> None:
    """What Xen does: the same as for IB-006; here no file lies in the
    region yet, but the module window MEMORY_START..MEMORY_END reaches into
    it.

    Why it matters: ImageBuilder may place files anywhere in the window, so
    the layout breaks as soon as the files grow (a larger kernel or ramdisk
    pushes the later files into the region).

    Example: `MEMORY_END="0xC0000000"` with `DOMU_STATIC_MEM[0]="0x50000000 0x20000000"`
    (Xen CI's arm32 static-memory job).

    Fix: end MEMORY_END below every static, heap and shared region.
    """


@rule(id="IB-007", slug="ib-files-beyond-memory-end", behaviour="HAZARD", since="4.16", isolation=True,
      xen_src="ImageBuilder scripts/uboot-script-gen: the final memaddr check")
def ib_007() -> None:
    """What Xen does: nothing; ImageBuilder stops first. After placing
    every file it requires 2 MiB to spare below MEMORY_END and fails with
    "not enough memory to load all binaries" otherwise.

    Why it matters: the script is never written; a hand-edited script
    with the same layout loads files past the end of the window.

    Example: `MEMORY_END="0x41000000"` with a 40 MiB kernel.

    Fix: raise MEMORY_END (within RAM) or shrink the files.
    """


@rule(id="IB-008", slug="ib-index-missing-or-repeated", behaviour="WARN", since="4.16", xen_src=_IB)
def ib_008() -> None:
    """What Xen does: builds each domain from its node; ImageBuilder fills
    an unset DOMU_MEM, DOMU_VCPUS or DOMU_CMD with its default (512 MiB, 1
    vCPU, "console=ttyAMA0") and lets a later assignment of the same index
    replace an earlier one.

    Why it matters: an index slip (`DOMU_MEM[1]` written twice, `DOMU_MEM[0]`
    never) silently gives one domain the defaults and another the setting
    twice.

    Example: `DOMU_MEM[1]=1024` on two lines, no `DOMU_MEM[0]`.

    Fix: give every domain its own index.
    """


@rule(id="IB-009", slug="ib-loaded-files-overlap", behaviour="HAZARD", since="4.16", isolation=True,
      xen_src="U-Boot cmd/fdt.c, fs/fs.c: load commands")
def ib_009() -> None:
    """What Xen does: takes each module where `/chosen` says it is; it
    cannot tell that a later U-Boot load wrote over an earlier file.

    Why it matters: a hand-written script (or one edited after
    ImageBuilder) loads a file over another one, or the DTB grows (`fdt
    resize`, every `fdt set`) into the next file; Xen boots a corrupt kernel
    or ramdisk.

    Example: `tftpb 0x40400000 Image` (20 MiB) then `tftpb 0x41000000 initrd`.

    Fix: space the load addresses by the files' sizes (ImageBuilder rounds each to 2 MiB).
    """
