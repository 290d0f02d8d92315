"""What a U-Boot boot script does to the device tree, replayed without U-Boot.

A dom0less ``/chosen`` written by ImageBuilder exists only inside U-Boot:
the script loads the DTB and every binary, then edits the loaded blob with
``fdt`` commands. ``UBoot`` replays the subset such scripts use (the ``fdt``
editing commands, ``setenv`` and ``${var}``, the load commands and what
``booti``/``bootm``/``bootz`` do to the tree) on a ``Tree`` with libfdt's
own placement rules, so the result is the tree Xen receives:

* ``fdt mknod`` inserts the new node as the *first* child of its parent
  (libfdt ``fdt_add_subnode()`` places it right after the parent's
  properties), so nodes made later come earlier in document order, and
  Xen meets ``domU1`` before ``domU0``;
* ``fdt set`` of a new property inserts it first among the node's
  properties (``fdt_add_property_()``); an existing one keeps its place;
* values parse as ``fdt_parse_prop()`` does: ``<…>`` 32-bit cells,
  ``[…]`` bytes, otherwise each argument a NUL-terminated string;
* ``booti``/``bootm``/``bootz`` copy the ``bootargs`` variable into
  ``/chosen/bootargs`` (``fdt_chosen()``), an initrd argument into
  ``linux,initrd-start``/``-end`` (``fdt_initrd()``), and finally pack the
  blob: ``fdt_shrink_to_minimum(blob, 0)`` leaves it at the end of its
  strings block plus five reserve entries, rounded up to 4 KiB. That is
  the size of the DTB Xen is handed.

Any command outside the subset is an ``InputError`` naming its line.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from xenplan.dt.flat import StringTable, dtc_strings, packed_size
from xenplan.dt.tree import Node, Property, Source, Tree
from xenplan.errors import InputError

LOAD_COMMANDS = {"load", "fatload", "ext4load", "ext2load", "tftpb", "tftpboot", "tftp"}
BOOT_COMMANDS = {"booti", "bootm", "bootz"}
NO_OPS = {"echo", "fpga", "printenv"}
FDT_SHRINK_RESERVE = 5 * 16
"""``fdt_shrink_to_minimum()`` keeps room for five reserve-map entries."""


def descend(node: Node, path: str) -> Node | None:
    """The node ``path``'s components lead to from ``node``, as libfdt's ``fdt_path_offset()``
    matches them: by full name, or, for a component without a unit address, the first child
    of that base name."""
    for comp in [c for c in path.split("/") if c]:
        hit = node.child(comp)
        if hit is None and "@" not in comp:
            hit = next((c for c in node.children if c.basename == comp), None)
        if hit is None:
            return None
        node = hit
    return node


@dataclass
class Loaded:
    """One file a load command places in memory: where, how large (None: unknown) and the line."""

    addr: int
    size: int | None
    name: str
    source: Source
    path: str | None = None
    key: str | None = None
    """What ``--assume-size`` calls it (a config variable or the file name)."""


@dataclass
class BootCall:
    command: str
    kernel: int
    initrd: int | None
    fdt: int
    source: Source


@dataclass
class Replay:
    """What the script left behind: the tree, where the DTB and every file lie, and the boot call."""

    tree: Tree | None = None
    fdt_addr: int | None = None
    loads: list[Loaded] = field(default_factory=list)
    boot: BootCall | None = None
    env: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    dtb_size: int | None = None

    def loaded_at(self, addr: int) -> Loaded | None:
        for ld in reversed(self.loads):
            if ld.addr == addr:
                return ld
        return None


Resolver = Callable[[str, Source], Loaded]
"""Turns a load command's file name (at its line) into a ``Loaded`` with its size (address filled later)."""
TreeLoader = Callable[[Loaded | None, Source], Tree]
"""Gives the tree ``fdt addr`` points at (the file loaded there, or the board given)."""


