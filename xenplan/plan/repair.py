"""Repair: move or resize only what a placement or size mistake needs, keeping every domain's intent.

The input is analysed as ``check`` analyses it. Each finding of a placement
or size rule names the thing at fault (a module, one static bank, a shared
region, a ``memory`` value); that thing alone is changed, into free host RAM
(``xenplan.plan.space.FreeSpace``) found by subtracting everything Xen or
the tree already occupies. The tree is analysed again after every round
until no such finding remains or nothing more can be changed. The kind of
every domain, its memory (except where ``memory`` disagrees with its banks),
and the banks that are not at fault stay as written.

What a repair never does: fix a typo or an unknown property (a misspelled
``compatible``, cells written for another ``#address-cells``). Those
findings are listed as left for the user, with the reason.

The change is then written where each property is written: DTS text is
edited in place, cell by cell (``xenplan.plan.dtsedit``), in the file and
at the line ``dtc`` reported for it, an included ``.dtsi`` too; a DTB is
patched in place (values never change length). Before anything is written
the edited text is compiled again and must give the repaired tree exactly.
"""

from __future__ import annotations

import difflib
import os
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from xenplan import boot, checks, dt, model
from xenplan.analysis import Analysis, analyse
from xenplan.checks.finding import Finding
from xenplan.dt.tree import Node, Tree
from xenplan.files import read_input
from xenplan.model.base import PAGE_SIZE, Range
from xenplan.model.cells import cells_of, decode_pairs, parent_cells
from xenplan.model.layout import GUEST_GNTTAB, GUEST_MAGIC
from xenplan.model.system import System
from xenplan.model.target import Target
from xenplan.plan.dtsedit import EditError, edit_cells
from xenplan.plan.space import FreeSpace

MB2 = 2 << 20
GB1 = 1 << 30
MAX_ROUNDS = 8
"""Repair rounds at most; each round changes at least one thing or the repair stops."""

RULE_TOPIC = {
    "RSV-010": "overlap", "RSV-011": "outside-ram", "RSV-012": "overlap", "RSV-013": "overlap",
    "MOD-004": "overlap", "MOD-008": "outside-ram", "DOM-020": "kernel", "DOM-002": "kernel",
    "SHM-009": "overlap", "PAGE-002": "overlap", "PAGE-005": "overlap", "DMAP-007": "window",
    "SMEM-013": "memory", "PAGE-003": "memory", "DMAP-004": "memory", "ALLOC-007": "page-multiple",
}
"""The rules whose findings are placement or size mistakes, and what kind of mistake."""
SCAN_STOPS = ("SHM-015", "DT-009")
"""Warnings that stop Xen's early scan for a reason no move removes; listed as left, with the reason."""
CELL_RULES = ("DT-002", "DT-004", "DT-005")
"""Findings that say a value is decoded with other cells than it was written for: a typo, never moved."""

Kind = Literal["bank", "module", "shm", "memory"]


class RepairError(Exception):
    """The repaired tree could not be written back as the user's source (an edit xenplan cannot make)."""


class VerifyError(Exception):
    """The edited source does not compile to the repaired tree: xenplan's bug, never the user's."""


@dataclass(frozen=True)
class Change:
    """One property changed: where it is written, its old and new value, why, and the rule."""

    file: str
    line: int | None
    node: str
    property: str
    old: str
    new: str
    why: str
    rule: str


@dataclass
class Repair:
    """What a repair did: the changes, what it left, the analyses before and after, and the new files."""

    input: str
    before: Analysis
    after: Analysis
    changes: list[Change]
    remaining: list[str]
    files: dict[str, bytes] = field(default_factory=dict)
    """Every changed file's new content, by the name its source positions use."""
    originals: dict[str, bytes] = field(default_factory=dict)
    dtb: bool = False

    @property
    def ok(self) -> bool:
        """The repaired tree boots with no error finding."""
        return not any(f.severity == "error" for f in self.after.findings)

    def diff(self) -> str:
        """A unified diff per changed file (empty for a DTB, whose changes are listed instead)."""
        if self.dtb:
            return ""
        out: list[str] = []
        for name in self.files:
            old = self.originals[name].decode("latin-1").splitlines(keepends=True)
            new = self.files[name].decode("latin-1").splitlines(keepends=True)
            out.extend(difflib.unified_diff(old, new, fromfile=f"a/{name}", tofile=f"b/{name}"))
        return "".join(out)


