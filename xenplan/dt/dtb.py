"""The strict DTB reader: one pass that validates a flattened device tree and builds a ``Tree``.

Xen hands the blob to libfdt (``fdt_check_header()`` in
``xen/common/device-tree/bootfdt.c: boot_fdt_info()``) and then trusts it, so
a blob xenplan accepts must be one libfdt reads the same way. The checks
follow the Devicetree Specification v0.4, chapter 5 ("Flattened Devicetree
(DTB) Format"), and mirror libfdt:

* header (spec 5.2; ``libfdt/fdt.c: fdt_check_header()``): magic
  ``0xd00dfeed``; ``version >= 16`` (the oldest layout without 8-byte
  property alignment) and ``last_comp_version <= 17``, ``last_comp_version
  <= version``; ``totalsize`` no larger than the file (libfdt's
  ``FDT_ERR_TRUNCATED`` in ``fdt_check_full()``); every block inside
  ``totalsize`` and after the header. Beyond libfdt we require the blocks not
  to overlap, the reservation map to be 8-byte aligned and the structure
  block 4-byte aligned, as spec 5.3 and 5.4 say they shall be.
* memory reservation block (spec 5.3; ``fdt_num_mem_rsv()``): 16-byte
  entries up to a ``(0, 0)`` terminator, which must lie inside the blob.
* structure block (spec 5.4; ``fdt_next_tag()`` and
  ``libfdt/fdt_check.c: fdt_check_full()``): tags 4-byte aligned; node names
  NUL-terminated inside the block; property lengths inside the block;
  name offsets inside the strings block (spec 5.5) and NUL-terminated
  (``fdt_get_string()``); ``FDT_NOP`` skipped; balanced
  ``FDT_BEGIN_NODE``/``FDT_END_NODE``; exactly one root, with an empty name;
  only ``FDT_NOP`` between the root's end and ``FDT_END``; ``FDT_END`` at
  depth 0; unknown tags rejected. Bytes after ``FDT_END`` inside
  ``size_dt_struct`` are ignored, as libfdt ignores them.
* beyond ``fdt_check_full()``, which leaves these to ``dtc``:
  names use the characters ``dtc`` accepts (``checks.c``:
  ``node_name_chars``, ``node_name_format``, ``property_name_chars``;
  spec tables 2.1 and 2.2); no duplicate property in a node and no two
  siblings with one name (libfdt's lookups would only ever find the first);
  no property after a subnode (``fdt_first_property_offset()`` stops at the
  first subnode, so Xen would never see it); nesting at most ``MAX_DEPTH``.

Every failure raises ``InputError`` with the byte offset of what is wrong and,
inside the structure block, the path of the node being read.
"""

from __future__ import annotations

import gc
import itertools
import re
import struct
from collections.abc import Callable

from xenplan.dt.tree import MemReserve, Node, Property, Source, Tree
from xenplan.errors import InputError

FDT_MAGIC = 0xD00DFEED
FDT_BEGIN_NODE = 0x1
FDT_END_NODE = 0x2
FDT_PROP = 0x3
FDT_NOP = 0x4
FDT_END = 0x9

FIRST_VERSION = 16
"""Oldest ``version`` read: 16 dropped the 8-byte alignment of large property values."""
LAST_COMP_VERSION = 17
"""Newest ``last_comp_version`` understood (libfdt's ``FDT_LAST_SUPPORTED_VERSION``)."""
MAX_DEPTH = 64
"""Deepest nesting accepted. Real trees are under 10 levels and Xen's early scan
(``device_tree_for_each_node``) stops descending at 16; the bound keeps every
later recursive walk of the tree safe."""

_HEADER = struct.Struct(">10I")
_V16_HEADER_SIZE = 36
_V17_HEADER_SIZE = 40
_U32 = struct.Struct(">I").unpack_from
_PROP_HEADER = struct.Struct(">II").unpack_from
_RESERVE_ENTRY = struct.Struct(">QQ")

