"""``XenRelease``: every field's value on every modelled release, as one table.

Adding a Xen release is adding one column: its name to ``RELEASES`` and its
value to every row of ``TABLE`` (``xenplan/model/release.py`` says where in
Xen's source each value is decided).
"""

from __future__ import annotations

import ast
import dataclasses
import itertools
from pathlib import Path

import pytest

from xenplan.model.release import ReplaySizes, XenRelease, XenVersion, release_of
from xenplan.model.target import Target

T, F = True, False
OLD_BUG, NEW_BUG = "page_alloc.c", "common/page_alloc.c"
S0: frozenset[str] = frozenset()
S1 = frozenset({"direct-map", "domain-cpupool", "xen,enhanced"})
S2 = frozenset({"direct-map", "domain-cpupool", "sve", "xen,enhanced"})
S3 = frozenset({"direct-map", "domain-cpupool", "passthrough", "sve", "xen,enhanced"})
S4 = frozenset({"direct-map", "domain-cpupool", "llc-colors", "passthrough", "sve", "xen,enhanced"})
S5 = frozenset({"capabilities", "direct-map", "domain-cpupool", "llc-colors", "passthrough", "sve",
                "trap-unmapped-accesses", "xen,enhanced", "xen,sci_type"})
S6 = frozenset({"xen,static-heap"})
E7 = (("", "xenstore"), ("enabled", "xenstore"), ("no-xenstore", "no-xenstore"))
E8 = (("", "xenstore"), ("enabled", "xenstore"), ("legacy", "legacy"), ("no-xenstore", "no-xenstore"))
S9 = frozenset({"xenstore"})
S10 = frozenset({"legacy"})
S11 = frozenset({"ACPI", "vPCI ECAM", "vPCI MEM", "vPCI prefetchable MEM"})
S12 = frozenset({"ACPI", "vPCI ECAM", "vPCI MEM", "vPCI prefetchable MEM", "virtio-mmio"})

RELEASES = ("4.16.0", "4.16.2", "4.16.3", "4.16.7", "4.17.7", "4.18.6", "4.19.1",
            "4.19.6", "4.20.4", "4.21.2", "4.22.0", "4.23-dev")
