"""The two tests every rule area has: each fires fixture yields exactly its rule at the
expected node; each clean fixture (the fix applied) is silent for that rule."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

import pytest

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

Fired = Callable[..., set[tuple[str, str | None]]]


def rule_tests(area: str, cases: Sequence[tuple[str, str]]) -> tuple[Callable[..., None], Callable[..., None]]:
    """``test_fires`` and ``test_clean`` for ``tests/fixtures/<area>/<ID>-{fires,clean}.dts``."""
    base = FIXTURES / area

    @pytest.mark.parametrize(("rule_id", "path"), cases)
    def test_fires(check_fixture: Fired, rule_id: str, path: str) -> None:
        assert check_fixture(base / f"{rule_id}-fires.dts", rule_id) == {(rule_id, path)}

    @pytest.mark.parametrize("rule_id", [c[0] for c in cases])
    def test_clean(check_fixture: Fired, rule_id: str) -> None:
        assert check_fixture(base / f"{rule_id}-clean.dts", rule_id) == set()

    return test_fires, test_clean


__all__: list[Any] = ["rule_tests", "Fired", "FIXTURES"]
