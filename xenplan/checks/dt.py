"""DT: how Xen's early parser reads the host device tree.

Most of these rules describe decoding that ``xenplan.model.build`` already
applies (which cells decode which property, defaults, availability); the
early-scan stage reports the failures by the rule of the item that failed.
Only two conditions are checked here: nodes nested deeper than Xen walks
(DT-007) and, on 32-bit ``paddr_t`` builds, values Xen truncates (DT-005).
"""

from __future__ import annotations

from collections.abc import Iterator

from xenplan.boot.result import BootResult
from xenplan.checks.registry import Hit, rule
from xenplan.model.base import Range
from xenplan.model.system import System

PADDR32_MAX = (1 << 32) - 1


@rule(id="DT-001", slug="root-cell-defaults", behaviour="INFO", since="4.16",
      xen_src="xen/common/device-tree/bootfdt.c: device_tree_for_each_node(), device_tree_get_u32()")
def dt_001() -> None:
    """What Xen does: a node without `#address-cells` / `#size-cells` (or with a
    value shorter than four bytes) takes its parent's effective count; at the
    root the counts default to 2 for addresses and 1 for sizes. The early scan
    and the unflattened tree agree on this.

    Why it matters: a root without `#size-cells` decodes every `/memory` `reg`
    with one size cell, so a board written for 2/2 cells ends up with the
    wrong RAM banks, and every later check sees that wrong RAM.

    Example: a root without cells decodes this as two banks, not one:

        / { memory@40000000 { device_type = "memory";
                              reg = <0x0 0x40000000 0x1 0x0>; }; };

    With the counts written out it is one 4 GiB bank:

        / { #address-cells = <2>; #size-cells = <2>;
            memory@40000000 { device_type = "memory";
                              reg = <0x0 0x40000000 0x1 0x0>; }; };

    Fix: always give the root (and `/chosen`) explicit `#address-cells` and
    `#size-cells` matching how the values below them are written.
    """


@rule(id="DT-002", slug="cells-from-parent", behaviour="INFO", since="4.16",
      xen_src="xen/common/device-tree/bootinfo-fdt.c: early_scan_node(); "
              "xen/common/device-tree/static-memory.c: parse_static_mem_prop()")
def dt_002() -> None:
    """What Xen does: a property is decoded with the cells of the node's
    parent: `/memory` `reg` and `/chosen` `xen,static-heap` with the root's,
    a domain's `xen,static-mem` with `/chosen`'s (from 4.17), a module `reg`
    or a `xen,shared-mem` with its domain node's. Xen 4.16 instead read
    `xen,static-mem` with the domain node's `#xen,static-mem-address-cells`
    and `#xen,static-mem-size-cells`, both 0 when absent (then the scan stops
    at that domain, reported as DT-004). From 4.17 those two properties and
    the domain node's own cells are ignored for `xen,static-mem`.

    Why it matters: a `xen,static-mem` written with the domain node's 2/2
    cells under a `/chosen` with 1/1 cells is read as several banks starting
    at address 0: a data abort on 4.17, a truncated scan on 4.18, "Early FDT
    parsing failed" from 4.19.

    Example: `/chosen` has `#address-cells = <1>; #size-cells = <1>;` and
    the domain holds `xen,static-mem = <0x0 0x60000000 0x0 0x10000000>;`
    (fails). Written in `/chosen`'s cells it is
    `xen,static-mem = <0x60000000 0x10000000>;` (works).

    Fix: write `xen,static-mem` in the cells of `/chosen`; on 4.16 also give
    the domain node `#xen,static-mem-address-cells` and
    `#xen,static-mem-size-cells`.
    """


@rule(id="DT-003", slug="reserved-memory-own-cells", behaviour="INFO", since="4.16",
      xen_src="xen/common/device-tree/bootinfo-fdt.c: process_reserved_memory()")
def dt_003() -> None:
    """What Xen does: `/reserved-memory` is walked on its own, starting at
    that node, so its cells default to 2 (address) and 1 (size) when it does
    not state them; they are not inherited from the root. Its children are
    decoded with those counts.

    Why it matters: on a board whose root uses 2/2 cells, a `/reserved-memory`
    without its own cells has its children's `reg` read with one size cell:
    the reserved ranges Xen keeps out of the heap are not the ones written.

    Example: root 2/2 and

        reserved-memory { ranges; fw@50000000 { reg = <0x0 0x50000000 0x0 0x100000>; }; };

    is decoded with 2/1 cells. The fixed node states its cells:

        reserved-memory { #address-cells = <2>; #size-cells = <2>; ranges;
                          fw@50000000 { reg = <0x0 0x50000000 0x0 0x100000>; }; };

    Fix: always give `/reserved-memory` explicit `#address-cells` and
    `#size-cells`.
    """


