"""One input, analysed end to end: load → model → simulate → findings.

The CLI and the renderers work on an ``Analysis``; nothing here prints.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from xenplan import boot, checks, dt, model
from xenplan.boot.result import BootResult
from xenplan.checks.finding import Finding
from xenplan.model.system import System
from xenplan.model.target import Target


@dataclass
class Analysis:
    input: str
    system: System
    result: BootResult
    findings: list[Finding]
    notes: list[str] = field(default_factory=list)


def analyse(path: str, target: Target, overlays: Sequence[str] = (), include_dirs: Sequence[str] = (),
            board: str | None = None, partial_dtbs: dict[str, str] | None = None) -> Analysis:
    """Load ``path`` (onto ``board``, with ``overlays``) and the partial DTBs named by domain or module.

    The board is also read on its own, so the model can say what merging the input onto it replaced."""
    tree = dt.load(path, overlays=overlays, include_dirs=include_dirs, board=board)
    partials = {node: dt.load(file, include_dirs=include_dirs) for node, file in (partial_dtbs or {}).items()}
    board_tree = dt.load(board, include_dirs=include_dirs) if board is not None else None
    system = model.build(tree, target, partials, board_tree)
    result = boot.simulate(system)
    findings = checks.run(system, result)
    return Analysis(input=path, system=system, result=result, findings=findings, notes=list(result.notes))
