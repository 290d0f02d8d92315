"""Boot invariants on configurations the real Xen boots cleanly, drawn by Hypothesis.

Hypothesis draws dom0less layouts for the QEMU ``virt`` board of the recordings
(RAM 0x40000000 + 4 GiB, Xen image 0x40200000:0x154000, DTB at 0x48000000):
1–6 domains, each static, direct-mapped (4.17+) or dynamic, each with its own
64 KiB kernel module. Every draw respects what Xen needs to boot (see docs/rules-background.md:
page-aligned banks inside RAM and clear of Xen, the DTB and the modules;
RSV-010/RSV-013 no overlaps; KRN-003 room in the first bank; SMEM-013/DMAP-004
``memory`` equals the static sum; SMEM-015 static total below 3 GiB;
ALLOC-007 dynamic ``memory`` a whole number of pages; PAGE-006 8 KiB
boundaries on 4.16; DT-002 ``#xen,static-mem-*-cells`` on 4.16), so the
simulation must say it boots, and its maps must keep the invariants: no page
has two owners, pages are conserved.
"""

from __future__ import annotations

import itertools
import os
import tempfile
from dataclasses import dataclass, field

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from xenplan.boot import simulate
from xenplan.boot.result import BootResult
from xenplan.dt.load import load
from xenplan.model.base import Range
from xenplan.model.build import build
from xenplan.model.target import Target, XenVersion

KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30
RAM = Range(start=0x40000000, size=4 * GiB)
XEN_IMAGE = Range(start=0x40200000, size=0x154000)
FDT_ADDRESS = 0x48000000
KERNEL_BASE, KERNEL_STRIDE, KERNEL_SIZE = 0x48200000, 0x100000, 0x10000
FREE_START = 0x49000000  # everything below is Xen, the DTB and the modules
PAGE = 4 * KiB

VERSIONS = ("4.16", "4.17", "4.18", "4.20", "4.22")

BOARD = """/dts-v1/;
/ {{
	#address-cells = <2>;
	#size-cells = <2>;
	compatible = "linux,dummy-virt";
	interrupt-parent = <&gic>;
	memory@40000000 {{ device_type = "memory"; reg = <0x0 0x40000000 0x1 0x0>; }};
	cpus {{
		#address-cells = <1>;
		#size-cells = <0>;
		cpu@0 {{ device_type = "cpu"; compatible = "arm,cortex-a57"; reg = <0>; enable-method = "psci"; }};
		cpu@1 {{ device_type = "cpu"; compatible = "arm,cortex-a57"; reg = <1>; enable-method = "psci"; }};
	}};
	gic: intc@8000000 {{
		compatible = "arm,gic-v3";
		#interrupt-cells = <3>;
		interrupt-controller;
		#redistributor-regions = <1>;
		reg = <0x0 0x8000000 0x0 0x10000 0x0 0x80a0000 0x0 0xf60000>;
	}};
	pl011@9000000 {{
		compatible = "arm,pl011", "arm,primecell";
		reg = <0x0 0x9000000 0x0 0x1000>;
		interrupts = <0x0 0x1 0x4>;
	}};
	chosen {{
		#address-cells = <2>;
		#size-cells = <2>;
		stdout-path = "/pl011@9000000";
		xen,xen-bootargs = "console=dtuart dtuart=/pl011@9000000 bootscrub=0";
{domains}	}};
}};
"""


@dataclass
class Dom:
    name: str
    kind: str  # "static" | "direct" | "dynamic"
    kernel: int
    banks: list[Range] = field(default_factory=list)  # host banks, property order
    memory_kib: int = 0

    @property
    def path(self) -> str:
        return f"/chosen/{self.name}"


