"""Rule tests for DOM (xen,domain node checks): each fires fixture yields exactly its rule at the
expected node, and the clean fixture (the fix applied) is silent for that rule."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "dom"

Fired = Callable[..., set[tuple[str, str | None]]]

CASES = [
    ("DOM-002", "/chosen"),
    ("DOM-004", "/chosen/domU1"),
    ("DOM-006", "/chosen/domU1"),
    ("DOM-009", "/chosen/domU1"),
    ("DOM-010", "/chosen/domU1"),
    ("DOM-011", "/chosen/domU1"),
    ("DOM-012", "/chosen/domU1"),
    ("DOM-013", "/chosen/domU1"),
    ("DOM-015", "/chosen/domU1"),
    ("DOM-016", "/chosen/domU1"),
    ("DOM-020", "/chosen/domU2"),
]


@pytest.mark.parametrize(("rule_id", "path"), CASES)
def test_fires(check_fixture: Fired, rule_id: str, path: str) -> None:
    assert check_fixture(FIXTURES / f"{rule_id}-fires.dts", rule_id) == {(rule_id, path)}


CLEAN = [c.values[0] if hasattr(c, "values") else c[0] for c in CASES]


@pytest.mark.parametrize("rule_id", CLEAN)
def test_clean(check_fixture: Fired, rule_id: str) -> None:
    assert check_fixture(FIXTURES / f"{rule_id}-clean.dts", rule_id) == set()
