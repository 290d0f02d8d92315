"""Rule tests for PT (passthrough from a partial device tree, ``--partial-dtb``): each fires fixture
yields exactly its rule at the expected node, and the clean fixture is silent for that rule."""

from __future__ import annotations

from rulecases import rule_tests

CASES = [
    ("PT-001", "/chosen/domU1"),
    ("PT-002", "/chosen/domU1"),
    ("PT-003", "/chosen/domU1"),
    ("PT-005", "/chosen/domU1"),
    ("PT-006", "/chosen/domU1"),
    ("PT-007", "/chosen/domU1"),
    ("PT-008", "/soc/ethernet@9100000"),
]

test_fires, test_clean = rule_tests("pt", CASES)


def test_mapping_appears_in_the_guest_map(check_fixture) -> None:  # type: ignore[no-untyped-def]
    from pathlib import Path

    from rulecases import analyse_fixture

    a = analyse_fixture(Path(__file__).resolve().parent.parent / "fixtures" / "pt" / "PT-003-clean.dts")
    dom = a.result.domains[0]
    assert [(p.guest, p.host, p.size) for p in dom.p2m if p.kind == "mmio"] == [(0x9100000, 0x9100000, 0x1000)]