@dataclass
class Config:
    version: str
    domains: list[Dom]

    def dts(self) -> str:
        out = []
        for d in self.domains:
            lines = [
                f"\t\t{d.name} {{",
                '\t\t\tcompatible = "xen,domain";',
                "\t\t\t#address-cells = <2>;",
                "\t\t\t#size-cells = <2>;",
                f"\t\t\tmemory = <{d.memory_kib >> 32:#x} {d.memory_kib & 0xFFFFFFFF:#x}>;",
                "\t\t\tcpus = <1>;",
            ]
            if d.banks:
                if self.version == "4.16":
                    lines += ["\t\t\t#xen,static-mem-address-cells = <2>;", "\t\t\t#xen,static-mem-size-cells = <2>;"]
                cells = " ".join(f"{b.start >> 32:#x} {b.start & 0xFFFFFFFF:#x} {b.size >> 32:#x} "
                                 f"{b.size & 0xFFFFFFFF:#x}" for b in d.banks)
                lines.append(f"\t\t\txen,static-mem = <{cells}>;")
            if d.kind == "direct":
                lines.append("\t\t\tdirect-map;")
            lines += [
                f"\t\t\tmodule@{d.kernel:x} {{",
                '\t\t\t\tcompatible = "multiboot,kernel", "multiboot,module";',
                f"\t\t\t\treg = <0x0 {d.kernel:#x} 0x0 {KERNEL_SIZE:#x}>;",
                "\t\t\t};",
                "\t\t};",
            ]
            out.append("\n".join(lines) + "\n")
        return BOARD.format(domains="".join(out))

    def describe(self) -> str:
        parts = []
        for d in self.domains:
            banks = ", ".join(f"{b.start:#x}+{b.size:#x}" for b in d.banks)
            parts.append(f"{d.name}:{d.kind} mem={d.memory_kib}K [{banks}]")
        return f"Xen {self.version}: " + "; ".join(parts)


