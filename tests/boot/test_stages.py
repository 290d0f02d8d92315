"""Stage behaviours that no oracle recording covers, each against what Xen's code does."""

from __future__ import annotations

from pathlib import Path

from xenplan import boot, dt, model
from xenplan.boot.result import BootResult
from xenplan.model.base import Range
from xenplan.model.target import KCONFIG_DEFAULTS, Target, XenVersion

BOARD = """/dts-v1/;
/ {{
	#address-cells = <2>; #size-cells = <2>;
	memory@40000000 {{ device_type = "memory"; reg = <0x0 0x40000000 0x1 0x0>; }};
	chosen {{
		#address-cells = <2>; #size-cells = <2>;{chosen}
		domU1 {{
			compatible = "xen,domain"; memory = <0x0 0x10000>; cpus = <1>;{domain}
			k@48200000 {{ compatible = "multiboot,kernel", "multiboot,module"; reg = <0x0 0x48200000 0x0 0x10000>; }};
		}};
	}};
}};
"""


def run(tmp_path: Path, version: str, *, chosen: str = "", domain: str = "", **kconfig: bool) -> BootResult:
    src = tmp_path / "board.dts"
    src.write_text(BOARD.format(chosen=chosen, domain=domain))
    target = Target(version=XenVersion.parse(version), kconfig={**KCONFIG_DEFAULTS, **kconfig},
                    xen_image=Range(start=0x40200000, size=0x154000), fdt_address=0x48000000)
    return boot.simulate(model.build(dt.load(str(src)), target))


STATIC = " xen,static-mem = <0x0 0x60000000 0x0 0x4000000>;"


def test_static_memory_without_the_option_is_refused_early_on_4_23(tmp_path: Path) -> None:
    r = run(tmp_path, "4.23-dev", domain=STATIC, STATIC_MEMORY=False)
    assert r.failed_at is not None
    assert (r.failed_at.stage, r.failed_at.rule) == ("early-fdt", "SMEM-002")


def test_static_memory_without_the_option_leaves_the_domain_without_ram_before_4_23(tmp_path: Path) -> None:
    """Booted on a 4.22.0 built without CONFIG_STATIC_MEMORY: "Device tree generation failed (-2)"."""
    r = run(tmp_path, "4.22", domain=STATIC, STATIC_MEMORY=False)
    assert r.failed_at is not None and r.failed_at.rule == "DOM-005"
    assert r.failed_at.message == "Could not set up domain domU1 (rc = -22)"
    assert any(e.rule == "SMEM-002" and e.behaviour == "PANIC-DBG" for e in r.events)


def test_dom0_kernel_outside_ram_crashes_before_any_domu(tmp_path: Path) -> None:
    dom0 = ('\n\t\tdom0@20000000 { compatible = "multiboot,kernel", "multiboot,module"; '
            'reg = <0x0 0x20000000 0x0 0x10000>; };')
    r = run(tmp_path, "4.22", chosen=dom0)
    assert r.failed_at is not None
    assert (r.outcome, r.failed_at.stage, r.failed_at.rule) == ("crash", "other", "MOD-008")
    assert [(d.name, d.status) for d in r.domains] == [("dom0", "failed"), ("domU1", "not-reached")]


def test_dom0_is_built_first_and_the_domus_big_chunks_follow_it(tmp_path: Path) -> None:
    """Default dom0_mem (512 MiB) 1:1 in the lowest free 512 MiB below 4 GiB; the domU's
    64 MiB then comes from the top of RAM as without dom0, its place exact."""
    dom0 = ('\n\t\tdom0@48400000 { compatible = "multiboot,kernel", "multiboot,module"; '
            'reg = <0x0 0x48400000 0x0 0x10000>; };')
    r = run(tmp_path, "4.22", chosen=dom0)
    assert r.outcome == "boots"
    assert [(d.name, d.status, d.domid) for d in r.domains] == [("dom0", "constructed", 0), ("domU1", "constructed", 1)]
    assert [(b.guest, b.host, b.size) for b in r.domains[0].banks or ()] == [(0x60000000, 0x60000000, 0x20000000)]
    assert [(b.guest, b.size) for b in r.domains[1].banks or ()] == [(0x40000000, 0x4000000)]
    assert all(b.host is not None for b in r.domains[1].banks or ())
    assert any(h.owner == "/chosen" and h.start == 0x60000000 for h in r.host_map)


def test_dtb_over_xen_is_dropped_not_fatal_from_4_18(tmp_path: Path) -> None:
    src = tmp_path / "board.dts"
    src.write_text(BOARD.format(chosen="", domain=""))
    target = Target(version=XenVersion.parse("4.18"), xen_image=Range(start=0x40200000, size=0x154000),
                    fdt_address=0x40300000)
    r = boot.simulate(model.build(dt.load(str(src)), target))
    assert r.outcome == "boots"
    assert [(e.rule, e.behaviour) for e in r.events if e.rule == "RSV-012"] == [("RSV-012", "DROP")]


def _sized(tmp_path: Path, memory_kib: int, arch: str = "arm32", domain: str = "", chosen: str = "",
           **kconfig: bool) -> BootResult:
    src = tmp_path / "board.dts"
    src.write_text(BOARD.format(chosen=chosen, domain=domain).replace("memory = <0x0 0x10000>",
                                                                  f"memory = <0x0 {memory_kib:#x}>"))
    target = Target(version=XenVersion.parse("4.22"), arch=arch, kconfig={**KCONFIG_DEFAULTS, **kconfig},
                    xen_image=Range(start=0x40200000, size=0x154000), fdt_address=0x48000000)
    return boot.simulate(model.build(dt.load(str(src)), target))


