"""Rule tests for SMEM (static memory banks): each fires fixture yields exactly its rule at the
expected node, and the clean fixture (the fix applied) is silent for that rule."""

from __future__ import annotations

from pathlib import Path

from rulecases import rule_tests

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "smem"


CASES = [
    ("SMEM-001", "/soc/vm1"),
    ("SMEM-002", "/chosen/domU1"),
    ("SMEM-003", "/chosen/domU1"),
    ("SMEM-004", "/chosen/domU1"),
    ("SMEM-011", "/chosen/domU1"),
    ("SMEM-012", "/chosen/domU1"),
    ("SMEM-013", "/chosen/domU1"),
    ("SMEM-015", "/chosen/domU1"),
    ("SMEM-016", "/chosen/domU1"),
]


test_fires, test_clean = rule_tests("smem", CASES)
