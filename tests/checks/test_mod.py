"""MOD rules: each fixture alone, the exact (rule, node) pairs it yields."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "mod"
Fired = Callable[[Path], set[tuple[str, str | None]]]
RULES = ["MOD-002", "MOD-003", "MOD-004", "MOD-005", "MOD-006", "MOD-008"]


def only(check_fixture: Fired, name: str, rule_id: str) -> set[tuple[str, str | None]]:
    return {x for x in check_fixture(FIX / f"{name}.dts") if x[0] == rule_id}


@pytest.mark.parametrize(("rule_id", "expected"), [
    ("MOD-002", {("MOD-002", "/chosen/domU1/module@0")}),
    ("MOD-003", {("MOD-003", "/chosen/domU1/module@52000000")}),
    ("MOD-004", {("MOD-004", "/chosen/domU1/module@50000000")}),
    ("MOD-005", {("MOD-005", "/chosen/domU1/module@50000000")}),
    ("MOD-006", {("MOD-006", "/chosen")}),
    ("MOD-008", {("MOD-008", "/chosen/domU1")}),
])
def test_fires(check_fixture: Fired, rule_id: str, expected: set[tuple[str, str]]) -> None:
    assert only(check_fixture, f"{rule_id}-fires", rule_id) == expected


@pytest.mark.parametrize("rule_id", RULES)
def test_clean(check_fixture: Fired, rule_id: str) -> None:
    assert only(check_fixture, f"{rule_id}-clean", rule_id) == set()
