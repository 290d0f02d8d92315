"""RT: run-time memory hazards of static and direct-mapped domains."""

from __future__ import annotations

from pathlib import Path

import pytest
from rulecases import rule_set_tests

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "rt"
D1, D2 = "/chosen/domU1", "/chosen/domU2"

FIRES = {
    "RT-001": {("RT-001", D1)},
    "RT-002": {("RT-002", D1)},
    "RT-003": {("RT-003", D1)},
    "RT-004": {("RT-004", D1)},
    "RT-005": {("RT-005", D1)},
    "RT-006": {("RT-006", D2)},
    "RT-007": {("RT-007", D1)},
    "RT-012": {("RT-012", D1)},
    "RT-020": {("RT-020", D1)},
}


test_fires, test_clean = rule_set_tests("rt", {r: (f"{r}-fires", e) for r, e in FIRES.items()}, sorted(FIRES))


def test_rt020_breaks_isolation() -> None:
    from rulecases import analyse_fixture

    f = [x for x in analyse_fixture(FIX / "RT-020-fires.dts").findings if x.rule == "RT-020"]
    assert [x.severity for x in f] == ["error"]


def test_rt_rules_quiet_on_416_except_rt020(check_fixture) -> None:
    """4.16 has no reserved list: only RT-020 speaks for a static domain there."""
    assert check_fixture(FIX / "RT-020-fires.dts", "RT-") == {("RT-020", D1)}


@pytest.mark.parametrize(("version", "says"), [("4.16", "'s xen,enhanced turns on no PV interfaces on this release"),
                                                ("4.22", " has xen,enhanced, so its kernel gets Xen's PV interfaces")])
def test_balloon_hint_follows_what_the_release_reads(version: str, says: str) -> None:
    """4.16 does not read ``xen,enhanced`` (``construct_domU()`` first does in 4.17), so there a
    guest with the property gets no PV interfaces and no balloon driver comes with them."""
    import xenplan
    from xenplan.checks.rt import balloon_hint

    root = Path(__file__).resolve().parent.parent.parent
    target = xenplan.build_target(xen_version=version, xen_image="0x5a00000:0x160000", fdt_address="0x5c00000")
    a = xenplan.analyse(str(root / "examples" / "zcu102.dts"), target)
    dom = next(d for d in a.system.domains if d.name == "rt-a")
    assert dom.enhanced is not None
    assert balloon_hint(a.system, dom).startswith(f"rt-a{says}")
