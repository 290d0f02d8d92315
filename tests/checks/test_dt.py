"""DT rules: each fixture alone, the exact (rule, node) pairs it yields."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from xenplan.checks.registry import lookup

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "dt"
Fired = Callable[[Path], set[tuple[str, str | None]]]


def only(check_fixture: Fired, name: str, rule_id: str) -> set[tuple[str, str | None]]:
    return {x for x in check_fixture(FIX / f"{name}.dts") if x[0] == rule_id}


@pytest.mark.parametrize(("rule_id", "fires", "expected"), [
    ("DT-004", "DT-004-fires", {("DT-004", "/chosen/domU1")}),
    ("DT-005", "DT-005-fires", {("DT-005", "/chosen/domU1")}),
])
def test_fires(check_fixture: Fired, rule_id: str, fires: str, expected: set[tuple[str, str]]) -> None:
    assert only(check_fixture, fires, rule_id) == expected


@pytest.mark.parametrize("rule_id", ["DT-004", "DT-005", "DT-007"])
def test_clean(check_fixture: Fired, rule_id: str) -> None:
    assert only(check_fixture, f"{rule_id}-clean", rule_id) == set()


def test_dt_004_three_cells(check_fixture: Fired) -> None:
    assert only(check_fixture, "DT-004-wide-fires", "DT-004") == {("DT-004", "/chosen/domU1")}


def test_dt_007_fires(check_fixture: Fired) -> None:
    deep = "/n1/n2/n3/n4/n5/n6/n7/n8/n9/n10/n11/n12/n13/n14/n15/n16"
    assert only(check_fixture, "DT-007-fires", "DT-007") == {("DT-007", deep)}


def test_dt_005_gated_on_kconfig() -> None:
    r = lookup("DT-005")
    assert r is not None and r.kconfig == ("PHYS_ADDR_T_32",) and r.since == "4.18"
