"""Kernel, guest DTB and initrd placement in the first guest bank (KRN-*).

Mirrors ``place_modules()`` / ``kernel_zimage_place()`` of
``xen/arch/arm/kernel.c`` (``xen/common/device-tree/kernel.c`` in 4.22) and
the guest DTB buffer of ``prepare_dtb_domU()``.
"""

from __future__ import annotations

from xenplan.boot import messages as msg
from xenplan.boot.build_context import DomainBuild
from xenplan.boot.construction import Construction
from xenplan.boot.state import BootState
from xenplan.model.base import Range
from xenplan.model.system import Domain

MB = 1 << 20
#: arm64 Image ``text_offset`` assumed when no ``--kernel-image`` describes the kernel (Linux's default).
TEXT_OFFSET = 0x80000
#: What each vCPU adds to the generated DTB (KRN-005; the base is ``XenRelease.guest_dtb_base``).
DTB_PER_VCPU = 96
DTB_PER_SHM = 225


def guest_dtb_buffer(state: BootState) -> int:
    """KRN-004: ``prepare_dtb_domU()``'s buffer (``XenRelease.guest_dtb_buffer``)."""
    return state.rel.guest_dtb_buffer


def guest_dtb_size(state: BootState, dom: Domain, nbanks: int) -> int:
    """An estimate of the DTB Xen generates for ``dom`` (KRN-005: base + 96 B per vCPU, measured)."""
    size = state.rel.guest_dtb_base + DTB_PER_VCPU * (dom.cpus or 0)
    kernel = dom.kernel()
    if kernel is not None and kernel.bootargs_len:
        size += 12 + (kernel.bootargs_len + 4) // 4 * 4 + len("bootargs") + 1
    size += 16 * max(nbanks - 1, 0)
    if dom.vpl011:
        size += 160
    if dom.enhanced is not None:
        size += 200
    if state.rel.guest_dtb_shm_nodes:
        size += DTB_PER_SHM * len(dom.shm)
    return size


def _round(x: int, a: int) -> int:
    return (x + a - 1) // a * a


def place(build: DomainBuild, construction: Construction) -> None:
    """KRN-003: kernel at bank 0 + text_offset; DTB and initrd at +128 MiB, at the top, or below.

    Mirrors ``first_bank_can_fit_modules()`` and ``find_dtb_initrd_placement()``
    (``xen/arch/arm/kernel.c``): the kernel's footprint runs from its load
    address to the next 2 MiB boundary after its end; the DTB counts 2 MiB.
    """
    dom = construction.dom
    if construction.first_bank is None:
        build.fail(construction, "KRN-003", f"{dom.name} has no RAM (memory = {dom.memory_kib} KiB)", msg.KRN_NO_ROOM,
                   prop="memory")
    bank = construction.first_bank
    image = construction.image
    klen = image.length if image is not None else (construction.kernel.size if construction.kernel is not None else 0)
    if image is not None and image.kind == "zimage32" and image.start == 0:
        load_end = min(bank.start + 128 * MB, bank.end)
        if load_end - bank.start < klen:
            build.fail(construction,
                       "KRN-002", f"the zImage ({klen:#x} bytes) does not fit below min(128 MiB, first bank "
                       f"{bank})", "Unable to find suitable location for the kernel", ranges=[bank])
        kstart = (load_end - klen) & ~(2 * MB - 1)
    elif image is not None and image.start:
        kstart = image.start
    else:
        kstart = bank.start + (image.text_offset if image is not None else TEXT_OFFSET)
    kend = kstart + klen
    ksize = _round(kend, 2 * MB) - kstart
    initrd_mod = dom.child_module("multiboot,ramdisk")
    live = {m.path for m in build.state.live_modules()}
    initrd_len = initrd_mod.range.size if initrd_mod and initrd_mod.range and initrd_mod.path in live else 0
    for mod in (initrd_mod, dom.child_module("multiboot,device-tree")):
        if mod is not None and mod.range is not None and mod.path in live and mod.range.size \
                and not any(r.contains(mod.range) for r in build.state.ram):
            build.fail(construction,
                       "MOD-008", f"{mod.kind} module {mod.range} of {dom.name} is not inside RAM: copying it "
                       "into the guest faults", msg.DATA_ABORT, outcome="crash", behaviour="CRASH", ranges=[mod.range])
    dtb_len = 2 * MB
    modsize = dtb_len + _round(initrd_len, 2 * MB)
    if modsize + ksize > bank.size:
        build.fail(construction, "KRN-003", f"first guest bank {bank} ({bank.size // 1024} KiB) cannot hold the kernel "
                   f"({ksize // 1024} KiB from its load address to the next 2 MiB boundary) and the DTB+initrd "
                   f"({modsize // MB} MiB)", msg.KRN_NO_ROOM,
                   prop="xen,static-mem" if dom.static_mem_present else "memory", ranges=[bank])
    if bank.end >= bank.start + 128 * MB + modsize and kend < bank.start + 128 * MB:
        addr = bank.start + 128 * MB
    elif bank.end - modsize > _round(kend, 2 * MB):
        addr = bank.end - modsize
    elif kstart - bank.start > modsize:
        addr = kstart - modsize
    else:
        build.fail(construction,
                   "KRN-003", f"first guest bank {bank}: the DTB+initrd ({modsize // MB} MiB) fit neither at "
                   "+128 MiB, nor between the kernel and the end of the bank, nor below the kernel",
                   msg.KRN_NO_SPOT, prop="xen,static-mem" if dom.static_mem_present else "memory", ranges=[bank])
    construction.kernel = Range(start=kstart, size=klen)
    construction.dtb = Range(start=addr, size=dtb_len)
    construction.initrd = Range(start=addr + dtb_len, size=initrd_len) if initrd_len else None


def probe_reads_xen_code(state: BootState, kernel: Range) -> bool:
    """Whether ``kernel_probe()`` reads Xen's own code instead of a kernel header.

    Up to 4.17 the early scan records a kernel module that lies inside Xen's
    image (no ``check_reserved_regions_overlap()``, ``XenRelease.early_fdt_overlap``
    ``"none"``), and the probe then reads whatever Xen's image holds at the
    module's start: Xen's instructions or data carry no arm64 Image, zImage,
    uImage or gzip magic, so every probe returns ``-EINVAL``. Only the image's
    first byte, Xen's own arm64 Image header, would pass, so a module starting
    there is not reported. From 4.18 the scan drops such a module (MOD-004).
    """
    xen = state.system.target.xen_image
    return (state.rel.early_fdt_overlap == "none" and xen is not None
            and xen.start < kernel.start < xen.end)