@rule(id="DT-004", slug="unsupported-cell-count", behaviour="PANIC", since="4.16",
      xen_src="xen/include/xen/bootfdt.h: dt_read_number(); "
              "xen/common/device-tree/bootinfo-fdt.c: device_tree_get_meminfo()",
      xen_message="Early FDT parsing failed (-22)")
def dt_004() -> None:
    """What Xen does: numbers are read with one or two cells. A count below
    one makes the memory-info reader fail; that stops the early scan, without
    a panic up to 4.18 (TRUNC: nothing after the node is recorded) and with
    "Early FDT parsing failed (-22)" from 4.19. A count above two is not
    refused: a release build reads only the first cell while stepping over
    all of them, so the values are garbage (a debug build asserts).

    | release | count < 1 | count > 2 |
    |---|---|---|
    | 4.16–4.18 | TRUNC (scan stops) | garbage values |
    | 4.19+ | PANIC early-fdt | garbage values |

    On 4.16 a domain without `#xen,static-mem-*-cells` hits the first column.

    Why it matters: the failing node and everything after it never reach
    Xen's tables, so domains lose their kernels; from 4.19 nothing boots.

    Example: a 4.16 domain without its cells fails:

        domU1 { compatible = "xen,domain"; xen,static-mem = <0x60000000 0x10000000>; };

    and boots with `#xen,static-mem-address-cells = <1>;
    #xen,static-mem-size-cells = <1>;` added.

    Fix: use `#address-cells` / `#size-cells` of 1 or 2 on every parent of a
    decoded property (and the 4.16 static-mem cells on static domains).
    """


@rule(id="DT-005", slug="value-wider-than-paddr", behaviour="WARN", since="4.18",
      kconfig=("PHYS_ADDR_T_32",),
      xen_src="xen/common/device-tree/bootfdt.c: device_tree_get_reg()",
      xen_message="Physical address greater than max width supported")
def dt_005(system: System, result: BootResult) -> Iterator[Hit]:
    """What Xen does: on an arm32 build with a 32-bit `paddr_t`
    (CONFIG_PHYS_ADDR_T_32, 4.18+), an address or size that does not fit in
    32 bits is truncated to its low half; Xen prints "Physical address
    greater than max width supported" (or "... size ...") and a WARN
    backtrace, then goes on with the truncated value.

    Why it matters: the region Xen records is not the one written: RAM,
    reservations or static banks land at the wrong place, usually on top of
    something else.

    Example: with CONFIG_PHYS_ADDR_T_32, `xen,static-mem = <0x1 0x0 0x0 0x10000000>;`
    becomes a bank at address 0. `xen,static-mem = <0x0 0x80000000 0x0 0x10000000>;`
    fits.

    Fix: keep every region below 4 GiB, or build Xen with a 64-bit `paddr_t`
    (LPAE, the default).
    """
    for path, prop, r in _decoded_ranges(system):
        wide = [what for what, v in (("address", r.start), ("size", r.size)) if v > PADDR32_MAX]
        if wide:
            yield Hit(message=f"{path} {prop} {r}: the {' and '.join(wide)} does not fit Xen's 32-bit paddr_t "
                      "and is truncated to its low 32 bits", path=path, property=prop,
                      ranges=((r.start, r.size),))


def _decoded_ranges(system: System) -> Iterator[tuple[str, str, Range]]:
    for item in system.scan:
        for r in item.pairs:
            yield item.path, item.prop or "reg", r


@rule(id="DT-006", slug="node-not-available", behaviour="INFO", since="4.16",
      xen_src="xen/common/device-tree/bootinfo-fdt.c: device_tree_node_is_available()")
def dt_006() -> None:
    """What Xen does: a `/memory` node, a `/reserved-memory` child or
    `/chosen` whose `status` is anything but absent, "ok" or "okay" is
    skipped: its memory information is not read at all.

    Why it matters: `status = "disabled"` on a memory node removes that RAM
    from Xen's view; on a reserved-memory child it lets the heap use the
    range.

    Example: `memory@80000000 { device_type = "memory"; status = "disabled";
    reg = <...>; };` gives Xen no RAM there; drop the `status` (or set
    "okay") to keep it.

    Fix: only disable nodes whose memory Xen must not see.
    """


@rule(id="DT-007", slug="node-nested-too-deep", behaviour="WARN", since="4.16",
      xen_src="xen/common/device-tree/bootfdt.c: device_tree_for_each_node()",
      xen_message="Warning: device tree node `X' is nested too deep")
