"""Rule tests for DMAP (direct-mapped domUs): each fires fixture yields exactly its rule at the
expected node, and the clean fixture (the fix applied) is silent for that rule."""

from __future__ import annotations

from pathlib import Path

import pytest
from rulecases import analyse_fixture_with, rule_tests

from xenplan.checks.dmap import pv_enabled
from xenplan.model.release import XenVersion, release_of
from xenplan.model.system import Domain

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "dmap"


CASES = [
    ("DMAP-001", "/chosen/domU1"),
    ("DMAP-004", "/chosen/domU1"),
    ("DMAP-006", "/chosen/domU1"),
    ("DMAP-007", "/chosen/domU1"),
    ("DMAP-008", "/chosen/domU1"),
]


test_fires, test_clean = rule_tests("dmap", CASES)


@pytest.mark.parametrize(("value", "version", "fires"), [
    ('"no-xenstore"', "4.17", True),
    ('"enabled"', "4.22", True),
    ('"legacy"', "4.20", False),
    ('"legacy"', "4.21", True),
    ('"disabled"', "4.22", False),
    ('"enable"', "4.22", False),
])
def test_dmap007_needs_a_value_the_release_knows(value: str, version: str, fires: bool, tmp_path: Path) -> None:
    """Only the ``xen,enhanced`` values ``construct_domU()`` knows give PV interfaces, and with them
    the grant-table window; any other value (XS-001) leaves the domain without one."""
    text = (FIXTURES / "DMAP-007-fires.dts").read_text().replace('"no-xenstore"', value)
    path = tmp_path / "dmap7.dts"
    path.write_text(text)
    a = analyse_fixture_with(path, tmp_path, f"--xen-version {version}")
    assert ("DMAP-007" in {f.rule for f in a.findings}) is fires


@pytest.mark.parametrize(("value", "version", "expected"), [
    (None, "4.22", False),
    ("", "4.17", True),
    ("no-xenstore", "4.17", True),
    ("enabled", "4.16", False),
    ("disabled", "4.22", False),
    ("enable", "4.22", False),
    ("legacy", "4.20", False),
    ("legacy", "4.21", True),
])
def test_pv_enabled_follows_the_release(value: str | None, version: str, expected: bool) -> None:
    dom = Domain(path="/chosen/d", name="d", index=0, enhanced=value)
    assert pv_enabled(release_of(XenVersion.parse(version)), dom) is expected