def split_words(text: str, env: dict[str, str], file: str, line: int) -> list[list[str]]:
    """One script line as hush splits it: commands at unquoted ``;``, words with quotes removed and
    ``$var``/``${var}`` expanded (not inside single quotes); ``#`` at a word's start begins a comment."""
    cmds: list[list[str]] = []
    words: list[str] = []
    cur: list[str] = []
    in_word = False
    i, n = 0, len(text)

    def var(j: int) -> tuple[str, int]:
        if j < n and text[j] == "{":
            k = text.find("}", j)
            if k < 0:
                raise InputError(file, "unterminated ${", line=line)
            return env.get(text[j + 1 : k], ""), k + 1
        m = re.match(r"[A-Za-z_][A-Za-z0-9_]*", text[j:])
        if not m:
            return "$", j
        return env.get(m.group(0), ""), j + m.end()

    while i < n:
        c = text[i]
        if c in " \t\r":
            if in_word:
                words.append("".join(cur))
                cur, in_word = [], False
            i += 1
        elif c == "#" and not in_word:
            break
        elif c == ";":
            if in_word:
                words.append("".join(cur))
                cur, in_word = [], False
            if words:
                cmds.append(words)
            words = []
            i += 1
        elif c == "\\":
            in_word = True
            if i + 1 < n:
                cur.append(text[i + 1])
            i += 2
        elif c == "'":
            k = text.find("'", i + 1)
            if k < 0:
                raise InputError(file, "unterminated single quote", line=line)
            cur.append(text[i + 1 : k])
            in_word = True
            i = k + 1
        elif c == '"':
            in_word = True
            i += 1
            while i < n and text[i] != '"':
                if text[i] == "\\" and i + 1 < n and text[i + 1] in '"\\$':
                    cur.append(text[i + 1])
                    i += 2
                elif text[i] == "$":
                    v, i = var(i + 1)
                    cur.append(v)
                else:
                    cur.append(text[i])
                    i += 1
            if i >= n:
                raise InputError(file, "unterminated double quote", line=line)
            i += 1
        elif c == "$":
            v, i = var(i + 1)
            cur.append(v)
            in_word = True
        else:
            cur.append(c)
            in_word = True
            i += 1
    if in_word:
        words.append("".join(cur))
    if words:
        cmds.append(words)
    return cmds


def parse_prop(args: list[str], file: str, line: int) -> bytes:
    """A property value from ``fdt set`` arguments, as U-Boot's ``fdt_parse_prop()`` reads them."""
    if not args:
        return b""
    if args[0].startswith("<"):
        text = " ".join(args)
        end = text.find(">")
        if end < 0:
            raise InputError(file, f"fdt set: no closing '>' in {text!r}", line=line)
        out = bytearray()
        for tok in text[1:end].split():
            try:
                v = int(tok, 0) if not re.fullmatch(r"0\d+", tok) else int(tok, 8)
            except ValueError:
                raise InputError(file, f"fdt set: {tok!r} is not a number", line=line) from None
            out += (v & 0xFFFFFFFF).to_bytes(4, "big")
        return bytes(out)
    if args[0].startswith("["):
        text = " ".join(args)
        end = text.find("]")
        hexes = "".join(text[1:end if end >= 0 else len(text)].split())
        try:
            return bytes.fromhex(hexes)
        except ValueError:
            raise InputError(file, f"fdt set: bad byte string {text!r}", line=line) from None
    return b"".join(a.encode("latin-1", "replace") + b"\0" for a in args)


def hex_addr(text: str, file: str, line: int) -> int:
    """An address as U-Boot reads it: hexadecimal, with or without ``0x``."""
    t = text.lower().removeprefix("0x")
    try:
        return int(t, 16)
    except ValueError:
        raise InputError(file, f"{text!r} is not an address", line=line) from None


