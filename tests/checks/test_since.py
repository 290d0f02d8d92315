"""A rule's ``since``/``until`` name release lines: ``4.17`` is 4.17.0 and every later point
release, ``until="4.17"`` stops before 4.17.0; a point release is written where it matters."""

from __future__ import annotations

from pathlib import Path

import pytest
from rulecases import analyse_fixture

from xenplan.checks import lookup
from xenplan.model.release import XenVersion, release_of

FIX = Path(__file__).resolve().parent.parent / "fixtures"


@pytest.mark.parametrize(("fixture", "rule", "version", "fires"), [
    ("xs/XS-001-fires.dts", "XS-001", "4.16.7", False),
    ("xs/XS-001-fires.dts", "XS-001", "4.17.0", True),
    ("xs/XS-001-fires.dts", "XS-001", "4.17.6", True),
    ("rt/RT-020-fires.dts", "RT-020", "4.16.0", True),
    ("rt/RT-020-fires.dts", "RT-020", "4.16.2", True),
    ("rt/RT-020-fires.dts", "RT-020", "4.17.0", False),
])
def test_a_line_holds_for_all_its_point_releases(fixture: str, rule: str, version: str, fires: bool,
                                                   tmp_path: Path) -> None:
    lines = [x for x in (FIX / fixture).read_text().splitlines() if "xenplan:" not in x]
    copy = tmp_path / Path(fixture).name
    copy.write_text("\n".join([f"// xenplan: --xen-version {version}", *lines]) + "\n")
    a = analyse_fixture(copy)
    assert (rule in {f.rule for f in a.findings}) is fires


@pytest.mark.parametrize(("version", "expected"), [("4.16.2", False), ("4.16.3", True), ("4.17.0", True)])
def test_the_p2m_pool_rule_starts_at_its_point_release(version: str, expected: bool) -> None:
    """ALLOC-006 (the P2M pool, XSA-409) exists from 4.16.3, not from 4.16.0."""
    r = lookup("ALLOC-006")
    assert r is not None and r.since == "4.16.3"
    assert release_of(XenVersion.parse(version)).within(r.since, r.until) is expected
