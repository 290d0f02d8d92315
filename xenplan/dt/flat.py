"""The size of the flattened blob a tree becomes, as ``dtc`` and libfdt lay it out.

Xen copies the whole DTB it is given, so its size is a boot-time fact (the
default ``--fdt-address`` size). A DTS is compiled by ``dtc`` and an overlay
applied by ``fdtoverlay``; neither leaves padding, so the size follows from
the tree: a version-17 header (40 bytes), the reserve map with its ``(0, 0)``
terminator, the structure block and the strings block.

The strings block is the one subtle part. ``dtc`` (``flattree.c:
stringtable_insert()``) and libfdt (``fdt_rw.c: fdt_find_add_string_()``)
both reuse any existing NUL-terminated match, including the tail of a longer
name (``"cells"`` inside ``"#size-cells"``), and append otherwise; so the
size depends on the order names are added. ``StringTable`` replays that.
"""

from __future__ import annotations

from xenplan.dt.tree import Node, Tree

HEADER_SIZE = 40
"""A version-17 header; ``dtc`` puts the reserve map right after it (8-byte aligned)."""
RESERVE_ENTRY_SIZE = 16
TAG_SIZE = 4


def _align4(n: int) -> int:
    return (n + 3) & ~3


class StringTable:
    """A strings block built as ``dtc`` and libfdt build it (suffix sharing, append order)."""

    def __init__(self) -> None:
        self._data = bytearray()
        self._known: set[str] = set()

    def add(self, name: str) -> None:
        if name in self._known:
            return
        self._known.add(name)
        raw = name.encode("latin-1", "replace") + b"\0"
        if self._data.find(raw) < 0:
            self._data += raw

    def copy(self) -> StringTable:
        other = StringTable()
        other._data = bytearray(self._data)
        other._known = set(self._known)
        return other

    def __len__(self) -> int:
        return len(self._data)


def dtc_strings(tree: Tree) -> StringTable:
    """The strings block ``dtc`` writes for ``tree``: names in document order."""
    table = StringTable()
    for node in tree.walk():
        for name in node.properties:
            table.add(name)
    return table


def struct_size(root: Node) -> int:
    """Bytes of the structure block, ``FDT_END`` included (spec 5.4)."""
    total = TAG_SIZE
    for node in root.walk():
        total += 2 * TAG_SIZE + _align4(len(node.name.encode("latin-1", "replace")) + 1)
        for prop in node.properties.values():
            total += 3 * TAG_SIZE + _align4(len(prop.value))
    return total


def packed_size(tree: Tree, strings: StringTable | None = None) -> int:
    """Size of the packed blob; ``strings`` defaults to the block ``dtc`` would write."""
    if strings is None:
        strings = dtc_strings(tree)
    reserve = (len(tree.memreserve) + 1) * RESERVE_ENTRY_SIZE
    return HEADER_SIZE + reserve + struct_size(tree.root) + len(strings)
