"""Applying a device-tree overlay to a base tree, the way ``fdtoverlay`` does.

``fdtoverlay`` is libfdt's ``fdt_overlay_apply()`` (``libfdt/fdt_overlay.c``)
on a blob, and what Xen boots is that blob, so the order of the result
matters as much as its values (Xen builds domains in document order). The
steps, in libfdt's order:

1. ``overlay_adjust_local_phandles()``: every ``phandle`` and
   ``linux,phandle`` of the overlay is raised by the base's largest phandle;
2. ``overlay_update_local_references()``: each offset listed under
   ``__local_fixups__`` is a cell referring to the overlay's own nodes, raised
   by the same amount;
3. ``overlay_fixup_phandles()``: each label in ``__fixups__`` is looked up in
   the base's ``__symbols__`` and its node's phandle is written at every
   listed ``path:property:offset``;
4. ``overlay_merge()``: each fragment with an ``__overlay__`` node is merged
   into its target (``target = <phandle>`` or ``target-path = "/path"``).
   libfdt inserts a *new* property before the node's first property and a
   *new* subnode before its first subnode, so additions land in reverse
   order ahead of what was there; existing properties are replaced in place
   and existing subnodes merged. Names match as in ``fdt_subnode_offset()``:
   ``"memory"`` finds ``"memory@40000000"``;
5. ``overlay_symbol_update()``: the overlay's ``__symbols__`` entries that
   point into an ``__overlay__`` are rewritten to their place in the base.

Things from the overlay keep their ``Source`` in the overlay's file, so a
finding points at the overlay that introduced it. Failures are
``InputError`` naming the overlay file and the fragment.
"""

from __future__ import annotations

import dataclasses

from xenplan.dt.flat import StringTable, dtc_strings, packed_size
from xenplan.dt.tree import Node, Property, Tree
from xenplan.errors import InputError

_PHANDLE_NAMES = ("phandle", "linux,phandle")
_NO_PHANDLE = (0, 0xFFFFFFFF)


def apply_overlay(base: Tree, overlay: Tree) -> Tree:
    """Return ``base`` with ``overlay`` applied; neither argument is changed.

    ``dtb_size`` of the result is the size of the packed blob ``fdtoverlay``
    writes (exact when ``base`` came from ``dtc``: its strings block is
    rebuilt, then the overlay's new names appended as libfdt appends them).
    """
    result, _strings = apply_with_strings(base, overlay, dtc_strings(base))
    return result


def apply_with_strings(base: Tree, overlay: Tree, strings: StringTable) -> tuple[Tree, StringTable]:
    """``apply_overlay`` carrying the strings block from one overlay to the next."""
    out = _copy(base)
    ovl = _copy(overlay)
    strings = strings.copy()
    _Applier(out, ovl, strings).run()
    out.dtb_size = packed_size(out, strings)
    return out, strings


def is_overlay(tree: Tree) -> bool:
    """Whether ``tree`` is an overlay: a root child holding an ``__overlay__`` node."""
    return any(c.child("__overlay__") is not None for c in tree.root.children)


