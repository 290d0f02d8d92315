"""Source lines for a compiled DTS, from ``dtc -O dts -T -T`` annotations.

The blob ``dtc`` writes has no source positions, so ``xenplan.dt.dts`` asks
``dtc`` a second time for annotated DTS output. Each node and property line
ends in a comment naming where it was written, for example::

    chosen { /* board.dts:6:17-9:4, board.dts:19:9-19:29 */
        bootargs = "b"; /* board.dts:19:11-19:26 */
        phandle = <0x01>; /* <no-file>:<no-line> */

A node merged from several blocks lists every block, its first definition
first; a property redefined later carries only its winning definition
(``livetree.c: merge_nodes()``). ``dtc`` writes one statement per line and
escapes newlines in strings, so the walk is line based; inside a line it
skips string literals, which may contain braces, semicolons or ``/*``.
"""

from __future__ import annotations

import re

from xenplan.dt.dts_source import Mark
from xenplan.dt.tree import Source, Tree

_POS = re.compile(r"(?P<file>.*?):(?P<line>\d+):\d+-\d+:\d+(?:, |$)")
_LABELS = re.compile(r"^(?:[A-Za-z_][A-Za-z0-9_]*:\s*)*")


class LineMap:
    """Where each node (by path) and property (by path and name) was written."""

    def __init__(self) -> None:
        self.nodes: dict[str, Mark] = {}
        self.blocks: dict[str, list[Mark]] = {}
        """A node's later blocks, when it is written in several."""
        self.props: dict[tuple[str, str], Mark] = {}


def parse_annotated(text: str) -> LineMap:
    """Read ``dtc -O dts -T -T`` output into a ``LineMap``."""
    out = LineMap()
    stack: list[str] = []
    for raw in text.splitlines():
        code, note = _split(raw)
        code = code.strip()
        if not code or code.startswith(("/dts-v1/", "/memreserve/", "/plugin/")):
            continue
        if code == "};":
            if stack:
                stack.pop()
            continue
        mark = _first_pos(note)
        if code.endswith("{"):
            name = _LABELS.sub("", code[:-1].strip())
            path = "/" if not stack else (stack[-1].rstrip("/") + "/" + name)
            stack.append(path)
            if mark is not None:
                out.nodes[path] = mark
                later = [Mark(m.group("file"), int(m.group("line"))) for m in _POS.finditer(note)][1:]
                if later:
                    out.blocks[path] = later
        elif stack and mark is not None:
            rest = _LABELS.sub("", code)
            name = re.split(r"[\s=;]", rest, maxsplit=1)[0]
            out.props[(stack[-1], name)] = mark
    return out


# Code up to the first "/*" outside a string literal, then the note. Possessive
# quantifiers: a line that does not fit fails at once instead of backtracking.
_CODE_NOTE = re.compile(r'((?:[^"/]++|"(?:[^"\\]++|\\.)*+"?|/(?!\*))*+)(?:/\*(.*)\*/)?\s*$')


def _split(line: str) -> tuple[str, str]:
    """Split a line into code and its trailing ``/* ... */`` note, skipping strings."""
    m = _CODE_NOTE.match(line)
    if m is None:
        return line, ""
    return m.group(1), (m.group(2) or "").strip()


def _first_pos(note: str) -> Mark | None:
    m = _POS.match(note)
    if m is None or m.group("file") == "<no-file>":
        return None
    return Mark(m.group("file"), int(m.group("line")))


def apply_lines(tree: Tree, lines: LineMap, file: str, renames: dict[str, str]) -> None:
    """Give every node and property of ``tree`` its source line.

    Nodes and properties ``dtc`` generated (``phandle``, ``__symbols__``,
    overlay fragments) have no position: a generated property takes its
    node's, a generated node names ``file`` without a line. ``renames`` maps
    file names ``dtc`` saw (a preprocessed temporary file) to the user's.
    """

    def source(mark: Mark | None) -> Source | None:
        if mark is None:
            return None
        return Source(renames.get(mark.file, mark.file), mark.line)

    for node in tree.walk():
        path = node.path
        node.source = source(lines.nodes.get(path)) or Source(file)
        if path in lines.blocks and node.source.line is not None:
            node.source = Source(node.source.file, node.source.line, blocks=tuple(
                (renames.get(m.file, m.file), m.line) for m in lines.blocks[path] if m.file != "<no-file>"))
        for prop in node.properties.values():
            prop.source = source(lines.props.get((path, prop.name))) or node.source