@dataclass(frozen=True)
class _Edit:
    node: str
    prop: str
    cells: tuple[int, ...]
    why: str
    rule: str


@dataclass
class _Session:
    """The loaded tree and everything ``analyse`` needs to run it again after an edit."""

    path: str
    tree: Tree
    target: Target
    partials: dict[str, Tree]

    def analyse(self) -> Analysis:
        """``xenplan.analysis.analyse`` on the tree as edited so far (no second load or compile)."""
        system = model.build(self.tree, self.target, self.partials, self.tree.board)
        result = boot.simulate(system)
        return Analysis(input=self.path, system=system, result=result, findings=checks.run(system, result),
                        notes=[*self.tree.notes, *result.notes],
                        files=[*self.tree.files, *(f for p in self.partials.values() for f in p.files)])


def repair(path: str, target: Target, include_dirs: Sequence[str] = (), board: str | None = None,
           partial_dtbs: dict[str, str] | None = None) -> Repair:
    """Repair the placement and size mistakes of ``path``; nothing is written here.

    The first analysis is ``check``'s own (``xenplan.analysis.analyse``, which
    also refuses a ``--partial-dtb`` or ``--kernel-image`` naming no node);
    the rounds after it edit the loaded tree and run model, boot and checks
    again on it. Raises ``RepairError`` when a needed change cannot be made
    in the text as written (the caller reports it; no file is touched).
    """
    before = after = analyse(path, target, (), include_dirs, board, partial_dtbs)
    tree = dt.load(path, include_dirs=include_dirs, board=board)
    partials = {node: dt.load(file, include_dirs=include_dirs) for node, file in (partial_dtbs or {}).items()}
    session = _Session(path, tree, target, partials)
    original = {(n.path, name): p.value for n in tree.walk() for name, p in n.properties.items()}
    edits: list[_Edit] = []
    blocked: dict[str, str] = {}
    moved: set[tuple[str, str, int]] = set()
    for _ in range(MAX_ROUNDS):
        round_edits = _plan_round(after, tree, blocked, moved)
        if not round_edits:
            break
        for e in round_edits:
            _prop_of(tree, e.node, e.prop).value = _encode(e.cells)
        edits.extend(round_edits)
        after = session.analyse()
    changes, files, originals, is_dtb = _write_back(path, tree, original, edits, include_dirs, board)
    remaining = _remaining(after, blocked)
    return Repair(input=path, before=before, after=after, changes=changes, remaining=remaining, files=files,
                  originals=originals, dtb=is_dtb)


# ---------------------------------------------------------------------------------------------------------------
# What is where


@dataclass(frozen=True)
class _Item:
    """A movable thing: a module, one static bank, or a shared region (every node naming its id)."""

    kind: Kind
    path: str
    prop: str
    index: int
    range: Range
    direct: bool = False
    shm_id: str | None = None
    limit: int = 1 << 64
    """The end of what the property's address cells can say (4 GiB with one cell)."""


def _items(system: System) -> list[_Item]:
    out: list[_Item] = []
    direct = {d.path for d in system.domains if d.direct_map and system.target.release.direct_map}
    bank_cells = {si.path: si.cells for si in system.scan if si.kind == "static-mem"}
    for d in system.domains:
        limit = _limit(bank_cells.get(d.path, (2, 2))[0])
        out.extend(_Item("bank", d.path, "xen,static-mem", i, b, d.path in direct, limit=limit)
                   for i, b in enumerate(d.static_mem) if b.size)
    modules = [*system.modules, *(m for d in system.domains for m in d.modules)]
    seen: set[str] = set()
    for m in modules:
        if m.range is not None and m.range.size and m.path not in seen:
            seen.add(m.path)
            out.append(_Item("module", m.path, "reg", 0, m.range))
    for sh in system.shm:
        r = sh.host_range
        if r is not None and r.size and not sh.short_form:
            out.append(_Item("shm", sh.path, "xen,shared-mem", 0, r, sh.parent in direct, sh.shm_id,
                             limit=_limit(sh.address_cells)))
    return out


