"""Rule tests for GMAP (guest physical maps): each fires fixture yields exactly its rule at the
expected node, and the clean fixture (the fix applied) is silent for that rule."""

from __future__ import annotations

from pathlib import Path

from rulecases import rule_tests

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "gmap"


CASES = [
    ("GMAP-001", "/chosen/domU1"),
    ("GMAP-020", "/chosen/domU1"),
    ("GMAP-021", "/chosen/domU1"),
]


test_fires, test_clean = rule_tests("gmap", CASES)
