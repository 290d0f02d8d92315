"""RSV rules: each fixture alone, the exact (rule, node) pairs it yields."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from xenplan.analysis import analyse
from xenplan.model.base import Range
from xenplan.model.target import Target, XenVersion

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "rsv"
Fired = Callable[[Path], set[tuple[str, str | None]]]


def only(check_fixture: Fired, name: str, rule_id: str) -> set[tuple[str, str | None]]:
    return {x for x in check_fixture(FIX / f"{name}.dts") if x[0] == rule_id}


@pytest.mark.parametrize(("rule_id", "fires", "expected"), [
    ("RSV-001", "RSV-001-fires", {("RSV-001", "/")}),
    ("RSV-003", "RSV-003-fires", {("RSV-003", "/reserved-memory/fw@70000000")}),
    ("RSV-010", "RSV-010-fires", {("RSV-010", "/chosen/domU2")}),
    ("RSV-011", "RSV-011-fires", {("RSV-011", "/chosen/domU1")}),
    ("RSV-011", "RSV-011-hole-fires", {("RSV-011", "/chosen/domU1"), ("RSV-011", "/chosen")}),
    ("RSV-012", "RSV-012-fires", {("RSV-012", "/")}),
    ("RSV-012", "RSV-012-hazard-fires", {("RSV-012", "/chosen/domU1")}),
    ("RSV-013", "RSV-013-fires", {("RSV-013", "/reserved-memory/fw@68000000")}),
])
def test_fires(check_fixture: Fired, rule_id: str, fires: str, expected: set[tuple[str, str]]) -> None:
    assert only(check_fixture, fires, rule_id) == expected


@pytest.mark.parametrize(("rule_id", "clean"), [
    ("RSV-001", "RSV-001-clean"),
    ("RSV-003", "RSV-003-clean"),
    ("RSV-010", "RSV-010-clean"),
    ("RSV-011", "RSV-011-clean"),
    ("RSV-012", "RSV-012-clean"),
    ("RSV-012", "RSV-012-hazard-clean"),
    ("RSV-013", "RSV-013-clean"),
])
def test_clean(check_fixture: Fired, rule_id: str, clean: str) -> None:
    assert only(check_fixture, clean, rule_id) == set()


def test_rsv_012_hazard_silent_where_xen_checks(check_fixture: Fired) -> None:
    """4.18 refuses the bank itself (RSV-010, TRUNC): no second finding about Xen or the DTB."""
    found = check_fixture(FIX / "RSV-012-hazard-reported.dts")
    assert {x for x in found if x[0] in ("RSV-010", "RSV-012")} == {("RSV-010", "/chosen/domU1")}


def test_rsv_013_silent_where_xen_checks(check_fixture: Fired) -> None:
    """4.22 refuses the same overlap in its early scan: RSV-010 reports it, RSV-013 stays quiet."""
    found = check_fixture(FIX / "RSV-013-reported.dts")
    assert {x for x in found if x[0] in ("RSV-010", "RSV-013")} == {("RSV-010", "/reserved-memory/fw@68000000")}


def test_rsv_011_check_findings_are_errors(check_fixture: Fired) -> None:
    from xenplan import boot, dt, model
    from xenplan.checks import run

    t = Target(version=XenVersion.parse("4.22"), xen_image=Range(start=0x40200000, size=0x154000),
               fdt_address=0x48000000)
    system = model.build(dt.load(str(FIX / "RSV-011-hole-fires.dts")), t)
    sev = {f.path: f.severity for f in run(system, boot.simulate(system)) if f.rule == "RSV-011"}
    assert sev == {"/chosen/domU1": "error", "/chosen": "error"}


def test_rsv_012_dtb_on_xen_is_not_recorded() -> None:
    """From 4.18 ``add_boot_module()`` refuses a DTB over Xen's image and ``boot_fdt_info()`` ignores
    the refusal: no panic, the DTB is simply missing from the module table (its pages unprotected)."""
    t = Target(version=XenVersion.parse("4.22"), xen_image=Range(start=0x40200000, size=0x154000),
               fdt_address=0x40300000)
    a = analyse(str(FIX / "RSV-012-fires.dts"), t)
    assert a.result.outcome == "boots"
    assert {(f.rule, f.severity) for f in a.findings if f.path == "/"} == {("RSV-012", "warning")}


@pytest.mark.parametrize("version,outcome", [("4.16.0", "panic"), ("4.16.7", "boots"), ("4.22", "boots")])
def test_reserved_region_table_per_release(version: str, outcome: str, tmp_path: Path) -> None:
    """255 reserved regions: NR_MEM_BANKS went from 128 to 256 in 4.16.1 (4.16.7 booted them)."""
    from rulecases import analyse_fixture_with

    src = Path(__file__).resolve().parent.parent / "fixtures" / "rsv" / "RSV-003-clean.dts"
    assert analyse_fixture_with(src, tmp_path, f"--xen-version {version}").result.outcome == outcome
