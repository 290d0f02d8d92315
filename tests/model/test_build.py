"""``xenplan.model.build``: the tree decoded the way Xen's early scan decodes it.

Each fixture in ``tests/fixtures/model/`` holds one decoding question
(DT-001…DT-006, RAM-001, MOD-003, DOM-004 and the S4 order);
the tests assert on ``system.scan`` (kind, path, pairs) and ``system.domains``.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from xenplan.dt.load import load
from xenplan.dt.tree import Tree
from xenplan.model.base import Range
from xenplan.model.build import build
from xenplan.model.system import ScanItem, System
from xenplan.model.target import Target, XenVersion

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "model"
ALL_VERSIONS = ("4.16", "4.17", "4.18", "4.19", "4.20", "4.21", "4.22")


@cache
def _tree(name: str) -> Tree:
    return load(str(FIXTURES / f"{name}.dts"))


def system(name: str, version: str = "4.22") -> System:
    return build(_tree(name), Target(version=XenVersion.parse(version)))


def R(start: int, size: int) -> Range:
    return Range(start=start, size=size)


def items(sys: System, kind: str | None = None) -> list[tuple[str, str, tuple[Range, ...]]]:
    return [(i.kind, i.path, i.pairs) for i in sys.scan if kind is None or i.kind == kind]


def item(sys: System, kind: str, path: str) -> ScanItem:
    found = [i for i in sys.scan if i.kind == kind and i.path == path]
    assert len(found) == 1, f"{kind} {path}: {found}"
    return found[0]


# ------------------------------------------------------------------ DT-001


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_root_without_cells_defaults_to_2_1_everywhere(version: str) -> None:
    s = system("cells-root-default", version)
    assert item(s, "ram", "/memory@40000000").pairs == (R(0x40000000, 0x10000000),)
    assert item(s, "module", "/chosen/domU1/module@48200000").pairs == (R(0x48200000, 0x10000),)
    assert s.board.ram == (R(0x40000000, 0x10000000),)
    if version != "4.16":
        # /chosen inherits 2/1 from the root; the domain node's cells play no part.
        assert item(s, "static-mem", "/chosen/domU1").pairs == (R(0x44000000, 0x1000000),)
        assert s.domains[0].static_mem == (R(0x44000000, 0x1000000),)


# ------------------------------------------------------------------ DT-002


@pytest.mark.parametrize("version", ["4.17", "4.18", "4.20", "4.22"])
def test_each_property_is_decoded_with_its_parents_cells(version: str) -> None:
    s = system("cells-parent", version)
    # /memory reg: root cells 2/2.
    assert item(s, "ram", "/memory@40000000").pairs == (R(0x40000000, 0x100000000),)
    # /chosen xen,static-heap: root cells 2/2, not /chosen's 1/1.
    assert item(s, "static-heap", "/chosen").pairs == (R(0x50000000, 0x2000000),)
    assert s.xen.static_heap == (R(0x50000000, 0x2000000),)
    # dom0 module directly under /chosen: /chosen cells 1/1.
    assert item(s, "module", "/chosen/module@48100000").pairs == (R(0x48100000, 0x10000),)
    # domU module: the domain node's cells 2/1.
    assert item(s, "module", "/chosen/domU1/module@48200000").pairs == (R(0x48200000, 0x10000),)
    # xen,static-mem: /chosen's 1/1, although the domain node says 2/1.
    assert item(s, "static-mem", "/chosen/domU1").pairs == (R(0x60000000, 0x1000000),)
    (dom,) = s.domains
    assert dom.static_mem == (R(0x60000000, 0x1000000),)
    assert dom.static_mem_error is None
    # shm under a domain: the domain node's cells 2/1 (host, guest, size).
    shm = item(s, "shm", "/chosen/domU1/shm@70000000").shm
    assert shm is not None
    assert (shm.host, shm.guest, shm.size) == (0x70000000, 0x80000000, 0x200000)
    assert (shm.address_cells, shm.size_cells) == (2, 1)


def test_static_heap_is_not_read_before_4_17() -> None:
    s = system("cells-parent", "4.16")
    assert items(s, "static-heap") == []
    assert s.xen.static_heap == ()


# ------------------------------------------------------------------ DT-003


@pytest.mark.parametrize("version", ["4.16", "4.18", "4.22"])
def test_reserved_memory_children_default_to_2_1_not_the_roots_cells(version: str) -> None:
    s = system("cells-reserved-memory", version)
    assert item(s, "ram", "/memory@40000000").pairs == (R(0x40000000, 0x40000000),)
    assert item(s, "reserved", "/reserved-memory/buf@50000000").pairs == (R(0x50000000, 0x100000),)
    assert [r.ranges for r in s.board.reserved] == [(R(0x50000000, 0x100000),)]


def test_reserved_memory_own_cells_decode_its_children_and_disabled_children_are_skipped() -> None:
    s = system("cells-reserved-memory-own")
    assert items(s, "reserved") == [("reserved", "/reserved-memory/buf@50000000", (R(0x50000000, 0x100000),))]
    assert [r.path for r in s.board.reserved] == ["/reserved-memory/buf@50000000"]


# ------------------------------------------------------------------ DT-004


@pytest.mark.parametrize("version", ["4.16", "4.18", "4.20", "4.22"])
def test_zero_cells_record_an_error_on_the_scan_item(version: str) -> None:
    s = system("cells-zero", version)
    it = item(s, "ram", "/memory@40000000")
    assert it.error is not None
    assert it.rc == -22
    assert it.pairs == ()
    assert s.board.ram == ()


def test_three_address_cells_read_the_first_cell_and_step_over_all_of_them() -> None:
    s = system("cells-three")
    # reg = <0x1 0x2 0x3 0x4  0x5 0x6 0x7 0x8>: two pairs of 3 + 1 cells.
    assert item(s, "ram", "/memory@40000000").pairs == (R(0x1, 0x4), R(0x5, 0x8))


@pytest.mark.parametrize("version", ["4.17", "4.18", "4.20", "4.22"])
def test_static_mem_with_zero_chosen_cells_is_an_error(version: str) -> None:
    """4.17+: /chosen's cells decode ``xen,static-mem``; 0 is refused (-EINVAL), whatever the domain says."""
    s = system("static-mem-chosen-zero", version)
    it = item(s, "static-mem", "/chosen/domU1")
    assert it.error is not None and it.rc == -22 and it.pairs == ()
    (dom,) = s.domains
    assert dom.static_mem_present and dom.static_mem == () and dom.static_mem_error is not None


