"""Several releases in one run: what changes from one Xen release to the next, for the same input.

``--xen-version 4.18,4.22`` (or ``all``) analyses every input once per
release, oldest first. The upgrade question is what moves between two
consecutive releases: the verdict, the findings that appear or disappear
(or change severity), and the domains whose status or banks change.
Findings are matched by rule, node and property, never by message or
address: messages name the release, and the address is what may move.

JSON: one ``xenplan-releases/1`` object per input (an array of them for
several inputs), holding each release's unchanged ``xenplan/1`` document
and the changes (docs/json-contract.md, "Several releases").
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from xenplan.analysis import Analysis
from xenplan.boot.result import Bank, DomainResult
from xenplan.checks.finding import Finding
from xenplan.report import json_out
from xenplan.report.plain import Fallback, lines, size, split_message, summary, table

SCHEMA = "xenplan-releases/1"


def grouped(analyses: Sequence[Analysis]) -> list[list[Analysis]]:
    """The analyses of each input, in the order given (the CLI makes them input by input, release by release)."""
    groups: dict[str, list[Analysis]] = {}
    for a in analyses:
        groups.setdefault(a.input, []).append(a)
    return list(groups.values())


def several(analyses: Sequence[Analysis]) -> bool:
    """Some input was analysed on more than one release (inputs that merely differ in release, each
    by its own settings, are single-release runs)."""
    return any(len({release(a) for a in g}) > 1 for g in grouped(analyses))


def release(a: Analysis) -> str:
    return str(a.system.target.version)


def verdict(a: Analysis) -> str:
    r = a.result
    if r.failed_at is None:
        return r.outcome
    out = f"{r.outcome} at {r.failed_at.stage}" + (f" {r.failed_at.domain}" if r.failed_at.domain else "")
    return out + (f" [{r.failed_at.rule}]" if r.failed_at.rule else "")


Key = tuple[str, str, str]


def _key(f: Finding) -> Key:
    return f.rule, f.path or "", f.property or ""


def _brief(f: Finding) -> dict[str, Any]:
    return {"rule": f.rule, "slug": f.slug, "severity": f.severity, "path": f.path, "property": f.property,
            "message": f.message}


def _banks(banks: Sequence[Bank] | None) -> list[dict[str, str | None]] | None:
    if banks is None:
        return None
    return [{"guest": hex(b.guest), "host": None if b.host is None else hex(b.host), "size": hex(b.size)}
            for b in banks]


def compare(old: Analysis, new: Analysis) -> dict[str, Any]:
    """What changes from ``old`` to ``new`` (the same input on two releases)."""
    before: dict[Key, list[Finding]] = defaultdict(list)
    after: dict[Key, list[Finding]] = defaultdict(list)
    for f in old.findings:
        before[_key(f)].append(f)
    for f in new.findings:
        after[_key(f)].append(f)
    added: list[dict[str, Any]] = []
    removed: list[dict[str, Any]] = []
    severity: list[dict[str, Any]] = []
    for key in sorted(set(before) | set(after)):
        was, now = before.get(key, []), after.get(key, [])
        added += [_brief(f) for f in now[len(was):]]
        removed += [_brief(f) for f in was[len(now):]]
        for w, n in zip(was, now, strict=False):
            if w.severity != n.severity:
                severity.append({**_brief(n), "severity": {"from": w.severity, "to": n.severity}})
    domains: list[dict[str, Any]] = []
    olds: dict[str, DomainResult] = {d.path: d for d in old.result.domains}
    news: dict[str, DomainResult] = {d.path: d for d in new.result.domains}
    for path in [*olds, *(p for p in news if p not in olds)]:
        od, nd = olds.get(path), news.get(path)
        name = nd.name if nd is not None else od.name if od is not None else path
        status = None if od is not None and nd is not None and od.status == nd.status else {
            "from": od.status if od is not None else None, "to": nd.status if nd is not None else None}
        ob, nb = _banks(od.banks if od else None), _banks(nd.banks if nd else None)
        banks = None if ob == nb else {"from": ob, "to": nb}
        if status is not None or banks is not None:
            domains.append({"name": name, "path": path, "status": status,
                            "banks": banks})
    ov, nv = verdict(old), verdict(new)
    return {"from": release(old), "to": release(new), "verdict": None if ov == nv else {"from": ov, "to": nv},
            "findings": {"added": added, "removed": removed, "severity": severity}, "domains": domains}


def document(group: Sequence[Analysis]) -> dict[str, Any]:
    return {"schema": SCHEMA, "input": group[0].input, "releases": [json_out.document(a) for a in group],
            "changes": [compare(o, n) for o, n in itertools.pairwise(group)]}


def render_json(analyses: Sequence[Analysis]) -> str:
    import json  # loaded for JSON output only: a text check never needs it

    docs = [document(g) for g in grouped(analyses)]
    return json.dumps(docs if len(docs) > 1 else docs[0], indent=1) + "\n"


def _bank_text(banks: list[dict[str, str | None]] | None) -> str:
    if banks is None:
        return "none"
    return ", ".join(f"{b['guest']}→{b['host'] or '?'} ({size(int(b['size'] or '0', 16))})" for b in banks)


def change_rows(change: dict[str, Any]) -> list[tuple[str, str]]:
    """One (what, detail) row per change, for the text table."""
    rows: list[tuple[str, str]] = []
    if change["verdict"] is not None:
        rows.append(("verdict", f"{change['verdict']['from']} → {change['verdict']['to']}"))
    for sign, items in (("+", change["findings"]["added"]), ("-", change["findings"]["removed"])):
        rows += [(f"{sign} {f['rule']} {f['severity']}", split_message(f["message"])[0]) for f in items]
    for f in change["findings"]["severity"]:
        rows.append((f"~ {f['rule']}", f"{f['path'] or ''} {f['severity']['from']} → {f['severity']['to']}".strip()))
    for d in change["domains"]:
        if d["status"] is not None:
            rows.append((f"domain {d['name']}", f"{d['status']['from']} → {d['status']['to']}"))
        if d["banks"] is not None:
            was, now = _bank_text(d["banks"]["from"]), _bank_text(d["banks"]["to"])
            rows.append((f"banks {d['name']}", f"was {was}; now {now}"))
    return rows


def digest(group: Sequence[Analysis], width: int, fallback: Fallback) -> str:
    """The text closing an input's reports: one verdict per release, then what changes between them."""
    verdicts = [(release(a), verdict(a), summary(a, a.findings).split("; ", 1)[1]) for a in group]
    out = [table(f"{group[0].input} on {len(group)} releases", ("release", "verdict", "findings"), verdicts, width,
                 fallback)]
    rows: list[tuple[str, str, str]] = []
    for o, n in itertools.pairwise(group):
        step = f"{release(o)} → {release(n)}"
        found = change_rows(compare(o, n))
        rows += [(step if i == 0 else "", what, detail) for i, (what, detail) in enumerate(found)]
        if not found:
            rows.append((step, "", "no change"))
    out.append(table("what changes on upgrade", ("releases", "change", "detail"), rows, width, fallback))
    return "".join(out) + lines("", width, fallback)
