"""SARIF 2.1.0 for code-scanning services (GitHub, GitLab, Azure DevOps).

One run for all inputs: every input (and every file a finding points into,
such as an included ``.dtsi``) is an artifact; the rules come from the
registry, so a result's ``ruleIndex`` is stable for a given xenplan version.
A finding is placed twice: physically (file, and line for a DTS or byte
offset for a DTB, when known) and logically (the node path, which is how
Xen names the place). Two fingerprints: ``xenplanFinding/v1`` with the
ranges a finding is about, and ``xenplanFindingStable/v1`` without them
(rule, node path, property), so code scanning keeps tracking a finding whose
bank moved. Suppressed findings are results with ``suppressions``. Xen's
verdict for each input goes in the run's ``properties``, because SARIF has no place for "the system does not boot"
other than the result that caused it.

Never touches rich: SARIF is a versioned schema, not a picture.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import PurePath
from typing import Any
from urllib.parse import quote

from xenplan import __version__
from xenplan.analysis import Analysis
from xenplan.checks import Rule
from xenplan.checks import rules as all_rules
from xenplan.checks.finding import Finding, stable_key
from xenplan.model.base import Range

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
VERSION = "2.1.0"

#: A finding's severity as a SARIF level.
LEVEL = {"error": "error", "warning": "warning", "info": "note"}


def _hex_ranges(rs: Sequence[Range]) -> list[dict[str, str]]:
    return [{"start": hex(r.start), "size": hex(r.size)} for r in rs]


def _uri(path: str) -> str:
    """A relative path stays relative (code scanning resolves it against the
    repository); an absolute one becomes a ``file:`` URI."""
    p = PurePath(path)
    if p.is_absolute():
        return p.as_uri()
    return quote(p.as_posix())


def _first_sentence(text: str) -> str:
    flat = " ".join(text.split())
    for end in (". ", ".\n"):
        i = flat.find(end)
        if i >= 0:
            return flat[: i + 1]
    return flat


def rule_descriptor(r: Rule) -> dict[str, Any]:
    sections = r.doc_sections()
    what = sections.get("What Xen does")
    what = f"Xen {what}" if what else r.docs
    markdown = "\n\n".join(f"**{k}**: {v}" for k, v in sections.items()) or r.docs
    if r.xen_message:
        markdown += f"\n\n**Xen prints**: `{r.xen_message}`"
    props: dict[str, Any] = {"since": r.since, "until": r.until, "xen_src": r.xen_src, "behaviour": r.behaviour,
                             "tags": [r.area]}
    if r.xen_message:
        props["xen_message"] = r.xen_message
    return {
        "id": r.id,
        "name": r.slug,
        "shortDescription": {"text": _first_sentence(what) or r.slug},
        "fullDescription": {"text": " ".join(what.split()) or r.slug},
        "help": {"text": r.docs or r.slug, "markdown": markdown},
        "defaultConfiguration": {"level": LEVEL[r.severity()]},
        "properties": props,
    }


class _Artifacts:
    """Artifact list with stable indices, first come first served."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []
        self._index: dict[str, int] = {}

    def index(self, path: str, *, target: bool = False) -> int:
        uri = _uri(path)
        if uri not in self._index:
            self._index[uri] = len(self.items)
            self.items.append({"location": {"uri": uri}})
        i = self._index[uri]
        if target:
            self.items[i]["roles"] = ["analysisTarget"]
        return i

    def uri(self, i: int) -> str:
        return str(self.items[i]["location"]["uri"])


def _logical(path: str | None) -> list[dict[str, str]]:
    if not path:
        return []
    name = path.rstrip("/").rsplit("/", 1)[-1] or "/"
    return [{"name": name, "fullyQualifiedName": path, "kind": "element"}]


def _location(f: Finding, a: Analysis, arts: _Artifacts) -> dict[str, Any]:
    file = f.source.file if f.source is not None else a.input
    i = arts.index(file)
    phys: dict[str, Any] = {"artifactLocation": {"uri": arts.uri(i), "index": i}}
    region: dict[str, int] = {}
    if f.source is not None and f.source.line is not None and f.source.line >= 1:
        region["startLine"] = f.source.line
    if f.source is not None and f.source.offset is not None and f.source.offset >= 0:
        region["byteOffset"] = f.source.offset
    if region:
        phys["region"] = region
    loc: dict[str, Any] = {"physicalLocation": phys}
    logical = _logical(f.path)
    if logical:
        loc["logicalLocations"] = logical
    return loc


