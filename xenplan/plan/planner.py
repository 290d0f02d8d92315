"""``xenplan plan``: a spec and a board in, a layout the simulated Xen boots out (or why not).

The board is read with xenplan's own loaders and decoded by the model, so
the free RAM the engine sees is what Xen's early scan would record. The
layout the engine proposes becomes a ``/chosen`` fragment that is merged
onto the board and analysed exactly as ``xenplan check --board`` would: a
plan is only written when that analysis finds no error on the release.
``static-heap = "auto"`` is sized by the same analysis: the smallest heap,
in 2 MiB steps, with which the allocator replay builds every domain.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from xenplan import dt, model
from xenplan.analysis import Analysis, analyse
from xenplan.dt.tree import Node, Tree
from xenplan.errors import UsageError
from xenplan.model.target import Target
from xenplan.plan.emit import cpu_phandle_base, fragment
from xenplan.plan.engine import (
    MIB,
    MODULE_STEP,
    BoardFacts,
    Layout,
    heap_room,
    infeasibility,
    mib,
    module_list,
    place,
    table_limits,
)
from xenplan.plan.spec import Spec

HEAP_STEP = 2 * MIB
"""The static heap is searched in 2 MiB steps (a superpage of Xen's heap mappings)."""

_HEAP_RULES = ("ALLOC-", "HEAP-")
"""Rules whose error the size of the heap decides: only these make "auto" try a larger heap."""


@dataclass
class PlanOptions:
    """What the command line gives on top of the spec (it wins over the spec)."""

    board_input: str | None = None
    board: str | None = None
    include_dirs: Sequence[str] = ()
    xen_version: str | None = None
    kconfig: Sequence[str] = ()
    xen_image: str | None = None
    fdt_address: str | None = None
    pa_bits: int | None = None
    gic_spis: int = 224
    arch: str = "arm64"
    kconfig_file: str | None = None
    configured: Mapping[str, Any] = field(default_factory=dict)
    """Target settings a configuration file gives (``xenplan.config`` parameter names): below the spec."""


@dataclass
class PlanResult:
    spec: Spec
    target: Target
    tree: Tree
    layout: Layout
    fits: bool
    proof: str | None
    message: str | None
    analysis: Analysis | None
    fragment: str | None
    notes: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    board_bootargs: str | None = None
    scratch: str = ""
    """The directory the fragment was simulated in (gone once the plan is made; scrubbed from reports)."""
    board_text: str | None = None
    """The whole board with the plan merged in, as DTS (``dts`` format), when the plan is written."""
    cpu_phandles: dict[str, int] = field(default_factory=dict)
    """Phandles of the CPU nodes the cpupools take, by path (the board's, or given by the plan)."""
    new_cpu_phandles: dict[str, int] = field(default_factory=dict)
    """The CPU nodes among them the board gave no phandle, and the one the plan gives them."""

    @property
    def written(self) -> bool:
        return self.fits and self.message is None


def make_target(spec: Spec, opts: PlanOptions) -> Target:
    """The target the spec names, the command line overriding it; modules given as files are read."""
    from xenplan.targets import build_target

    conf = opts.configured
    kconfig = list(opts.kconfig or conf.get("kconfig") or ())
    if spec.xen.llc_coloring:
        kconfig.insert(0, "LLC_COLORING=y")
    if spec.cpupool:
        kconfig.insert(0, "BOOT_TIME_CPUPOOLS=y")
    for sched in sorted({p.scheduler or "" for p in spec.cpupool} | {spec.xen.scheduler or ""}):
        if sched in ("rtds", "null", "arinc653"):
            kconfig.insert(0, f"SCHED_{sched.upper()}=y")
    kernels = {d.name: d.kernel.path for d in spec.domain if d.kernel.path is not None}
    return build_target(xen_version=opts.xen_version or spec.xen.version or conf.get("xen_version") or "4.22",
                        kconfig=kconfig, xen_image=opts.xen_image or spec.xen.image or conf.get("xen_image"),
                        fdt_address=opts.fdt_address or spec.xen.fdt or conf.get("fdt_address"),
                        pa_bits=opts.pa_bits if opts.pa_bits is not None else conf.get("pa_bits"),
                        gic_spis=conf.get("gic_spis", opts.gic_spis), board=opts.board or conf.get("board"),
                        arch=conf.get("arch", opts.arch), kconfig_file=opts.kconfig_file or conf.get("kconfig_file"),
                        kernel_images=kernels)


def board_facts(tree: Tree, target: Target) -> tuple[BoardFacts, str | None]:
    """RAM and what already holds part of it (``/memreserve/``, ``/reserved-memory``, Xen, the DTB)."""
    system = model.build(tree, target)
    b = system.board
    taken: list[tuple[int, int, str]] = [(r.start, r.end, "/memreserve/") for r in b.memreserve]
    taken += [(r.start, r.end, f"reserved memory {reg.path}") for reg in b.reserved for r in reg.ranges]
    if target.xen_image is not None:
        start = target.xen_image.start // MODULE_STEP * MODULE_STEP
        taken.append((start, -(-target.xen_image.end // MODULE_STEP) * MODULE_STEP, "Xen's image"))
    if target.fdt_address is not None:
        size = max(target.fdt_size or 0, MODULE_STEP)
        start = target.fdt_address // MODULE_STEP * MODULE_STEP
        taken.append((start, -(-(target.fdt_address + size) // MODULE_STEP) * MODULE_STEP, "the DTB"))
    facts = BoardFacts(ram=tuple((r.start, r.end) for r in b.ram), taken=tuple(taken), release=target.release,
                       fdt_address=target.fdt_address, uart_size=b.uart.size if b.uart is not None else None)
    return facts, system.xen.bootargs


def load_board(opts: PlanOptions) -> tuple[Tree, str]:
    """The board tree and a path ``analyse()`` can merge a fragment onto."""
    from xenplan.targets import board_path

    if opts.board_input is None and opts.board is None:
        raise UsageError("--board", "give the board: a BOARD file (DTB or DTS) or --board NAME|FILE")
    under = board_path(opts.board)
    if opts.board_input is None:
        assert under is not None
        return dt.load(under, include_dirs=opts.include_dirs), under
    return dt.load(opts.board_input, include_dirs=opts.include_dirs, board=under), opts.board_input


def strip_chosen(tree: Tree) -> int:
    """Drop what a plan replaces from the board's ``/chosen``: its ``xen,domain`` nodes, boot modules and
    ``xen,static-heap``; the count of what was dropped."""
    chosen = tree.root.child("chosen")
    if chosen is None:
        return 0
    keep = [c for c in chosen.children
            if not (c.is_compatible("xen,domain") or c.is_compatible("multiboot,module"))]
    dropped = len(chosen.children) - len(keep)
    chosen.children = keep
    if chosen.properties.pop("xen,static-heap", None) is not None:
        dropped += 1
    return dropped


def _verify(text: str, board: str, target: Target, include_dirs: Sequence[str], workdir: str) -> Analysis:
    path = os.path.join(workdir, "plan.dts")
    with open(path, "w") as f:
        f.write(text)
    a = analyse(path, target, (), include_dirs, board)
    a.input = "plan.dts"
    return a


def _errors(a: Analysis) -> list[str]:
    return [f"{f.rule} {f.message}" for f in a.findings if f.severity == "error"]


def _heap_short(a: Analysis) -> bool:
    """Whether the analysis finds the heap short: an error, or a heap warning (HEAP-005: less than
    Xen's run-time needs left after the last domain), of a rule the heap size decides."""
    return bool(_errors(a)) or any(f.rule.startswith(_HEAP_RULES) and f.severity != "info" for f in a.findings)


def make_plan(spec: Spec, opts: PlanOptions) -> PlanResult:
    """Place, verify, and say what happened; nothing is written here."""
    target = make_target(spec, opts)
    tree, board_file = load_board(opts)
    missing = missing_nodes(tree, [p for d in spec.domain for p in d.passthrough])
    if missing:
        raise UsageError("--spec", f"passthrough {missing[0]!r} is not a node of the board")
    missing = missing_nodes(tree, [c for p in spec.cpupool for c in p.cpus])
    if missing:
        raise UsageError("--spec", f"cpupool CPU {missing[0]!r} is not a node of the board")
    dropped = strip_chosen(tree)
    with tempfile.TemporaryDirectory(prefix="xenplan-plan-") as work:
        if dropped or (opts.board_input is not None and opts.board is not None):
            from xenplan.dt.fdtlib import tree_to_dts

            board_file = os.path.join(work, "board.dts")
            with open(board_file, "w") as f:
                f.write(tree_to_dts(tree))
        facts, bootargs = board_facts(tree, target)
        r = _plan(spec, opts, target, tree, facts, bootargs, board_file, work)
        r.scratch = work
        if dropped:
            r.notes.append(f"{dropped} node(s) or properties of the board's /chosen (domains, modules, static "
                           "heap) were replaced by the plan")
        if r.written and r.fragment is not None:
            r.board_text = _merged(r, board_file, opts.include_dirs, work)
        return r


def _merged(r: PlanResult, board_file: str, include_dirs: Sequence[str], work: str) -> str:
    """The board with the fragment merged (as ``check --board`` merges it), host devices given to a domain
    marked ``xen,passthrough``, as DTS."""
    from xenplan.dt.fdtlib import tree_to_dts
    from xenplan.dt.tree import Property

    path = os.path.join(work, "plan.dts")
    with open(path, "w") as f:
        f.write(r.fragment or "")
    merged = dt.load(path, include_dirs=include_dirs, board=board_file)
    for p in sorted({p for d in r.spec.domain for p in d.passthrough}):
        node = _node(merged, p)
        if node is not None:
            node.properties["xen,passthrough"] = Property("xen,passthrough", b"")
    return tree_to_dts(merged)


def max_phandle(tree: Tree) -> int:
    """The board's largest phandle: the plan's own nodes are numbered above it."""
    top = 0
    for node in tree.root.walk():
        for name in ("phandle", "linux,phandle"):
            prop = node.prop(name)
            value = prop.u32() if prop is not None else None
            if value is not None and value != 0xFFFFFFFF:
                top = max(top, value)
    return top


def board_dts(r: PlanResult) -> str:
    """The ``dts`` format: the whole board, ``/chosen`` filled in."""
    return r.board_text or ""


def cpu_phandles(spec: Spec, tree: Tree) -> tuple[dict[str, int], dict[str, int]]:
    """Every cpupool CPU's phandle: the board's, else one numbered after the plan's own nodes."""
    have: dict[str, int] = {}
    new: dict[str, int] = {}
    nxt = cpu_phandle_base(spec, max_phandle(tree))
    for path in dict.fromkeys(c for p in spec.cpupool for c in p.cpus):
        node = _node(tree, path)
        prop = node.prop("phandle") if node is not None else None
        value = prop.u32() if prop is not None else None
        if value is None:
            nxt += 1
            new[path] = value = nxt
        have[path] = value
    return have, new


def _plan(spec: Spec, opts: PlanOptions, target: Target, tree: Tree, facts: BoardFacts, bootargs: str | None,
          board_file: str, work: str) -> PlanResult:
    """The plan from the top of RAM; when that layout does not boot for no reason that proves anything,
    the plan from the bottom of RAM (the top left to Xen's boot allocations), and what both tried."""
    first = _plan_from(spec, opts, target, tree, facts, bootargs, board_file, work, "high")
    if first.written or first.proof is not None or first.message is None:
        return first
    second = _plan_from(spec, opts, target, tree, facts, bootargs, board_file, work, "low")
    if second.written:
        second.notes.append("placed from the bottom of RAM: from the top, " + first.message)
        return second
    first.message += "; then from the bottom of RAM: " + (second.proof or second.message or "")
    return first


def _plan_from(spec: Spec, opts: PlanOptions, target: Target, tree: Tree, facts: BoardFacts,
               bootargs: str | None, board_file: str, work: str, prefer: Literal["high", "low"]) -> PlanResult:
    rel = target.release
    notes: list[str] = list(target.notes)
    files = list(tree.files)
    cpus, new_cpus = cpu_phandles(spec, tree)

    def result(layout: Layout, fits: bool, proof: str | None, message: str | None,
               analysis: Analysis | None = None, text: str | None = None) -> PlanResult:
        return PlanResult(spec, target, tree, layout, fits, proof, message, analysis, text, notes, files, bootargs,
                          cpu_phandles=cpus, new_cpu_phandles=new_cpus)

    def attempt(heap: int | None) -> tuple[Layout, str | None, Analysis | None]:
        layout = place(spec, facts, module_list(spec), heap, prefer)
        if layout.failure is not None:
            return layout, None, None
        text = fragment(spec, layout, rel, bootargs, phandle_base=max_phandle(tree), cpu_phandles=cpus,
                        new_cpu_phandles=new_cpus)
        return layout, text, _verify(text, board_file, target, opts.include_dirs, work)

    limit = table_limits(spec, facts, spec.xen.static_heap is not None and rel.static_heap)
    if limit is not None:
        return result(Layout(domains=[]), False, limit, "does not fit")
    if spec.xen.static_heap is not None and not rel.static_heap:
        notes.append(f"Xen {rel.version} ignores xen,static-heap (4.17+): the heap is every free page")
    fixed_heap = spec.xen.static_heap if isinstance(spec.xen.static_heap, int) and rel.static_heap else None
    auto = spec.xen.static_heap == "auto" and rel.static_heap
    if auto:
        room = place(spec, facts, module_list(spec), None, prefer).heap_room
        if room < HEAP_STEP:
            proof = infeasibility(spec, facts, HEAP_STEP)
            layout = place(spec, facts, module_list(spec), None, prefer)
            return result(layout, False, proof or f"no 2 MiB of RAM is left for the static heap "
                          f"({mib(room)} free once the static requests and modules are placed)",
                          "does not fit")
        layout, text, analysis = attempt(room)
        layout.heap_why = f"auto: all {mib(room)} left (a smaller heap was not tried: this one does not boot)"
        if analysis is not None and not _heap_short(analysis):
            lo, hi = 1, room // HEAP_STEP
            best: tuple[Layout, str | None, Analysis | None] = (layout, text, analysis)
            while lo < hi:
                mid = (lo + hi) // 2
                cand = attempt(mid * HEAP_STEP)
                if cand[2] is not None and not _heap_short(cand[2]):
                    hi, best = mid, cand
                else:
                    lo = mid + 1
            layout, text, analysis = best
            size = sum(n for _, n in layout.static_heap)
            layout.heap_why = (f"auto: the smallest heap (2 MiB steps) with which Xen's allocator replay "
                               f"builds every domain and leaves what HEAP-005 asks for: {mib(size)}")
    else:
        layout, text, analysis = attempt(fixed_heap)
        if fixed_heap is not None:
            layout.heap_why = "fixed by the spec"
    if layout.failure is not None:
        proof = infeasibility(spec, facts, fixed_heap)
        if proof is not None:
            return result(layout, False, proof, "does not fit")
        return result(layout, False, None, f"no placement found: {layout.failure} found no room; tried "
                      + "; ".join(layout.tried))
    assert analysis is not None and text is not None
    errors = _errors(analysis)
    if errors:
        heap_errors = [e for e in errors if e.startswith(_HEAP_RULES)]
        if heap_errors and len(heap_errors) == len(errors):
            free = heap_room(spec, facts)
            proof = (f"Xen's allocator replay runs out of heap with every static request placed "
                     f"({mib(free)} of RAM left for it): {heap_errors[0]}")
            return result(layout, False, proof, "does not fit", analysis, text)
        shm_first = [f for f in analysis.findings if f.rule == "SHM-015"]
        before = ("this board's /reserved-memory regions are recorded before /chosen"
                  if any(why.startswith("reserved memory") for _, _, why in facts.taken)
                  else "the spec's static heap (a /chosen property) is recorded before any domain"
                  if layout.static_heap else None)
        if shm_first and before is not None:
            proof = (f"Xen {rel.version} records a shared-memory region named by a second domain only when it is "
                     f"the first entry of its reserved-memory list, and {before} (SHM-015: {shm_first[0].message})")
            return result(layout, False, proof, "does not fit", analysis, text)
        stops = [f"{f.rule} {f.message}" for f in analysis.findings
                 if f.severity == "warning" and f.reached and "stops its early scan" in f.message]
        return result(layout, False, None, "no placement found: the layout the engine proposed does not "
                      f"boot on Xen {rel.version}: " + "; ".join([*stops, *errors][:3]), analysis, text)
    return result(layout, True, None, None, analysis, text)


def _node(tree: Tree, path: str) -> Node | None:
    node = tree.root
    for part in [x for x in path.split("/") if x]:
        found = node.child(part)
        if found is None:
            return None
        node = found
    return node


def missing_nodes(tree: Tree, paths: Sequence[str]) -> list[str]:
    """The ``paths`` that name no node of the board tree."""
    return [p for p in paths if _node(tree, p) is None]
