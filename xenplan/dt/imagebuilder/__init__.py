"""Integrators' inputs: ImageBuilder configs and U-Boot boot scripts, turned into the tree Xen receives.

``load_imagebuilder`` reads a config (never running it), writes the script
``uboot-script-gen`` would write and replays it; ``load_uboot_script``
replays a script someone already has (``boot.source`` or ``boot.scr``).
Both give a ``Loaded`` input: the tree U-Boot hands Xen, where Xen and the
DTB lie, every file loaded, notes, and what ImageBuilder itself would have
said (``problems``) together with the config lints of ``lints``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from xenplan.dt.imagebuilder.config import Config, read_config
from xenplan.dt.imagebuilder.gen import Generated, generate
from xenplan.dt.imagebuilder.uboot import Loaded, Replay, Resolver, TreeLoader, UBoot, read_script_bytes
from xenplan.dt.tree import Source, Tree
from xenplan.errors import InputError
from xenplan.files import MAX_TREE_BYTES, read_input


@dataclass
class BootInput:
    """The tree U-Boot boots Xen with, and the facts around it."""

    tree: Tree
    replay: Replay
    xen_addr: int
    xen_size: int | None
    fdt_addr: int
    dtb_size: int
    files: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    problems: list[tuple[str, str, Source, str | None]] = field(default_factory=list)
    """(rule id, message, where, node path) found in the config or the script themselves."""
    config: Config | None = None
    generated: Generated | None = None
    board: Tree | None = None
    """The board's tree as read, before the script edited it."""


def _read_tree(path: str, *, overlay: bool = False) -> Tree:
    from xenplan.dt.load import _read, load

    if overlay:
        return _read(path, (), symbols=True, base=False)
    return load(path)


def load_imagebuilder(config_path: str, ib_dir: str | None = None, assume: dict[str, int] | None = None,
                      dtb: str | None = None, load_cmd: str | None = None, dialect: str | None = None) -> BootInput:
    """Read the ImageBuilder config at ``config_path`` and build the tree its script gives Xen.

    Files resolve against ``ib_dir`` (default: the config's folder), as
    ``uboot-script-gen -d`` resolves them; ``dtb`` replaces ``DEVICE_TREE``;
    ``dialect`` picks the ImageBuilder whose script is modelled (see ``generate``).
    """
    from xenplan.dt.imagebuilder.lints import config_lints

    text = read_input(config_path, 1 << 20).decode("utf-8", "replace")
    cfg = read_config(text, config_path)
    base = ib_dir if ib_dir is not None else (os.path.dirname(config_path) or ".")
    assume = dict(assume or {})
    dtb_value = cfg.get("DEVICE_TREE")
    if dtb is None and not dtb_value:
        raise InputError(config_path, "DEVICE_TREE is not set and no INPUT was given: the board's tree is needed")
    dtb_value = dtb_value or ""
    dtb_path = dtb or (dtb_value if os.path.isabs(dtb_value) else os.path.join(base, dtb_value))
    if not os.path.isfile(dtb_path):
        line = cfg.line("DEVICE_TREE")
        raise InputError(config_path, f"DEVICE_TREE {dtb_value!r}: no such file {dtb_path!r} (files resolve against "
                         f"--imagebuilder-dir, default the config's folder; or give the board's tree as INPUT)",
                         line=line if dtb is None else None)
    board = _read_tree(dtb_path)
    g = generate(cfg, base, assume, dtb, board, load_cmd, dialect)
    pending = list(g.files)

    def resolve(name: str, src: Source) -> Loaded:
        f = next((f for f in pending if f.name == name), None)
        if f is None:
            path = name if os.path.isabs(name) else os.path.join(base, name)
            size = os.stat(path).st_size if os.path.isfile(path) else None
            return Loaded(addr=0, size=size, name=name, source=src, path=path, key=name)
        pending.remove(f)
        return Loaded(addr=0, size=f.size, name=name, source=src, path=f.path, key=f.key)

    def load_tree(ld: Loaded | None, src: Source) -> Tree:
        if ld is None or ld.path is None:
            raise InputError(src.file, "the script's fdt address holds no file", line=src.line)
        if os.path.abspath(ld.path) == os.path.abspath(dtb_path):
            return _read_tree(dtb_path)
        return _read_tree(ld.path, overlay=True)

    result = _replay(g.lines, resolve, load_tree, config_path)
    result.config, result.generated, result.board = cfg, g, board
    result.notes[:0] = g.notes
    result.problems.extend((rid, msg, src, None) for rid, msg, src in g.problems)
    result.problems.extend(config_lints(cfg, g, board, result.replay))
    result.files = [config_path, dtb_path, *result.files]
    return result


