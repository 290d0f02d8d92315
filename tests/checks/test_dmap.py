"""Rule tests for DMAP (direct-mapped domUs): each fires fixture yields exactly its rule at the
expected node, and the clean fixture (the fix applied) is silent for that rule."""

from __future__ import annotations

from pathlib import Path

from rulecases import rule_tests

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "dmap"


CASES = [
    ("DMAP-001", "/chosen/domU1"),
    ("DMAP-004", "/chosen/domU1"),
    ("DMAP-006", "/chosen/domU1"),
    ("DMAP-007", "/chosen/domU1"),
    ("DMAP-008", "/chosen/domU1"),
]


test_fires, test_clean = rule_tests("dmap", CASES)
