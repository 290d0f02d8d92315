"""One input, analysed end to end: load → model → simulate → findings.

The CLI and the renderers work on an ``Analysis``; nothing here prints.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import field

from xenplan import boot, checks, dt, model
from xenplan.boot.result import BootResult
from xenplan.checks import suppress
from xenplan.checks.finding import Finding, Suppressed
from xenplan.checks.suppress import NodeIgnore
from xenplan.dt.tree import Tree
from xenplan.errors import UsageError
from xenplan.model.system import System
from xenplan.model.target import Target
from xenplan.records import record


@record
class Analysis:
    input: str
    system: System
    result: BootResult
    findings: list[Finding]
    notes: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    """Every file read for this analysis (input, includes, board, overlays, partial DTBs)."""
    suppressed: list[Suppressed] = field(default_factory=list)
    """Findings a ``// xenplan: ignore`` comment or an ``ignore-nodes`` entry hid."""


def analyse(path: str, target: Target, overlays: Sequence[str] = (), include_dirs: Sequence[str] = (),
            board: str | None = None, partial_dtbs: dict[str, str] | None = None,
            ignore_nodes: Sequence[NodeIgnore] = (), selection: checks.Selection | None = None) -> Analysis:
    """Load ``path`` (onto ``board``, with ``overlays``) and the partial DTBs named by domain or module.

    The board as read before the merge travels with the tree, so the model can
    say what merging the input onto it replaced. A ``partial_dtbs`` or ``target.kernel_images`` key
    that names neither a domain nor a module of the loaded tree is a
    ``UsageError``: the file would silently be unused. Findings a suppression covers
    (``xenplan.checks.suppress``: comments in the source, ``ignore_nodes`` from a configuration)
    move to ``Analysis.suppressed``. A ``selection`` (``--select``, ``--ignore``) leaves out the
    findings it would drop, so only the rule areas it keeps are imported (all of them when the tree
    has a suppression, which is matched against every finding).
    """
    tree = dt.load(path, overlays=overlays, include_dirs=include_dirs, board=board)
    return analyse_tree(tree, path, target, partial_dtbs, include_dirs, ignore_nodes, selection)


def analyse_tree(tree: Tree, path: str, target: Target, partial_dtbs: dict[str, str] | None = None,
                 include_dirs: Sequence[str] = (), ignore_nodes: Sequence[NodeIgnore] = (),
                 selection: checks.Selection | None = None) -> Analysis:
    """The rest of ``analyse`` for a tree already built (by a U-Boot script replay, say)."""
    partials = {node: dt.load(file, include_dirs=include_dirs) for node, file in (partial_dtbs or {}).items()}
    files = [*tree.files, *(f for p in partials.values() for f in p.files)]
    system = model.build(tree, target, partials, tree.board)
    _check_names(system, partials, "--partial-dtb")
    _check_names(system, target.kernel_images, "--kernel-image")
    result = boot.simulate(system)
    sups = suppress.collect(system, tree, files, ignore_nodes)
    findings, suppressed = suppress.apply(system, sups, checks.run(system, result, None if sups else selection))
    return Analysis(input=path, system=system, result=result, findings=findings,
                    notes=[*tree.notes, *result.notes], files=files, suppressed=suppressed)


def _check_names(system: System, given: Iterable[str], option: str) -> None:
    domains = [d.name for d in system.domains]
    modules = list(dict.fromkeys([*(m.path for m in system.modules), *(m.path for m in system.xen.dom0_modules),
                                  *(m.path for d in system.domains for m in d.modules)]))
    known = {*domains, *modules}
    for node in given:
        if node not in known:
            have = ", ".join(domains + modules) or "none"
            raise UsageError(option, f"{node!r} is neither a domain name nor a module path in {system.file} "
                             f"(domains and modules: {have})")
