"""Boards xenplan ships, for checking a ``/chosen`` fragment without a whole tree.

``--board qemu-virt`` puts the input on top of the QEMU ``virt`` machine of
the recorded verdicts (4 GiB at 0x40000000, GICv3, PL011 console) and, unless
given, places Xen's image and the DTB where QEMU loads them; ``zcu102`` is a
ZynqMP ZCU102-like board. Any other value is a path to a board tree.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data" / "boards"


@dataclass(frozen=True)
class Board:
    name: str
    path: Path
    xen_image_start: int | None = None
    fdt_address: int | None = None


BOARDS = {
    "qemu-virt": Board("qemu-virt", DATA / "qemu-virt.dts", xen_image_start=0x40200000, fdt_address=0x48000000),
    "zcu102": Board("zcu102", DATA / "zcu102.dts", xen_image_start=0x5A00000, fdt_address=0x5C00000),
}


def board(name_or_path: str) -> Board:
    """A bundled board by name, or a board tree at a path (no placement defaults)."""
    if name_or_path in BOARDS:
        return BOARDS[name_or_path]
    return Board(name_or_path, Path(name_or_path))
