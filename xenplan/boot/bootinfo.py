"""S1–S3: Xen's image, the DTB and ``/memreserve/`` enter ``bootinfo``.

Mirrors ``start_xen()`` (``xen/arch/arm/setup.c``) mapping the DTB with
``early_fdt_map()`` (DT-011: refused when misaligned or larger than 2 MiB),
recording the Xen image as ``BOOTMOD_XEN``, ``boot_fdt_info()`` recording
the DTB as ``BOOTMOD_FDT`` (overlap-checked against Xen only from 4.18) and,
from 4.19, appending every reserve-map entry to ``reserved_mem`` as
``MEMBANK_FDT_RESVMEM`` without any check (RSV-001).
"""

from __future__ import annotations

from xenplan.boot.result import Related
from xenplan.boot.state import BootModule, BootState, ResvBank
from xenplan.model.base import Range

#: ``MAX_FDT_SIZE`` (``SZ_2M``; ``xen/arch/arm/include/asm/setup.h``, ``xen/include/asm-arm/setup.h``
#: on 4.16): the largest ``fdt_totalsize`` ``early_fdt_map()`` accepts, on every release from 4.16
#: to 4.23-dev.
MAX_FDT_SIZE = 2 << 20
#: ``MIN_FDT_ALIGN`` (``xen/include/xen/bootfdt.h``; the Arm ``asm/setup.h`` before 4.20): the
#: alignment ``early_fdt_map()`` wants of the DTB's address, 8 on every release from 4.16 to 4.23-dev.
MIN_FDT_ALIGN = 8


def early_fdt_map(state: BootState) -> None:
    """DT-011: ``early_fdt_map()`` returns NULL for an address of 0 or not ``MIN_FDT_ALIGN``-aligned,
    or a ``totalsize`` above ``MAX_FDT_SIZE``, and ``start_xen()`` panics. The blob xenplan reads
    always has the FDT magic; its size is ``--fdt-address``'s when given, else the compiled blob's."""
    t = state.system.target
    size = t.fdt_size or state.system.dtb_size or 0
    why = []
    if t.fdt_address is not None and (t.fdt_address == 0 or t.fdt_address % MIN_FDT_ALIGN):
        why.append(f"its address {t.fdt_address:#x} is " + ("0" if t.fdt_address == 0 else
                   f"not {MIN_FDT_ALIGN}-byte aligned"))
    if size > MAX_FDT_SIZE:
        whose = "--fdt-address gives" if t.fdt_size else "the compiled blob is"
        why.append(f"{whose} {size:#x} bytes, more than {MAX_FDT_SIZE:#x} (2 MiB)")
    if not why:
        return
    where = f"{t.fdt_address:#x}" if t.fdt_address is not None else "X"
    text = f"Invalid device tree blob at physical address {where}."
    state.event("DT-011", "PANIC", f"early_fdt_map() refuses the DTB: {' and '.join(why)}; Xen panics before "
                "its console is up (the DTB must be 8-byte aligned and at most 2 MiB)", path="/",
                ranges=[Range(start=t.fdt_address, size=size)] if t.fdt_address is not None else [],
                xen_message=text)
    state.stop("panic", "other", "DT-011", text)


def uefi_modules(state: BootState) -> None:
    """MOD-009: the modules Xen's EFI stub would load (``efi_check_dt_boot()``,
    ``handle_module_node()``: a ``multiboot,module`` with ``xen,uefi-binary`` directly under
    ``/chosen`` or under a ``xen,domain`` there). xenplan models the device-tree boot path,
    where nothing reads the property, so each one is named with what that means for it."""
    for m in state.system.modules:
        parent = m.path.rsplit("/", 1)[0]
        if m.uefi_binary is None or "multiboot,module" not in m.compatible:
            continue
        if parent != "/chosen" and (m.domain != parent or m.domain.count("/") != 2):
            continue
        stub = "on a UEFI boot Xen's EFI stub loads that file and writes this module's reg (handle_module_node())"
        if m.range is None:
            what = (f"{stub}; xenplan models the device-tree (U-Boot) boot path, where the module has no usable reg "
                    "and Xen panics (MOD-002), and does not model UEFI boot: give reg for a device-tree boot, "
                    "or check this system on the EFI path")
        else:
            what = (f"{stub}, replacing the reg written here; xenplan checks that reg (the device-tree boot "
                    "path) and does not model UEFI boot: check the placement on the EFI path")
        state.event("MOD-009", "INFO", f"xen,uefi-binary = \"{m.uefi_binary}\": {what}", path=m.path,
                    prop="xen,uefi-binary")


def run(state: BootState) -> BootState:
    t = state.system.target
    state.notes.extend(t.notes)
    state.notes.extend(state.system.notes)
    uefi_modules(state)
    early_fdt_map(state)
    if t.xen_image is not None:
        state.modules.append(BootModule(range=t.xen_image, kind="xen", path="(Xen image)"))
    else:
        state.notes.append("no --xen-image: overlap checks with Xen's own image skipped")
    if t.fdt_address is not None:
        size = t.fdt_size or state.system.dtb_size or 0
        fdt = Range(start=t.fdt_address, size=size)
        if state.rel.fdt_xen_overlap_refused and t.xen_image is not None and fdt.overlaps(t.xen_image):
            state.event("RSV-012", "DROP", f"the DTB {fdt} overlaps Xen's image {t.xen_image}: add_boot_module() "
                        "refuses it and Xen goes on without the DTB in its module table (its pages are not "
                        "protected from the heap)", path="/", ranges=[fdt],
                        related=[Related(path="(Xen image)", ranges=(t.xen_image,))])
        else:
            state.modules.append(BootModule(range=fdt, kind="fdt", path="(device tree)"))
        if t.fdt_size is None:
            state.notes.append(f"DTB size taken from the compiled blob ({size:#x} bytes)")
    else:
        state.notes.append("no --fdt-address: overlap checks with the DTB skipped")
    if state.rel.memreserve_in_bootinfo:
        limit = state.rel.nr_mem_banks
        for i, r in enumerate(state.system.board.memreserve):
            if len(state.reserved_mem) >= limit:
                text = "Cannot allocate reserved memory bank"
                state.event("RSV-001", "PANIC", f"/memreserve/ has more than {limit} entries", path="/",
                            xen_message=text)
                state.stop("panic", "early-fdt", "RSV-001", text)
                break
            state.reserved_mem.append(ResvBank(range=r, type="memreserve", path=f"/memreserve/[{i}]"))
    return state
