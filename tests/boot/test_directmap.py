"""``directmap_tables()``: the boot allocator's table pages for the arm64 direct map (4.17+).

Pinned on the layouts the traces of ``tests/data/boards`` and ``tests/data/heaptrace``
cover (QEMU ``virt``: one 1 GiB-aligned bank, NUMA nodes of 256 and 768 MiB) and on
a ZynqMP-like low bank that ends 1 MiB short of 2 GiB.
"""

from __future__ import annotations

import pytest

from xenplan.boot.replay.boot_alloc import directmap_tables

GIB, MIB = 1 << 30, 1 << 20


@pytest.mark.parametrize(("ram", "tables"), [
    ([(GIB, 4 * GIB)], 0),
    ([(GIB, GIB), (2 * GIB, GIB), (3 * GIB, 2 * GIB)], 0),
    ([(GIB, 256 * MIB), (GIB + 256 * MIB, 768 * MIB), (2 * GIB, GIB), (3 * GIB, 2 * GIB)], 1),
    ([(0, 2 * GIB - MIB), (32 * GIB, 2 * GIB)], 2),
    ([(GIB + 4096, GIB)], 4),
])
def test_table_pages(ram: list[tuple[int, int]], tables: int) -> None:
    assert directmap_tables(ram) == tables