class UBoot:
    """Replays commands one by one onto a ``Replay``."""

    def __init__(self, resolve: Resolver, load_tree: TreeLoader) -> None:
        self.resolve = resolve
        self.load_tree = load_tree
        self.r = Replay()
        self.strings = StringTable()
        self.stopped = False

    def run_line(self, text: str, src: Source) -> None:
        """One script line (possibly several ``;``-separated commands) at ``src``."""
        line = src.line or 0
        for words in split_words(text, self.r.env, src.file, line):
            if self.stopped:
                self.r.notes.append(f"{src}: {' '.join(words)!r} comes after the boot command and never runs")
                return
            self.command(words, src)

    def command(self, w: list[str], src: Source) -> None:
        file, line = src.file, src.line or 0
        name = w[0]
        m = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)=(.*)", name)
        if m and len(w) == 1:
            self.r.env[m.group(1)] = m.group(2)
        elif name in ("setenv", "env") and (name == "setenv" or w[1:2] == ["set"]):
            args = w[1:] if name == "setenv" else w[2:]
            if not args:
                raise InputError(file, "setenv without a variable name", line=line)
            if len(args) == 1:
                self.r.env.pop(args[0], None)
            else:
                self.r.env[args[0]] = " ".join(args[1:])
        elif name == "fdt":
            self.fdt(w[1:], src)
        elif name in LOAD_COMMANDS:
            self.load(name, w[1:], src)
        elif name in BOOT_COMMANDS:
            self.boot(name, w[1:], src)
        elif name in NO_OPS:
            if name == "fpga":
                self.r.notes.append(f"{src}: {' '.join(w)!r} programs the FPGA; the tree is not affected")
        else:
            raise InputError(file, f"{name!r}: a U-Boot command outside the subset xenplan replays (fdt, "
                             "setenv, load/fatload/ext4load/tftpb, booti/bootm/bootz, echo)", line=line)

    def load(self, name: str, args: list[str], src: Source) -> None:
        file, line = src.file, src.line or 0
        pos = args if name.startswith("tftp") else args[2:]
        if len(pos) < 2:
            raise InputError(file, f"{name} {' '.join(args)}: xenplan needs the address and the file name",
                             line=line)
        addr = hex_addr(pos[0], file, line)
        fname = pos[1].split(":", 1)[1] if name.startswith("tftp") and ":" in pos[1] else pos[1]
        ld = self.resolve(fname, src)
        ld.addr = addr
        if len(pos) > 2 and ld.size is not None:
            ld.size = min(ld.size, hex_addr(pos[2], file, line))
        self.r.loads.append(ld)
        self.r.env["fileaddr"] = f"{addr:x}"
        if ld.size is not None:
            self.r.env["filesize"] = f"{ld.size:x}"

    def _tree(self, src: Source) -> Tree:
        if self.r.tree is None:
            raise InputError(src.file, "an fdt command before 'fdt addr': no working tree", line=src.line)
        return self.r.tree

    def fdt(self, args: list[str], src: Source) -> None:
        file, line = src.file, src.line or 0
        sub = args[0] if args else ""
        if sub == "addr":
            rest = [a for a in args[1:] if a != "-c"]
            if not rest:
                raise InputError(file, "fdt addr without an address", line=line)
            addr = hex_addr(rest[0], file, line)
            tree = self.load_tree(self.r.loaded_at(addr), src)
            self.r.tree, self.r.fdt_addr = tree, addr
            self.strings = dtc_strings(tree)
        elif sub == "resize":
            self._tree(src)
        elif sub in ("mknod", "mknode"):
            if len(args) != 3:
                raise InputError(file, f"fdt {sub} takes a path and a name", line=line)
            parent = self._find(args[1], src)
            if parent is None:
                self.r.notes.append(f"{src}: fdt {sub} {args[1]}: no such node; U-Boot fails the command")
            elif parent.child(args[2]) is not None:
                self.r.notes.append(f"{src}: fdt {sub}: {args[1]}/{args[2]} exists; U-Boot fails the command "
                                    "and later lines edit the existing node")
            else:
                parent.children.insert(0, Node(args[2], source=src, parent=parent))
        elif sub == "set":
            if len(args) < 3:
                raise InputError(file, "fdt set takes a path, a property name and an optional value", line=line)
            node = self._find(args[1], src)
            if node is None:
                self.r.notes.append(f"{src}: fdt set {args[1]} {args[2]}: no such node; U-Boot fails the command")
                return
            value = parse_prop(args[3:], file, line)
            prop = node.properties.get(args[2])
            if prop is not None:
                prop.value, prop.source = value, src
            else:
                self.strings.add(args[2])
                node.properties = {args[2]: Property(args[2], value, src), **node.properties}
        elif sub == "rm":
            if len(args) < 2:
                raise InputError(file, "fdt rm takes a path and an optional property", line=line)
            node = self._find(args[1], src)
            if node is None:
                self.r.notes.append(f"{src}: fdt rm {args[1]}: no such node; U-Boot fails the command")
            elif len(args) > 2:
                node.properties.pop(args[2], None)
            elif node.parent is not None:
                node.parent.children.remove(node)
        elif sub == "apply":
            self._apply(args, src)
        elif sub in ("print", "list", "header", "chosen"):
            if sub == "chosen":
                self._chosen(src)
        else:
            raise InputError(file, f"fdt {sub}: outside the fdt commands xenplan replays (addr, resize, set, "
                             "mknod, rm, apply)", line=line)

    def _apply(self, args: list[str], src: Source) -> None:
        from xenplan.dt.overlay import apply_with_strings

        file, line = src.file, src.line or 0
        if len(args) < 2:
            raise InputError(file, "fdt apply takes an address", line=line)
        tree = self._tree(src)
        ld = self.r.loaded_at(hex_addr(args[1], file, line))
        overlay = self.load_tree(ld, src) if ld is not None and ld.path is not None else None
        if overlay is None:
            raise InputError(file, f"fdt apply {args[1]}: no overlay file was loaded there", line=line)
        addr, notes, files = self.r.fdt_addr, tree.notes, tree.files
        self.r.tree, self.strings = apply_with_strings(tree, overlay, self.strings)
        self.r.tree.notes, self.r.tree.files, self.r.fdt_addr = notes, files, addr

    def _find(self, path: str, src: Source) -> Node | None:
        tree = self._tree(src)
        if not path.startswith("/"):
            aliases = tree.find("/aliases")
            prop = aliases.prop(path.split("/", 1)[0]) if aliases is not None else None
            if prop is None:
                return None
            path = prop.string() + ("/" + path.split("/", 1)[1] if "/" in path else "")
        return descend(tree.root, path)

    def _chosen(self, src: Source, initrd: tuple[int, int] | None = None) -> None:
        tree = self._tree(src)
        chosen = tree.find("/chosen")
        if chosen is None:
            chosen = Node("chosen", source=src, parent=tree.root)
            tree.root.children.insert(0, chosen)
        props: list[tuple[str, bytes]] = []
        if initrd is not None:
            cells = 2 if any(p.u32() == 2 for p in [tree.root.prop("#address-cells")] if p) else 1
            props += [("linux,initrd-start", initrd[0].to_bytes(4 * cells, "big")),
                      ("linux,initrd-end", (initrd[0] + initrd[1]).to_bytes(4 * cells, "big"))]
        if "bootargs" in self.r.env:
            props.append(("bootargs", self.r.env["bootargs"].encode("latin-1", "replace") + b"\0"))
        for name, value in props:
            if name in chosen.properties:
                chosen.properties[name].value, chosen.properties[name].source = value, src
            else:
                self.strings.add(name)
                chosen.properties = {name: Property(name, value, src), **chosen.properties}

    def boot(self, name: str, args: list[str], src: Source) -> None:
        file, line = src.file, src.line or 0
        if not args:
            raise InputError(file, f"{name} without a kernel address", line=line)
        if len(args) < 3:
            raise InputError(file, f"{name}: xenplan needs the DTB address as the third argument", line=line)
        kernel = hex_addr(args[0], file, line)
        initrd = None if args[1] == "-" else hex_addr(args[1].split(":", 1)[0], file, line)
        fdt = hex_addr(args[2], file, line)
        if fdt != self.r.fdt_addr:
            self.r.tree = self.load_tree(self.r.loaded_at(fdt), src)
            self.r.fdt_addr = fdt
            self.strings = dtc_strings(self.r.tree)
        rd = None
        if initrd is not None:
            ld = self.r.loaded_at(initrd)
            rd = (initrd, ld.size or 0) if ld is not None else (initrd, 0)
        self._chosen(src, rd)
        if self.r.env.get("fdt_high", "").lower() not in ("0xffffffffffffffff", "ffffffffffffffff",
                                                          "0xffffffff", "ffffffff"):
            self.r.notes.append(f"{src}: fdt_high is not all ones, so U-Boot moves the DTB before {name}; "
                                f"xenplan keeps it at {fdt:#x}")
        tree = self._tree(src)
        size = packed_size(tree, self.strings) + FDT_SHRINK_RESERVE
        self.r.dtb_size = (size + 0xFFF) & ~0xFFF
        tree.dtb_size = self.r.dtb_size
        self.r.boot = BootCall(name, kernel, initrd, fdt, src)
        self.stopped = True


