"""Rule tests for LLC (LLC cache colouring): each fires fixture yields exactly its rule at the
expected node, and the clean fixture (the fix applied) is silent for that rule."""

from __future__ import annotations

from pathlib import Path

from rulecases import rule_tests

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "llc"


CASES = [
    ("LLC-001", "/chosen/domU1"),
    ("LLC-002", "/chosen/domU1"),
    ("LLC-003", "/chosen/domU1"),
]


test_fires, test_clean = rule_tests("llc", CASES)