# dtc checks.c: NODECHARS and PROPCHARS.
_NODE_NAME = re.compile(rb"[0-9A-Za-z,._+\-]*(?:@[0-9A-Za-z,._+\-]*)?").fullmatch
_NODE_BAD_CHAR = re.compile(rb"[^0-9A-Za-z,._+\-@]").search
_PROP_NAME = re.compile(rb"[0-9A-Za-z,._+*#?\-]+").fullmatch
_PROP_BAD_CHAR = re.compile(rb"[^0-9A-Za-z,._+*#?\-]").search


class _Header:
    """The header fields (spec 5.2), read once; ``size_dt_struct`` is None before version 17."""

    __slots__ = (
        "boot_cpuid_phys",
        "last_comp_version",
        "off_dt_strings",
        "off_dt_struct",
        "off_mem_rsvmap",
        "size",
        "size_dt_strings",
        "size_dt_struct",
        "totalsize",
        "version",
    )

    def __init__(self, fields: tuple[int, ...]) -> None:
        (_, self.totalsize, self.off_dt_struct, self.off_dt_strings, self.off_mem_rsvmap,
         self.version, self.last_comp_version, self.boot_cpuid_phys, self.size_dt_strings,
         size_dt_struct) = fields
        self.size = _V17_HEADER_SIZE if self.version >= 17 else _V16_HEADER_SIZE
        self.size_dt_struct: int | None = size_dt_struct if self.version >= 17 else None


def read_dtb(data: bytes, file: str) -> Tree:
    """Validate a flattened device tree and return it as a ``Tree``.

    ``file`` names the input in errors and in every ``Source``; each node and
    property's ``Source.offset`` is the file offset of its tag, each
    ``MemReserve``'s that of its entry. Raises ``InputError`` on anything
    libfdt or ``dtc`` would refuse, and on the stricter checks listed in the
    module docstring.
    """
    # The cyclic collector's repeated passes over the growing tree cost about
    # four times the walk itself on a large blob, and nothing built is garbage.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _read(data, file)
    finally:
        if collecting:
            gc.enable()


def _read(data: bytes, file: str) -> Tree:
    hdr = _read_header(data, file)
    memreserve, rsv_end = _read_reservations(data, file, hdr)
    strings_end = hdr.off_dt_strings + hdr.size_dt_strings
    struct_end = hdr.off_dt_struct + hdr.size_dt_struct if hdr.size_dt_struct is not None else hdr.totalsize
    root, walked_end = _read_structure(
        data, file, hdr.off_dt_struct, struct_end, hdr.off_dt_strings, strings_end
    )
    if hdr.size_dt_struct is None:
        struct_end = walked_end
    _check_overlaps(
        file,
        [
            ("memory reservation block", hdr.off_mem_rsvmap, rsv_end),
            ("structure block", hdr.off_dt_struct, struct_end),
            ("strings block", hdr.off_dt_strings, strings_end),
        ],
    )
    return Tree(
        root=root,
        memreserve=memreserve,
        file=file,
        dtb_size=hdr.totalsize,
        boot_cpuid=hdr.boot_cpuid_phys,
    )


