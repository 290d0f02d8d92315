"""DT rules: each fixture alone, the exact (rule, node) pairs it yields."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from rulecases import analyse_fixture

from xenplan.checks.dt import xen_options
from xenplan.checks.registry import lookup

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "dt"
Fired = Callable[[Path], set[tuple[str, str | None]]]


def only(check_fixture: Fired, name: str, rule_id: str) -> set[tuple[str, str | None]]:
    return {x for x in check_fixture(FIX / f"{name}.dts") if x[0] == rule_id}


@pytest.mark.parametrize(("rule_id", "fires", "expected"), [
    ("DT-004", "DT-004-fires", {("DT-004", "/chosen/domU1")}),
    ("DT-005", "DT-005-fires", {("DT-005", "/chosen/domU1")}),
    ("DT-010", "DT-010-fires", {("DT-010", "/chosen")}),
    ("DT-011", "DT-011-fires", {("DT-011", "/")}),
    ("DT-011", "DT-011-size-fires", {("DT-011", "/")}),
])
def test_fires(check_fixture: Fired, rule_id: str, fires: str, expected: set[tuple[str, str]]) -> None:
    assert only(check_fixture, fires, rule_id) == expected


@pytest.mark.parametrize("rule_id", ["DT-004", "DT-005", "DT-007", "DT-010", "DT-011"])
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


def test_dt_010_names_the_options_xen_never_sees() -> None:
    a = analyse_fixture(FIX / "DT-010-fires.dts")
    [f] = [f for f in a.findings if f.rule == "DT-010"]
    assert f.message.startswith("Xen ignores /chosen/bootargs here: ")
    assert "console=dtuart dom0_mem=3G never reach Xen" in f.message
    assert a.system.xen.cmdline == {}


def test_xen_options_are_xen_only_parameters_and_the_dtuart_console() -> None:
    assert xen_options("console=hvc0 dom0_mem=3G sched=null root=/dev/vda console=dtuart,ttyS0") == [
        "dom0_mem=3G", "sched=null", "console=dtuart,ttyS0"]


def test_dt_010_when_xen_bootargs_does_not_carry_them(tmp_path: Path) -> None:
    text = (FIX / "DT-010-fires.dts").read_text().replace(
        'bootargs = "console=dtuart dom0_mem=3G";',
        'xen,xen-bootargs = "console=dtuart"; bootargs = "console=dtuart dom0_mem=3G";')
    path = tmp_path / "both.dts"
    path.write_text(text)
    [f] = [f for f in analyse_fixture(path).findings if f.rule == "DT-010"]
    assert "reads its command line from /chosen/xen,xen-bootargs" in f.message
    assert "; dom0_mem=3G never reach Xen" in f.message


@pytest.mark.parametrize(("name", "address", "why"), [
    ("DT-011-fires", 0x48000004, "its address 0x48000004 is not 8-byte aligned"),
    ("DT-011-size-fires", 0x48000000, "--fdt-address gives 0x280000 bytes, more than 0x200000 (2 MiB)"),
])
def test_dt_011_panics_before_anything_else(name: str, address: int, why: str) -> None:
    a = analyse_fixture(FIX / f"{name}.dts")
    assert a.result.outcome == "panic" and a.result.failed_at is not None
    assert (a.result.failed_at.stage, a.result.failed_at.rule) == ("other", "DT-011")
    assert a.result.failed_at.message == f"Invalid device tree blob at physical address {address:#x}."
    [f] = [f for f in a.findings if f.rule == "DT-011"]
    assert why in f.message and f.reached and f.severity == "error"
    assert all(not f.reached for f in a.findings if f.rule != "DT-011")