class _Applier:
    def __init__(self, base: Tree, overlay: Tree, strings: StringTable) -> None:
        self.base = base
        self.ovl = overlay
        self.strings = strings
        self.file = overlay.file

    def fail(self, message: str, node: Node | None = None, path: str | None = None) -> InputError:
        """An error in the overlay, placed at ``node`` (or the node at ``path``)."""
        if node is None and path is not None:
            node = _lookup(self.ovl.root, path)
        where = path
        line = None
        if node is not None:
            where = node.path
            src = node.source
            if (src is None or src.line is None) and node.child("__overlay__") is not None:
                src = node.child("__overlay__").source  # type: ignore[union-attr]
            if src is not None and src.line is not None:
                line = src.line
        return InputError(self.file, message, node=where, line=line)

    def run(self) -> None:
        delta = _max_phandle(self.base)
        self.adjust_local_phandles(delta)
        self.update_local_references(delta)
        self.fixup_phandles()
        for fragment in self.ovl.root.children:
            body = fragment.child("__overlay__")
            if body is not None:
                self.merge(self.target(fragment), body)
        self.update_symbols()

    def adjust_local_phandles(self, delta: int) -> None:
        if delta == 0:
            return
        for node in self.ovl.walk():
            for name in _PHANDLE_NAMES:
                prop = node.prop(name)
                if prop is None:
                    continue
                if len(prop.value) != 4:
                    raise self.fail(f"{name} is {len(prop.value)} bytes, not 4", node)
                value = int.from_bytes(prop.value, "big") + delta
                if value >= 0xFFFFFFFF:
                    raise self.fail(f"{name} overflows when renumbered above the base's", node)
                prop.value = value.to_bytes(4, "big")

    def update_local_references(self, delta: int) -> None:
        fixups = self.ovl.root.child("__local_fixups__")
        if fixups is None or delta == 0:
            return
        stack = [(fixups, self.ovl.root)]
        while stack:
            fix, node = stack.pop()
            for entry in fix.properties.values():
                target = node.prop(entry.name)
                if target is None or len(entry.value) % 4:
                    raise self.fail(f"__local_fixups__ names a missing property {entry.name!r}", node)
                value = bytearray(target.value)
                for offset in entry.u32s():
                    if offset + 4 > len(value):
                        raise self.fail(f"__local_fixups__ offset {offset} is outside "
                                        f"property {entry.name!r}", node)
                    cell = int.from_bytes(value[offset : offset + 4], "big") + delta
                    value[offset : offset + 4] = (cell & 0xFFFFFFFF).to_bytes(4, "big")
                target.value = bytes(value)
            for sub in fix.children:
                child = node.child(sub.name)
                if child is None:
                    raise self.fail(f"__local_fixups__ names a missing node {sub.name!r}", node)
                stack.append((sub, child))

    def fixup_phandles(self) -> None:
        fixups = self.ovl.root.child("__fixups__")
        if fixups is None:
            return
        symbols = self.base.root.child("__symbols__")
        for entry in fixups.properties.values():
            label = entry.name
            for place in entry.strings():
                path, sep, rest = place.partition(":")
                name, sep2, offset_text = rest.rpartition(":")
                fragment = "/" + path.strip("/").split("/")[0] if path.startswith("/") else path
                if not (sep and sep2 and offset_text.isdigit()):
                    raise self.fail(f"malformed __fixups__ entry {place!r} for label {label!r}",
                                    path="/__fixups__")
                if symbols is None:
                    raise self.fail(f"refers to label {label!r}, but the base tree has no "
                                    "__symbols__ (compile it with dtc -@)", path=fragment)
                sym = symbols.prop(label)
                if sym is None:
                    raise self.fail(f"label {label!r} is not in the base tree's __symbols__",
                                    path=fragment)
                target = _lookup(self.base.root, sym.string())
                if target is None:
                    raise self.fail(f"label {label!r} points to {sym.string()!r}, which is not "
                                    "in the base tree", path=fragment)
                phandle = _phandle(target)
                if phandle in _NO_PHANDLE:
                    raise self.fail(f"label {label!r} ({target.path}) has no phandle in the "
                                    "base tree", path=fragment)
                self.patch(path, name, int(offset_text), phandle, label, fragment)

    def patch(self, path: str, name: str, offset: int, phandle: int, label: str,
              fragment: str) -> None:
        node = _lookup(self.ovl.root, path)
        prop = node.prop(name) if node is not None else None
        if prop is None or offset + 4 > len(prop.value):
            raise self.fail(f"__fixups__ for label {label!r} points outside the overlay "
                            f"({path}:{name}:{offset})", path=fragment)
        value = bytearray(prop.value)
        value[offset : offset + 4] = phandle.to_bytes(4, "big")
        prop.value = bytes(value)

    def target(self, fragment: Node) -> Node:
        """``overlay_get_target()``: the base node a fragment applies to."""
        prop = fragment.prop("target")
        if prop is not None:
            phandle = prop.u32()
            if phandle is None or len(prop.value) != 4 or phandle in _NO_PHANDLE:
                raise self.fail("fragment target is not a resolved phandle", fragment)
            found = self.base.phandles().get(phandle)
            if found is None:
                raise self.fail(f"fragment target phandle {phandle:#x} is not in the base tree",
                                fragment)
            return found
        prop = fragment.prop("target-path")
        if prop is None:
            raise self.fail("fragment has neither target nor target-path", fragment)
        where = prop.string()
        found = _lookup(self.base.root, where, _aliases(self.base))
        if found is None:
            raise self.fail(f'fragment target-path "{where}" is not in the base tree', fragment)
        return found

    def merge(self, target: Node, body: Node) -> None:
        """``overlay_apply_node()``: properties first, then subnodes, recursively."""
        for prop in body.properties.values():
            self.set_prop(target, Property(prop.name, prop.value, prop.source))
        for sub in body.children:
            existing = _subnode(target, sub.name)
            if existing is None:
                existing = Node(sub.name, parent=target, source=sub.source)
                target.children.insert(0, existing)
            self.merge(existing, sub)

    def set_prop(self, node: Node, prop: Property) -> None:
        """``fdt_setprop()``: replace in place, or insert before the first property."""
        if prop.name in node.properties:
            node.properties[prop.name] = prop
            return
        self.strings.add(prop.name)
        node.properties = {prop.name: prop, **node.properties}

    def update_symbols(self) -> None:
        table = self.ovl.root.child("__symbols__")
        if table is None:
            return
        root_symbols = self.base.root.child("__symbols__")
        for sym in table.properties.values():
            value = sym.value
            if not value.endswith(b"\0") or b"\0" in value[:-1]:
                raise self.fail(f"__symbols__ entry {sym.name!r} is not a single string", table)
            path = sym.string()
            if not path.startswith("/"):
                raise self.fail(f"__symbols__ entry {sym.name!r} is not a path", table)
            frag_name, slash, rest = path[1:].partition("/")
            if not slash:
                continue
            if rest == "__overlay__":
                rel = ""
            elif rest.startswith("__overlay__/") and len(rest) > len("__overlay__/"):
                rel = rest[len("__overlay__/"):]
            else:
                continue
            fragment = _subnode(self.ovl.root, frag_name)
            if fragment is None or fragment.child("__overlay__") is None:
                raise self.fail(f"__symbols__ entry {sym.name!r} names a missing fragment", table)
            tprop = fragment.prop("target")
            if tprop is None and fragment.prop("target-path") is not None:
                base_path = fragment.prop("target-path").string()  # type: ignore[union-attr]
            else:
                base_path = self.target(fragment).path
            new = ("/" + rel) if base_path == "/" else f"{base_path}/{rel}"
            if root_symbols is None:
                root_symbols = Node("__symbols__", parent=self.base.root, source=sym.source)
                self.base.root.children.insert(0, root_symbols)
            self.set_prop(root_symbols, Property(sym.name, new.encode("latin-1") + b"\0",
                                                 sym.source))


