"""A fragment on top of a board: ``/ { … };`` blocks merged as ``dtc`` merges them.

Integrators (and Xen's own docs) often keep only ``/chosen`` with the
domains; the hardware comes from the board's tree. ``dtc`` combines two
``/ { … }`` blocks by merging nodes of the same name: a later property
replaces an earlier one in place, new properties and new children are
appended. That is what ``--board`` does, keeping each node's and property's
source in the file that wrote it.
"""

from __future__ import annotations

import dataclasses

from xenplan.dt.flat import packed_size
from xenplan.dt.tree import Node, Property, Tree


def _clone(node: Node, parent: Node | None) -> Node:
    out = Node(node.name, parent=parent, source=node.source)
    out.properties = {k: Property(p.name, p.value, p.source) for k, p in node.properties.items()}
    for child in node.children:
        out.children.append(_clone(child, out))
    return out


def _merge(target: Node, body: Node) -> None:
    for name, prop in body.properties.items():
        target.properties[name] = Property(prop.name, prop.value, prop.source)
    for sub in body.children:
        existing = target.child(sub.name)
        if existing is None:
            target.children.append(_clone(sub, target))
        else:
            _merge(existing, sub)


def merge_fragment(board: Tree, fragment: Tree) -> Tree:
    """``fragment`` merged over a copy of ``board``; the result is named after the fragment."""
    root = _clone(board.root, None)
    _merge(root, fragment.root)
    merged = dataclasses.replace(board, root=root, memreserve=[*board.memreserve, *fragment.memreserve],
                                 notes=[*board.notes, *fragment.notes],
                                 file=fragment.file)
    merged.dtb_size = packed_size(merged)
    return merged
