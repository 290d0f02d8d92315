"""S1–S3: Xen's image, the DTB and ``/memreserve/`` enter ``bootinfo``.

Mirrors ``start_xen()`` (``xen/arch/arm/setup.c``) recording the Xen image
as ``BOOTMOD_XEN``, ``boot_fdt_info()`` recording the DTB as ``BOOTMOD_FDT``
(overlap-checked against Xen only from 4.18) and, from 4.19, appending every
reserve-map entry to ``reserved_mem`` as ``MEMBANK_FDT_RESVMEM`` without any
check (RSV-001).
"""

from __future__ import annotations

from xenplan.boot.result import Related
from xenplan.boot.state import BootModule, BootState, ResvBank
from xenplan.model.base import Range


def run(state: BootState) -> BootState:
    t = state.system.target
    state.notes.extend(t.notes)
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
