"""Rule tests for KRN (kernel, DTB and initrd placement): each fires fixture yields exactly its rule at the
expected node, and the clean fixture (the fix applied) is silent for that rule."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "krn"

Fired = Callable[..., set[tuple[str, str | None]]]

CASES = [
    ("KRN-002", "/chosen/domU1"),
    ("KRN-003", "/chosen/domU1"),
    ("KRN-005", "/chosen/domU1"),
]


@pytest.mark.parametrize(("rule_id", "path"), CASES)
def test_fires(check_fixture: Fired, rule_id: str, path: str) -> None:
    assert check_fixture(FIXTURES / f"{rule_id}-fires.dts", rule_id) == {(rule_id, path)}


CLEAN = [c.values[0] if hasattr(c, "values") else c[0] for c in CASES]


@pytest.mark.parametrize("rule_id", CLEAN)
def test_clean(check_fixture: Fired, rule_id: str) -> None:
    assert check_fixture(FIXTURES / f"{rule_id}-clean.dts", rule_id) == set()


def test_dtb_near_the_buffer_is_uncertain(check_fixture: Fired) -> None:
    """4.20, 33 vCPUs: the estimate fits the 4 KiB buffer by under 256 bytes."""
    assert check_fixture(FIXTURES / "KRN-005-near.dts", "KRN-005") == {("KRN-005", "/chosen/domU1")}
