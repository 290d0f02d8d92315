"""The pure-Python DTS route, through Zephyr's dtlib, for machines without ``dtc``.

docs/device-tree-input.md (sections 2 and 7.2) found dtlib (PyPI
``devicetree``) to agree with ``dtc`` on every feature test but ``/plugin/``
and ``#include``, with a few gaps this module closes so that both routes give
the same tree, or the same refusal, for the same source:

* **Order.** ``dtc`` revives a deleted node or property in its old place when
  a later block defines it again (``livetree.c: merge_nodes()`` searches the
  deleted entries too); dtlib appends it. We record the order in which names
  first appeared under each path and sort by it.
* **Phandles.** dtlib hands out the lowest free phandle to each referenced
  node in document order, which is what ``dtc``'s ``get_node_phandle()``
  computes (its counter only ever passes taken values), and appends the
  ``phandle`` property last, as ``dtc`` does. So phandle values are equal,
  not merely equivalent. ``-@`` is emulated the way ``dtc.c`` runs it after
  the checks: every labelled node without one gets a phandle, in document
  order, and ``__symbols__`` is added as the root's last child.
* **Checks dtlib skips.** A property or node defined twice in one block, and
  a property after a subnode, are errors in ``dtc``; dtlib accepts them.
* **Lines.** dtlib 0.0.2 keeps no positions, so a subclass notes the place of
  every node's ``{`` (its first definition, like ``dtc``) and of every
  property name (its last definition); a newer dtlib's own ``lineno`` is not
  needed. It also counts the newlines inside string literals, which dtlib's
  lexer forgets.
* **Robustness.** ``RecursionError`` (deep nesting) and ``UnicodeDecodeError``
  (binary input) become ``InputError``; include cycles, which make dtlib
  hang, were refused before (``dts_source.follow_includes``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from xenplan.dt.dtb import MAX_DEPTH
from xenplan.dt.dts_source import Mark, Scan, syntax_hint
from xenplan.dt.flat import packed_size
from xenplan.dt.tree import MemReserve, Node, Property, Source, Tree
from xenplan.errors import InputError


class _Rejected(Exception):
    def __init__(self, mark: Mark, message: str, node: str | None = None) -> None:
        super().__init__(message)
        self.mark = mark
        self.message = message
        self.node = node


class _Recorder:
    """Places and first-seen order noted while dtlib parses."""

    def __init__(self) -> None:
        self.node_at: dict[str, Mark] = {}
        self.prop_at: dict[tuple[str, str], Mark] = {}
        self.order: dict[str, dict[tuple[str, str], int]] = {}
        self.last: Mark | None = None
        self.name: tuple[str, Mark, bool] | None = None
        self.blocks: list[tuple[Any, dict[str, Mark], set[str], list[bool]]] = []
        self.label_marks: dict[Any, list[int]] = {}

    def lexed(self, kind: str, value: Any, mark: Mark, after_delete: bool) -> None:
        self.last = mark
        if kind == "name":
            self.name = (value, mark, after_delete)

    def _see(self, path: str, key: tuple[str, str]) -> None:
        seen = self.order.setdefault(path, {})
        seen.setdefault(key, len(seen))

    def enter(self, node: Any) -> None:
        """A ``{`` opens a block of ``node``; the pending name, if any, is its name."""
        path = node.path
        pending, self.name = self.name, None
        if self.blocks and pending is not None and pending[0] == node.name:
            _parent_path, _, children, had_child = self.blocks[-1]
            if node.name in children:
                raise _Rejected(pending[1], f"duplicate node name {node.name!r} in one block", path)
            children.add(node.name)
            had_child[0] = True
            self._see(self.blocks[-1][0].path, ("n", node.name))
        if self.last is not None:
            self.node_at.setdefault(path, self.last)
        self.label_marks.setdefault(node, []).append(len(node.labels))
        self.blocks.append((node, {}, set(), [False]))

    def item(self) -> None:
        """Start of a block item: settle the previous one if it was a property."""
        pending, self.name = self.name, None
        if pending is None or not self.blocks:
            return
        name, mark, after_delete = pending
        if after_delete:
            return
        node, props, _, had_child = self.blocks[-1]
        path = node.path
        if had_child[0]:
            raise _Rejected(mark, f"property {name!r} after a subnode (properties must precede "
                            "subnodes)", path)
        if name in props:
            # dtc's duplicate_property_names check blames the first definition.
            raise _Rejected(props[name], f"duplicate property {name!r} in one block", path)
        props[name] = mark
        self.prop_at[(path, name)] = mark
        self._see(path, ("p", name))

    def leave(self) -> None:
        self.item()
        self.blocks.pop()


def _dtlib(path: str) -> Any:
    try:
        from devicetree import dtlib  # type: ignore[import-untyped]
    except ImportError as exc:  # pragma: no cover - a dependency of xenplan
        raise InputError(path, "cannot compile DTS: dtc is not installed and neither is the "
                         "Python package 'devicetree' (pip install devicetree)") from exc
    return dtlib


def _make_dt_class(dtlib: Any) -> Any:
    T = dtlib._T

    class RecordingDT(dtlib.DT):  # type: ignore[misc]
        """dtlib's parser with hooks that note places; parsing itself is unchanged."""

        def __init__(self, filename: str, include_path: Sequence[str], rec: _Recorder) -> None:
            self._xp_rec = rec
            self._xp_prev = None
            super().__init__(filename, include_path)

        def _next_token(self) -> Any:
            fresh = not self._saved_token
            tok = super()._next_token()
            if fresh:
                mark = Mark(self.filename, self._lineno)
                kind = "name" if tok.id == T.PROPNODENAME else "other"
                after_delete = self._xp_prev in (T.DEL_NODE, T.DEL_PROP)
                self._xp_rec.lexed(kind, tok.val, mark, after_delete)
                self._xp_prev = tok.id
                if tok.id == T.STRING and isinstance(tok.val, str):
                    self._lineno += tok.val.count("\n")
            return tok

        def _parse_node(self, node: Any) -> Any:
            self._peek_token()
            self._xp_rec.enter(node)
            result = super()._parse_node(node)
            self._xp_rec.leave()
            return result

        def _parse_propnode_labels(self) -> Any:
            self._xp_rec.item()
            return super()._parse_propnode_labels()

        # dtlib finds a label by walking the whole tree, once per reference,
        # and a free phandle by counting up from 1 each time: quadratic on
        # big trees. While references are fixed up the tree does not change
        # shape and phandles are only added, so an index of labels (first
        # node in document order, as dtlib's walk finds) and a running floor
        # for free phandles give the same answers.

        def _fixup_props(self) -> None:
            index: dict[str, Any] = {}
            for node in self.node_iter():
                for label in node.labels:
                    index.setdefault(label, node)
            self._xp_labels: dict[str, Any] | None = index
            try:
                super()._fixup_props()
            finally:
                self._xp_labels = None

        def _ref2node(self, ref: str) -> Any:
            index = getattr(self, "_xp_labels", None)
            if index is not None and ref in index:
                return index[ref]
            if self.root is None:
                # dtlib walks the tree for a label even before "/ { ... };" made one, and fails
                # with an AttributeError; dtc reports the reference instead.
                raise dtlib.DTError(f"label or path '{ref}' not found (referenced before the root node)")
            return super()._ref2node(ref)

        def _node_phandle(self, node: Any) -> Any:
            if "phandle" in node.props:
                return super()._node_phandle(node)
            free = getattr(self, "_xp_free", 1)
            while free in self.phandle2node:
                free += 1
            self._xp_free = free
            self.phandle2node[free] = node
            prop = node._get_prop("phandle")
            prop.value = free.to_bytes(4, "big")
            return prop.value

    return RecordingDT


_PARSE_ERROR = re.compile(r"^(?P<file>.*?):(?P<line>\d+) \(column (?P<col>\d+)\): parse error: (?P<msg>.*)$", re.S)
_PATHS = re.compile(r"(?<![\w/])(/[A-Za-z0-9,._+@/-]*)")


def read_dts_dtlib(path: str, src: str, search: Sequence[str], scan: Scan, *, symbols: bool) -> Tree:
    """Parse ``src`` (``path`` itself or its cpp output) with dtlib into a ``Tree``."""
    if scan.plugin is not None:
        raise InputError(scan.plugin.file, "is an overlay (/plugin/): compiling overlay sources "
                         "needs dtc (install device-tree-compiler, or give a compiled .dtbo)",
                         line=scan.plugin.line)
    dtlib = _dtlib(path)
    rec = _Recorder()
    try:
        dt = _make_dt_class(dtlib)(src, list(search), rec)
    except _Rejected as exc:
        raise InputError(exc.mark.file, exc.message, node=exc.node, line=exc.mark.line) from exc
    except dtlib.DTError as exc:
        raise _dt_error(str(exc), path, rec) from exc
    except RecursionError as exc:
        raise InputError(path, "nesting too deep to parse", line=rec.last.line if rec.last else None) from exc
    except UnicodeDecodeError as exc:
        line = exc.object[: exc.start].count(b"\n") + 1 if isinstance(exc.object, bytes) else None
        raise InputError(path, f"not UTF-8 text ({exc.reason}); without dtc only UTF-8 "
                         "sources can be read", line=line) from exc
    if symbols:
        _emulate_symbols(dt, rec)
    root = _convert(dt.root, None, rec, path, 0)
    reserves = [MemReserve(addr, size, Source(path)) for _labels, addr, size in dt.memreserves]
    tree = Tree(root=root, memreserve=reserves, file=path)
    tree.dtb_size = packed_size(tree)
    return tree


def _dt_error(text: str, path: str, rec: _Recorder) -> InputError:
    m = _PARSE_ERROR.match(text)
    if m:
        msg = m.group("msg")
        hint = syntax_hint(m.group("file"), int(m.group("line")), int(m.group("col")))
        return InputError(m.group("file"), f"{msg} (hint: {hint})" if hint else msg, line=int(m.group("line")))
    known = [p for p in _PATHS.findall(text) if p in rec.node_at]
    if known:
        # The later of the nodes named is the one dtc blames (a duplicate, a user).
        node = max(known, key=lambda p: (rec.node_at[p].line, len(p)))
        mark = rec.node_at[node]
        text = text.removeprefix(f"{node}: ")
        return InputError(mark.file, text, node=node, line=mark.line)
    return InputError(path, text)


def _emulate_symbols(dt: Any, rec: _Recorder) -> None:
    """``dtc -@``: phandles for labelled nodes, then ``__symbols__`` (``generate_label_tree()``)."""
    symbols: dict[str, str] = {}
    for node in dt.node_iter():
        if not node.labels:
            continue
        for label in _dtc_label_order(node.labels, rec.label_marks.get(node, [])):
            symbols.setdefault(label, node.path)
        dt._node_phandle(node)
    if not symbols:
        return
    table = dt.root.nodes.get("__symbols__")
    if table is None:
        table = type(dt.root)("__symbols__", dt.root, dt)
        dt.root.nodes["__symbols__"] = table
    for label, where in symbols.items():
        if label not in table.props:
            prop = table._get_prop(label)
            prop.value = where.encode("utf-8") + b"\0"


def _dtc_label_order(labels: list[str], marks: list[int]) -> list[str]:
    """A node's labels in ``dtc``'s order, from dtlib's (order of first appearance).

    ``dtc`` keeps the labels of a node's first definition as written, and
    ``add_label()`` puts each label a later block or ``label: &ref`` adds in
    front. ``marks`` holds ``len(labels)`` at each block's opening, which
    splits dtlib's list into those additions.
    """
    groups: list[list[str]] = []
    start = 0
    for bound in [*marks, len(labels)]:
        if bound > start:
            groups.append(labels[start:bound])
            start = bound
    order = list(groups[0]) if groups else []
    for group in groups[1:]:
        for label in group:
            order.insert(0, label)
    return order


def _convert(dn: Any, parent: Node | None, rec: _Recorder, file: str, depth: int) -> Node:
    path = dn.path
    mark = rec.node_at.get(path)
    source = Source(mark.file, mark.line) if mark else Source(file)
    node = Node(dn.name if parent is not None else "", parent=parent, source=source)
    order = rec.order.get(path, {})
    last = len(order)
    for prop in sorted(dn.props.values(), key=lambda p: order.get(("p", p.name), last)):
        pm = rec.prop_at.get((path, prop.name))
        node.properties[prop.name] = Property(
            prop.name, bytes(prop.value), Source(pm.file, pm.line) if pm else source
        )
    children = sorted(dn.nodes.values(), key=lambda c: order.get(("n", c.name), last))
    if children and depth + 1 >= MAX_DEPTH:
        raise InputError(source.file, f"node {children[0].name!r} is nested deeper than "
                         f"{MAX_DEPTH} levels", node=path, line=source.line)
    for child in children:
        node.children.append(_convert(child, node, rec, file, depth + 1))
    return node
