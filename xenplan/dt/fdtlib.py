"""Where xenplan uses the ``fdt`` package: writing trees out, and a second reader for tests.

Reading is ``xenplan.dt.dtb``'s job; fdt 0.3.3 only serialises our ``Tree``
and cross-checks the reader. The bugs worked around here are those measured
in ``docs/device-tree-input.md`` section 8:

* B1: ``FDT(header=None, entries=[])`` shares one ``entries`` list between
  all instances and ``parse_dtb`` appends to it, so reservations leak from one
  blob to the next. We always pass our own ``Header`` and ``entries`` list,
  and empty the shared default around ``parse_dtb``.
* B4: fdt guesses a value's type from its bytes. For DTB output every value
  goes in as ``PropBytes`` (raw, exact); for DTS output we choose the type
  ourselves.
* B2 and B9: ``parse_dtb`` rejects ``FDT_NOP`` tags and ``version > 17``, so
  the cross-check hands it a copy without NOPs and with a version-17 header.
* ``to_dts()`` does not escape backslashes or control characters: such
  strings are written as byte strings instead.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

import fdt  # type: ignore[import-untyped]

from xenplan.dt.dtb import FDT_BEGIN_NODE, FDT_END, FDT_MAGIC, FDT_NOP, FDT_PROP, read_dtb
from xenplan.dt.tree import Node, Tree

_DTS_STRING_BYTES = frozenset(range(0x20, 0x7F)) - {ord("\\")}


def tree_to_dtb(tree: Tree) -> bytes:
    """The tree as a version-17 DTB: header, reserve map, structure, strings, no padding."""
    return bytes(_to_fdt(tree, _raw_property).to_dtb())


def tree_to_dts(tree: Tree) -> str:
    """The tree as DTS text ``dtc`` compiles back to the same values.

    A value is written as strings when it is a list of non-empty printable
    strings, as cells when its length is a multiple of 4, else as bytes.
    ``boot_cpuid`` only appears in a comment: DTS has no syntax for it.
    """
    return str(_to_fdt(tree, _typed_property).to_dts())


def fdt_cross_check(data: bytes) -> list[str]:
    """Differences between ``read_dtb(data)`` and ``fdt.parse_dtb`` of the same blob.

    An empty list means both readers saw the same reservations, nodes,
    property names and raw values, in the same order. ``InputError`` from
    our reader propagates; a failure inside fdt is reported as a difference.
    """
    ours = read_dtb(data, "<cross-check>")
    try:
        theirs = _parse_dtb(_fdt_readable(data))
    except Exception as exc:  # fdt raises bare Exception, IndexError, struct.error, ...
        return [f"fdt.parse_dtb failed: {exc!r}"]
    diffs: list[str] = []
    our_rsv = [(r.address, r.size) for r in ours.memreserve]
    their_rsv = [(e["address"], e["size"]) for e in theirs.entries]
    if our_rsv != their_rsv:
        diffs.append(f"/memreserve/: ours {our_rsv}, fdt {their_rsv}")
    pending: list[tuple[Node, Any]] = [(ours.root, theirs.root)]
    while pending:
        node, other = pending.pop()
        path = node.path
        props = {p.name: _raw_value(p) for p in other.props}
        if list(node.properties) != list(props):
            diffs.append(f"{path}: properties ours {list(node.properties)}, fdt {list(props)}")
        for name, prop in node.properties.items():
            if name in props and props[name] != prop.value:
                diffs.append(f"{path}: {name}: ours {prop.value!r}, fdt {props[name]!r}")
        kids = other.nodes
        if [c.name for c in node.children] != [k.name for k in kids]:
            diffs.append(f"{path}: children ours {[c.name for c in node.children]}, "
                         f"fdt {[k.name for k in kids]}")
        else:
            pending.extend(zip(node.children, kids, strict=False))
    return diffs


def _raw_property(name: str, value: bytes) -> Any:
    return fdt.PropBytes(name, data=value) if value else fdt.Property(name)


def _typed_property(name: str, value: bytes) -> Any:
    if not value:
        return fdt.Property(name)
    parts = value[:-1].split(b"\0") if value.endswith(b"\0") else []
    if parts and all(p and _DTS_STRING_BYTES.issuperset(p) for p in parts):
        return fdt.PropStrings(name, *(p.decode("ascii") for p in parts))
    if len(value) % 4 == 0:
        return fdt.PropWords(name, *(w for (w,) in struct.iter_unpack(">I", value)))
    return fdt.PropBytes(name, data=value)


def _to_fdt(tree: Tree, make_property: Callable[[str, bytes], Any]) -> fdt.FDT:
    """An ``fdt.FDT`` with its own header and entries list (B1), built without recursion."""
    header = fdt.Header()
    header.version = 17  # the setter also sets last_comp_version = 16, as dtc writes
    header.boot_cpuid_phys = tree.boot_cpuid
    entries = [{"address": r.address, "size": r.size} for r in tree.memreserve]
    out = fdt.FDT(header=header, entries=entries)
    pending: list[tuple[Node, Any]] = [(tree.root, out.root)]
    while pending:
        node, other = pending.pop()
        for name, prop in node.properties.items():
            other.append(make_property(name, prop.value))
        for child in node.children:
            sub = fdt.Node(child.name)
            other.append(sub)
            pending.append((child, sub))
    return out


def _raw_value(prop: Any) -> bytes:
    """Undo fdt's type guess (B4): the bytes the property had in the blob."""
    if isinstance(prop, fdt.PropStrings):
        return b"".join(s.encode("ascii") + b"\0" for s in prop.data)
    if isinstance(prop, fdt.PropWords):
        return b"".join(w.to_bytes(4, "big") for w in prop.data)
    if isinstance(prop, fdt.PropBytes):
        return bytes(prop.data)
    return b""


