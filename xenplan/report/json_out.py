"""The ``xenplan/1`` JSON result (``docs/json-contract.md``): numbers as hex strings."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from xenplan.analysis import Analysis
from xenplan.checks.finding import Finding
from xenplan.model.base import Range, SourceRef

SCHEMA = "xenplan/1"


def _h(x: int | None) -> str | None:
    return None if x is None else hex(x)


def _ranges(rs: Sequence[Range]) -> list[dict[str, str | None]]:
    return [{"start": _h(r.start), "size": _h(r.size)} for r in rs]


def document(a: Analysis) -> dict[str, Any]:
    t = a.system.target
    r = a.result
    doc: dict[str, Any] = {
        "schema": SCHEMA,
        "input": a.input,
        "target": {"xen_version": str(t.version), "arch": t.arch, "kconfig": dict(sorted(t.kconfig.items())),
                   "xen_image": _ranges([t.xen_image])[0] if t.xen_image else None,
                   "fdt": {"start": _h(t.fdt_address), "size": _h(t.fdt_size or a.system.dtb_size)}
                   if t.fdt_address is not None else None},
        "notes": list(a.notes),
        "outcome": r.outcome,
        "failed_at": None if r.failed_at is None else {
            "stage": r.failed_at.stage, "domain": r.failed_at.domain, "rule": r.failed_at.rule,
            "message": r.failed_at.message},
        "dropped_modules": [{"path": m.path, "start": _h(m.start), "size": _h(m.size)} for m in r.dropped_modules],
        "domains": [{
            "name": d.name, "path": d.path, "status": d.status, "static": d.static, "direct_map": d.direct_map,
            "domid": d.domid,
            "banks": None if d.banks is None else [
                {"guest": _h(b.guest), "host": _h(b.host), "size": _h(b.size)} for b in d.banks],
            "xen_banks": None if d.xen_banks is None else [
                {"guest": _h(b.guest), "host": _h(b.host), "size": _h(b.size)} for b in d.xen_banks],
            "p2m": [{"kind": p.kind, "guest": _h(p.guest), "host": _h(p.host), "size": _h(p.size),
                     **({"note": p.note} if p.note else {})} for p in d.p2m],
        } for d in r.domains],
        "host_map": [{"kind": h.kind, "start": _h(h.start), "size": _h(h.size), "owner": h.owner}
                     for h in r.host_map],
        "findings": [_finding(f) for f in a.findings],
    }
    if a.suppressed:
        doc["suppressed"] = [{**_finding(s.finding), "suppression": {
            "kind": s.kind, "justification": s.justification,
            "source": None if s.source is None else _source(s.source)}} for s in a.suppressed]
    return doc


def _source(src: SourceRef) -> dict[str, Any]:
    return {k: v for k, v in (("file", src.file), ("line", src.line), ("offset", src.offset)) if v is not None}


def _finding(f: Finding) -> dict[str, Any]:
    return {
        "rule": f.rule, "slug": f.slug, "severity": f.severity, "reached": f.reached, "message": f.message,
        "path": f.path, "property": f.property,
        "source": None if f.source is None else _source(f.source),
        "ranges": _ranges(f.ranges),
        "related": [{"path": x.path, "ranges": _ranges(x.ranges)} for x in f.related],
        "since": f.since, "xen_message": f.xen_message,
    }


def simulation_document(a: Analysis) -> dict[str, Any]:
    """``document()`` plus the ``operations`` of a ``xenplan simulate`` run.

    A ``Simulation`` can exist only once ``xenplan.simulate`` is loaded, so a check's JSON asks
    ``sys.modules`` rather than importing the simulation (and its run-time replay) to find out."""
    doc = document(a)
    simulate = sys.modules.get("xenplan.simulate")
    if simulate is not None and isinstance(a, simulate.Simulation):
        doc["operations"] = [simulate.operation_json(r) for r in a.operations]
    return doc


def render(analyses: Sequence[Analysis], *, many: bool = False) -> str:
    import json  # loaded for JSON output only: a text check never needs it

    docs = [simulation_document(a) for a in analyses]
    return json.dumps(docs if many else docs[0], indent=1) + "\n"