TABLE: dict[str, tuple[object, ...]] = {
    "memory_node_needs_device_type": (F, F, F, F, F, F, F, F, T, T, T, T),
    "static_mem_cells_props": (T, T, T, T, F, F, F, F, F, F, F, F),
    "static_heap": (F, F, F, F, T, T, T, T, T, T, T, T),
    "direct_map": (F, F, F, F, T, T, T, T, T, T, T, T),
    "domain_props": (S0, S0, S0, S0, S1, S2, S3, S3, S4, S5, S5, S5),
    "chosen_props": (S0, S0, S0, S0, S6, S6, S6, S6, S6, S6, S6, S6),
    "vcpu_affinity_nodes": (F, F, F, F, F, F, F, F, F, T, T, T),
    "domain_capabilities": (F, F, F, F, F, F, F, F, F, T, T, T),
    "enhanced_modes": ((), (), (), (), E7, E7, E7, E7, E7, E8, E8, E8),
    "late_xenstore_modes": (S0, S0, S0, S0, S9, S9, S9, S9, S9, S10, S10, S10),
    "xenstore_page_by_xen": (F, F, F, F, F, F, F, F, F, T, T, T),
    "grant_frame_props": (F, F, F, F, F, T, T, T, T, T, T, T),
    "static_shm_binding": (F, F, F, F, T, T, T, T, T, T, T, T),
    "static_evtchn_binding": (F, F, F, F, T, T, T, T, T, T, T, T),
    "static_evtchn_kconfig_gate": (F, F, F, F, F, F, T, T, T, T, T, T),
    "static_mem_kconfig_in_scan": (F, F, F, F, F, F, F, F, F, F, F, T),
    "partial_dt_needs_iommu": (T, T, T, T, F, F, F, F, F, F, F, F),
    "passthrough_cells_checked": (F, F, F, F, F, F, F, F, F, F, T, T),
    "cpupool_binding": (F, F, F, F, T, T, T, T, T, T, T, T),
    "llc_coloring": (F, F, F, F, F, F, F, F, F, F, F, F),
    "nr_mem_banks": (128, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256),
    "early_fdt_error": (
        "truncate", "truncate", "truncate", "truncate", "truncate", "truncate",
        "panic", "panic", "panic", "panic", "panic", "panic"),
    "early_fdt_overlap": (
        "none", "none", "none", "none", "none", "truncate",
        "panic", "panic", "panic", "panic", "panic", "panic"),
    "fdt_xen_overlap_refused": (F, F, F, F, F, T, T, T, T, T, T, T),
    "memreserve_in_bootinfo": (F, F, F, F, F, F, T, T, T, T, T, T),
    "memreserve_covers_shm": (F, F, F, F, F, F, F, T, T, T, T, T),
    "shm_banks_tracked": (F, F, F, F, F, F, T, T, T, T, T, T),
    "shm_scan": ("4.17", "4.17", "4.17", "4.17", "4.17", "4.18", "4.19", "4.19", "4.19", "4.19", "4.19", "4.19"),
    "shm_host_optional": (F, F, F, F, F, F, T, T, T, T, T, T),
    "shm_alignment_in_scan": (F, F, F, F, F, F, T, T, T, T, T, T),
    "shm_direct_map_checked": (F, F, F, F, F, F, T, T, T, T, T, T),
    "dom0_shm_host_checked": (F, F, F, F, F, F, T, T, T, T, T, T),
    "nr_shm_banks_per_domain": (256, 256, 256, 256, 256, 256, 32, 32, 32, 32, 32, 32),
    "node_struct_size": (144, 144, 144, 144, 144, 144, 144, 144, 144, 128, 128, 128),
    "frametable_per_pdx_group": (F, F, F, F, F, F, F, F, F, F, T, T),
    "boot_directmap_table": (F, F, F, F, T, T, T, T, T, T, T, T),
    "boot_frametable_tables": (1, 1, 1, 1, 1, 1, 4, 4, 4, 4, 4, 4),
    "sub_page_static_bank_panics": (T, T, T, T, T, T, F, F, F, F, F, F),
    "static_free_overlap_scan": (T, T, T, T, F, F, F, F, F, F, F, F),
    "static_total_ram0_bug": (T, T, T, T, T, T, T, T, T, T, F, F),
    "dom016": (None, None, None, None, "WARN", "WARN", "WARN", "WARN", "PANIC", "PANIC", "PANIC", "PANIC"),
    "guest_dtb_buffer": (4096, 4096, 4096, 4096, 4096, 4096, 4096, 4096, 4096, 4096, 18432, 18432),
    "guest_dtb_includes_pdt": (F, F, F, F, F, T, T, T, T, T, T, T),
    "guest_dtb_base": (902, 902, 902, 902, 898, 822, 861, 861, 861, 861, 854, 854),
    "guest_dtb_shm_nodes": (F, F, F, F, T, T, T, T, T, T, T, T),
    "extended_regions": (F, F, F, F, T, T, T, T, T, T, T, T),
    "ext_region_rounding_bug": (F, F, F, F, F, T, T, T, T, F, F, F),
    "ext_region_rangesets": (F, F, F, F, F, F, F, F, F, T, T, T),
    "dom0_construct": (F, F, T, T, T, T, T, T, T, T, T, T),
    "hwdom_extended_regions": (T, T, T, T, T, T, T, T, T, T, T, T),
    "maxcpus": (F, F, F, F, T, T, T, T, T, T, T, T),
    "vgic_v2_maps_gicc": (T, T, T, T, T, F, F, F, F, F, F, F),
    "dom0_gnttab_bank": (F, F, F, F, F, F, F, F, T, T, T, T),
    "dom0_fdt_bank_room": (F, F, F, F, F, F, F, F, F, F, T, T),
    "debug_replay": (T,) * 12,
    "log_lower_threshold": (2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3),
    "membank_shm_id": (F, F, F, F, T, T, F, F, F, F, F, F),
    "ext_bank_header": (8, 8, 8, 8, 8, 8, 8, 8, 16, 16, 16, 16),
    "xen_reg_assigned_set": (F, F, F, F, F, F, F, F, F, T, T, T),
    "vpl011_backend_late": (T, T, T, T, F, F, F, F, F, F, F, F),
    "vpl011_spi_error": (("fail-late",) * 4 + ("ignored",) + ("fail",) * 7),
    "xenstore_domain": (F, F, F, F, F, F, F, F, F, T, T, T),
    "guest_reserved_windows": (S11, S11, S11, S11, S12, S12, S12, S12, S12, S12, S12, S12),
    "rc_in_panic": (F, F, F, F, F, T, T, T, T, T, T, T),
    "dom0_panic_names_d0": (F, F, F, F, F, F, F, F, F, T, T, T),
    "bug_file": (
        OLD_BUG, OLD_BUG, OLD_BUG, OLD_BUG, NEW_BUG, NEW_BUG,
        NEW_BUG, NEW_BUG, NEW_BUG, NEW_BUG, NEW_BUG, NEW_BUG),
    "bug_mark_page_free_line": (1419, 1419, 1419, 1419, 1423, 1438, 1480, 1480, 1480, 1522, 1522, 1522),
    "bug_alloc_boot_pages_line": (436, 436, 436, 436, 440, 447, 463, 463, 463, 464, 464, 464),
    "xen_image_size": (
        0x1300c8, 0x1300c8, 0x1300c8, 0x1300c8, 0x1360c8, 0x145000,
        0x14c000, 0x14c000, 0x14c000, 0x154000, 0x154000, 0x154000),
    "xen_image_max": (2 << 20,) * 5 + (8 << 20,) * 7,
    "static_free_to_resv_list": (F, F, F, F, T, T, T, T, T, T, T, T),
    "static_populate_from_resv": (F, F, F, F, T, T, T, T, T, T, T, T),
    "p2m_pool": (F, F, T, T, T, T, T, T, T, T, T, T),
    "sizes.timer_irqs": (4, 4, 4, 4, 4, 3, 3, 3, 3, 3, 0, 0),
    "sizes.csched2_private": (80, 80, 80, 80, 80, 80, 72, 72, 72, 72, 72, 72),
    "sizes.pool_scheduler": (F, F, F, F, T, T, T, T, T, T, T, T),
    "sizes.credit_small": (T, T, T, T, F, F, F, F, F, F, F, F),
    "sizes.gnttab": (152, 152, 152, 152, 136, 112, 104, 104, 104, 104, 104, 104),
    "sizes.active_entry": (40, 40, 40, 40, 40, 32, 32, 32, 32, 32, 32, 32),
    "sizes.gnttab_gfn_arrays": (T, T, T, T, F, F, F, F, F, F, F, F),
    "sizes.gnttab_xv": (F, F, F, F, F, F, F, F, T, T, T, T),
    "sizes.vgic_rank": (88, 88, 88, 88, 88, 88, 84, 84, 84, 84, 84, 84),
    "sizes.waitqueue": (T, T, T, T, T, T, T, T, T, T, F, F),
    "sizes.pbuf": (T, T, T, T, T, T, T, T, T, T, F, F),
    "sizes.console": (F, F, F, F, F, F, F, F, F, F, T, T),
    "sizes.intc_node": (F, F, F, F, T, T, T, T, T, T, T, T),
    "sizes.boot_vmap_pages": (2, 2, 2, 2, 3, 3, 0, 0, 0, 0, 0, 0),
    "sizes.console_flush_buffer": (F, F, F, F, F, F, F, F, F, T, T, T),
    "sizes.p2m_pool_initial_pages": (0, 0, 16, 16, 16, 0, 0, 0, 0, 0, 0, 0),
    "sizes.lock_debug_buffer": (0,) * 12,
    "debug_sizes.gnttab": (160, 160, 160, 160, 144, 120, 120, 120, 120, 120, 120, 120),
    "debug_sizes.active_entry": (48, 48, 48, 48, 48, 40, 40, 40, 40, 40, 40, 40),
    "debug_sizes.csched2_private": (80,) * 12,
    "debug_sizes.vgic_rank": (88,) * 12,
    "debug_sizes.lock_debug_buffer": (0, 0, 0, 0, 0, 512, 512, 512, 512, 512, 512, 512),
}
DEBUG_ROWS = {row.split(".")[1] for row in TABLE if row.startswith("debug_sizes.")}
"""The structures a debug build sizes differently; its other sizes are the release build's."""