def _read_header(data: bytes, file: str) -> _Header:
    """Check the header as ``fdt_check_header()`` does, plus block alignment."""
    if len(data) < 4 or _U32(data, 0)[0] != FDT_MAGIC:
        got = f"{_U32(data, 0)[0]:#010x}" if len(data) >= 4 else "missing"
        raise InputError(file, f"not a DTB: magic is {got}, not {FDT_MAGIC:#010x}", offset=0)
    if len(data) < _V17_HEADER_SIZE:
        raise InputError(
            file,
            f"file is {len(data)} bytes, too short for a DTB header ({_V17_HEADER_SIZE} bytes)",
            offset=len(data),
        )
    hdr = _Header(_HEADER.unpack_from(data, 0))

    def fail(field_offset: int, message: str) -> InputError:
        return InputError(file, message, offset=field_offset)

    if hdr.version < FIRST_VERSION:
        raise fail(0x14, f"header version {hdr.version} is older than {FIRST_VERSION}, "
                         "the oldest layout supported")
    if hdr.last_comp_version > LAST_COMP_VERSION:
        raise fail(0x18, f"header last_comp_version {hdr.last_comp_version} is newer than "
                         f"{LAST_COMP_VERSION}: this DTB format is not understood")
    if hdr.last_comp_version > hdr.version:
        raise fail(0x18, f"header last_comp_version {hdr.last_comp_version} is greater than "
                         f"version {hdr.version}")
    if hdr.totalsize > len(data):
        raise fail(0x4, f"header totalsize {hdr.totalsize:#x} is larger than the file "
                        f"({len(data):#x} bytes): the DTB is truncated")
    if hdr.totalsize < hdr.size:
        raise fail(0x4, f"header totalsize {hdr.totalsize:#x} is smaller than the "
                        f"{hdr.size}-byte header")
    blocks = [  # (field offsets of start and size, names, start, size, alignment)
        (0x10, 0, "off_mem_rsvmap", "", hdr.off_mem_rsvmap, None, 8),
        (0x8, 0x24, "off_dt_struct", "size_dt_struct", hdr.off_dt_struct, hdr.size_dt_struct, 4),
        (0xC, 0x20, "off_dt_strings", "size_dt_strings", hdr.off_dt_strings, hdr.size_dt_strings, 1),
    ]
    for field_offset, size_offset, name, size_name, start, size, align in blocks:
        if not hdr.size <= start <= hdr.totalsize:
            raise fail(field_offset, f"header {name} {start:#x} is outside the blob "
                                     f"[{hdr.size:#x}, totalsize {hdr.totalsize:#x}]")
        if size is not None and start + size > hdr.totalsize:
            raise fail(size_offset, f"header {size_name} {size:#x} at {name} {start:#x} runs "
                                    f"past totalsize {hdr.totalsize:#x}")
        if start % align:
            raise fail(field_offset, f"header {name} {start:#x} is not {align}-byte aligned")
    return hdr


def _read_reservations(data: bytes, file: str, hdr: _Header) -> tuple[list[MemReserve], int]:
    """The reserve map entries and the offset just past its terminator (spec 5.3)."""
    start = hdr.off_mem_rsvmap
    count = (hdr.totalsize - start) // 16
    view = memoryview(data)[start : start + count * 16]
    entries: list[MemReserve] = []
    for i, (address, size) in enumerate(_RESERVE_ENTRY.iter_unpack(view)):
        if address == 0 and size == 0:
            return entries, start + (i + 1) * 16
        entries.append(MemReserve(address, size, Source(file, None, start + i * 16)))
    raise InputError(
        file,
        f"memory reservation block has no (0, 0) terminator before totalsize {hdr.totalsize:#x}",
        offset=start,
    )


def _check_overlaps(file: str, blocks: list[tuple[str, int, int]]) -> None:
    """Reject blocks sharing bytes; empty blocks overlap nothing."""
    spans = sorted((start, end, name) for name, start, end in blocks if end > start)
    for (a_start, a_end, a_name), (b_start, b_end, b_name) in itertools.pairwise(spans):
        if b_start < a_end:
            raise InputError(
                file,
                f"the {b_name} [{b_start:#x}, {b_end:#x}) overlaps the {a_name} "
                f"[{a_start:#x}, {a_end:#x})",
                offset=b_start,
            )


def _path(stack: list[Node]) -> str:
    """The path of the innermost open node, built without recursion."""
    return "/" + "/".join(n.name for n in stack[1:])


