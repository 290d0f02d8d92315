"""The device tree as xenplan sees it: a small, typed, source-located tree.

Every loader (DTB reader, DTS compiler, overlay application) produces a
``Tree``; nothing above ``xenplan.dt`` sees a foreign library's objects.
Values are kept as raw bytes, exactly as Xen reads them from the flattened
tree; accessors decode them the way Xen's ``fdt_getprop`` callers do.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import field

from xenplan.records import record


@record(frozen=True)
class Source:
    """Where a node or property was written: a DTS file and line, or a DTB offset."""

    file: str
    line: int | None = None
    offset: int | None = None
    blocks: tuple[tuple[str, int], ...] = ()
    """For a node written in several blocks (``&label { … }`` later on), the (file, line) where each
    later block opens; ``file``/``line`` is the first. Suppression comments may sit at any of them."""

    def __str__(self) -> str:
        if self.line is not None:
            return f"{self.file}:{self.line}"
        if self.offset is not None:
            return f"{self.file}@{self.offset:#x}"
        return self.file


@record
class Property:
    """One property: its name, its raw value and where it was written."""

    name: str
    value: bytes
    source: Source | None = None

    def u32s(self) -> list[int]:
        """Big-endian 32-bit cells; a trailing partial cell is ignored, as Xen does."""
        v = self.value
        return [int.from_bytes(v[i : i + 4], "big") for i in range(0, len(v) - 3, 4)]

    def u32(self) -> int | None:
        """The first cell, or None when the value is shorter than 4 bytes."""
        return int.from_bytes(self.value[:4], "big") if len(self.value) >= 4 else None

    def strings(self) -> list[str]:
        """The NUL-separated string list (Latin-1, never fails)."""
        v = self.value
        if v.endswith(b"\0"):
            v = v[:-1]
        if not v:
            return [] if not self.value else [""]
        return [s.decode("latin-1") for s in v.split(b"\0")]

    def string(self) -> str:
        """The first string, up to its NUL (what ``fdt_getprop`` + ``strcmp`` sees)."""
        return self.value.split(b"\0", 1)[0].decode("latin-1")


@record
class Node:
    """One node. ``children`` and ``properties`` keep document order."""

    name: str
    properties: dict[str, Property] = field(default_factory=dict)
    children: list[Node] = field(default_factory=list)
    parent: Node | None = field(default=None, repr=False, compare=False)
    source: Source | None = None

    @property
    def path(self) -> str:
        if self.parent is None:
            return "/"
        base = self.parent.path
        return f"{base}{self.name}" if base == "/" else f"{base}/{self.name}"

    @property
    def depth(self) -> int:
        """Depth as Xen's ``device_tree_for_each_node`` counts it: the root is 0."""
        d, n = 0, self
        while n.parent is not None:
            d, n = d + 1, n.parent
        return d

    @property
    def basename(self) -> str:
        """The name without its ``@unit`` part."""
        return self.name.split("@", 1)[0]

    def prop(self, name: str) -> Property | None:
        return self.properties.get(name)

    def has(self, name: str) -> bool:
        return name in self.properties

    def child(self, name: str) -> Node | None:
        for c in self.children:
            if c.name == name:
                return c
        return None

    def add_child(self, node: Node) -> Node:
        node.parent = self
        self.children.append(node)
        return node

    def compatible(self) -> list[str]:
        p = self.properties.get("compatible")
        return p.strings() if p is not None else []

    def is_compatible(self, value: str) -> bool:
        return value in self.compatible()

    def walk(self) -> Iterator[Node]:
        """Depth-first, document order, the node before its children."""
        stack: list[Node] = [self]
        while stack:
            n = stack.pop()
            yield n
            stack.extend(reversed(n.children))


@record(frozen=True)
class MemReserve:
    """One ``/memreserve/`` entry of the FDT header's reserve map."""

    address: int
    size: int
    source: Source | None = None


@record
class Tree:
    """A whole device tree: root node, reserve map and where it came from.

    ``dtb_size`` is the size of the flattened blob Xen would receive (the
    DTB's own ``totalsize``, or that of the blob ``dtc`` produced).
    """

    root: Node
    memreserve: list[MemReserve] = field(default_factory=list)
    file: str = "<input>"
    dtb_size: int | None = None
    boot_cpuid: int = 0
    notes: list[str] = field(default_factory=list)
    """What the reader did that the user should know (a fallback taken)."""
    files: list[str] = field(default_factory=list)
    """Every file read to build the tree (the input, its includes, a board, overlays)."""
    board: Tree | None = None
    """With ``--board``: the board as read on its own, before the input was merged onto it
    (the model says what the merge replaced)."""

    def find(self, path: str) -> Node | None:
        """The node at an absolute path (each component matched by full name)."""
        if path in ("", "/"):
            return self.root
        node: Node | None = self.root
        for comp in path.strip("/").split("/"):
            if node is None:
                return None
            node = node.child(comp)
        return node

    def walk(self) -> Iterator[Node]:
        return self.root.walk()

    def phandles(self) -> dict[int, Node]:
        """Nodes by ``phandle`` (or legacy ``linux,phandle``)."""
        out: dict[int, Node] = {}
        for n in self.walk():
            p = n.prop("phandle") or n.prop("linux,phandle")
            if p is not None and p.u32() is not None:
                out[p.u32()] = n  # type: ignore[index]
        return out
