"""Cell decoding as Xen does it (DT-001…DT-006): a property is read with its
parent's effective cells, 1 or 2 per number; the first cell of a wider number
is all a release build reads."""

from __future__ import annotations

from xenplan.dt.tree import Node, Property, Source
from xenplan.model.base import Range, SourceRef

ROOT_CELLS = (2, 1)


def source_ref(src: Source | None) -> SourceRef | None:
    if src is None:
        return None
    return SourceRef(file=src.file, line=src.line, offset=src.offset)


def cells_of(node: Node, inherited: tuple[int, int]) -> tuple[int, int]:
    """A node's effective cells for its children (DT-001: inherit when absent or short)."""
    ac_p, sc_p = node.prop("#address-cells"), node.prop("#size-cells")
    ac = ac_p.u32() if ac_p is not None and ac_p.u32() is not None else inherited[0]
    sc = sc_p.u32() if sc_p is not None and sc_p.u32() is not None else inherited[1]
    return (ac if ac is not None else inherited[0], sc if sc is not None else inherited[1])


def read_number(cells: list[int], count: int) -> int:
    """``dt_read_number()``: 1 or 2 cells; a release build reads only the first of more (DT-004)."""
    if count == 2:
        return (cells[0] << 32) | cells[1]
    return cells[0]


def decode_pairs(prop: Property, ac: int, sc: int) -> tuple[list[Range], str | None]:
    """Decode (addr, size) pairs as ``device_tree_get_meminfo()`` does.

    Cells below 1 are refused (-EINVAL); the pair count is an integer
    division, so a trailing partial pair is ignored (SMEM-001).
    """
    if ac < 1 or sc < 1:
        return [], f"invalid #address-cells or #size-cells ({ac}/{sc})"
    cells = prop.u32s()
    step = ac + sc
    out = []
    for i in range(len(cells) // step):
        chunk = cells[i * step : (i + 1) * step]
        out.append(Range(start=read_number(chunk[:ac], ac), size=read_number(chunk[ac:], sc)))
    return out, None


def available(node: Node) -> bool:
    """``device_tree_node_is_available()``: no status, or "ok"/"okay" (DT-006)."""
    st = node.prop("status")
    return st is None or st.string() in ("ok", "okay")




def parent_cells(node: Node) -> tuple[int, int]:
    """The effective cells ``node``'s own properties are decoded with (its parent's)."""
    chain: list[Node] = []
    n = node.parent
    while n is not None:
        chain.append(n)
        n = n.parent
    cells = ROOT_CELLS
    for anc in reversed(chain):
        cells = cells_of(anc, cells)
    return cells


def reg_of(node: Node) -> list[Range]:
    """A node's ``reg`` pairs in its parent's cells (empty when undecodable)."""
    reg = node.prop("reg")
    if reg is None or node.parent is None:
        return []
    pairs, err = decode_pairs(reg, *cells_of(node.parent, parent_cells(node.parent)))
    return [] if err else pairs