def _limit(address_cells: int) -> int:
    return 1 << 32 if address_cells == 1 else 1 << 64


_FREE_KINDS = frozenset({"heap", "domain", "ram"})
"""Host-map kinds the repair may reuse: Xen's heap and what it hands out (dynamic domains)."""


def _occupied(a: Analysis, skip: _Item) -> list[Range]:
    """Everything in host memory that the item ``skip`` must not overlap, itself excluded."""
    s, t = a.system, a.system.target
    out: list[Range] = [*s.board.memreserve, *(r for rr in s.board.reserved for r in rr.ranges), *s.xen.static_heap]
    if t.xen_image is not None:
        out.append(t.xen_image)
    if t.fdt_address is not None:
        out.append(Range(t.fdt_address, max(t.fdt_size or s.dtb_size or PAGE_SIZE, 1)))
    out.extend(Range(r.start, r.size) for r in a.result.host_map
               if r.kind not in _FREE_KINDS and r.owner not in (skip.path, *_shm_owners(s, skip)))
    for it in _items(s):
        if _same(it, skip) or (skip.kind == "shm" and it.kind == "shm" and it.shm_id == skip.shm_id):
            continue
        out.append(it.range)
    for d in s.domains:
        if d.partial_dtb is not None:
            out.extend(Range(h, size) for dev in d.partial_dtb.devices for h, _g, size in dev.regs)
    return [r for r in out if r.size > 0]


def _shm_owners(s: System, skip: _Item) -> tuple[str, ...]:
    return tuple(sh.parent for sh in s.shm if skip.kind == "shm" and sh.shm_id == skip.shm_id)


def _same(a: _Item, b: _Item) -> bool:
    return a.kind == b.kind and a.path == b.path and a.index == b.index


def _free(a: Analysis, skip: _Item) -> FreeSpace:
    space = FreeSpace.of((r.start, r.end) for r in a.system.board.ram)
    for r in _occupied(a, skip):
        space.remove(r.start, r.end)
    if skip.direct or (skip.kind == "shm" and _shm_direct(a.system, skip)):
        for w in (GUEST_GNTTAB, GUEST_MAGIC):
            space.remove(w.start, w.end)
    return space


def _shm_direct(s: System, item: _Item) -> bool:
    direct = {d.path for d in s.domains if d.direct_map and s.target.release.direct_map}
    return any(sh.parent in direct for sh in s.shm if sh.shm_id == item.shm_id)


def _alignments(size: int, top: int) -> list[int]:
    """Natural alignment of ``size`` (capped at ``top``), then 2 MiB and 4 KiB: superpages first."""
    natural = min(1 << (size.bit_length() - 1), top)
    out = [natural]
    out += [a for a in (MB2, PAGE_SIZE) if a < natural]
    return out


def _nearest(space: FreeSpace, size: int, align: int, at: int) -> int | None:
    """The ``align``-aligned free start of ``size`` bytes nearest ``at`` (the lower on a tie)."""
    up = space.find(size, align, lo=at)
    down = space.find(size, align, hi=at + size, prefer="high")
    cands = [c for c in (down, up) if c is not None]
    return min(cands, key=lambda c: (abs(c - at), c)) if cands else None


def _conflicts(a: Analysis, item: _Item) -> bool:
    """Whether ``item`` lies outside RAM, over anything else, or (1:1) over a fixed guest window."""
    if not any(r.contains(item.range) for r in a.system.board.ram):
        return True
    if any(r.overlaps(item.range) for r in _occupied(a, item)):
        return True
    windowed = item.direct or (item.kind == "shm" and _shm_direct(a.system, item))
    return windowed and any(item.range.overlaps(w) for w in (GUEST_GNTTAB, GUEST_MAGIC))


