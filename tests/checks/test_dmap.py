"""Rule tests for DMAP (direct-mapped domUs): each fires fixture yields exactly its rule at the
expected node, and the clean fixture (the fix applied) is silent for that rule."""

from __future__ import annotations

from pathlib import Path

import pytest
from rulecases import analyse_fixture, analyse_fixture_with, rule_tests

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


_HOST = """// xenplan: --xen-version {version} --xen-image 0x40200000:0x154000 --fdt-address 0x48000000 \
--partial-dtb domU1={pdt}
/dts-v1/;
/ {{
	#address-cells = <2>; #size-cells = <2>;
	memory@40000000 {{ device_type = "memory"; reg = <0x0 0x40000000 0x1 0x0>; }};
	pl031@9010000 {{ compatible = "arm,pl031", "arm,primecell"; reg = <0x0 0x9010000 0x0 0x1000>;
		interrupts = <0 2 4>; xen,passthrough; }};
	ethernet@9100000 {{ reg = <0x0 0x9100000 0x0 0x1000>; interrupts = <0 40 4>; dma-coherent; xen,passthrough; }};
	chosen {{
		#address-cells = <2>; #size-cells = <2>;
		domU1 {{
			compatible = "xen,domain"; memory = <0x0 0x20000>; cpus = <1>;{extra}
			kernel@48200000 {{ compatible = "multiboot,kernel", "multiboot,module";
				reg = <0x0 0x48200000 0x0 0x10000>; }};
			pdt@48300000 {{ compatible = "multiboot,device-tree", "multiboot,module";
				reg = <0x0 0x48300000 0x0 0x2000>; }};
		}};
	}};
}};
"""

_PDT = """/dts-v1/;
/ {{
	#address-cells = <2>; #size-cells = <2>;
	passthrough {{
		compatible = "simple-bus"; ranges;
		#address-cells = <2>; #size-cells = <2>;
{devices}
	}};
}};
"""

_RTC = ('\t\trtc@9010000 { xen,path = "/pl031@9010000"; xen,reg = <0x0 0x9010000 0x0 0x1000 0x0 0x9010000>; '
        'xen,force-assign-without-iommu; };')
_ETH = ('\t\teth@9100000 { xen,path = "/ethernet@9100000"; xen,reg = <0x0 0x9100000 0x0 0x1000 0x0 0x9100000>; '
        'xen,force-assign-without-iommu; };')


def _dmap008(tmp_path: Path, devices: list[str], version: str = "4.22", extra: str = "") -> list[tuple[str, str]]:
    (tmp_path / "pdt.dts").write_text(_PDT.format(devices="\n".join(devices)))
    host = tmp_path / "host.dts"
    host.write_text(_HOST.format(version=version, pdt="pdt.dts", extra=extra))
    a = analyse_fixture(host)
    return [(f.severity, f.message) for f in a.findings if f.rule == "DMAP-008"]


@pytest.mark.parametrize("version", ["4.16", "4.22"])
def test_dmap008_warns_only_for_a_device_the_tree_marks_no_dma_master(tmp_path: Path, version: str) -> None:
    """A PL031 RTC passed through with force-assign (real Xen boots it: the ImageBuilder recording
    ``own-passthrough-rtc``) has no DMA marker: a warning, not the isolation error."""
    (hit,) = _dmap008(tmp_path, [_RTC], version)
    assert hit[0] == "warning" and "/pl031@9010000" in hit[1] and "marks no DMA master" in hit[1]


def test_dmap008_is_an_error_for_a_dma_master(tmp_path: Path) -> None:
    (hit,) = _dmap008(tmp_path, [_RTC, _ETH])
    assert hit[0] == "error" and "/ethernet@9100000" in hit[1] and "/pl031" not in hit[1]


def test_dmap008_reads_the_marker_on_the_partial_node_too(tmp_path: Path) -> None:
    (hit,) = _dmap008(tmp_path, [_RTC.replace("xen,force-assign-without-iommu;", "xen,force-assign-without-iommu; "
                                                                                    "#dma-cells = <1>;")])
    assert hit[0] == "error"


def test_dmap008_is_silent_for_a_direct_mapped_domain(tmp_path: Path) -> None:
    extra = " xen,static-mem = <0x0 0x60000000 0x0 0x8000000>; direct-map; nr_spis = <64>;"
    assert _dmap008(tmp_path, [_ETH], "4.22", extra) == []