def load_uboot_script(script_path: str, board: str | None = None, ib_dir: str | None = None,
                      assume: dict[str, int] | None = None) -> BootInput:
    """Replay the U-Boot script at ``script_path`` (text or a ``mkimage`` script image) onto ``board``.

    Without ``board`` the DTB is the file the script loads at its ``fdt
    addr``. Load commands take each file's size from ``ib_dir`` (default: the
    script's folder) or ``assume`` (keyed by the file name as the script writes it).
    """
    from xenplan.dt.imagebuilder.lints import script_lints

    text = read_script_bytes(read_input(script_path, MAX_TREE_BYTES), script_path)
    base = ib_dir if ib_dir is not None else (os.path.dirname(script_path) or ".")
    assume = dict(assume or {})
    notes: list[str] = []

    def resolve(name: str, src: Source) -> Loaded:
        path = name if os.path.isabs(name) else os.path.join(base, name)
        if name in assume:
            return Loaded(addr=0, size=assume[name], name=name, source=src, path=path, key=name)
        if os.path.isfile(path):
            return Loaded(addr=0, size=os.stat(path).st_size, name=name, source=src, path=path, key=name)
        notes.append(f"{name} (line {src.line}): no such file under {base}, so its size is unknown; "
                     f"give --assume-size {name}=SIZE")
        return Loaded(addr=0, size=None, name=name, source=src, path=None, key=name)

    def load_tree(ld: Loaded | None, src: Source) -> Tree:
        if board is not None and (ld is None or ld.path is None or ld.name.endswith((".dtb", ".fdt"))
                                  or os.path.abspath(ld.path) == os.path.abspath(board)):
            return _read_tree(board)
        if ld is None or ld.path is None or not os.path.isfile(ld.path):
            raise InputError(script_path, "fdt addr: no DTB file was loaded at that address; give the board's "
                             "tree as BOARD", line=src.line)
        data = read_input(ld.path)
        return _read_tree(ld.path, overlay=data[:4] == b"\xd0\x0d\xfe\xed" and ld.name.endswith(".dtbo"))

    lines = [(t, Source(script_path, i)) for i, t in enumerate(text.splitlines(), 1)]
    result = _replay(lines, resolve, load_tree, script_path)
    result.notes[:0] = notes
    result.board = _read_tree(board) if board is not None else None
    result.problems.extend(script_lints(result.replay))
    result.files = [script_path, *([board] if board else []), *result.files]
    return result


def _replay(lines: list[tuple[str, Source]], resolve: Resolver, load_tree: TreeLoader, file: str) -> BootInput:
    ub = UBoot(resolve, load_tree)
    for text, src in lines:
        ub.run_line(text, src)
    r = ub.r
    if r.tree is None or r.fdt_addr is None:
        raise InputError(file, "the script never points U-Boot at a device tree ('fdt addr')")
    if r.boot is None:
        r.notes.append("the script never boots (no booti/bootm/bootz): Xen is taken to be the file loaded "
                       "last before the DTB and the DTB where 'fdt addr' points")
        ub.boot("booti", [f"{_guess_xen(r):x}", "-", f"{r.fdt_addr:x}"], Source(file))
    assert r.boot is not None and r.dtb_size is not None
    xen = r.loaded_at(r.boot.kernel)
    if xen is None:
        r.notes.append(f"{r.boot.source}: nothing is loaded at {r.boot.kernel:#x}, where {r.boot.command} starts "
                       "Xen: its size is unknown")
    return BootInput(tree=r.tree, replay=r, xen_addr=r.boot.kernel, xen_size=xen.size if xen else None,
                     fdt_addr=r.fdt_addr, dtb_size=r.dtb_size, notes=list(r.notes))


def _guess_xen(r: Replay) -> int:
    below = [ld for ld in r.loads if ld.addr != r.fdt_addr]
    return below[-1].addr if below else 0


__all__ = ["BootInput", "load_imagebuilder", "load_uboot_script"]
