"""The report of ``xenplan plan --repair``: the diff, the changes and why, what was left; or ``xenplan-repair/1``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from xenplan.plan.repair import Repair
from xenplan.report.json_out import document

SCHEMA = "xenplan-repair/1"


def repair_document(rep: Repair, written: Sequence[str]) -> dict[str, Any]:
    """The ``xenplan-repair/1`` document: changes, what remains, and the ``xenplan/1`` check of the result."""
    return {
        "schema": SCHEMA,
        "input": rep.input,
        "repaired": rep.ok,
        "changes": [{"file": c.file, "line": c.line, "node": c.node, "property": c.property, "old": c.old,
                     "new": c.new, "why": c.why, "rule": c.rule} for c in rep.changes],
        "remaining": list(rep.remaining),
        "written": list(written),
        "check": document(rep.after),
    }


def render(fmt: str, rep: Repair, written: Sequence[str]) -> str:
    if fmt == "json":
        return json.dumps(repair_document(rep, written), indent=2) + "\n"
    t = rep.after.system.target
    out: list[str] = []
    before = sum(f.severity == "error" for f in rep.before.findings)
    head = f"{rep.input} (Xen {t.version}, {t.arch}): "
    if not rep.changes:
        head += "nothing to repair" if rep.ok else "nothing repaired"
    else:
        n = len(rep.changes)
        head += f"{n} change{'s' if n > 1 else ''}; " + (
            "check finds no error" if rep.ok else "errors remain")
    out.append(head + (f" (before: {before} error{'s' if before != 1 else ''})" if before else ""))
    diff = rep.diff()
    if diff:
        out.append(diff.rstrip("\n"))
    for c in rep.changes:
        where = f"{c.file}:{c.line}" if c.line else c.file
        out.append(f"{where}: {c.node} {c.property}: {c.old} -> {c.new}")
        out.append(f"  {c.rule}: {c.why}")
    if rep.remaining:
        out.append("not repaired:")
        out.extend(f"  {line}" for line in rep.remaining)
    if rep.changes and not rep.ok:
        out.append("nothing written: the intent cannot be kept with the repairs above alone")
    for w in written:
        out.append(f"wrote {w}")
    return "\n".join(out) + "\n"