def _arm32(tmp_path: Path, memory_kib: int) -> BootResult:
    return _sized(tmp_path, memory_kib)


def test_arm32_domain_heap_budget_catches_a_domain_larger_than_ram(tmp_path: Path) -> None:
    """arm32's domain heap is RAM less the xenheap and the modules: 5 GiB cannot fit in 4 GiB."""
    r = _arm32(tmp_path, 5 << 20)
    assert r.failed_at is not None and (r.failed_at.rule, r.failed_at.domain) == ("ALLOC-002", "domU1")
    assert r.failed_at.message.startswith("Failed to allocate requested domain memory.")


def test_arm32_domain_heap_is_replayed_with_host_addresses(tmp_path: Path) -> None:
    """With Xen's image and the DTB placed, arm32's domain heap is replayed: a dynamic
    domain's RAM gets its host address, clear of the xenheap carved at the top of RAM."""
    r = _arm32(tmp_path, 1 << 20)
    assert r.outcome == "boots"
    assert r.domains[0].banks is not None and all(b.host is not None for b in r.domains[0].banks)
    assert any("domain heap is replayed" in n for n in r.notes)


def test_arm32_without_the_image_placement_budgets_the_heap(tmp_path: Path) -> None:
    src = tmp_path / "board.dts"
    src.write_text(BOARD.format(chosen="", domain=""))
    r = boot.simulate(model.build(dt.load(str(src)), Target(version=XenVersion.parse("4.22"), arch="arm32")))
    assert r.outcome == "boots"
    assert all(b.host is None for b in r.domains[0].banks or ())
    assert any("budgeted" in n for n in r.notes)


def test_llc_coloring_budgets_the_heap_instead_of_replaying_it(tmp_path: Path) -> None:
    """With colouring on (4.20+), domains take coloured order-0 pages: no host address is
    predicted, but a domain larger than the heap still fails as on Xen."""
    on = '\n\t\txen,xen-bootargs = "llc-coloring=on";'
    off = run(tmp_path, "4.22", domain=' llc-colors = "0-3";', LLC_COLORING=True)
    assert off.failed_at is not None and off.failed_at.rule == "LLC-002"  # built in, not switched on
    fits = run(tmp_path, "4.22", chosen=on, domain=' llc-colors = "0-3";', LLC_COLORING=True)
    assert fits.outcome == "boots"
    assert all(b.host is None for b in fits.domains[0].banks or ())
    assert any("LLC colouring" in n for n in fits.notes)
    big = _sized(tmp_path, 5 << 20, "arm64", ' llc-colors = "0-3";', on, LLC_COLORING=True)
    assert big.failed_at is not None and (big.failed_at.rule, big.failed_at.domain) == ("ALLOC-002", "domU1")
    replayed = run(tmp_path, "4.22", domain=' llc-colors = "0-3";')
    assert all(b.host is not None for b in replayed.domains[0].banks or ())


def test_debug_build_requests_are_replayed_on_422() -> None:
    """A debug 4.22.0 build booting mix_rand6_284 put domU2's 64 MiB at 0x130000000 as the release
    build does, and its 4 KiB tail at 0x13fd8b000 (``tests/data/debug/mix_rand6_284@4.22.0``):
    the replay makes the debug build's own requests and places both."""
    from xenplan.model.target import KCONFIG_DEFAULTS

    case = Path(__file__).resolve().parent.parent / "data" / "oracle" / "mix_rand6_284" / "merged.dts"
    target = Target(version=XenVersion.parse("4.22.0"), kconfig={**KCONFIG_DEFAULTS, "DEBUG": True},
                    xen_image=Range(start=0x40200000, size=0x17C000), fdt_address=0x48000000, fdt_size=0x995C)
    r = boot.simulate(model.build(dt.load(str(case)), target))
    dom = next(d for d in r.domains if d.name == "domU2")
    assert [(b.guest, b.host, b.size) for b in dom.banks or ()] == [(0x40000000, 0x130000000, 0x4000000),
                                                                     (0x44000000, 0x13FD8B000, 0x1000)]
    assert not any(n.startswith("debug build") for n in r.notes)


def test_debug_build_requests_are_replayed_on_417() -> None:
    """On 4.17.7 a debug build moved features' 4 KiB tail from 0x13f98f000 to 0x13f995000
    (``tests/data/debug/features@4.17.7``): the replay makes that release's debug requests
    (larger grant tables, no lock-debugging buffer) and places the tail there."""
    from xenplan.model.target import KCONFIG_DEFAULTS

    case = Path(__file__).resolve().parent.parent / "data" / "heaptrace" / "features.dts"
    target = Target(version=XenVersion.parse("4.17.7"), kconfig={**KCONFIG_DEFAULTS, "DEBUG": True},
                    xen_image=Range(start=0x40200000, size=0x1560C8), fdt_address=0x48000000, fdt_size=37066)
    r = boot.simulate(model.build(dt.load(str(case)), target))
    dom = next(d for d in r.domains if d.name == "domU2")
    assert [b.host for b in dom.banks or ()] == [0x110000000, 0x13F995000]
    assert not any(n.startswith("debug build") for n in r.notes)
