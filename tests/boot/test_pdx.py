"""PFN compression and the frame table, ``/aliases`` and the SMMU probe: what a SoC
board costs the boot beyond QEMU ``virt``.

Pinned on what Xen 4.22.0 printed and allocated on QEMU's ``xlnx-zcu102``
(``tests/data/zcu102``): "PFN compression on bits 19...22", the frame table at
0x87c000000-0x87f7fffff, ``dt_alias_scan()``'s 47- and 49-byte requests and the SMMU
probe's 17 interrupts.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from xenplan import dt
from xenplan.boot.replay.boot_alloc import _frametable_blocks, pdx_compression
from xenplan.model.board import alias_requests, smmu_probes

GIB, MIB = 1 << 30, 1 << 20
ZYNQMP = [(0, 2 * GIB - MIB), (32 * GIB, 2 * GIB)]
TREE = Path(__file__).resolve().parent.parent / "data" / "zcu102" / "dom0less.dts"


@pytest.mark.parametrize(("ram", "hole"), [
    (ZYNQMP, (19, 4)),
    ([(GIB, 4 * GIB)], (0, 0)),
    ([(GIB, 256 * MIB), (GIB + 256 * MIB, 768 * MIB), (2 * GIB, 3 * GIB)], (0, 0)),
    ([(GIB, 62 * GIB)], (0, 0)),
])
def test_compressed_bits(ram: list[tuple[int, int]], hole: tuple[int, int]) -> None:
    assert pdx_compression(ram) == hole


def test_zynqmp_frame_table_covers_compressed_indexes() -> None:
    # 4.22: one run of four 1 GiB PDX groups, 1 Mi indexes x 56 bytes, 32 MiB aligned.
    assert _frametable_blocks(ZYNQMP, True) == [(0x3800, 0x2000)]
    # Up to 4.21: the same span padded to 32 MiB.
    assert _frametable_blocks(ZYNQMP, False) == [(0x4000, 0x2000)]


def test_runs_before_the_last_cover_whole_groups() -> None:
    # Two banks too far apart to merge and too close to compress: a run per bank.
    ram = [(GIB, 512 * MIB), (3 * GIB, GIB)]
    assert pdx_compression(ram) == (0, 0)
    assert _frametable_blocks(ram, True) == [(0x40000 * 56 >> 12, 0x200), (0x40000 * 56 >> 12, 0x200)]


def test_zcu102_aliases_and_smmu() -> None:
    tree = dt.load(str(TREE))
    assert alias_requests(tree) == (47, 49)
    assert smmu_probes(tree) == (17,)