def read_script_bytes(data: bytes, file: str) -> str:
    """The text of a ``boot.source`` or of a ``boot.scr`` (a legacy ``mkimage -T script`` image).

    The legacy header is 64 bytes with magic ``0x27051956``, its data size at
    offset 12 and its type (6: script) at offset 30; a script's data starts
    with a zero-terminated table of 32-bit big-endian lengths, the first of
    which is the script's, as U-Boot's ``source`` command reads it.
    """
    if data[:4] != bytes.fromhex("27051956"):
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError(file, "neither a U-Boot script image (magic 0x27051956) nor text") from None
    if len(data) < 64:
        raise InputError(file, f"a U-Boot image header is 64 bytes; the file has {len(data)}", offset=0)
    size = int.from_bytes(data[12:16], "big")
    if data[30] != 6:
        raise InputError(file, f"a U-Boot image of type {data[30]}, not a script (6)", offset=30)
    body = data[64 : 64 + size]
    lengths: list[int] = []
    off = 0
    while off + 4 <= len(body):
        v = int.from_bytes(body[off : off + 4], "big")
        off += 4
        if v == 0:
            break
        lengths.append(v)
    else:
        raise InputError(file, "the script image's length table has no terminating zero", offset=64 + off)
    if not lengths or off + lengths[0] > len(body):
        raise InputError(file, "the script image is shorter than its length table says", offset=64)
    return body[off : off + lengths[0]].decode("utf-8", "replace")
