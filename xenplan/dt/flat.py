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

from collections.abc import Iterator

from xenplan.dt.tree import Node, Tree

HEADER_SIZE = 40
"""A version-17 header; ``dtc`` puts the reserve map right after it (8-byte aligned)."""
RESERVE_ENTRY_SIZE = 16
TAG_SIZE = 4
FDT_BEGIN_NODE, FDT_END_NODE, FDT_PROP, FDT_END = 1, 2, 3, 9


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

    def offset(self, name: str) -> int:
        """Where ``name`` sits in the block: the first NUL-terminated match, as both writers return it."""
        self.add(name)
        return self._data.find(name.encode("latin-1", "replace") + b"\0")

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


def _tag(value: int) -> bytes:
    return value.to_bytes(TAG_SIZE, "big")


def _pad4(data: bytes) -> bytes:
    return data + b"\0" * (_align4(len(data)) - len(data))


def _node_words(node: Node, strings: StringTable) -> Iterator[bytes]:
    """The structure block of ``node`` and its subtree, piece by piece."""
    yield _tag(FDT_BEGIN_NODE) + _pad4(node.name.encode("latin-1", "replace") + b"\0")
    for name, prop in node.properties.items():
        yield _tag(FDT_PROP) + _tag(len(prop.value)) + _tag(strings.offset(name)) + _pad4(prop.value)
    for child in node.children:
        yield from _node_words(child, strings)
    yield _tag(FDT_END_NODE)


def _after(node: Node, prop_name: str, strings: StringTable) -> Iterator[bytes]:
    """What follows property ``prop_name`` of ``node`` in the structure block, to ``FDT_END``."""
    names = list(node.properties)
    value = node.properties[prop_name].value
    yield b"\0" * (_align4(len(value)) - len(value))
    for name in names[names.index(prop_name) + 1:]:
        prop = node.properties[name]
        yield _tag(FDT_PROP) + _tag(len(prop.value)) + _tag(strings.offset(name)) + _pad4(prop.value)
    for child in node.children:
        yield from _node_words(child, strings)
    yield _tag(FDT_END_NODE)
    current = node
    while current.parent is not None:
        siblings = current.parent.children
        for sibling in siblings[siblings.index(current) + 1:]:
            yield from _node_words(sibling, strings)
        yield _tag(FDT_END_NODE)
        current = current.parent
    yield _tag(FDT_END)


def bytes_after(tree: Tree, node: Node, prop_name: str, count: int, strings: StringTable | None = None) -> bytes:
    """The ``count`` bytes a reader finds past the end of ``prop_name``'s value in the blob ``dtc``
    writes for ``tree`` (zeros past the structure block, where the strings block would follow).

    Xen's ``unflatten_device_tree()`` keeps pointers into the blob, so a read
    past a property's length (``process_shm()`` of 4.17 and 4.18 on a
    short-form ``xen,shared-mem``) sees the next tags of the structure block:
    the following property's ``FDT_PROP`` and length, or ``FDT_END_NODE``.
    ``strings`` is the tree's strings block (``dtc_strings``), when the caller keeps one."""
    out = bytearray()
    if strings is None:
        strings = dtc_strings(tree)
    for piece in _after(node, prop_name, strings):
        out += piece
        if len(out) >= count:
            break
    return bytes(out[:count]).ljust(count, b"\0")
