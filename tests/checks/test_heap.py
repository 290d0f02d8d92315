"""HEAP rules: each fixture alone, the exact (rule, node) pairs it yields."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "heap"
Fired = Callable[[Path], set[tuple[str, str | None]]]


def only(check_fixture: Fired, name: str, rule_id: str) -> set[tuple[str, str | None]]:
    return {x for x in check_fixture(FIX / f"{name}.dts") if x[0] == rule_id}


@pytest.mark.parametrize(("rule_id", "fires"), [
    ("HEAP-002", "HEAP-002-fires"),
    ("HEAP-005", "HEAP-005-fires"),
    ("HEAP-005", "HEAP-005-estimate-fires"),
    ("HEAP-007", "HEAP-007-fires"),
    ("HEAP-008", "HEAP-008-fires"),
])
def test_fires(check_fixture: Fired, rule_id: str, fires: str) -> None:
    assert only(check_fixture, fires, rule_id) == {(rule_id, "/chosen")}


@pytest.mark.parametrize(("rule_id", "clean"), [
    ("HEAP-002", "HEAP-002-clean"),
    ("HEAP-005", "HEAP-005-clean"),
    ("HEAP-005", "HEAP-005-estimate-clean"),
    ("HEAP-006", "HEAP-006-clean"),
    ("HEAP-007", "HEAP-007-clean"),
    ("HEAP-008", "HEAP-008-clean"),
])
def test_clean(check_fixture: Fired, rule_id: str, clean: str) -> None:
    assert only(check_fixture, clean, rule_id) == set()


def test_heap_006_fires(check_fixture: Fired) -> None:
    assert only(check_fixture, "HEAP-006-fires", "HEAP-006") == {("HEAP-006", "/chosen")}
