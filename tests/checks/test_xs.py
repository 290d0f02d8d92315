"""XS: xen,enhanced, xenstore and the grant table."""

from __future__ import annotations

from pathlib import Path

import pytest
from rulecases import analyse_fixture, analyse_fixture_with, rule_set_tests

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "xs"
D1, D2 = "/chosen/domU1", "/chosen/domU2"

FIRES = {
    "XS-001": ("XS-001-fires", {("XS-001", D1)}),
    "XS-002": ("XS-002-fires", {("XS-002", D1)}),
    "XS-002/4.17": ("XS-002-fires-417", {("XS-002", D1)}),
    "XS-004": ("XS-004-fires", {("XS-004", D1)}),
    "XS-005": ("XS-005-fires", {("XS-005", D1), ("XS-005", D2)}),
    "XS-005/legacy": ("XS-005-fires-421", {("XS-005", D1)}),
}
CLEAN = ["XS-001", "XS-002", "XS-004", "XS-005"]


test_fires, test_clean = rule_set_tests("xs", FIRES, CLEAN)


def test_late_xenstore_is_an_error() -> None:
    sev = {f.severity for f in analyse_fixture(FIX / "XS-005-fires.dts").findings if f.rule == "XS-005"}
    assert sev == {"error"}


@pytest.mark.parametrize(("name", "message"), [
    ("XS-002-fires", "xenstore requested, but xenstore domain not present"),
    ("XS-002-fires-417", "At the moment, Xenstore support requires dom0 to be present"),
])
def test_xs002_outcome(name: str, message: str) -> None:
    """4.21+ panics after the last domain (the harness's convention: stage domain, last domain);
    4.17-4.20 panic in ``construct_domU()`` when ``xen,enhanced`` asks for xenstore and there is
    no hardware domain (4.17.7 ``domain_build.c``, 4.20.4 ``dom0less-build.c``)."""
    res = analyse_fixture(FIX / f"{name}.dts").result
    assert res.outcome == "panic"
    assert res.failed_at is not None and (res.failed_at.rule, res.failed_at.stage) == ("XS-002", "domain")
    assert res.failed_at.message == message


def test_xen_416_does_not_read_xen_enhanced(tmp_path: Path) -> None:
    """4.16 has no ``xen,enhanced`` (``construct_domU()`` first reads it in 4.17): the domU that
    asks for xenstore without a dom0 is an ordinary domU, it boots, and VER-003 says the property
    is ignored."""
    a = analyse_fixture_with(FIX / "XS-002-fires-417.dts", tmp_path, "--xen-version 4.16")
    assert a.result.outcome == "boots"
    assert "XS-002" not in {f.rule for f in a.findings}
    assert ("VER-003", D1) in {(f.rule, f.path) for f in a.findings}
