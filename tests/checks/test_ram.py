"""RAM rules: each fixture alone, the exact (rule, node) pairs it yields."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "ram"
Fired = Callable[[Path], set[tuple[str, str | None]]]


def only(check_fixture: Fired, name: str, rule_id: str) -> set[tuple[str, str | None]]:
    return {x for x in check_fixture(FIX / f"{name}.dts") if x[0] == rule_id}


@pytest.mark.parametrize(("rule_id", "expected"), [
    ("RAM-004", {("RAM-004", "/memory@40000000")}),
    ("RAM-005", {("RAM-005", "/memory@60000000")}),
    ("RAM-006", {("RAM-006", "/")}),
    ("RAM-007", {("RAM-007", "/memory@80000000")}),
])
def test_fires(check_fixture: Fired, rule_id: str, expected: set[tuple[str, str]]) -> None:
    assert only(check_fixture, f"{rule_id}-fires", rule_id) == expected


@pytest.mark.parametrize("rule_id", ["RAM-004", "RAM-005", "RAM-006", "RAM-007"])
def test_clean(check_fixture: Fired, rule_id: str) -> None:
    assert only(check_fixture, f"{rule_id}-clean", rule_id) == set()