def _place(a: Analysis, item: _Item) -> tuple[int, str] | None:
    """Where ``item`` goes, and how the place was chosen."""
    space = _free(a, item)
    space.remove(item.limit, 1 << 64)
    size = item.range.size
    if item.kind == "module":
        others = [it.range.start for it in _items(a.system) if it.kind == "module" and not _same(it, item)]
        lo = min(others) if others else 0
        for align in (MB2, PAGE_SIZE):
            got = space.find(size, align, lo=lo)
            if got is not None:
                return got, (f"the first free {_size(align)} step from the other boot modules ({lo:#x})"
                             if others else f"the first free {_size(align)} step in RAM")
            got = space.find(size, align)
            if got is not None:
                return got, f"the first free {_size(align)} step in RAM"
        return None
    for align in _alignments(size, GB1):
        got = _nearest(space, size, align, item.range.start)
        if got is not None:
            return got, f"the free {_size(align)}-aligned range nearest {item.range.start:#x}"
    return None


def _size(n: int) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift and n % (1 << shift) == 0:
            return f"{n >> shift} {unit}"
    return f"{n:#x} bytes"


# ---------------------------------------------------------------------------------------------------------------
# One round: findings -> edits


def _plan_round(a: Analysis, tree: Tree, blocked: dict[str, str],
                moved: set[tuple[str, str, int]]) -> list[_Edit]:
    """The edits of one round: every placement or size finding's culprit, moved or resized once.

    A domain whose banks are a cells typo is never changed, and its banks
    count where the user meant them (decoded with the domain's own cells),
    so nothing else is moved into or out of them on the typo's account.
    """
    for f in a.findings:
        if f.rule in CELL_RULES and f.path is not None:
            blocked.setdefault(f.path, f"{f.rule}: {f.message} (the cells are a typo, not a placement)")
    intended: dict[str, tuple[Range, ...]] = {}
    for d in a.system.domains:
        typo = _cells_typo(a.system, tree, d.path)
        if typo is not None:
            blocked.setdefault(d.path, typo[0])
            intended[d.path] = typo[1]
    if intended:
        doms = tuple(replace(d, static_mem=intended[d.path]) if d.path in intended else d
                     for d in a.system.domains)
        a = Analysis(a.input, replace(a.system, domains=doms), a.result, a.findings, a.notes, a.files)
    edits: list[_Edit] = []
    done: set[tuple[str, str]] = set()
    for f in sorted(a.findings, key=lambda f: RULE_TOPIC.get(f.rule) == "kernel"):
        topic = RULE_TOPIC.get(f.rule)
        if topic is None or f.severity == "info" or f.path in blocked:
            continue
        if topic in ("memory", "page-multiple"):
            e = _memory_edit(a.system, tree, f, topic)
            if e is not None and (e.node, e.prop) not in done:
                done.add((e.node, e.prop))
                edits.append(e)
            continue
        for item in _culprits(a, f, _items(a.system), topic):
            key = (item.kind, item.path, item.index)
            if key in moved or (item.path, item.prop) in done or item.path in blocked or not _conflicts(a, item):
                continue
            placed = _place(a, item)
            if placed is None:
                continue
            moved.add(key)
            new_edits = _move_edits(a.system, tree, item, placed[0], _why(f, item, placed), f.rule)
            done.update((e.node, e.prop) for e in new_edits)
            edits.extend(new_edits)
            a = _with_items_moved(a, item, placed[0])
    return edits