# ------------------------------------------------------------------ DT-006


@pytest.mark.parametrize("version", ["4.16", "4.20", "4.22"])
def test_disabled_memory_node_is_ignored(version: str) -> None:
    s = system("memory-disabled", version)
    assert [p for _k, p, _r in items(s, "ram")] == ["/memory@40000000", "/memory@140000000"]
    assert s.board.ram == (R(0x40000000, 0x40000000), R(0x140000000, 0x40000000))


# --------------------------------------------------- xen,static-mem cell forms


def test_static_mem_on_4_16_uses_the_static_mem_cells_of_the_domain_node() -> None:
    s = system("static-mem-cells", "4.16")
    legacy = item(s, "static-mem", "/chosen/legacy")
    assert legacy.error is None
    assert legacy.pairs == (R(0x0, 0x60000000), R(0x0, 0x1000000))
    plain = item(s, "static-mem", "/chosen/plain")
    assert plain.error is not None and plain.rc == -22
    assert plain.pairs == ()
    dom = s.domain("/chosen/plain")
    assert dom is not None and dom.static_mem_present and dom.static_mem_error is not None


@pytest.mark.parametrize("version", ["4.17", "4.18", "4.20", "4.22"])
def test_static_mem_from_4_17_ignores_static_mem_cells_and_the_domain_cells(version: str) -> None:
    s = system("static-mem-cells", version)
    assert item(s, "static-mem", "/chosen/legacy").pairs == (R(0x60000000, 0x1000000),)
    assert item(s, "static-mem", "/chosen/plain").pairs == (R(0x70000000, 0x1000000),)
    by_path = {d.path: d for d in s.domains}
    assert by_path["/chosen/legacy"].static_mem == (R(0x60000000, 0x1000000),)
    assert by_path["/chosen/plain"].static_mem == (R(0x70000000, 0x1000000),)
    assert all(d.static_mem_error is None and d.is_static for d in s.domains)


# ------------------------------------------------------------------ RAM-001


@pytest.mark.parametrize("version", ["4.20", "4.21", "4.22"])
def test_memory_nodes_from_4_20_need_depth_1_and_device_type(version: str) -> None:
    s = system("ram-recognition", version)
    assert items(s, "ram") == [("ram", "/memory@40000000", (R(0x40000000, 0x40000000),))]


@pytest.mark.parametrize("version", ["4.16", "4.17", "4.18", "4.19"])
def test_memory_nodes_before_4_20_are_any_node_named_memory(version: str) -> None:
    s = system("ram-recognition", version)
    assert items(s, "ram") == [
        ("ram", "/memory@40000000", (R(0x40000000, 0x40000000),)),
        ("ram", "/memory@80000000", (R(0x80000000, 0x10000000),)),
        # nested: decoded with its parent's (/soc's) 1/1 cells
        ("ram", "/soc/memory@a0000000", (R(0xA0000000, 0x1000000),)),
        # a /reserved-memory child named memory is reserved *and* RAM
        ("ram", "/reserved-memory/memory@b0000000", (R(0xB0000000, 0x100000),)),
    ]
    assert item(s, "reserved", "/reserved-memory/memory@b0000000").pairs == (R(0xB0000000, 0x100000),)


