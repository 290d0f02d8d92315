"""MOD rules: each fixture alone, the exact (rule, node) pairs it yields."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from rulecases import analyse_fixture

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "mod"
Fired = Callable[[Path], set[tuple[str, str | None]]]
RULES = ["MOD-002", "MOD-003", "MOD-004", "MOD-005", "MOD-006", "MOD-008", "MOD-009"]


def only(check_fixture: Fired, name: str, rule_id: str) -> set[tuple[str, str | None]]:
    return {x for x in check_fixture(FIX / f"{name}.dts") if x[0] == rule_id}


@pytest.mark.parametrize(("rule_id", "expected"), [
    ("MOD-002", {("MOD-002", "/chosen/domU1/module@0")}),
    ("MOD-003", {("MOD-003", "/chosen/domU1/module@52000000")}),
    ("MOD-004", {("MOD-004", "/chosen/domU1/module@50000000")}),
    ("MOD-005", {("MOD-005", "/chosen/domU1/module@50000000")}),
    ("MOD-006", {("MOD-006", "/chosen")}),
    ("MOD-008", {("MOD-008", "/chosen/domU1")}),
    ("MOD-009", {("MOD-009", "/chosen/domU1/kernel")}),
])
def test_fires(check_fixture: Fired, rule_id: str, expected: set[tuple[str, str]]) -> None:
    assert only(check_fixture, f"{rule_id}-fires", rule_id) == expected


@pytest.mark.parametrize("rule_id", RULES)
def test_clean(check_fixture: Fired, rule_id: str) -> None:
    assert only(check_fixture, f"{rule_id}-clean", rule_id) == set()


def test_mod_009_explains_the_missing_reg_of_a_uefi_module() -> None:
    a = analyse_fixture(FIX / "MOD-009-fires.dts")
    by_rule = {f.rule: f for f in a.findings}
    assert by_rule["MOD-002"].xen_message == "node kernel missing `reg' property"
    info = by_rule["MOD-009"]
    assert info.severity == "info" and info.reached and info.property == "xen,uefi-binary"
    assert "EFI stub" in info.message and "does not model UEFI boot" in info.message
    assert "give reg for a device-tree boot, or check this system on the EFI path" in info.message


def test_mod_009_with_reg_says_the_stub_replaces_it(tmp_path: Path) -> None:
    text = (FIX / "MOD-009-clean.dts").read_text().replace(
        "reg = <0x0 0x4c000000", 'xen,uefi-binary = "Image-domU1";\n\t\t\t\treg = <0x0 0x4c000000')
    path = tmp_path / "both.dts"
    path.write_text(text)
    a = analyse_fixture(path)
    [f] = [f for f in a.findings if f.rule == "MOD-009"]
    assert a.result.outcome == "boots" and "replacing the reg written here" in f.message
