"""Rule tests for ALLOC (dynamic domU RAM and the P2M pool): each fires fixture yields exactly its rule at the
expected node, and the clean fixture (the fix applied) is silent for that rule."""

from __future__ import annotations

from pathlib import Path

from rulecases import rule_tests

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "alloc"


CASES = [
    ("ALLOC-002", "/chosen/domU1"),
    ("ALLOC-003", "/chosen/domU1"),
    ("ALLOC-006", "/chosen/domU1"),
    ("ALLOC-007", "/chosen/domU1"),
]


test_fires, test_clean = rule_tests("alloc", CASES)
