"""Kernel/DTB placement and the guest DTB estimate, against what the real Xen printed."""

from __future__ import annotations

from pathlib import Path

import pytest

from xenplan import dt, model
from xenplan.boot.kernel import guest_dtb_buffer, guest_dtb_size
from xenplan.boot.state import BootState
from xenplan.model.target import Target, XenVersion

CASES = Path(__file__).resolve().parent.parent / "data" / "oracle"

#: "Loading d1 DTB to a-b" sizes in the recorded console logs (misc_cpus_* cases, one RAM bank).
RECORDED = {
    ("misc_cpus_1_270", "4.16.7"): 1035, ("misc_cpus_4_272", "4.16.7"): 1323, ("misc_cpus_8_273", "4.16.7"): 1707,
    ("misc_cpus_1_270", "4.17.7"): 1031, ("misc_cpus_8_273", "4.17.7"): 1703,
    ("misc_cpus_1_270", "4.18.6"): 955, ("misc_cpus_4_272", "4.18.6"): 1243,
    ("misc_cpus_1_270", "4.20.4"): 994, ("misc_cpus_8_273", "4.20.4"): 1666,
    ("misc_cpus_1_270", "4.22.0"): 987, ("misc_cpus_4_272", "4.22.0"): 1275,
}


@pytest.mark.parametrize(("case", "version"), sorted(RECORDED))
def test_guest_dtb_estimate_matches_recorded_size(case: str, version: str) -> None:
    system = model.build(dt.load(str(CASES / case / "merged.dts")), Target(version=XenVersion.parse(version)))
    dom = system.domains[0]
    assert guest_dtb_size(BootState(system=system), dom, 1) == RECORDED[(case, version)]


@pytest.mark.parametrize(("version", "size"), [("4.16", 4096), ("4.21", 4096), ("4.22", 2048 + 128 * 128)])
def test_guest_dtb_buffer_per_release(version: str, size: int) -> None:
    system = model.build(dt.load(str(CASES / "misc_cpus_1_270" / "merged.dts")),
                         Target(version=XenVersion.parse(version)))
    assert guest_dtb_buffer(BootState(system=system)) == size
