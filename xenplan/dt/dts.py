"""Reading a device-tree source (DTS) into a ``Tree``.

The route is the one docs/device-tree-input.md (section 7.2) measured as the
only complete one: the C preprocessor when the source uses it, then ``dtc -I
dts -O dtb``, and the blob read by the strict reader ``xenplan.dt.dtb`` —
exactly the bytes Xen would be handed. A second ``dtc`` run with ``-T -T``
gives each node and property its file and line (``xenplan.dt.dts_lines``).

Without ``dtc`` (or with ``XENPLAN_NO_DTC=1``) the pure-Python fallback in
``xenplan.dt.dts_fallback`` builds the same tree through Zephyr's dtlib.

Every failure is an ``InputError`` naming a file and, where anything knows
it, a line: cpp and ``dtc`` print ``file:line`` positions that this module
parses; what they print without one (a missing ``/include/``, an include
cycle) is found beforehand by ``xenplan.dt.dts_source``. ``dtc`` runs with a
timeout, because it loops forever on some inputs (``#clock-cells =
<0xffffffff>``) and crashes on others.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from xenplan.dt import dts_source
from xenplan.dt.dtb import read_dtb
from xenplan.dt.dts_lines import apply_lines, parse_annotated
from xenplan.dt.tree import MemReserve, Source, Tree
from xenplan.errors import InputError

DTC_TIMEOUT = 20.0
"""Seconds one ``dtc`` run may take; real trees compile in milliseconds."""
NO_DTC_ENV = "XENPLAN_NO_DTC"
"""Set to ``1`` to use the dtlib fallback even when ``dtc`` is installed."""


def read_dts(path: str, include_dirs: Sequence[str] = (), *, symbols: bool = False, name: str | None = None) -> Tree:
    """Compile the DTS at ``path`` and return its tree, with source lines.

    ``include_dirs`` are searched by cpp (``-I``) and ``dtc`` (``-i``) after
    the file's own directory. ``symbols`` compiles with ``dtc -@`` (a
    ``__symbols__`` node, and a phandle on every labelled node) so overlays
    can target the tree's labels; overlay sources (``/plugin/``) always are.
    ``name`` is what errors and sources call the file (``<stdin>`` for a
    copy of standard input). ``Tree.dtb_size`` is the size of the blob
    ``dtc`` produced.
    """
    shown = name or path
    outer = {path: shown} if name else {}
    try:
        tree, places = _compile(path, shown, outer, include_dirs, symbols)
    except InputError as exc:
        if exc.file not in outer:
            raise
        raise InputError(outer[exc.file], exc.message, node=exc.node, line=exc.line, offset=exc.offset) from exc
    _place_memreserves(tree, places)
    return tree


def _compile(path: str, shown: str, outer: dict[str, str], include_dirs: Sequence[str],
             symbols: bool) -> tuple[Tree, list[dts_source.Mark]]:
    text = dts_source.read_text(path)
    scan = _renamed(dts_source.scan(text, path), outer)
    # A copy of standard input resolves includes from the working directory, as a file there would.
    home = "." if outer else os.path.dirname(path)
    search = [home or ".", *include_dirs]
    symbols = symbols or scan.plugin is not None
    with tempfile.TemporaryDirectory(prefix="xenplan-dts-") as tmp:
        src, renames = path, dict(outer)
        files = [shown]
        if scan.cpp is not None:
            src = os.path.join(tmp, "preprocessed.dts")
            files += dts_source.preprocess(path, search, scan.cpp, src)[1:]
            renames = {src: shown, **outer}
            scan = dts_source.scan(dts_source.read_text(src), src)
            scan = _renamed(scan, renames)
            first_dir = None
        else:
            first_dir = home
        places = dts_source.follow_includes(scan, first_dir, search, found_files=files)
        if os.environ.get(NO_DTC_ENV) == "1" or shutil.which("dtc") is None:
            tree = _read_dtlib(path, shown, src, search, scan, symbols, renames)
        else:
            try:
                tree = _read_with_dtc(shown, src, search, symbols, renames)
            except _DtcExhausted:
                tree = _read_dtlib(path, shown, src, search, scan, symbols, renames)
                tree.notes.append(f"{shown}: dtc's parser ran out of memory (bison's stack limit, "
                                  "reached past about 10,000 sibling nodes); read with the Python DTS reader")
    tree.files = list(dict.fromkeys(files))
    return tree, places


def _read_dtlib(path: str, shown: str, src: str, search: Sequence[str], scan: dts_source.Scan, symbols: bool,
                renames: dict[str, str]) -> Tree:
    from xenplan.dt.dts_fallback import read_dts_dtlib

    tree = read_dts_dtlib(path, src, search, scan, symbols=symbols)
    if shown != path:
        tree.file = shown
    return tree


class _DtcExhausted(Exception):
    """``dtc`` stopped with bison's "memory exhausted": the source is valid but too long for its parser."""