def _with_items_moved(a: Analysis, item: _Item, start: int) -> Analysis:
    """The same analysis, for the rest of a round: the later placements see this one's new place."""
    s = a.system
    if item.kind == "bank":
        doms = tuple(replace(d, static_mem=tuple(
            Range(start, b.size) if d.path == item.path and i == item.index else b
            for i, b in enumerate(d.static_mem))) for d in s.domains)
        return Analysis(a.input, replace(s, domains=doms), a.result, a.findings, a.notes, a.files)
    if item.kind == "module":
        mods = tuple(replace(m, range=Range(start, m.range.size))
                     if m.path == item.path and m.range is not None else m for m in s.modules)
        doms = tuple(replace(d, modules=tuple(
            replace(m, range=Range(start, m.range.size)) if m.path == item.path and m.range else m
            for m in d.modules)) for d in s.domains)
        return Analysis(a.input, replace(s, modules=mods, domains=doms), a.result, a.findings,
                        a.notes, a.files)
    shm = tuple(replace(sh, host=start) if sh.shm_id == item.shm_id and not sh.short_form else sh
                for sh in s.shm)
    return Analysis(a.input, replace(s, shm=shm), a.result, a.findings, a.notes, a.files)


def _culprits(a: Analysis, f: Finding, items: list[_Item], topic: str) -> list[_Item]:
    """The movable thing a finding is about: the node it names, else a movable party it names."""
    if topic == "kernel":
        return _kernel_culprits(a, f, items)
    mine = [it for it in items if it.path == f.path]
    if not mine and f.path is not None and f.ranges:
        mine = [it for it in items if it.path.startswith(f"{f.path}/")]
    if f.ranges:
        exact = [it for it in mine if any(it.range.overlaps(r) for r in f.ranges)]
        mine = exact or mine
    if topic == "window":
        mine = [it for it in mine if it.range.overlaps(GUEST_GNTTAB) or it.range.overlaps(GUEST_MAGIC)]
    if mine:
        return mine[:1]
    for rel in f.related:
        theirs = [it for it in items if it.path == rel.path and any(it.range.overlaps(r) for r in rel.ranges)]
        if theirs:
            return theirs[:1]
    return []


def _kernel_culprits(a: Analysis, f: Finding, items: list[_Item]) -> list[_Item]:
    """A missing kernel is a placement mistake only when its module was dropped or lies over Xen's image."""
    dropped = {d.path for d in a.result.dropped_modules}
    xen = a.system.target.xen_image
    out: list[_Item] = []
    for it in items:
        if it.kind != "module":
            continue
        under = f.path is None or f.path == "/chosen" or it.path.startswith(f"{f.path}/")
        over_xen = xen is not None and it.range.overlaps(xen)
        if under and (it.path in dropped or over_xen):
            out.append(it)
    return out


def _why(f: Finding, item: _Item, placed: tuple[int, str]) -> str:
    """The finding, where the thing went and how the place was chosen; for a 1:1 bank, that the guest sees
    its RAM at the new address too (a guest linked for the old one must follow)."""
    what = {"bank": "the bank", "module": "the module", "shm": f"shared region {item.shm_id!r}",
            "memory": "memory"}[item.kind]
    why = f"{f.message.rstrip('.')}; {what} moved to {placed[0]:#x}, {placed[1]}"
    if item.kind == "bank" and item.direct:
        why += "; the domain is 1:1, so its guest RAM moves too: a guest built for the old address must follow"
    return why


def _cells_typo(s: System, tree: Tree, path: str) -> tuple[str, tuple[Range, ...]] | None:
    """Why a domain's banks are a cells typo, not a placement: decoded with the domain's own cells
    they add up to its ``memory``, decoded as Xen does they do not (DT-002)."""
    dom = s.domain(path)
    node = tree.find(path)
    scan = next((si for si in s.scan if si.kind == "static-mem" and si.path == path), None)
    if dom is None or node is None or scan is None or dom.memory_kib is None:
        return None
    own = cells_of(node, scan.cells)
    prop = node.prop("xen,static-mem")
    if own == scan.cells or prop is None:
        return None
    pairs, err = decode_pairs(prop, *own)
    want = dom.memory_kib << 10
    if err or sum(p.size for p in pairs) != want or sum(b.size for b in dom.static_mem) == want:
        return None
    return (f"xen,static-mem is decoded with {scan.cells[0]}/{scan.cells[1]} cells; written for the domain "
            f"node's {own[0]}/{own[1]} it gives {', '.join(str(p) for p in pairs)}, which matches memory: the cells "
            "are a typo, not a placement (DT-002)", tuple(pairs))