def dt_007(system: System, result: BootResult) -> Iterator[Hit]:
    """What Xen does: the early scan walks at most 16 levels
    (DEVICE_TREE_MAX_DEPTH); a deeper node is skipped with the warning
    "device tree node ... is nested too deep", and so are its properties.

    Why it matters: whatever the skipped node describes (a module, a
    reserved region, a shared-memory node) is not recorded.

    Example: a `multiboot,module` 17 levels down is never seen; the same
    module as a direct child of its domain node is.

    Fix: flatten the tree so every node Xen must read is less than 16 levels
    deep.
    """
    for path in system.dropped_nodes:
        yield Hit(message=f"{path} is nested 16 or more levels deep: Xen's early scan skips it", path=path)


@rule(id="DT-008", slug="early-scan-failure", behaviour="PANIC", since="4.16",
      xen_src="xen/common/device-tree/bootinfo-fdt.c: boot_fdt_info(), early_scan_node()",
      xen_message="Early FDT parsing failed (-22)")
def dt_008() -> None:
    """What Xen does: when a handler of the early scan returns an error
    (a malformed or overlapping region, a missing mandatory property), Xen
    prints "fdt: node `X': parsing failed" and the walk ends at X.

    | release | what follows |
    |---|---|
    | 4.16–4.18 | the error is ignored: boot goes on with what was recorded before X (TRUNC, DT-009) |
    | 4.19+ | PANIC "Early FDT parsing failed (rc)": -22 for bad or overlapping values, -2 for a missing property |

    xenplan reports the failure under the rule of the item that failed
    (RSV-010, DT-004, RAM-004, RAM-007, MOD-006, SHM-*), with this release's
    behaviour.

    Why it matters: from 4.19 nothing boots (every domain not reached); up to
    4.18 the later nodes are silently missing.

    Example: two static banks that overlap stop the scan at the second;
    banks that do not overlap pass.

    Fix: correct the node the finding names.
    """


@rule(id="DT-009", slug="truncated-early-scan", behaviour="TRUNC", since="4.16", until="4.19",
      xen_src="xen/arch/arm/bootfdt.c: boot_fdt_info(); xen/arch/arm/setup.c: is_dom0less_mode()")
def dt_009() -> None:
    """What Xen does: up to 4.18 a failed early scan leaves only what came
    before the failing node in document order. Nothing after it is recorded:
    no module, static bank, static heap, reserved region, shared memory or
    RAM. Then:

    - no domU kernel recorded at all: Xen builds dom0 instead and panics
      "Could not set up DOM0 guest OS" (stage other);
    - else the domains before the node are built and the first domain
      without a recorded kernel panics "Could not set up domain D";
    - if the node comes after every kernel (a `/reserved-memory` after
      `/chosen`), Xen boots, with the refused range and what follows it not
      reserved.

    Why it matters: the visible failure appears far from its cause, often
    as a missing kernel; a silent boot leaves reserved memory in the heap.

    Example: on 4.18 a static bank overlapping another domain's makes the
    second domain fail with rc -2; separating the banks fixes both.

    Fix: fix the node named by the TRUNC finding (the first one in document
    order).
    """


#: Command-line parameters only Xen registers (``custom_param()``, ``integer_param()``,
#: ``boolean_param()``, ``string_param()``, ``size_param()`` and their runtime forms in
#: ``xen/common``, ``xen/arch/arm``, ``xen/drivers``); a Linux kernel takes none of them.
XEN_ONLY_PARAMS = frozenset({
    "dom0_mem", "dom0_max_vcpus", "dom0_vcpus_pin", "dom0-iommu", "dtuart", "loglvl", "guest_loglvl",
    "conswitch", "bootscrub", "sched", "sched-gran", "xenheap_megabytes", "sync_console", "console_to_ring",
    "hmp-unsafe", "vwfi", "serrors", "llc-coloring", "llc-size", "llc-nr-ways", "dom0-llc-colors",
    "xen-llc-colors",
})


def xen_options(cmdline: str) -> list[str]:
    """The tokens of a command line that only Xen understands: a Xen-only parameter, or
    ``console=`` naming Xen's ``dtuart`` driver."""
    out = []
    for tok in cmdline.split():
        key, _, value = tok.partition("=")
        if key in XEN_ONLY_PARAMS or (key == "console" and "dtuart" in value.split(",")):
            out.append(tok)
    return out


