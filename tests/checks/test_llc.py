"""Rule tests for LLC (LLC cache colouring): each fires fixture yields exactly its rule at the
expected node, and the clean fixture (the fix applied) is silent for that rule."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "llc"

Fired = Callable[..., set[tuple[str, str | None]]]

CASES = [
    ("LLC-001", "/chosen/domU1"),
    ("LLC-002", "/chosen/domU1"),
    ("LLC-003", "/chosen/domU1"),
]


@pytest.mark.parametrize(("rule_id", "path"), CASES)
def test_fires(check_fixture: Fired, rule_id: str, path: str) -> None:
    assert check_fixture(FIXTURES / f"{rule_id}-fires.dts", rule_id) == {(rule_id, path)}


CLEAN = [c.values[0] if hasattr(c, "values") else c[0] for c in CASES]


@pytest.mark.parametrize("rule_id", CLEAN)
def test_clean(check_fixture: Fired, rule_id: str) -> None:
    assert check_fixture(FIXTURES / f"{rule_id}-clean.dts", rule_id) == set()