def _phandle(node: Node) -> int:
    """``fdt_get_phandle()``: ``phandle``, else ``linux,phandle``, else 0."""
    for name in _PHANDLE_NAMES:
        prop = node.prop(name)
        if prop is not None:
            return prop.u32() if len(prop.value) == 4 else 0  # type: ignore[return-value]
    return 0


def _max_phandle(tree: Tree) -> int:
    """``fdt_find_max_phandle()``."""
    best = 0
    for node in tree.walk():
        value = _phandle(node)
        if value != 0xFFFFFFFF and value > best:
            best = value
    return best


def _subnode(node: Node, name: str) -> Node | None:
    """``fdt_subnode_offset()``: exact name, or the unit-less name of a ``name@unit``."""
    for child in node.children:
        if child.name == name or ("@" not in name and child.name.split("@", 1)[0] == name):
            return child
    return None


def _aliases(tree: Tree) -> dict[str, str]:
    node = tree.root.child("aliases")
    return {p.name: p.string() for p in node.properties.values()} if node else {}


def _lookup(root: Node, path: str, aliases: dict[str, str] | None = None) -> Node | None:
    """``fdt_path_offset()``: components matched like ``_subnode``; an alias first if not rooted."""
    if not path.startswith("/"):
        alias, _, rest = path.partition("/")
        if not aliases or alias not in aliases or not aliases[alias].startswith("/"):
            return None
        path = aliases[alias] + ("/" + rest if rest else "")
    node: Node | None = root
    for comp in path.split("/"):
        if not comp:
            continue
        node = _subnode(node, comp) if node is not None else None
    return node


def _copy(tree: Tree) -> Tree:
    """A copy whose nodes and properties can be changed without touching ``tree``."""

    def clone(node: Node, parent: Node | None) -> Node:
        out = Node(node.name, parent=parent, source=node.source)
        out.properties = {k: Property(p.name, p.value, p.source) for k, p in node.properties.items()}
        return out

    root = clone(tree.root, None)
    stack = [(tree.root, root)]
    while stack:
        old, new = stack.pop()
        for child in old.children:
            copy = clone(child, new)
            new.children.append(copy)
            stack.append((child, copy))
    return dataclasses.replace(tree, root=root, memreserve=list(tree.memreserve), notes=list(tree.notes))
