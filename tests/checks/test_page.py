"""Rule tests for PAGE (static page state): each fires fixture yields exactly its rule at the
expected node, and the clean fixture (the fix applied) is silent for that rule."""

from __future__ import annotations

from pathlib import Path

from rulecases import rule_tests

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "page"


CASES = [
    ("PAGE-002", "/chosen/domU1"),
    ("PAGE-003", "/chosen/domU1"),
    ("PAGE-005", "/chosen/domU2"),
    ("PAGE-006", "/chosen/domU1"),
]


test_fires, test_clean = rule_tests("page", CASES)