def _renamed(scan: dts_source.Scan, renames: dict[str, str]) -> dts_source.Scan:
    def fix(m: dts_source.Mark) -> dts_source.Mark:
        return dts_source.Mark(renames.get(m.file, m.file), m.line)

    return dts_source.Scan(
        cpp=scan.cpp and fix(scan.cpp),
        plugin=scan.plugin and fix(scan.plugin),
        includes=[(n, fix(m)) for n, m in scan.includes],
        events=[(k, n, fix(m)) for k, n, m in scan.events],
    )


def _place_memreserves(tree: Tree, places: list[dts_source.Mark]) -> None:
    """Point each ``/memreserve/`` at its line, when the scan found each one."""
    if len(places) == len(tree.memreserve):
        sources = [Source(m.file, m.line) for m in places]
    else:
        sources = [Source(tree.file)] * len(tree.memreserve)
    tree.memreserve = [
        MemReserve(r.address, r.size, s) for r, s in zip(tree.memreserve, sources, strict=False)
    ]


def _read_with_dtc(
    path: str, src: str, search: Sequence[str], symbols: bool, renames: dict[str, str]
) -> Tree:
    base = ["dtc", "-q", "-I", "dts"]
    if symbols:
        base.append("-@")
    for d in search:
        base += ["-i", d]
    # Both runs at once: on big trees dtc's own checks take seconds.
    with ThreadPoolExecutor(max_workers=2) as pool:
        blob_run = pool.submit(_run_dtc, [*base, "-O", "dtb", src], path, renames)
        notes_run = pool.submit(_run_dtc, [*base, "-O", "dts", "-T", "-T", src], path, renames)
        blob = blob_run.result()
        annotated = notes_run.result()
    lines = parse_annotated(annotated.decode("latin-1"))
    try:
        tree = read_dtb(blob, path)
    except InputError as exc:
        # The offset is into a blob the user never sees; the node has a line.
        mark = lines.nodes.get(exc.node or "")
        raise InputError(
            mark.file if mark else path, exc.message, node=exc.node, line=mark.line if mark else None
        ) from exc
    apply_lines(tree, lines, path, renames)
    tree.file = path
    tree.dtb_size = len(blob)
    return tree


def _run_dtc(cmd: list[str], path: str, renames: dict[str, str]) -> bytes:
    cmd[0] = shutil.which("dtc") or "dtc"
    done = dts_source.run_tool(cmd, path, "dtc", DTC_TIMEOUT)
    if done.returncode < 0:
        raise InputError(path, f"dtc crashed ({_signal_name(-done.returncode)})")
    if done.returncode != 0:
        if b" memory exhausted" in done.stderr:
            raise _DtcExhausted
        raise dtc_error(done.stderr.decode("utf-8", "replace"), path, renames, done.returncode)
    return done.stdout


def _signal_name(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"


# "Error: board.dts:12.3-4 syntax error", "Error: board.dts:0.0 syntax error",
# "Lexical error: board.dts:14.15-20 Character literal has 2 characters instead of 1"
_DTC_PARSE = re.compile(
    r"^(?:Lexical error|Error): (?P<file>.+?):(?P<line>\d+)\.(?P<col>\d+)(?:-(?:\d+\.)?\d+)? (?P<msg>.*)$")
# "board.dts:3.4-5.4: ERROR (phandle_references): /n: Reference to ..."
# "<stdout>: ERROR (duplicate_node_names): /fragment@0: Duplicate node name"
_DTC_CHECK = re.compile(
    r"^(?:(?P<file>.+?)(?::(?P<line>\d+)\.\d+(?:-(?:\d+\.)?\d+)?)?: )?ERROR \((?P<check>[^)]*)\): "
    r"(?P<node>/[^:\s]*)(?::(?P<prop>[^:\s]+))?: (?P<msg>.*)$"
)
_DTC_FATAL = re.compile(r"^FATAL ERROR: (?P<msg>.*)$")


def dtc_error(stderr: str, path: str, renames: dict[str, str], status: int) -> InputError:
    """Turn ``dtc``'s complaint into one ``InputError`` with file and line."""
    fatal: str | None = None
    for raw in stderr.splitlines():
        m = _DTC_PARSE.match(raw)
        if m:
            # An empty file is "file:0.0"; the error is at its start.
            file = renames.get(m.group("file"), m.group("file"))
            msg = m.group("msg")
            if msg == "syntax error":
                hint = dts_source.syntax_hint(m.group("file"), int(m.group("line")), int(m.group("col")))
                msg += f" (hint: {hint})" if hint else ""
            return InputError(file, msg, line=max(int(m.group("line")), 1))
        m = _DTC_CHECK.match(raw)
        if m:
            file = m.group("file") if m.group("line") else path
            file = renames.get(file, file)
            msg = m.group("msg")
            if m.group("prop"):
                msg = f"property {m.group('prop')}: {msg}"
            return InputError(file, msg, node=m.group("node"), line=int(m.group("line") or 0) or None)
        m = _DTC_FATAL.match(raw)
        if m and fatal is None:
            fatal = m.group("msg")
    first = fatal or next((s for s in stderr.splitlines() if s.strip()), None)
    return InputError(path, f"dtc: {first}" if first else f"dtc failed (exit status {status})")

