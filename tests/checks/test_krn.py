"""Rule tests for KRN (kernel, DTB and initrd placement): each fires fixture yields exactly its rule at the
expected node, and the clean fixture (the fix applied) is silent for that rule."""

from __future__ import annotations

from pathlib import Path

from rulecases import Fired, rule_tests

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "krn"


CASES = [
    ("KRN-002", "/chosen/domU1"),
    ("KRN-003", "/chosen/domU1"),
    ("KRN-005", "/chosen/domU1"),
]


test_fires, test_clean = rule_tests("krn", CASES)


def test_dtb_near_the_buffer_is_uncertain(check_fixture: Fired) -> None:
    """4.20, 33 vCPUs: the estimate fits the 4 KiB buffer by under 256 bytes."""
    assert check_fixture(FIXTURES / "KRN-005-near.dts", "KRN-005") == {("KRN-005", "/chosen/domU1")}