def _result(f: Finding, a: Analysis, arts: _Artifacts, rule_index: dict[str, int], stable: str) -> dict[str, Any]:
    text = f"{f.path}: {f.message}" if f.path else f.message
    if not f.reached:
        text += " (not reached: Xen stops earlier)"
    res: dict[str, Any] = {"ruleId": f.rule}
    if f.rule in rule_index:
        res["ruleIndex"] = rule_index[f.rule]
    res["level"] = LEVEL[f.severity]
    res["message"] = {"text": text}
    res["locations"] = [_location(f, a, arts)]
    related = []
    for n, rel in enumerate(f.related):
        where = ", ".join(str(r) for r in rel.ranges)
        related.append({"id": n, "message": {"text": f"{rel.path} {where}".strip()},
                        "logicalLocations": _logical(rel.path)})
    if related:
        res["relatedLocations"] = related
    props: dict[str, Any] = {"input": a.input, "slug": f.slug, "reached": f.reached,
                             "ranges": _hex_ranges(f.ranges)}
    if f.property:
        props["property"] = f.property
    if f.xen_message:
        props["xen_message"] = f.xen_message
    if f.since:
        props["since"] = f.since
    if f.related:
        props["related"] = [{"path": rel.path, "ranges": _hex_ranges(rel.ranges)} for rel in f.related]
    res["partialFingerprints"] = {"xenplanFinding/v1": "|".join(
        (f.rule, f.path or "", f.property or "", ",".join(f"{r.start:#x}+{r.size:#x}" for r in f.ranges))),
        "xenplanFindingStable/v1": stable}
    res["properties"] = props
    return res


def _stable(f: Finding, seen: dict[tuple[str, str, str], int]) -> str:
    """The address-free fingerprint: rule, node path, property, and which of the findings with that key
    this is (the same numbering a baseline's counts follow), so it survives a moved bank or line."""
    key = stable_key(f)
    n = seen.get(key, 0)
    seen[key] = n + 1
    return "|".join((*key, str(n)))


def _verdict(a: Analysis) -> dict[str, Any]:
    r = a.result
    return {"input": a.input, "xen_version": str(a.system.target.version), "arch": a.system.target.arch,
            "outcome": r.outcome,
            "failed_at": None if r.failed_at is None else {
                "stage": r.failed_at.stage, "domain": r.failed_at.domain, "rule": r.failed_at.rule,
                "message": r.failed_at.message},
            "notes": list(a.notes)}


def document(analyses: Sequence[Analysis]) -> dict[str, Any]:
    rs = list(all_rules())
    rule_index = {r.id: i for i, r in enumerate(rs)}
    arts = _Artifacts()
    for a in analyses:
        arts.index(a.input, target=True)
    results = []
    for a in analyses:
        seen: dict[tuple[str, str, str], int] = {}
        for f in a.findings:
            results.append(_result(f, a, arts, rule_index, _stable(f, seen)))
        for s in a.suppressed:
            res = _result(s.finding, a, arts, rule_index, _stable(s.finding, seen))
            res["suppressions"] = [{"kind": s.kind, **({"justification": s.justification} if s.justification else {})}]
            results.append(res)
    run: dict[str, Any] = {
        "tool": {"driver": {"name": "xenplan", "version": __version__, "semanticVersion": __version__,
                            "rules": [rule_descriptor(r) for r in rs]}},
        "artifacts": arts.items,
        "results": results,
        "columnKind": "unicodeCodePoints",
        "invocations": [{"executionSuccessful": True}],
        "properties": {"verdicts": [_verdict(a) for a in analyses]},
    }
    return {"$schema": SCHEMA_URI, "version": VERSION, "runs": [run]}


def render(analyses: Sequence[Analysis]) -> str:
    return json.dumps(document(analyses), indent=1) + "\n"