def _read_structure(
    data: bytes, file: str, pos: int, end: int, strings: int, strings_end: int
) -> tuple[Node, int]:
    """Walk the structure block ``[pos, end)`` (spec 5.4) and build the nodes.

    Returns the root and the offset just past ``FDT_END``. One loop over tags,
    no recursion; property names are resolved once per distinct name offset.
    """
    u32 = _U32
    prop_header = _PROP_HEADER
    names: dict[int, str] = {}
    stack: list[Node] = []
    child_names: list[set[str]] = []
    root: Node | None = None

    def fail(offset: int, message: str) -> InputError:
        return InputError(file, message, offset=offset, node=_path(stack) if stack else None)

    while True:
        if pos + 4 > end:
            raise fail(pos, f"structure block ends at {end:#x} without FDT_END")
        tag = u32(data, pos)[0]
        if tag == FDT_PROP:
            if not stack:
                where = "after the root node closed" if root else "before the root node"
                raise fail(pos, f"property {where}")
            if pos + 12 > end:
                raise fail(pos, "property header runs past the end of the structure block")
            length, nameoff = prop_header(data, pos + 4)
            value_end = pos + 12 + length
            if value_end > end:
                raise fail(pos, f"property value of {length:#x} bytes runs past the end of "
                                f"the structure block at {end:#x}")
            name = names.get(nameoff)
            if name is None:
                name = names[nameoff] = _property_name(data, nameoff, strings, strings_end, fail, pos)
            node = stack[-1]
            if name in node.properties:
                raise fail(pos, f"duplicate property {name!r}")
            if node.children:
                raise fail(pos, f"property {name!r} after a subnode: libfdt (and so Xen) "
                                "never sees it")
            node.properties[name] = Property(name, data[pos + 12 : value_end], Source(file, None, pos))
            pos = (value_end + 3) & ~3
        elif tag == FDT_BEGIN_NODE:
            nul = data.find(b"\0", pos + 4, end)
            if nul < 0:
                raise fail(pos, "node name is not NUL-terminated inside the structure block")
            raw = data[pos + 4 : nul]
            if stack:
                parent = stack[-1]
                name = _node_name(raw, fail, pos)
                if name in child_names[-1]:
                    raise fail(pos, f"duplicate node {name!r}")
                if len(stack) >= MAX_DEPTH:
                    raise fail(pos, f"node {name!r} is nested deeper than {MAX_DEPTH} levels")
                child_names[-1].add(name)
                node = Node(name, parent=parent, source=Source(file, None, pos))
                parent.children.append(node)
            elif root is not None:
                raise fail(pos, "a second root node after the root node closed")
            elif raw:
                raise fail(pos, f"the root node has a name ({_text(raw)!r}); it must be empty")
            else:
                node = root = Node("", source=Source(file, None, pos))
            stack.append(node)
            child_names.append(set())
            pos = (nul + 4) & ~3
        elif tag == FDT_END_NODE:
            if not stack:
                raise fail(pos, "FDT_END_NODE without a matching FDT_BEGIN_NODE")
            stack.pop()
            child_names.pop()
            pos += 4
        elif tag == FDT_NOP:
            pos += 4
        elif tag == FDT_END:
            if stack:
                raise fail(pos, f"FDT_END with {len(stack)} node(s) still open")
            if root is None:
                raise fail(pos, "the structure block has no root node")
            return root, pos + 4
        else:
            raise fail(pos, f"unknown structure block tag {tag:#x}")


def _property_name(
    data: bytes, nameoff: int, strings: int, strings_end: int,
    fail: Callable[[int, str], InputError], pos: int,
) -> str:
    """Resolve and check a name offset into the strings block (spec 5.5, ``fdt_get_string()``)."""
    start = strings + nameoff
    if start >= strings_end:
        raise fail(pos, f"property name offset {nameoff:#x} is outside the strings block "
                        f"(size {strings_end - strings:#x})")
    nul = data.find(b"\0", start, strings_end)
    if nul < 0:
        raise fail(pos, f"property name at strings offset {nameoff:#x} is not NUL-terminated "
                        "inside the strings block")
    raw = data[start:nul]
    if not _PROP_NAME(raw):
        if not raw:
            raise fail(pos, f"empty property name at strings offset {nameoff:#x}")
        bad = _PROP_BAD_CHAR(raw)
        assert bad is not None
        raise fail(pos, f"bad character {_text(bad.group())!r} in property name {_text(raw)!r}")
    return raw.decode("ascii")


def _node_name(raw: bytes, fail: Callable[[int, str], InputError], pos: int) -> str:
    """Check a non-root node name with dtc's rules (NODECHARS, at most one '@')."""
    if raw and _NODE_NAME(raw):
        return raw.decode("ascii")
    if not raw:
        raise fail(pos, "empty node name")
    bad = _NODE_BAD_CHAR(raw)
    if bad is not None:
        raise fail(pos, f"bad character {_text(bad.group())!r} in node name {_text(raw)!r}")
    raise fail(pos, f"more than one '@' in node name {_text(raw)!r}")


def _text(raw: bytes) -> str:
    """Bytes from the blob as text for a message; Latin-1 never fails."""
    return raw.decode("latin-1")
