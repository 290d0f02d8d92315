"""Rule tests for DOM (xen,domain node checks): each fires fixture yields exactly its rule at the
expected node, and the clean fixture (the fix applied) is silent for that rule."""

from __future__ import annotations

from pathlib import Path

import pytest
from rulecases import rule_tests

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "dom"


CASES = [
    ("DOM-002", "/chosen"),
    ("DOM-004", "/chosen/domU1"),
    ("DOM-006", "/chosen/domU1"),
    ("DOM-009", "/chosen/domU1"),
    ("DOM-010", "/chosen/domU1"),
    ("DOM-005", "/chosen/domU1"),
    ("DOM-011", "/chosen/domU1"),
    ("DOM-012", "/chosen/domU1"),
    ("DOM-013", "/chosen/domU1"),
    ("DOM-015", "/chosen/domU1"),
    ("DOM-016", "/chosen/domU1"),
    ("DOM-018", "/chosen/domU1"),
    ("DOM-020", "/chosen/domU2"),
]


test_fires, test_clean = rule_tests("dom", CASES)


def test_domain_cpupool_is_ignored_without_boot_time_cpupools() -> None:
    """Xen's default build (and the oracle's) has no CONFIG_BOOT_TIME_CPUPOOLS: the
    property is read but never refused, so the same tree boots."""
    from pathlib import Path

    from rulecases import analyse_fixture

    fixture = Path(__file__).resolve().parent.parent / "fixtures" / "dom" / "DOM-011-fires.dts"
    text = fixture.read_text().replace(" --kconfig BOOT_TIME_CPUPOOLS=y", "", 1)
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / fixture.name
        copy.write_text(text)
        a = analyse_fixture(copy)
    assert "DOM-011" not in {f.rule for f in a.findings}
    assert a.result.outcome == "boots"


def test_redistributor_shortage_stops_xen_from_4_20() -> None:
    """Booted on 4.20.4, 4.21.2 and 4.22.0: "Could not set up domain domU1 (rc = -12)"; 4.17-4.19 boot."""
    from pathlib import Path

    from rulecases import analyse_fixture

    a = analyse_fixture(Path(__file__).resolve().parent.parent / "fixtures" / "dom" / "DOM-016-fires.dts")
    assert a.result.failed_at is not None
    assert (a.result.outcome, a.result.failed_at.rule) == ("panic", "DOM-016")
    assert a.result.failed_at.message == "Could not set up domain domU1 (rc = -12)"


@pytest.mark.parametrize(("version", "outcome"),
                         [("4.17", "boots"), ("4.19", "boots"), ("4.20", "panic"), ("4.21", "panic")])
def test_redistributor_shortage_per_release(version: str, outcome: str, tmp_path: Path) -> None:
    """As booted on 4.17.7, 4.19.6, 4.20.4 and 4.21.2."""
    from rulecases import analyse_fixture_with

    src = Path(__file__).resolve().parent.parent / "fixtures" / "dom" / "DOM-016-fires.dts"
    a = analyse_fixture_with(src, tmp_path, f"--xen-version {version}")
    assert a.result.outcome == outcome
    assert "DOM-016" in {f.rule for f in a.findings}


@pytest.mark.parametrize("version", ["4.16", "4.17"])
def test_kernel_inside_xen_image_is_probed_up_to_4_17(version: str, tmp_path: Path) -> None:
    """Booted on 4.16.7 and 4.17.7 (tests/data/measured/kernel-in-xen-image): the module is kept, the probe
    reads Xen's code and Xen panics "Could not set up domain domU1"."""
    from rulecases import analyse_fixture_with, fired

    a = analyse_fixture_with(FIXTURES / "DOM-020-fires-416.dts", tmp_path, f"--xen-version {version}")
    assert a.result.failed_at is not None
    assert (a.result.outcome, a.result.failed_at.rule) == ("panic", "DOM-020")
    assert a.result.failed_at.message == "Could not set up domain domU1"
    assert fired(FIXTURES / "DOM-020-fires-416.dts", "DOM-020") == {("DOM-020", "/chosen/domU1")}
    assert fired(FIXTURES / "DOM-020-clean-416.dts", "DOM-020") == set()


def test_kernel_inside_xen_image_is_dropped_from_4_18(tmp_path: Path) -> None:
    """Booted on 4.18.6: the early scan drops the module (MOD-004) and Xen tries to build dom0 (DOM-002)."""
    from rulecases import analyse_fixture_with

    a = analyse_fixture_with(FIXTURES / "DOM-020-fires-416.dts", tmp_path, "--xen-version 4.18")
    assert a.result.failed_at is not None
    assert a.result.failed_at.rule == "DOM-002"
    assert {"MOD-004", "DOM-002"} <= {f.rule for f in a.findings}


@pytest.mark.parametrize(("version", "outcome", "message"),
                         [("4.16", "panic", "Could not set up domain domU1"), ("4.17", "boots", None),
                          ("4.18", "panic", "Could not set up domain domU1 (rc = -22)"),
                          ("4.22", "panic", "Could not set up domain domU1 (rc = -22)")])
def test_vpl011_spi_refused_per_release(version: str, outcome: str, message: str | None, tmp_path: Path) -> None:
    """As booted on 4.16.7, 4.17.7, 4.18.6 and 4.22.0 (tests/data/measured/vpl011-nr_spis-0)."""
    from rulecases import analyse_fixture_with

    src = Path(__file__).resolve().parent.parent / "fixtures" / "dom" / "DOM-018-fires.dts"
    a = analyse_fixture_with(src, tmp_path, f"--xen-version {version}")
    assert a.result.outcome == outcome
    assert (a.result.failed_at.message if a.result.failed_at else None) == message
    hit = [f for f in a.findings if f.rule == "DOM-018"]
    assert len(hit) == 1 and hit[0].severity == ("warning" if version == "4.17" else "error")
