"""EVT: static event channels."""

from __future__ import annotations

from pathlib import Path

from rulecases import analyse_fixture, rule_set_tests

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "evt"
A, B = "/chosen/domU1/evtchn-ea", "/chosen/domU2/evtchn-eb"

FIRES = {
    "EVT-001": {("EVT-001", A), ("EVT-001", B)},
    # The stage goes on after the first failure: both one-sided ends are reported.
    "EVT-003": {("EVT-003", A), ("EVT-003", B)},
    "EVT-004": {("EVT-004", A)},
    "EVT-005": {("EVT-005", A)},
    "EVT-006": {("EVT-006", "/chosen/domU1/evtchn-ec")},
    "EVT-007": {("EVT-007", A)},
}


test_fires, test_clean = rule_set_tests("evt", {r: (f"{r}-fires", e) for r, e in FIRES.items()}, sorted(FIRES))


def test_evt001_on_416(check_fixture) -> None:
    assert check_fixture(FIX / "EVT-001-fires-416.dts", "EVT-001") == FIRES["EVT-001"]


def test_evt007_outcome() -> None:
    res = analyse_fixture(FIX / "EVT-007-fires.dts").result
    assert res.outcome == "panic"
    assert res.failed_at is not None and (res.failed_at.rule, res.failed_at.domain) == ("EVT-007", "domU3")