def _memory_edit(s: System, tree: Tree, f: Finding, topic: str) -> _Edit | None:
    dom = s.domain(f.path or "")
    if dom is None or dom.memory_kib is None:
        return None
    node = tree.find(dom.path)
    prop = node.prop("memory") if node is not None else None
    if prop is None or len(prop.value) != 8:
        return None
    if topic == "memory":
        banks = sum(b.size for b in dom.static_mem)
        if not dom.static_mem_present or banks == 0 or banks % 1024:
            return None
        kib = banks >> 10
        why = (f"memory = {dom.memory_kib} KiB but the static banks hold {kib} KiB; the banks are the intent "
               f"of a static domain (they say where its RAM is), so memory follows them")
    else:
        kib = max(4, (dom.memory_kib + 2) // 4 * 4)
        why = (f"memory = {dom.memory_kib} KiB is not a whole number of 4 KiB pages; rounded to the nearest "
               f"multiple of 4 KiB ({kib} KiB)")
    if kib == dom.memory_kib:
        return None
    return _Edit(dom.path, "memory", (kib >> 32, kib & 0xFFFFFFFF), why, f.rule)


def _move_edits(s: System, tree: Tree, item: _Item, start: int, why: str, rule: str) -> list[_Edit]:
    """The property edits that put ``item`` at ``start`` (every node of a shared region)."""
    if item.kind == "bank":
        scan = next(si for si in s.scan if si.kind == "static-mem" and si.path == item.path)
        ac, sc = scan.cells
        return [_Edit(item.path, item.prop, _set_pair(_cells(tree, item.path, item.prop), ac, sc, item.index, start),
                      why, rule)]
    if item.kind == "module":
        node = _node(tree, item.path)
        ac, sc = cells_of(node.parent, parent_cells(node.parent)) if node.parent else (2, 1)
        return [_Edit(item.path, "reg", _set_pair(_cells(tree, item.path, "reg"), ac, sc, 0, start), why, rule)]
    direct = {d.path for d in s.domains if d.direct_map and s.target.release.direct_map}
    out = []
    for sh in s.shm:
        if sh.shm_id != item.shm_id or sh.short_form:
            continue
        ac = sh.address_cells
        cells = list(_cells(tree, sh.path, "xen,shared-mem"))
        cells[:ac] = _number(start, ac)
        if sh.parent in direct:
            cells[ac:2 * ac] = _number(start, ac)
        out.append(_Edit(sh.path, "xen,shared-mem", tuple(cells), why, rule))
    return out


def _set_pair(cells: tuple[int, ...], ac: int, sc: int, index: int, start: int) -> tuple[int, ...]:
    """``cells`` with the address of pair ``index`` set to ``start`` (sizes untouched)."""
    out = list(cells)
    at = index * (ac + sc)
    out[at:at + ac] = _number(start, ac)
    return tuple(out)


def _number(value: int, count: int) -> list[int]:
    if count == 1:
        if value >> 32:
            raise RepairError(f"{value:#x} does not fit in one cell")
        return [value]
    return [0] * (count - 2) + [value >> 32, value & 0xFFFFFFFF]


def _node(tree: Tree, path: str) -> Node:
    node = tree.find(path)
    if node is None:
        raise RepairError(f"{path}: no such node in the loaded tree")
    return node


def _prop_of(tree: Tree, path: str, name: str) -> dt.tree.Property:
    prop = _node(tree, path).prop(name)
    if prop is None:
        raise RepairError(f"{path}: no property {name}")
    return prop


def _cells(tree: Tree, path: str, name: str) -> tuple[int, ...]:
    return tuple(_prop_of(tree, path, name).u32s())


def _encode(cells: Iterable[int]) -> bytes:
    return b"".join(c.to_bytes(4, "big") for c in cells)


def _remaining(a: Analysis, blocked: dict[str, str]) -> list[str]:
    """One line per error left (and per placement warning), with why the repair left it."""
    dropped = [d.path for d in a.result.dropped_modules]
    out: list[str] = []
    for f in a.findings:
        if f.severity != "error" and not (f.severity == "warning" and (f.rule in RULE_TOPIC or
                                                                       f.rule in SCAN_STOPS)):
            continue
        where = f.path or "-"
        lost = [p for p in dropped if f.path in (None, "/chosen") or p.startswith(f"{f.path}/")]
        if f.path in blocked:
            reason = blocked[f.path]
        elif f.rule in ("DOM-020", "DOM-002") and lost:
            reason = (f"{', '.join(lost)} was dropped for what lies before it (a stopped scan, a full module table), "
                      "not for where it is: see the other findings")
        elif f.rule in ("DOM-020", "DOM-002"):
            reason = "no kernel module was dropped or misplaced: the node is not recognised (a typo?)"
        elif f.rule in SCAN_STOPS:
            reason = "the order of the nodes Xen scans, not an address: left for the user"
        elif f.rule not in RULE_TOPIC:
            reason = "not a placement or size mistake (a typo, a missing or unknown property): left for the user"
        else:
            reason = _why_not(a, f, RULE_TOPIC[f.rule])
        out.append(f"{f.rule} {where}: {f.message} -- {reason}")
    return out


def _why_not(a: Analysis, f: Finding, topic: str) -> str:
    """Why a placement or size finding is still there: no room (with the largest free run), or it follows
    from another finding."""
    if topic in ("memory", "page-multiple"):
        return "memory cannot follow the banks (not a whole number of KiB, or no static banks)"
    culprits = _culprits(a, f, _items(a.system), topic)
    for item in culprits:
        if _conflicts(a, item):
            space = _free(a, item)
            space.remove(item.limit, 1 << 64)
            big = space.largest(PAGE_SIZE)
            free = f"the largest is {_size(big[1])} at {big[0]:#x}" if big else "there is none"
            return f"no free host range of {_size(item.range.size)} for it: {free}"
    if not culprits:
        return ("it names nothing the repair moves (Xen's image and the DTB are where the boot loader puts them, "
                "and the static heap, RAM and reservations are the board's): left for the user")
    return "follows from the findings above: nothing it names lies in the wrong place"


# ---------------------------------------------------------------------------------------------------------------
# Writing the change back


_Written = tuple[list["Change"], dict[str, bytes], dict[str, bytes], bool]


def _write_back(path: str, tree: Tree, original: dict[tuple[str, str], bytes], edits: list[_Edit],
                include_dirs: Sequence[str], board: str | None) -> _Written:
    """The changes (one per property, first old value to last new value) and every changed file."""
    final: dict[tuple[str, str], _Edit] = {}
    first_rule: dict[tuple[str, str], tuple[str, str]] = {}
    for e in edits:
        key = (e.node, e.prop)
        first_rule.setdefault(key, (e.why, e.rule))
        final[key] = e
    data = read_input(path)
    is_dtb = data[:4] == (0xD00DFEED).to_bytes(4, "big")
    own = set(_input_files(tree, path, board))
    changes: list[Change] = []
    files: dict[str, bytes] = {}
    originals: dict[str, bytes] = {}
    for (node, prop), e in final.items():
        old = original[(node, prop)]
        new = _encode(e.cells)
        if old == new:
            continue
        p = _prop_of(tree, node, prop)
        src = p.source
        file = src.file if src is not None else path
        if file not in own:
            raise RepairError(f"{node}: {prop} is written in {file}, which the repair does not edit "
                              "(a --board file)")
        why, rule = first_rule[(node, prop)]
        changes.append(Change(file=file, line=src.line if src else None, node=node, property=prop,
                              old=_cells_text(old), new=_cells_text(new), why=why, rule=rule))
        if file not in files:
            originals[file] = data if is_dtb else read_input(file)
            files[file] = originals[file]
        if is_dtb:
            if src is None or src.offset is None:
                raise RepairError(f"{node}: {prop} has no offset in {file}")
            at = src.offset + 12
            blob = files[file]
            if blob[at:at + len(old)] != old:
                raise RepairError(f"{node}: {prop} is not at offset {src.offset:#x} of {file}")
            files[file] = blob[:at] + new + blob[at + len(new):]
        else:
            if src is None or src.line is None:
                raise RepairError(f"{node}: {prop} has no source line")
            try:
                text = edit_cells(files[file].decode("latin-1"), src.line, prop, _u32s(old), _u32s(new))
            except EditError as exc:
                raise RepairError(f"{file}:{src.line}: {exc}") from exc
            files[file] = text.encode("latin-1")
    changes.sort(key=lambda c: (c.file, c.line or 0, c.node))
    if files:
        _verify(path, tree, files, is_dtb, include_dirs, board)
    return changes, files, originals, is_dtb


def _input_files(tree: Tree, path: str, board: str | None) -> list[str]:
    """The files of the input itself (and its includes), not of ``--board``."""
    theirs = set(tree.board.files) if tree.board is not None else set()
    return [f for f in tree.files if f not in theirs or f == path]


def _u32s(value: bytes) -> list[int]:
    return [int.from_bytes(value[i:i + 4], "big") for i in range(0, len(value) - 3, 4)]


def _cells_text(value: bytes) -> str:
    return "<" + " ".join(f"{c:#x}" for c in _u32s(value)) + ">"


def _verify(path: str, tree: Tree, files: dict[str, bytes], is_dtb: bool, include_dirs: Sequence[str],
            board: str | None) -> None:
    """Compile the written files again and compare with the repaired tree, value for value."""
    with tempfile.TemporaryDirectory(prefix="xenplan-repair-") as tmp:
        def mirror(p: str) -> str:
            return os.path.join(tmp, os.path.abspath(p).lstrip(os.sep))

        for f in dict.fromkeys([*tree.files, *files]):
            if f == "-" or not os.path.isfile(f):
                continue
            os.makedirs(os.path.dirname(mirror(f)), exist_ok=True)
            if f in files:
                with open(mirror(f), "wb") as fh:
                    fh.write(files[f])
            else:
                shutil.copyfile(f, mirror(f))
        dirs = [*(mirror(d) for d in include_dirs), *include_dirs]
        again = dt.load(mirror(path), include_dirs=dirs, board=None if board is None else
                        (mirror(board) if os.path.isfile(mirror(board)) else board))
    want = {(n.path, k): p.value for n in tree.walk() for k, p in n.properties.items()}
    got = {(n.path, k): p.value for n in again.walk() for k, p in n.properties.items()}
    if want != got:
        diff = sorted(k for k in set(want) | set(got) if want.get(k) != got.get(k))
        node, prop = diff[0]
        raise VerifyError(f"the edited source does not compile to the repaired tree ({node}: {prop} differs)")



def write(rep: Repair, output: str | None, in_place: bool, inputs: Sequence[str]) -> list[str]:
    """Write the repaired files: ``-o`` the input alone, ``--in-place`` every changed file; the paths written.

    ``-o`` takes one file, so a change in an included file is a ``UsageError``
    naming it (``--in-place`` rewrites both; without either, the diff shows
    the change). Nothing is written when errors remain.
    """
    from xenplan.errors import UsageError
    from xenplan.files import replace_inputs, same_file, write_output

    if not rep.ok:
        return []
    if output is not None:
        others = [f for f in rep.files if not same_file(f, rep.input)]
        if others:
            raise UsageError("--output", f"the repair also changes {others[0]}, which {rep.input} includes; "
                             "-o writes one file: use --in-place to rewrite both, or no -o to see the diff")
        data = next(iter(rep.files.values()), None) if rep.files else read_input(rep.input)
        write_output(output, data if data is not None else b"", inputs)
        return [output]
    if in_place:
        replace_inputs(dict(rep.files))
        return list(rep.files)
    return []
