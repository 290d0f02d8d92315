"""RAM: how Xen learns its RAM from `/memory` nodes.

The early-scan stage reports a memory node without `reg` (RAM-007) and too
many banks (RAM-004); memory set-up reports a board without RAM (RAM-006).
Overlapping RAM banks (RAM-005) are never checked by Xen; that hazard is
checked here.
"""

from __future__ import annotations

from collections.abc import Iterator

from xenplan.boot.result import BootResult
from xenplan.checks.registry import Hit, rule
from xenplan.model.base import Range
from xenplan.model.system import System


@rule(id="RAM-001", slug="memory-node-recognition", behaviour="INFO", since="4.16",
      xen_src="xen/common/device-tree/bootinfo-fdt.c: device_tree_is_memory_node()")
def ram_001() -> None:
    """What Xen does: RAM comes from nodes named `memory` or `memory@...`.

    | release | which nodes count |
    |---|---|
    | 4.16–4.19 | any depth, name only (`device_type` not read) |
    | 4.20+ | depth 1 only, and `device_type = "memory"` is required |

    Why it matters: from 4.20 a memory node without `device_type` gives Xen
    no RAM at all; before 4.20 a `/reserved-memory/memory@...` child is
    taken as RAM as well as reserved.

    Example: `memory@40000000 { reg = <0x0 0x40000000 0x0 0x40000000>; };`
    is ignored by 4.20+; add `device_type = "memory";` to make it RAM.

    Fix: give every RAM node `device_type = "memory"` at the top level, and
    do not name other nodes `memory`.
    """


@rule(id="RAM-003", slug="empty-ram-bank", behaviour="INFO", since="4.16",
      xen_src="xen/common/device-tree/bootinfo-fdt.c: device_tree_get_meminfo()")
def ram_003() -> None:
    """What Xen does: a `(address, size)` pair of size 0 in a memory node's
    `reg` is skipped and not counted against the bank limit.

    Why it matters: nothing breaks; an empty pair simply adds no RAM.

    Example: `reg = <0x0 0x40000000 0x0 0x0>;` adds nothing;
    `reg = <0x0 0x40000000 0x0 0x40000000>;` adds 1 GiB.

    Fix: none needed; drop empty pairs for clarity.
    """


@rule(id="RAM-004", slug="too-many-ram-banks", behaviour="PANIC", since="4.16",
      xen_src="xen/common/device-tree/bootinfo-fdt.c: device_tree_get_meminfo()",
      xen_message="Max number of supported memory regions reached")
def ram_004() -> None:
    """What Xen does: RAM banks from all memory nodes go into one table of
    NR_MEM_BANKS entries (128 in 4.16.0, 256 from 4.16.1). The pair that does not
    fit makes the memory handler fail with "Max number of supported memory
    regions reached": up to 4.18 the early scan stops there (TRUNC), from
    4.19 Xen panics "Early FDT parsing failed".

    Why it matters: from 4.19 nothing boots; before, every node after the
    memory node is lost.

    Example: one memory node with 257 non-empty pairs fails; merge adjacent
    ranges into fewer, larger banks.

    Fix: describe RAM with at most 256 (4.16.0: 128) banks.
    """


@rule(id="RAM-005", slug="overlapping-ram-banks", behaviour="HAZARD", since="4.16", isolation=True,
      xen_src="xen/common/device-tree/bootinfo-fdt.c: boot_fdt_info()")
def ram_005(system: System, result: BootResult) -> Iterator[Hit]:
    """What Xen does: RAM banks are sorted by start address and never checked
    against each other.

    Why it matters: pages that two banks describe are counted twice: the
    frame table and the heap see them twice, so the same page can be handed
    out to two owners (two domains, or a domain and Xen).

    Example:

        memory@40000000 { device_type = "memory"; reg = <0x0 0x40000000 0x0 0x40000000>; };
        memory@60000000 { device_type = "memory"; reg = <0x0 0x60000000 0x0 0x40000000>; };

    overlaps on [0x60000000, 0x80000000); describe the range once:

        memory@40000000 { device_type = "memory"; reg = <0x0 0x40000000 0x0 0x60000000>; };

    Fix: make the memory nodes describe disjoint ranges.
    """
    seen: list[tuple[str, Range]] = []
    for item in system.scan:
        if item.kind != "ram" or item.error is not None:
            continue
        for r in item.pairs:
            if r.size == 0:
                continue
            for path, other in seen:
                if r.overlaps(other):
                    lo, hi = max(r.start, other.start), min(r.end, other.end)
                    where = "another bank of the same node" if path == item.path else path
                    yield Hit(message=f"RAM bank {r} of {item.path} overlaps {where} {other} on "
                              f"[{lo:#x}, {hi:#x}): Xen counts those pages twice",
                              path=item.path, property="reg", ranges=((r.start, r.size),),
                              related=((path, ((other.start, other.size),)),))
                    break
            seen.append((item.path, r))


@rule(id="RAM-007", slug="memory-node-without-reg", behaviour="PANIC", since="4.16",
      xen_src="xen/common/device-tree/bootinfo-fdt.c: device_tree_get_meminfo(), early_scan_node()",
      xen_message="Early FDT parsing failed (-2)")
def ram_007() -> None:
    """What Xen does: an available memory node without `reg` makes the
    memory handler return -ENOENT, an early-scan failure: up to 4.18 the scan
    stops there (TRUNC), from 4.19 Xen panics "Early FDT parsing failed (-2)".

    Why it matters: from 4.19 nothing boots; before, every node after it is
    lost (often every domain's kernel, so Xen falls back to dom0 and panics).

    Example: `memory@80000000 { device_type = "memory"; };` fails; give it
    `reg = <0x0 0x80000000 0x0 0x40000000>;` or delete the node.

    Fix: every memory node needs a `reg` property.
    """


@rule(id="RAM-006", slug="no-ram", behaviour="PANIC", since="4.16",
      xen_src="xen/arch/arm/arm32/mmu/mm.c: setup_mm(); xen/arch/arm/mm.c: setup_mm()",
      xen_message="No memory bank")
def ram_006() -> None:
    """What Xen does: with no RAM bank recorded, memory set-up has nothing to
    build on: arm32 panics "No memory bank", arm64 fails in the same step.

    Why it matters: Xen stops before any domain (stage other).

    Example: a tree whose only memory node lacks `device_type = "memory"`
    has no RAM for 4.20+; adding it (or a `reg`) fixes it.

    Fix: describe the board's RAM in a top-level `memory@...` node with
    `device_type = "memory"` and `reg`.
    """
