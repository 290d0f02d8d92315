"""A plan as an ImageBuilder configuration (``uboot-script-gen -c``).

ImageBuilder places the boot files itself: the U-Boot script at
``max(MEMORY_START + 2 MiB, 0xC00000)``, then every file at the next 2 MiB
step in a fixed order (dom0 kernel and ramdisk, each domU's kernel, ramdisk
and passthrough DTB, then Xen and the host DTB), each slot its file rounded
up to 2 MiB (an arm64 kernel's header size when larger). The engine lays
the plan's modules out in that same order and step, so ``MEMORY_START`` is
chosen to put ImageBuilder's first file on the plan's first module, and
``MEMORY_END`` one 2 MiB step past the host DTB's slot (``uboot-script-gen``
refuses a window that does not keep that step free: "not enough memory to
load all binaries"); where Xen and the DTB then land
is said in the header, with a warning when the plan has static memory or the
static heap there.
"""

from __future__ import annotations

import os

from xenplan.model.target import Target
from xenplan.plan.emit import xen_bootargs
from xenplan.plan.engine import MODULE_STEP, Layout, PlacedModule, mib, ranges
from xenplan.plan.spec import Spec

IMAGEBUILDER_DOMU_CMD = "console=ttyAMA0"
"""What ``uboot-script-gen`` gives a domU whose ``DOMU_CMD`` is empty."""
SCRIPT_FLOOR = 0xC00000
"""ImageBuilder never puts its script below 12 MiB."""