@rule(id="DT-010", slug="chosen-bootargs-not-xens", behaviour="HAZARD", since="4.16",
      xen_src="xen/common/device-tree/bootinfo-fdt.c: boot_fdt_cmdline(); "
              "xen/common/device-tree/bootinfo.c: boot_cmdline_find_by_kind()")
def chosen_bootargs_not_xens(system: System, result: BootResult) -> Iterator[Hit]:
    """What Xen does: `boot_fdt_cmdline()` takes Xen's command line from
    `/chosen/xen,xen-bootargs`. Only when that property is absent does it fall
    back to `/chosen/bootargs`, and then only if `/chosen` also has
    `xen,dom0-bootargs` or dom0's kernel module (a `multiboot,kernel` outside
    any `xen,domain`) has a non-empty `bootargs` of its own. Otherwise Xen
    boots with an empty command line, silently; `/chosen/bootargs` goes to
    dom0 as its command line. The same on every release from 4.16 to 4.22.

    Why it matters: U-Boot's `setenv bootargs "console=dtuart dom0_mem=3G";
    booti` writes `/chosen/bootargs`. Without the fallback conditions, none of
    those options reach Xen: no `dtuart` console, dom0 gets the 512 MiB
    default instead of 3 GiB, the default scheduler runs.

    Example: this `/chosen` gives Xen an empty command line:

        chosen { bootargs = "console=dtuart dom0_mem=3G";
                 module@42000000 { compatible = "multiboot,kernel", "multiboot,module";
                                   reg = <0x0 0x42000000 0x0 0x1000000>; }; };

    Xen reads the same options from `xen,xen-bootargs = "console=dtuart
    dom0_mem=3G";` (or from `bootargs` once the kernel module has
    `bootargs = "console=hvc0";`).

    Fix: put Xen's options in `/chosen/xen,xen-bootargs` (U-Boot:
    `fdt set /chosen xen,xen-bootargs "..."`), and dom0's in its kernel
    module's `bootargs` or `xen,dom0-bootargs`.
    """
    xen = system.xen
    if xen.chosen_bootargs is None or xen.bootargs_prop == "bootargs":
        return
    ignored = [tok for tok in xen_options(xen.chosen_bootargs)
               if xen.cmdline.get(tok.partition("=")[0]) != tok.partition("=")[2]]
    if not ignored:
        return
    if xen.bootargs_prop == "xen,xen-bootargs":
        why = "Xen reads its command line from /chosen/xen,xen-bootargs, and that property does not carry them"
    else:
        kernel = (f"dom0's kernel module {xen.dom0_kernel_cmdline} has an empty bootargs"
                  if xen.dom0_kernel_cmdline is not None else "no dom0 kernel module has a bootargs of its own")
        why = (f"/chosen has no xen,xen-bootargs and no xen,dom0-bootargs, and {kernel}, so "
               "boot_fdt_cmdline() gives Xen an empty command line")
    yield Hit(message=f"Xen ignores /chosen/bootargs here: {why}; {' '.join(ignored)} never reach Xen "
              "(/chosen/bootargs becomes dom0's command line): put Xen's options in /chosen/xen,xen-bootargs",
              path="/chosen", property="bootargs")


@rule(id="DT-011", slug="dtb-refused-by-early-map", behaviour="PANIC", since="4.16",
      xen_src="xen/arch/arm/mmu/setup.c: early_fdt_map(); xen/arch/arm/setup.c: start_xen()",
      xen_message="Invalid device tree blob at physical address X.")
def dt_011() -> None:
    """What Xen does: `start_xen()` maps the DTB with `early_fdt_map()`
    before anything else. It refuses an address of 0 or one that is not
    8-byte aligned (MIN_FDT_ALIGN), a blob without the FDT magic, and a blob
    whose header `totalsize` exceeds 2 MiB (MAX_FDT_SIZE); Xen then panics
    "Invalid device tree blob at physical address X. The DTB must be 8-byte
    aligned and must not exceed 2 MB in size." The limits and the text are
    the same on every release from 4.16 to 4.22.

    Why it matters: Xen stops before its console driver is up, so the panic
    is visible only with an early-printk build; otherwise the board just
    hangs after the boot loader jumps to Xen.

    Example: `--fdt-address 0x48000004` (4-byte aligned) panics;
    `--fdt-address 0x48000000` does not. A DTB of 2.5 MiB panics wherever
    it is loaded.

    Fix: load the DTB at an 8-byte aligned address (U-Boot's `fdt_addr_r`
    usually is) and keep it within 2 MiB, including the space the boot
    loader adds with `fdt resize`; move large blobs (FPGA images, firmware)
    out of the device tree into modules.
    """
