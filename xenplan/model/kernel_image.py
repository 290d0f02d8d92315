"""What Xen's kernel probe learns from a kernel image's header (KRN-001/002).

Mirrors ``kernel_zimage64_probe()`` and ``kernel_zimage32_probe()``
(``xen/arch/arm/kernel.c``) and recognises the uImage and gzip wrappers
``kernel_probe()`` also accepts: only the fields that decide where the
kernel goes and how much room it takes.
"""

from __future__ import annotations

from typing import Literal

from xenplan.model.base import value

ZIMAGE64_MAGIC_V0 = 0x14000008
ZIMAGE64_MAGIC_V1 = 0x644D5241  # "ARM\x64"
ZIMAGE32_MAGIC = 0x016F2818
UIMAGE_MAGIC = 0x27051956

KernelKind = Literal["image64", "zimage32", "uimage", "gzip", "invalid"]


@value
class KernelImage:
    """A kernel's placement facts: ``start`` 0 means position independent."""

    kind: KernelKind
    length: int
    text_offset: int = 0
    start: int = 0
    source: str | None = None


def parse_kernel_image(data: bytes, source: str | None = None) -> KernelImage:
    """Decode a kernel image the way Xen's probes do; anything else is ``invalid`` (rc -22)."""
    size = len(data)
    if size >= 2 and data[:2] == b"\x1f\x8b":
        return KernelImage(kind="gzip", length=size, source=source)
    if size >= 64 and int.from_bytes(data[:4], "big") == UIMAGE_MAGIC:
        length = int.from_bytes(data[12:16], "big")
        load = int.from_bytes(data[16:20], "big")
        return KernelImage(kind="uimage", length=length, start=load, source=source)
    if size >= 64:
        magic0 = int.from_bytes(data[0:4], "little")
        magic1 = int.from_bytes(data[56:60], "little")
        if magic0 == ZIMAGE64_MAGIC_V0 or magic1 == ZIMAGE64_MAGIC_V1:
            return KernelImage(kind="image64", length=size, text_offset=int.from_bytes(data[8:16], "little"),
                               source=source)
    if size >= 0x30 and int.from_bytes(data[0x24:0x28], "little") == ZIMAGE32_MAGIC:
        start = int.from_bytes(data[0x28:0x2C], "little")
        end = int.from_bytes(data[0x2C:0x30], "little")
        if (end - start) & 0xFFFFFFFF <= size:
            return KernelImage(kind="zimage32", length=(end - start) & 0xFFFFFFFF, start=start, source=source)
    return KernelImage(kind="invalid", length=size, source=source)
