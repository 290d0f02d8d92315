"""SHM: static shared memory."""

from __future__ import annotations

from pathlib import Path

import pytest
from rulecases import analyse_fixture, rule_set_tests

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "shm"
D1, D2 = "/chosen/domU1", "/chosen/domU2"
S0, S1 = f"{D1}/shm@0", f"{D2}/shm@1"

FIRES = {
    "SHM-001": ("SHM-001-fires", {("SHM-001", S0), ("SHM-001", S1)}),  # S1: not reached
    "SHM-002": ("SHM-002-fires", {("SHM-002", "/chosen/box/shm@1"), ("SHM-002", "/chosen/shm@2")}),
    "SHM-003": ("SHM-003-fires", {("SHM-003", "/chosen/box/shm@1")}),
    "SHM-004": ("SHM-004-fires", {("SHM-004", S0)}),
    "SHM-006": ("SHM-006-fires", {("SHM-006", S0)}),
    "SHM-007": ("SHM-007-fires", {("SHM-007", S1)}),
    "SHM-008": ("SHM-008-fires", {("SHM-008", S1)}),
    "SHM-009": ("SHM-009-fires", {("SHM-009", S0)}),
    "SHM-010": ("SHM-010-fires", {("SHM-010", f"{D1}/shm@32")}),
    "SHM-011": ("SHM-011-fires", {("SHM-011", S1)}),
    "SHM-013": ("SHM-013-fires", {("SHM-013", D1)}),
    "SHM-013/4.17": ("SHM-013-fires-417", {("SHM-013", D1)}),
    "SHM-014": ("SHM-014-fires", {("SHM-014", D1)}),
    "SHM-015": ("SHM-015-fires", {("SHM-015", S1)}),
    "SHM-031": ("SHM-031-fires", {("SHM-031", D1)}),
    "SHM-031/mixed": ("SHM-031-fires-mixed", {("SHM-031", D2)}),
    "SHM-031/owners": ("SHM-031-fires-owners", {("SHM-031", D2)}),
    "SHM-032": ("SHM-032-fires", {("SHM-032", D2)}),
}
CLEAN = ["SHM-001", "SHM-002", "SHM-003", "SHM-004", "SHM-005", "SHM-006", "SHM-007", "SHM-008", "SHM-009",
         "SHM-010", "SHM-011", "SHM-013", "SHM-014", "SHM-015", "SHM-031", "SHM-032"]


test_fires, test_clean = rule_set_tests("shm", FIRES, CLEAN)


@pytest.mark.parametrize("name, rid, severity", [
    ("SHM-013-fires-417", "SHM-013", "warning"),   # 4.17/4.18: unchecked, a hazard
    ("SHM-013-fires", "SHM-013", "error"),         # 4.19+: the construction stage panics
    ("SHM-011-fires", "SHM-011", "error"),
    ("SHM-031-fires", "SHM-031", "error"),
])
def test_severity(name: str, rid: str, severity: str) -> None:
    assert {f.severity for f in analyse_fixture(FIX / f"{name}.dts").findings if f.rule == rid} == {severity}


def test_shm005_in_early_scan(check_fixture) -> None:
    assert check_fixture(FIX / "SHM-005-fires.dts", "SHM-005") == {("SHM-005", S0)}
    assert analyse_fixture(FIX / "SHM-005-fires.dts").result.failed_at.stage == "early-fdt"  # type: ignore[union-attr]


def test_shm011_accepted_by_scan(check_fixture) -> None:
    assert check_fixture(FIX / "SHM-011-fires.dts", "SHM-007") == set()


def test_shm001_on_416(check_fixture) -> None:
    assert check_fixture(FIX / "SHM-001-fires-416.dts", "SHM-001") == {("SHM-001", S0)}


@pytest.mark.parametrize("name, rule, stage", [
    ("SHM-001-fires", "SHM-001", "early-fdt"),
    ("SHM-031-fires-mixed", "SHM-031", "domain"),
    ("SHM-032-fires", "SHM-032", "domain"),
])
def test_outcome_of_unstaged_panics(name: str, rule: str, stage: str) -> None:
    res = analyse_fixture(FIX / f"{name}.dts").result
    assert res.failed_at is not None and (res.failed_at.rule, res.failed_at.stage) == (rule, stage)


def _many_regions(tmp_path: Path, count: int, release: str) -> Path:
    """One domU with ``count`` distinct 2 MiB host-form regions, on ``release``."""
    shms = "\n".join(
        f'shm@{i} {{ compatible = "xen,domain-shared-memory-v1"; xen,shm-id = "r{i}"; '
        f"xen,shared-mem = <0x0 {0x80000000 + i * 0x200000:#x} 0x0 {0x50000000 + i * 0x200000:#x} 0x0 0x200000>; }};"
        for i in range(count))
    path = tmp_path / f"shm{count}.dts"
    path.write_text(
        f"// xenplan: --xen-version {release} --kconfig STATIC_SHM=y\n/dts-v1/;\n/ {{ #address-cells = <2>; "
        "#size-cells = <2>;\nmemory@40000000 { device_type = \"memory\"; reg = <0x0 0x40000000 0x2 0x0>; };\n"
        "chosen { #address-cells = <2>; #size-cells = <2>;\ndomU1 { compatible = \"xen,domain\"; cpus = <1>; "
        "memory = <0x0 0x20000>;\nkernel@48000000 { compatible = \"multiboot,kernel\", \"multiboot,module\"; "
        f"reg = <0x0 0x48000000 0x0 0x1000000>; }};\n{shms}\n}}; }}; }};\n")
    return path


@pytest.mark.parametrize("release", ["4.17", "4.18"])
def test_shm010_reserved_mem_table_full_417_418(tmp_path: Path, release: str) -> None:
    """4.17/4.18 keep each new region in ``reserved_mem`` (256 banks): the 257th fails with -ENOSPC."""
    full = analyse_fixture(_many_regions(tmp_path, 257, release))
    assert {(f.rule, f.path) for f in full.findings if f.rule == "SHM-010"} == {("SHM-010", f"{D1}/shm@256")}
    fits = analyse_fixture(_many_regions(tmp_path, 256, release))
    assert not [f for f in fits.findings if f.rule == "SHM-010"]
