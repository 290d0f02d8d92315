"""HWD: dom0 and the dom0less hardware domain."""

from __future__ import annotations

from pathlib import Path

import pytest
from rulecases import analyse_fixture, rule_set_tests

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "hwd"
D1 = "/chosen/domU1"

FIRES = {
    "HWD-001": ("HWD-001-fires", {("HWD-001", "/chosen")}),
    "HWD-002": ("HWD-002-fires", {("HWD-002", "/chosen")}),
    "HWD-004": ("HWD-004-fires", {("HWD-004", "/chosen")}),
    "HWD-005": ("HWD-005-fires", {("HWD-005", "/chosen/shm@0")}),
    "HWD-005/4.18": ("HWD-005-fires-418", {("HWD-005", "/chosen/shm@0")}),
    "HWD-010": ("HWD-010-fires", {("HWD-010", D1)}),
    "HWD-011": ("HWD-011-fires", {("HWD-011", D1)}),
}
CLEAN = ["HWD-001", "HWD-002", "HWD-004", "HWD-005", "HWD-010", "HWD-011"]


test_fires, test_clean = rule_set_tests("hwd", FIRES, CLEAN)


@pytest.mark.parametrize("name, severity", [("HWD-005-fires", "error"), ("HWD-005-fires-418", "warning")])
def test_hwd005_per_release(name: str, severity: str) -> None:
    assert {f.severity for f in analyse_fixture(FIX / f"{name}.dts").findings if f.rule == "HWD-005"} == {severity}


def test_hwd010_outcome() -> None:
    res = analyse_fixture(FIX / "HWD-010-fires.dts").result
    assert res.failed_at is not None and res.failed_at.rule == "HWD-010"


def test_hwd005_stops_dom0_from_4_19() -> None:
    """Booted on 4.22.0: "Could not set up d0 guest OS (rc = -22)"."""
    r = analyse_fixture(FIX / "HWD-005-fires.dts").result
    assert r.failed_at is not None
    assert (r.outcome, r.failed_at.rule, r.failed_at.message) == ("panic", "HWD-005",
                                                                 "Could not set up d0 guest OS (rc = -22)")
    assert next((d.name, d.status) for d in r.domains) == ("dom0", "failed")


def test_hwd001_names_the_property_xen_read(tmp_path: Path) -> None:
    """Without xen,xen-bootargs, with xen,dom0-bootargs, Xen takes its command line from /chosen/bootargs
    (boot_fdt_cmdline()): dom0_mem missing there is the finding, on that property."""
    src = (FIX.parent / "dt" / "DT-010-fires.dts").read_text()
    src = src.replace('bootargs = "console=dtuart dom0_mem=3G";',
                      'bootargs = "console=dtuart";\n\t\txen,dom0-bootargs = "console=hvc0";')
    assert "xen,dom0-bootargs" in src
    tree = tmp_path / "t.dts"
    tree.write_text(src)
    hits = [f for f in analyse_fixture(tree).findings if f.rule == "HWD-001"]
    assert [(f.path, f.property) for f in hits] == [("/chosen", "bootargs")]
    assert "(read from /chosen/bootargs)" in hits[0].message
