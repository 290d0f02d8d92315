"""``--imagebuilder`` and ``--uboot-script``: an integrator's inputs analysed end to end.

The reader (``xenplan.dt.imagebuilder``) gives the tree U-Boot hands Xen and
where Xen, the DTB and every module lie; this module turns that placement
into the target (``--xen-image``/``--fdt-address`` unless given), points the
kernel headers at the files the script loads, runs the usual analysis, and
adds the config and script lints as findings at their lines.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

from xenplan.analysis import Analysis, analyse_tree
from xenplan.checks.finding import Finding
from xenplan.checks.registry import REGISTRY
from xenplan.dt.imagebuilder import BootInput, load_imagebuilder, load_uboot_script
from xenplan.errors import UsageError
from xenplan.model.base import SourceRef
from xenplan.model.target import Target
from xenplan.tomlfile import size_value

MakeTarget = Callable[[str | None, str | None, Sequence[str]], Target]
"""(``--xen-image``, ``--fdt-address``, extra ``--kernel-image`` items) to a target; the user's own options win."""
ARM64_MAGIC = b"ARM\x64"


def assume_sizes(items: Sequence[str]) -> dict[str, int]:
    """``VAR=SIZE`` items (``DOMU_KERNEL[0]=20M``, ``Image=0x1400000``) into a mapping."""
    out: dict[str, int] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError("--assume-size", f"{item!r}: expected VAR=SIZE, e.g. DOMU_KERNEL[0]=20M")
        try:
            out[key.strip()] = size_value(value)
        except ValueError as exc:
            raise UsageError("--assume-size", f"{item!r}: {exc}") from None
    return out


def analyse_ib(imagebuilder: str | None, uboot_script: str | None, inputs: Sequence[str], ib_dir: str | None,
               assume: Sequence[str], make_target: MakeTarget,
               partial_dtbs: dict[str, str] | None = None, dialect: str | None = None) -> Analysis:
    """Read the config (or replay the script), simulate Xen on the tree U-Boot builds, add the lints."""
    if len(inputs) > 1:
        raise UsageError("INPUT", "with --imagebuilder or --uboot-script give at most one INPUT (the board's DTB)")
    sizes = assume_sizes(assume)
    dtb = inputs[0] if inputs else None
    if imagebuilder is not None:
        bi = load_imagebuilder(imagebuilder, ib_dir, sizes, dtb, dialect=dialect)
        label = imagebuilder
    else:
        assert uboot_script is not None
        bi = load_uboot_script(uboot_script, dtb, ib_dir, sizes)
        label = uboot_script
    kernels = [f"{path}={file}" for path, file in module_files(bi, "multiboot,kernel", "xen,linux-zimage").items()]
    target = make_target(None, f"{bi.fdt_addr:#x}:{bi.dtb_size:#x}", kernels)
    xen_size = xen_image_size(bi, target)
    target = make_target(f"{bi.xen_addr:#x}:{xen_size:#x}", f"{bi.fdt_addr:#x}:{bi.dtb_size:#x}", kernels)
    a = analyse_tree(bi.tree, label, target, {**module_files(bi, "multiboot,device-tree"), **(partial_dtbs or {})})
    a.notes[:0] = [*bi.notes, f"U-Boot boots Xen at {bi.xen_addr:#x} ({xen_size:#x} bytes assumed in memory) with "
                   f"the DTB at {bi.fdt_addr:#x} ({bi.dtb_size:#x} bytes once packed)"]
    a.findings.extend(lint_findings(bi))
    a.files = [*dict.fromkeys([*bi.files, *a.files])]
    return a


def module_files(bi: BootInput, *compatible: str) -> dict[str, str]:
    """Module nodes of these kinds whose file the script loads and that is on disk: kernels, so Xen's header
    probe reads them (as ``--kernel-image``), and partial device trees (as ``--partial-dtb``)."""
    out: dict[str, str] = {}
    chosen = bi.tree.find("/chosen")
    if chosen is None:
        return out
    for node in chosen.walk():
        if not set(compatible) & set(node.compatible()):
            continue
        reg = node.prop("reg")
        cells = node.parent.prop("#address-cells") if node.parent is not None else None
        ac = (cells.u32() if cells is not None else None) or 2
        if reg is None or len(reg.value) < 4 * ac:
            continue
        start = int.from_bytes(reg.value[: 4 * ac], "big")
        ld = bi.replay.loaded_at(start)
        if ld is not None and ld.path and os.path.isfile(ld.path) and "=" not in ld.path:
            out[node.path] = ld.path
    return out


def xen_image_size(bi: BootInput, target: Target) -> int:
    """Xen's size in memory: its arm64 header's ``image_size`` when the file has one, else the release's size."""
    rel = target.release
    ld = bi.replay.loaded_at(bi.xen_addr)
    if ld is not None and ld.path and os.path.isfile(ld.path):
        with open(ld.path, "rb") as fh:
            head = fh.read(64)
        if len(head) == 64 and head[56:60] == ARM64_MAGIC:
            size = int.from_bytes(head[16:24], "little")
            if 0 < size <= rel.xen_image_max:
                return size
    return int(rel.xen_image_size)


def lint_findings(bi: BootInput) -> list[Finding]:
    out: list[Finding] = []
    for rid, message, src, path in bi.problems:
        r = REGISTRY[rid]
        out.append(Finding(rule=rid, slug=r.slug, severity=r.severity(), reached=True, message=message, path=path,
                           source=SourceRef(file=src.file, line=src.line), since=r.since,
                           xen_message=r.xen_message))
    return out
