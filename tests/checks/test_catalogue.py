"""The catalogue as a whole: every rulebook rule is implemented or consciously
omitted, and every registered rule carries what ``xenplan rule`` and SARIF show."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from xenplan.checks.registry import DOC_HEADINGS, REGISTRY, SEVERITY, rules
from xenplan.model.target import XenVersion

ROOT = Path(__file__).resolve().parents[2]
RULEBOOK = (ROOT / "tests" / "data" / "rulebook_ids.txt").read_text().split()
ID_RE = re.compile(r"\b[A-Z]{2,5}-\d{3}\b")


def omitted() -> dict[str, str]:
    text = (ROOT / "xenplan" / "checks" / "omitted.txt").read_text()
    return dict(ln.split("\t", 1) for ln in text.splitlines() if ln.strip() and not ln.startswith("#"))


def staged_ids() -> set[str]:
    """Rule IDs the boot stages report (string literals in xenplan/boot)."""
    out: set[str] = set()
    for f in (ROOT / "xenplan" / "boot").glob("*.py"):
        out |= set(re.findall(r'"([A-Z]{2,5}-\d{3})"', f.read_text()))
    return out


ALL = sorted(r.id for r in rules())


def test_every_rulebook_id_is_registered_or_omitted() -> None:
    om = omitted()
    assert sorted(i for i in RULEBOOK if i not in REGISTRY and i not in om) == []
    assert sorted(set(om) & set(REGISTRY)) == []
    assert all(reason.strip() for reason in om.values())
    assert sorted(set(om) - set(RULEBOOK)) == []


def test_stages_report_only_registered_rules() -> None:
    assert sorted(staged_ids() - set(REGISTRY)) == []


@pytest.mark.parametrize("rule_id", ALL)
def test_rule_metadata_and_docs(rule_id: str) -> None:
    r = REGISTRY[rule_id]
    assert tuple(r.doc_sections()) == DOC_HEADINGS, "docs need What Xen does / Why it matters / Example / Fix"
    assert all(v.strip() for v in r.doc_sections().values())
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", r.slug)
    assert r.behaviour in SEVERITY
    XenVersion.parse(r.since)
    if r.until is not None:
        assert XenVersion.parse(r.until).key > XenVersion.parse(r.since).key
    assert ":" in r.xen_src or "/" in r.xen_src, "a source reference: path: function()"


def _yields_findings(rule_id: str) -> bool:
    r = REGISTRY[rule_id]
    return r.check is not None or rule_id in staged_ids()


@pytest.mark.parametrize("rule_id", [i for i in ALL if _yields_findings(i)])
def test_rule_has_both_fixtures(rule_id: str) -> None:
    area = rule_id.split("-", 1)[0].lower()
    base = ROOT / "tests" / "fixtures" / area
    assert (base / f"{rule_id}-fires.dts").exists(), f"{rule_id}: no fixture where it fires"
    assert (base / f"{rule_id}-clean.dts").exists(), f"{rule_id}: no fixture where it stays silent"


def test_slugs_are_unique() -> None:
    slugs = [REGISTRY[i].slug for i in ALL]
    assert len(slugs) == len(set(slugs))