PKG = Path(__file__).resolve().parents[2] / "xenplan"
RELEASE_PY = PKG / "model" / "release.py"


def _value(rel: XenRelease, row: str) -> object:
    obj: object = rel
    for part in row.split("."):
        obj = getattr(obj, part)
    return obj


def test_table_has_a_row_for_every_field_and_a_value_for_every_release() -> None:
    rows = {f.name for f in dataclasses.fields(XenRelease)} - {"version", "arch", "sizes", "debug_sizes"}
    rows |= {f"sizes.{f.name}" for f in dataclasses.fields(ReplaySizes)}
    rows |= {f"debug_sizes.{name}" for name in DEBUG_ROWS}
    assert set(TABLE) == rows
    assert all(len(values) == len(RELEASES) for values in TABLE.values())


@pytest.mark.parametrize("column", range(len(RELEASES)), ids=RELEASES)
def test_release_fields(column: int) -> None:
    rel = release_of(XenVersion.parse(RELEASES[column]))
    got = {row: _value(rel, row) for row in TABLE}
    assert got == {row: values[column] for row, values in TABLE.items()}


@pytest.mark.parametrize("column", range(len(RELEASES)), ids=RELEASES)
def test_a_debug_build_sizes_only_its_rows_differently(column: int) -> None:
    rel = release_of(XenVersion.parse(RELEASES[column]))
    others = {f.name for f in dataclasses.fields(ReplaySizes)} - DEBUG_ROWS
    assert {n: getattr(rel.debug_sizes, n) for n in others} == {n: getattr(rel.sizes, n) for n in others}