def _up(value: int, align: int) -> int:
    return -(-value // align) * align


def _file(m: PlacedModule, fallback: str) -> str:
    return os.path.basename(m.path) if m.path else fallback


def _pairs(ranges: list[tuple[int, int]]) -> str:
    return " ".join(f"{s:#x} {n:#x}" for s, n in ranges)


def imagebuilder_config(spec: Spec, layout: Layout, target: Target, board_bootargs: str | None,
                        xen_file: str = "xen", dtb_file: str = "board.dtb") -> str:
    """The configuration text; every value is the plan's, addresses as ImageBuilder reads them (hex)."""
    modules = [*layout.dom0_modules, *(m for p in layout.domains for m in p.modules)]
    lines = ["# ImageBuilder configuration written by xenplan plan: the modules land where the plan put them."]
    if modules:
        first = modules[0].start
        start = first - 2 * MODULE_STEP
        if start + MODULE_STEP < SCRIPT_FLOOR:
            lines.append(f"# the first module ({first:#x}) is below where ImageBuilder can start (it keeps its "
                         f"script at or above {SCRIPT_FLOOR:#x}); the modules will land higher")
            start = max(0, SCRIPT_FLOOR - MODULE_STEP)
        last = max(modules, key=lambda m: m.start)
        cursor = _up(last.start + max(last.size, 1), MODULE_STEP)
    else:
        start = (target.xen_image.start if target.xen_image else 0) - 2 * MODULE_STEP
        cursor = start + 2 * MODULE_STEP
    xen_size = target.xen_image.size if target.xen_image else target.release.xen_image_size
    xen_at = cursor
    dtb_at = _up(xen_at + xen_size, MODULE_STEP)
    files_end = dtb_at + MODULE_STEP
    end = files_end + MODULE_STEP
    lines.append(f"# ImageBuilder puts its script at {start + MODULE_STEP:#x}, Xen at {xen_at:#x} ({mib(xen_size)}) "
                 f"and the host DTB at {dtb_at:#x}.")
    for s, n, owner in ranges(layout):
        if s < files_end and start + MODULE_STEP < s + n and not owner.endswith(("kernel", "ramdisk", "dtb")):
            lines.append(f"# WARNING: {start + MODULE_STEP:#x}-{files_end - 1:#x}, where ImageBuilder loads them, "
                         "overlaps "
                         f"{owner} ({s:#x}-{s + n - 1:#x}): move Xen and the DTB by hand")
    lines += [
              f'MEMORY_START="{start:#x}"', f'MEMORY_END="{end:#x}"', f'DEVICE_TREE="{dtb_file}"',
              f'XEN="{xen_file}"']
    args = xen_bootargs(spec, board_bootargs)
    if args is not None:
        lines.append(f'XEN_CMD="{args}"')
    if layout.static_heap:
        lines.append(f'XEN_STATIC_HEAP="{_pairs(layout.static_heap)}"')
    if spec.dom0 is not None:
        for m in layout.dom0_modules:
            key = "DOM0_KERNEL" if m.kind == "kernel" else "DOM0_RAMDISK"
            lines.append(f'{key}="{_file(m, f"dom0-{m.kind}")}"')
        lines.append(f"DOM0_MEM={spec.dom0.memory >> 20}")
        if spec.dom0.bootargs is not None:
            lines.append(f'DOM0_CMD="{spec.dom0.bootargs}"')
    if spec.cpupool:
        lines.append(f"NUM_CPUPOOLS={len(spec.cpupool)}")
        for k, pool in enumerate(spec.cpupool):
            cpus = ",".join(c.rstrip("/").rpartition("/")[2] for c in pool.cpus)
            lines.append(f'CPUPOOL[{k}]="{cpus} {pool.scheduler or "credit2"}"')
    pool_index = {pool.name: k for k, pool in enumerate(spec.cpupool)}
    lines.append(f"NUM_DOMUS={len(layout.domains)}")
    for i, p in enumerate(layout.domains):
        d = p.spec
        lines.append(f'DOMU_NAME[{i}]="{d.name}"')
        for m in p.modules:
            key = {"kernel": "DOMU_KERNEL", "ramdisk": "DOMU_RAMDISK", "dtb": "DOMU_PASSTHROUGH_DTB"}[m.kind]
            lines.append(f'{key}[{i}]="{_file(m, f"{d.name}-{m.kind}")}"')
        if d.bootargs is not None:
            lines.append(f'DOMU_CMD[{i}]="{d.bootargs}"')
        elif any(other.spec.bootargs is not None for other in layout.domains):
            lines.append(f'DOMU_CMD[{i}]="{IMAGEBUILDER_DOMU_CMD}"  # ImageBuilder\'s own default, said outright')
        lines.append(f"DOMU_MEM[{i}]={d.memory >> 20}")
        lines.append(f"DOMU_VCPUS[{i}]={d.cpus}")
        if d.is_static:
            lines.append(f'DOMU_STATIC_MEM[{i}]="{_pairs([(b.host, b.size) for b in p.banks])}"')
            lines.append(f"DOMU_DIRECT_MAP[{i}]={1 if d.direct_map else 0}")
        lines.append(f"DOMU_ENHANCED[{i}]={0 if d.enhanced is False else 1}")
        regions = [r for r in layout.shm if d.name in (r.owner, *r.borrowers)]
        if regions:
            r = regions[0]
            lines.append(f'DOMU_SHARED_MEM[{i}]="{r.id} {r.host:#x} {r.guest[d.name]:#x} {r.size:#x}"')
        if d.passthrough:
            lines.append(f'DOMU_PASSTHROUGH_PATHS[{i}]="{" ".join(d.passthrough)}"')
        if d.colors is not None:
            lines.append(f'DOMU_COLORS[{i}]="{d.colors}"')
        if d.cpupool is not None:
            lines.append(f"DOMU_CPUPOOL[{i}]={pool_index[d.cpupool]}")
    if any(len([r for r in layout.shm if p.spec.name in (r.owner, *r.borrowers)]) > 1 for p in layout.domains):
        lines.append("# ImageBuilder takes one DOMU_SHARED_MEM per domain: the first region of each is listed")
    if layout.shm:
        lines.append("# ImageBuilder writes no shared-memory role: Xen then makes DOMID_IO the owner of each region")
    if any(not p.vpl011 for p in layout.domains):
        lines.append("# ImageBuilder gives every domU a vpl011: the plan has none for "
                     + ", ".join(p.spec.name for p in layout.domains if not p.vpl011) + " (remove it by hand)")
    if spec.event_channel:
        lines.append("# event channels are not ImageBuilder variables: use the plan's dts or overlay for them")
    return "\n".join(lines) + "\n"
