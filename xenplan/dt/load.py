"""``load()``: any device-tree input, plus overlays, into one ``Tree``.

A file is a DTB when it starts with the FDT magic ``0xd00dfeed`` (whatever
its name: boards ship ``.dtb``, ``.dtbo``, ``.fdt``, ``.img``), and DTS
otherwise (``.dts``, ``.dtsi``, ``.dtso`` alike). Overlays are applied in
the order given, as ``fdtoverlay -i base -o out overlay1 overlay2`` would.

``-`` reads standard input (DTB or DTS, told apart by the magic), and
every file is read through ``xenplan.files.read_input``: regular files
only, bounded in size.

A base that is itself an overlay (``/plugin/``, or fragments with
``__overlay__`` nodes) is refused: its fragments would reach Xen as
meaningless nodes, and it usually means the board's base tree is missing.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from xenplan.dt.dtb import FDT_MAGIC, read_dtb
from xenplan.dt.flat import StringTable, dtc_strings
from xenplan.dt.merge import merge_fragment
from xenplan.dt.overlay import apply_with_strings, is_overlay
from xenplan.dt.tree import Tree
from xenplan.errors import InputError
from xenplan.files import STDIN, read_input

_MAGIC = FDT_MAGIC.to_bytes(4, "big")
_BLOB_SUFFIXES = (".dtb", ".dtbo", ".fdt")
"""Names of blobs: one without the magic and with NUL bytes (or empty) is a broken DTB, not DTS."""


def load(path: str, overlays: Sequence[str] = (), include_dirs: Sequence[str] = (),
         board: str | None = None) -> Tree:
    """Read the DTB or DTS at ``path`` and apply ``overlays`` (DTBO or DTS) in order.

    ``include_dirs`` serve every DTS read (cpp ``-I``, ``dtc -i``). A DTS base
    is compiled with ``dtc -@`` when there are overlays, so that they can
    target its labels. ``board`` is the path of a tree the input is merged
    onto first (``/ { … }`` blocks combined as ``dtc`` does). Raises ``InputError`` for anything that is not a
    readable device tree, or an overlay that does not apply.
    """
    tree = _read(path, include_dirs, symbols=bool(overlays), base=True)
    under = None
    if board is not None:
        under = _read(board, include_dirs, symbols=False, base=True)
        files = [*tree.files, *under.files]
        tree = merge_fragment(under, tree)
        tree.files = files
    if is_overlay(tree):
        raise InputError(path, "is an overlay (it has __overlay__ fragments); give it with "
                         "--overlay on a base tree")
    strings: StringTable | None = None
    for overlay_path in overlays:
        overlay = _read(overlay_path, include_dirs, symbols=True, base=False)
        if not is_overlay(overlay):
            raise InputError(overlay_path, "is not an overlay: no fragment has an __overlay__ node")
        if strings is None:
            strings = dtc_strings(tree)
        notes, files = [*tree.notes, *overlay.notes], [*tree.files, *overlay.files]
        tree, strings = apply_with_strings(tree, overlay, strings)
        tree.notes, tree.files = notes, files
    tree.board = under
    return tree


def _read(path: str, include_dirs: Sequence[str], *, symbols: bool, base: bool) -> Tree:
    data = read_input(path)
    if data[:4] == _MAGIC:
        tree = read_dtb(data, _shown(path))
        tree.files = [path]
        return tree
    if path.endswith(_BLOB_SUFFIXES) and (not data or b"\0" in data[:64]):
        if not data:
            raise InputError(path, "is empty, not a DTB")
        got = f"magic is {int.from_bytes(data[:4], 'big'):#010x}" if len(data) >= 4 else f"only {len(data)} byte(s)"
        raise InputError(path, f"not a DTB: {got}, not 0xd00dfeed (and not DTS text either)", offset=0)
    if path == STDIN:
        import tempfile  # DTS on standard input only: a DTB never needs it (``files._temporary``)

        with tempfile.TemporaryDirectory(prefix="xenplan-stdin-") as tmp:
            copy = os.path.join(tmp, "stdin.dts")
            with open(copy, "wb") as fh:
                fh.write(data)
            return _read_source(copy, data, include_dirs, symbols=symbols, base=base, name=_shown(path))
    return _read_source(path, data, include_dirs, symbols=symbols, base=base, name=None)


def _shown(path: str) -> str:
    return "<stdin>" if path == STDIN else path


def _read_source(path: str, data: bytes, include_dirs: Sequence[str], *, symbols: bool, base: bool,
                 name: str | None) -> Tree:
    """DTS through cpp and dtc; imported here, so a DTB never loads the compiler route (its
    subprocess, thread-pool and logging imports cost a DTB check a third of its start-up)."""
    from xenplan.dt import dts_source
    from xenplan.dt.dts import read_dts

    if base:
        plugin = dts_source.scan(data.decode("latin-1"), name or path).plugin
        if plugin is not None:
            raise InputError(plugin.file, "is an overlay (/plugin/); give it with --overlay on a base "
                             "tree", line=plugin.line)
    return read_dts(path, include_dirs, symbols=symbols, name=name)