def _parse_dtb(blob: bytes) -> fdt.FDT:
    """``fdt.parse_dtb`` without the shared reserve-map list (B1)."""
    shared = fdt.FDT.__init__.__defaults__[1]
    shared.clear()
    try:
        parsed = fdt.parse_dtb(blob)
        parsed.entries = list(parsed.entries)
    finally:
        shared.clear()
    return parsed


def _fdt_readable(data: bytes) -> bytes:
    """A copy of a valid blob fdt can parse: NOP tags dropped (B2), version 17 (B9).

    Only called on blobs ``read_dtb`` accepted, so every tag is known to be
    well formed and inside its block.
    """
    (_, _, off_struct, off_strings, off_rsv, _, _, boot_cpuid, size_strings, _) = struct.unpack_from(
        ">10I", data, 0
    )
    rsv_end = off_rsv
    while data[rsv_end : rsv_end + 16] != bytes(16):
        rsv_end += 16
    rsv = data[off_rsv : rsv_end + 16]
    words: list[bytes] = []
    pos = off_struct
    while True:
        tag = int.from_bytes(data[pos : pos + 4], "big")
        if tag == FDT_BEGIN_NODE:
            nxt = (data.index(b"\0", pos + 4) + 4) & ~3
        elif tag == FDT_PROP:
            nxt = (pos + 12 + int.from_bytes(data[pos + 4 : pos + 8], "big") + 3) & ~3
        else:
            nxt = pos + 4
        if tag != FDT_NOP:
            words.append(data[pos:nxt])
        pos = nxt
        if tag == FDT_END:
            break
    structure = b"".join(words)
    strings = data[off_strings : off_strings + size_strings]
    off_struct = 40 + len(rsv)
    total = off_struct + len(structure) + len(strings)
    header = struct.pack(
        ">10I", FDT_MAGIC, total, off_struct, off_struct + len(structure), 40, 17, 16,
        boot_cpuid, len(strings), len(structure),
    )
    return header + rsv + structure + strings