@st.composite
def configs(draw: st.DrawFn, min_first: int = 4 * MiB + PAGE) -> Config:
    version = draw(st.sampled_from(VERSIONS))
    # 4.16: every bank boundary on 8 KiB, or the neighbour page merges (PAGE-006).
    grain = 2 * PAGE if version == "4.16" else PAGE
    kinds = ["static", "dynamic"] + (["direct"] if version != "4.16" else [])
    n = draw(st.integers(min_value=1, max_value=6))
    doms: list[Dom] = []
    for i in range(n):
        kind = draw(st.sampled_from(kinds))
        dom = Dom(name=f"domU{i + 1}", kind=kind, kernel=KERNEL_BASE + i * KERNEL_STRIDE)
        if kind == "dynamic":
            # KRN-003: more than 4 MiB (the DTB slot at the top must lie strictly above the kernel's 2 MiB).
            dom.memory_kib = draw(st.integers(min_value=min_first // PAGE, max_value=64 * 1024)) * 4  # .. 256 MiB
        else:
            nbanks = draw(st.integers(min_value=1, max_value=4))
            # KRN-003: 2 MiB of kernel footprint + 2 MiB of DTB in the first bank, and the DTB slot at
            # the bank's top strictly above the kernel's 2 MiB: more than 4 MiB.
            first = draw(st.integers(min_value=-(-min_first // grain), max_value=64 * MiB // grain)) * grain
            rest = [draw(st.integers(min_value=1, max_value=32 * MiB // grain)) * grain for _ in range(nbanks - 1)]
            dom.banks = [Range(start=0, size=s) for s in [first, *rest]]
            dom.memory_kib = sum(b.size for b in dom.banks) // KiB
        doms.append(dom)

    # Lay every static bank out in a random order, with random gaps, above FREE_START.
    slots = [(d, j) for d in doms for j in range(len(d.banks))]
    order = draw(st.permutations(slots)) if slots else []
    gaps = [draw(st.integers(min_value=0, max_value=64 * MiB // grain)) * grain for _ in order]
    aligned = [(d, j) for d, j in order if j == 0 and d.kind == "direct" and d.banks[0].size < 8 * MiB]
    need = sum(d.banks[j].size for d, j in order) + sum(gaps) + 2 * MiB * len(aligned)
    room = RAM.end - FREE_START - need
    assert room >= 0
    addr = FREE_START + draw(st.integers(min_value=0, max_value=room // grain)) * grain
    for (d, j), gap in zip(order, gaps, strict=False):
        addr += gap
        size = d.banks[j].size
        if (d, j) in aligned:
            # A short first 1:1 bank needs a 2 MiB aligned start for the DTB slot at its top (KRN-003).
            addr = (addr + 2 * MiB - 1) & ~(2 * MiB - 1)
        d.banks[j] = Range(start=addr, size=size)
        addr += size
    assert addr <= RAM.end
    return Config(version=version, domains=doms)


def run(cfg: Config) -> tuple[BootResult, int]:
    """Boot ``cfg``; also return the size of the DTB Xen was given."""
    target = Target(version=XenVersion.parse(cfg.version), xen_image=XEN_IMAGE, fdt_address=FDT_ADDRESS)
    fd, path = tempfile.mkstemp(suffix=".dts", prefix="invariants-")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(cfg.dts())
        system = build(load(path), target)
    finally:
        os.unlink(path)
    assert system.dtb_size
    return simulate(system), system.dtb_size


def overlaps(a: Range, b: Range) -> bool:
    return a.start < b.end and b.start < a.end


def merged(ranges: list[Range]) -> list[tuple[int, int]]:
    out: list[list[int]] = []
    for r in sorted(ranges, key=lambda r: r.start):
        if out and r.start <= out[-1][1]:
            out[-1][1] = max(out[-1][1], r.end)
        else:
            out.append([r.start, r.end])
    return [(a, b) for a, b in out]


def covering(result: BootResult, r: Range) -> set[tuple[str, str | None]]:
    """(kind, owner) of every host-map region touching ``r``; asserts ``r`` is fully covered."""
    seen: set[tuple[str, str | None]] = set()
    covered = 0
    for h in result.host_map:
        lo, hi = max(h.start, r.start), min(h.start + h.size, r.end)
        if lo < hi:
            seen.add((h.kind, h.owner))
            covered += hi - lo
    assert covered == r.size, f"{r} only {covered:#x} bytes in the host map"
    return seen


def check_invariants(cfg: Config, result: BootResult, dtb_size: int) -> None:
    assert result.outcome == "boots", (result.outcome, result.failed_at)
    assert result.failed_at is None
    by_path = {d.path: d for d in result.domains}
    assert list(by_path) == [d.path for d in cfg.domains]
    assert all(d.status == "constructed" for d in result.domains), [(d.name, d.status) for d in result.domains]

    # No page has two owners: the host map is sorted and disjoint; pages are
    # conserved: it covers RAM exactly, with no region outside it.
    hm = result.host_map
    assert all(h.size > 0 and h.kind != "none" for h in hm)
    for a, b in itertools.pairwise(hm):
        assert a.start + a.size <= b.start, f"host map regions overlap or are unsorted: {a} {b}"
    assert hm and hm[0].start == RAM.start and hm[-1].start + hm[-1].size == RAM.end
    assert sum(h.size for h in hm) == RAM.size

    statics = [b for d in cfg.domains for b in d.banks]
    fixed = [*statics, XEN_IMAGE, Range(start=FDT_ADDRESS, size=dtb_size),
             *(Range(start=d.kernel, size=KERNEL_SIZE) for d in cfg.domains)]
    dynamic_hosts: list[Range] = []
    for d in cfg.domains:
        res = by_path[d.path]
        assert res.banks is not None
        # Sum of the banks == memory, for every kind of domain.
        assert sum(b.size for b in res.banks) == d.memory_kib * KiB, (d.name, res.banks)
        for b in d.banks:
            assert covering(result, b) == {("static-domain", d.path)}, (d.name, b)
        if d.kind == "direct":
            assert all(b.guest == b.host for b in res.banks), (d.name, res.banks)
        if d.banks:
            hosts = [Range(start=b.host, size=b.size) for b in res.banks if b.host is not None]
            assert len(hosts) == len(res.banks)
            assert merged(hosts) == merged(d.banks), (d.name, res.banks, d.banks)
        else:
            for b in res.banks:
                assert b.host is not None, f"{d.name}: dynamic host not predicted"
                h = Range(start=b.host, size=b.size)
                assert RAM.contains(h), (d.name, h)
                for other in fixed:
                    assert not overlaps(h, other), (d.name, h, other)
                for other in dynamic_hosts:
                    assert not overlaps(h, other), (d.name, h, other)
                dynamic_hosts.append(h)
                assert covering(result, h) == {("domain", d.path)}, (d.name, h)


#: The KRN-003 boundary: a first bank just over 4 MiB leaves the DTB slot at its top one page above
#: the kernel's 2 MiB (Xen's strict ``ramend - modsize > ROUNDUP(kernend, MB(2))``).
BOUNDARY_DYNAMIC = Config(version="4.22", domains=[Dom(name="domU1", kind="dynamic", kernel=KERNEL_BASE,
                                                      memory_kib=4100)])
BOUNDARY_DIRECT = Config(version="4.17", domains=[Dom(name="domU1", kind="direct", kernel=KERNEL_BASE,
                                                     banks=[Range(start=0x60000000, size=4 * MiB + PAGE)],
                                                     memory_kib=4100)])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@example(cfg=BOUNDARY_DYNAMIC)
@example(cfg=BOUNDARY_DIRECT)
@given(cfg=configs())
def test_clean_configurations_boot_and_keep_the_page_invariants(cfg: Config) -> None:
    check_invariants(cfg, *run(cfg))