@pytest.mark.parametrize(("version", "kconfig", "expected"), [
    ("4.19", {"LLC_COLORING": True}, False),
    ("4.20", {"LLC_COLORING": True}, True),
    ("4.22", {"LLC_COLORING": True}, True),
    ("4.22", {"LLC_COLORING": False}, False),
])
def test_llc_coloring_needs_the_release_and_the_kconfig(version: str, kconfig: dict[str, bool], expected: bool) -> None:
    target = Target(version=XenVersion.parse(version), kconfig=kconfig)
    assert target.release.llc_coloring is expected


def test_arch_is_carried_and_the_rest_does_not_depend_on_it() -> None:
    v = XenVersion.parse("4.20")
    arm32, arm64 = release_of(v, "arm32"), release_of(v, "arm64")
    assert (arm32.arch, arm64.arch) == ("arm32", "arm64")
    assert dataclasses.replace(arm32, arch="arm64") == arm64


def test_built_once_per_target_combination() -> None:
    a = Target(version=XenVersion.parse("4.18"))
    b = Target(version=XenVersion.parse("4.18.6"))
    assert a.release is b.release
    assert a.release is not Target(version=XenVersion.parse("4.18"), arch="arm32").release


@pytest.mark.parametrize(("since", "until", "version", "expected"), [
    ("4.17", None, "4.16", False),
    ("4.17", None, "4.16.7", False),
    ("4.17", None, "4.17.0", True),
    ("4.17", None, "4.17.7", True),
    ("4.17.0", None, "4.17.0", True),
    ("4.16", None, "4.16.0", True),
    ("4.16", "4.17", "4.16.2", True),
    ("4.16", "4.17", "4.17.0", False),
    ("4.16.3", None, "4.16.2", False),
    ("4.16.3", None, "4.16.3", True),
    ("4.16.3", None, "4.17.0", True),
    ("4.16", "4.19", "4.18.6", True),
    ("4.16", "4.19", "4.19.0", False),
    ("4.16", "4.19", "4.19.6", False),
    ("4.19.2", None, "4.19.1", False),
    ("4.19.2", None, "4.19.2", True),
    ("4.16", None, "4.23-dev", True),
    ("4.23-dev", None, "4.22.0", False),
    ("4.23-dev", None, "4.23-dev", True),
])
def test_within_reads_a_bare_line_as_its_first_release(
        since: str, until: str | None, version: str, expected: bool) -> None:
    assert release_of(XenVersion.parse(version)).within(since, until) is expected


@pytest.mark.parametrize("value", ["", "enabled", "legacy", "no-xenstore", "disabled", "enable", None])
def test_enhanced_mode_per_release(value: str | None) -> None:
    r416, r417, r421 = (release_of(XenVersion.parse(v)) for v in ("4.16", "4.17", "4.21"))
    assert r416.enhanced_mode(value) is None
    known = {"": "xenstore", "enabled": "xenstore", "no-xenstore": "no-xenstore"}
    expected = known.get(value) if value is not None else None
    assert r417.enhanced_mode(value) == expected
    assert r421.enhanced_mode(value) == ("legacy" if value == "legacy" else expected)


@pytest.mark.parametrize("cls", [XenRelease, ReplaySizes])
def test_every_field_has_a_docstring(cls: type) -> None:
    tree = ast.parse(RELEASE_PY.read_text())
    body = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == cls.__name__).body
    documented = {a.target.id for a, b in itertools.pairwise(body)
                  if isinstance(a, ast.AnnAssign) and isinstance(a.target, ast.Name)
                  and isinstance(b, ast.Expr) and isinstance(b.value, ast.Constant) and isinstance(b.value.value, str)}
    assert documented == {f.name for f in dataclasses.fields(cls)}


def test_binding_tables_of_ver003_agree_with_the_release_fields() -> None:
    """VER-003 names the first release of each binding; the fields decide it."""
    from xenplan.checks.ver import BINDINGS, CHOSEN_BINDINGS

    for props, table in (("domain_props", BINDINGS), ("chosen_props", CHOSEN_BINDINGS)):
        for prop, since, _effect in table:
            first = XenVersion.parse(since + ".0")
            before = XenVersion.parse(f"{first.major}.{first.minor - 1}")
            assert prop in getattr(release_of(first), props), prop
            assert prop not in getattr(release_of(before), props), prop


def _at_least_users(under: str) -> list[str]:
    return sorted(p.relative_to(PKG.parent).as_posix() for p in (PKG / under).rglob("*.py")
                  if p != RELEASE_PY and "at_least(" in p.read_text())


@pytest.mark.parametrize("layer", ["dt", "model", "boot", "checks", "report", "."])
def test_no_version_comparison_outside_release(layer: str) -> None:
    """Behaviour is read from ``XenRelease`` fields; only ``release.py`` compares versions."""
    assert _at_least_users(layer) == []