# ------------------------------------------------------------------ MOD-003


@pytest.mark.parametrize("version", ["4.16", "4.22"])
def test_untyped_modules_share_one_global_counter(version: str) -> None:
    s = system("module-kinds", version)
    kinds = {m.path: (m.kind, m.explicit_kind, m.domain) for m in s.modules}
    assert kinds == {
        "/chosen/module@48100000": ("kernel", False, None),  # 1st untyped: kernel
        "/chosen/domU1/module@48200000": ("kernel", True, "/chosen/domU1"),
        "/chosen/domU1/module@48300000": ("ramdisk", False, "/chosen/domU1"),  # 2nd untyped
        "/chosen/domU2/module@48400000": ("unknown", False, "/chosen/domU2"),  # 3rd untyped, no XSM magic
        "/chosen/domU2/module@48500000": ("ramdisk", True, "/chosen/domU2"),
    }
    assert [m.path for m in s.xen.dom0_modules] == ["/chosen/module@48100000"]
    by_name = {d.name: d for d in s.domains}
    assert [m.path for m in by_name["domU1"].modules] == [
        "/chosen/domU1/module@48200000", "/chosen/domU1/module@48300000"]
    k = by_name["domU1"].kernel()
    assert k is not None and k.path == "/chosen/domU1/module@48200000"
    assert by_name["domU2"].kernel() is None


# ------------------------------------------------------------------ DOM-004


def test_memory_property_is_a_64_bit_kib_count() -> None:
    s = system("domain-memory")
    mem = {d.name: (d.memory_kib, d.memory_len) for d in s.domains}
    assert mem == {
        "two-cells": ((1 << 32) | 0x20000, 8),
        "one-cell": (None, 4),
        "three-cells": (0x40000, 12),
        "none": (None, 0),
    }
    assert [d.index for d in s.domains] == [0, 1, 2, 3]
    assert {d.name: d.cpus for d in s.domains} == {"two-cells": 1, "one-cell": 1, "three-cells": 1, "none": 2}
    assert not any(d.is_static for d in s.domains)


# ------------------------------------------------------------ early-scan order


@pytest.mark.parametrize("version", ["4.17", "4.18", "4.20", "4.22"])
def test_scan_is_document_order_parents_before_children(version: str) -> None:
    s = system("scan-order", version)
    assert [(k, p) for k, p, _r in items(s)] == [
        ("ram", "/memory@40000000"),
        ("static-heap", "/chosen"),
        ("static-mem", "/chosen/domU1"),  # the domain's property before its children
        ("module", "/chosen/domU1/module@48200000"),
        ("shm", "/chosen/domU1/shm@70000000"),
        ("module", "/chosen/module@48100000"),  # dom0 module after domU1, as written
        ("static-mem", "/chosen/domU2"),
        ("module", "/chosen/domU2/module@48300000"),
        ("reserved", "/reserved-memory/a@58000000"),  # after every domain
        ("ram", "/memory@100000000"),
    ]
    # RAM banks are sorted whatever the scan order.
    assert s.board.ram == (R(0x40000000, 0x100000000), R(0x100000000, 0x10000000))
    assert [d.name for d in s.domains] == ["domU1", "domU2"]
    # domU2 has no cells of its own: it inherits /chosen's 2/2 for its module.
    assert item(s, "module", "/chosen/domU2/module@48300000").pairs == (R(0x48300000, 0x10000),)
    assert item(s, "static-mem", "/chosen/domU1").domain == "/chosen/domU1"
    assert item(s, "module", "/chosen/domU1/module@48200000").domain == "/chosen/domU1"
    assert item(s, "module", "/chosen/module@48100000").domain is None


# ------------------------------------------------------------------ DT-007

DEEP = "/n1/n2/n3/n4/n5/n6/n7/n8/n9/n10/n11/n12/n13/n14/memory@80000000"


def test_nodes_16_levels_deep_are_not_scanned() -> None:
    """4.18 takes any node named memory as RAM (RAM-001); depth 15 still counts, depth 16 does not."""
    s = system("too-deep", "4.18")
    assert [p for _k, p, _r in items(s, "ram")] == ["/memory@40000000", DEEP]


def test_nodes_16_levels_deep_are_listed_as_dropped() -> None:
    s = system("too-deep", "4.18")
    assert s.dropped_nodes == (DEEP + "/memory@90000000",)
