"""VER rules (metadata only), and the core areas' catalogue: every rulebook ID of
DT, RAM, RSV, MOD, HEAP and VER is registered with its docs, or listed as omitted."""

from __future__ import annotations

from pathlib import Path

import pytest
from rulecases import analyse_fixture

from xenplan.checks.registry import DOC_HEADINGS, REGISTRY, rules

ROOT = Path(__file__).resolve().parent.parent.parent
AREAS = ("DT", "RAM", "RSV", "MOD", "HEAP", "VER")


def core_ids() -> list[str]:
    ids = (ROOT / "tests" / "data" / "rulebook_ids.txt").read_text().split()
    return [i for i in ids if i.split("-", 1)[0] in AREAS]


def omitted() -> dict[str, str]:
    lines = [ln for ln in (ROOT / "xenplan" / "checks" / "omitted.txt").read_text().splitlines()
             if ln and not ln.startswith("#")]
    return dict(line.split("\t", 1) for line in lines if line.strip())


def test_every_core_id_registered_or_omitted() -> None:
    list(rules())
    om = omitted()
    assert all(reason.strip() for reason in om.values())
    assert not set(om) & set(REGISTRY)
    assert [i for i in core_ids() if i not in REGISTRY and i not in om] == []


@pytest.mark.parametrize("rule_id", [i for i in core_ids() if i not in omitted()])
def test_core_rule_docs(rule_id: str) -> None:
    list(rules())
    r = REGISTRY[rule_id]
    assert tuple(r.doc_sections()) == DOC_HEADINGS
    assert r.since and r.xen_src and r.slug == r.slug.lower()


@pytest.mark.parametrize("rule_id", ["VER-001", "VER-002"])
def test_ver_metadata_only(rule_id: str) -> None:
    list(rules())
    r = REGISTRY[rule_id]
    assert r.check is None and r.behaviour == "INFO"


FIX = ROOT / "tests" / "fixtures" / "ver"


def test_ver_003_fires_on_a_release_without_the_bindings(check_fixture) -> None:  # type: ignore[no-untyped-def]
    assert {x for x in check_fixture(FIX / "VER-003-fires.dts") if x[0] == "VER-003"} == {
        ("VER-003", "/chosen/domU1"), ("VER-003", "/chosen")}


def test_ver_003_clean_once_the_release_knows_them(check_fixture) -> None:  # type: ignore[no-untyped-def]
    assert {x for x in check_fixture(FIX / "VER-003-clean.dts") if x[0] == "VER-003"} == set()


def test_ver_003_static_mem_cells_of_4_16_on_a_later_release(check_fixture) -> None:  # type: ignore[no-untyped-def]
    assert {x for x in check_fixture(FIX / "VER-003-static-mem-cells-fires.dts") if x[0] == "VER-003"} == {
        ("VER-003", "/chosen/domU1")}
    a = analyse_fixture(FIX / "VER-003-static-mem-cells-fires.dts")
    [f] = [f for f in a.findings if f.rule == "VER-003"]
    assert f.property == "#xen,static-mem-address-cells" and f.severity == "warning"
    assert "Xen 4.17.7 ignores them" in f.message and "which gives no bank at all" in f.message
    assert "write xen,static-mem in /chosen's cells (2 address, 2 size)" in f.message


def test_ver_003_static_mem_cells_silent_when_read_or_matching(check_fixture) -> None:  # type: ignore[no-untyped-def]
    assert {x for x in check_fixture(FIX / "VER-003-static-mem-cells-clean.dts") if x[0] == "VER-003"} == set()
    # 4.16 reads them; matching /chosen's cells they change nothing on later releases (VER-003-fires.dts).
    a = analyse_fixture(FIX / "VER-003-fires.dts")
    assert not [f for f in a.findings if f.rule == "VER-003" and "static-mem" in (f.property or "")]
