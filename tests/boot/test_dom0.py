"""A classic dom0 against instrumented boots of the real Xen.

``tests/data/dom0/<case>/`` holds a QEMU ``virt`` device tree (4 GiB, two CPUs;
``smp8-*`` eight CPUs, ``smp8-gicv2`` a GICv2 whose SPI count is ``gic_spis``, ``numa*``
three or four RAM banks) with a dom0 kernel and dom0less domUs, and per release what a
release build of that Xen did with it, read from its console and from a trace of its
heap allocations (``tools/xen-trace/xentrace.py expect``): the outcome and panic
message, dom0's 1:1 banks (``allocate_memory_11()``'s "BANK[n]" lines), dom0's extended
regions (its "Extended region" lines on 4.16, "d0: extended region" later) and the host
chunks each domU got from ``allocate_bank_memory()``. The Xen image size in each verdict
is the instrumented build's own. Where the release's ``construct_dom0()`` is replayed
(4.16.3 and later), every chunk's host address must match, the small ones too; elsewhere
only chunks of 16 MiB and more are claimed.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from xenplan import boot, dt, model
from xenplan.boot.replay_bridge import parse_size
from xenplan.boot.result import BootResult
from xenplan.dt.tree import Tree
from xenplan.model.base import Range
from xenplan.model.release import release_of
from xenplan.model.target import Target, XenVersion

DATA = Path(__file__).resolve().parent.parent / "data" / "dom0"
EXACT = 16 << 20


def _recordings() -> list[Any]:
    return [pytest.param(p.parent.name, p.stem.removeprefix("expected-"), id=f"{p.parent.name}@{p.stem[9:]}")
            for p in sorted(DATA.glob("*/expected-*.json"))]


@cache
def _tree(case: str) -> Tree:
    return dt.load(str(DATA / case / "board.dts"))


def _simulate(case: str, exp: dict[str, Any]) -> BootResult:
    target = Target(version=XenVersion.parse(exp["version"]), xen_image=Range(start=exp["xen_image"][0],
                    size=exp["xen_image"][1]), fdt_address=exp["fdt"][0], fdt_size=exp["fdt"][1],
                    gic_spis=exp.get("gic_spis", 224))
    return boot.simulate(model.build(_tree(case), target))


def _merge(chunks: list[list[int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for host, size in chunks:
        if out and out[-1][0] + out[-1][1] == host:
            out[-1] = (out[-1][0], out[-1][1] + size)
        else:
            out.append((host, size))
    return out


@pytest.mark.parametrize("case,version", _recordings())
def test_recorded_dom0(case: str, version: str) -> None:
    exp = json.loads((DATA / case / f"expected-{version}.json").read_text())
    got = _simulate(case, exp)
    assert got.outcome == exp["outcome"]
    if exp["message"] is not None:
        assert got.failed_at is not None and got.failed_at.message == exp["message"]
    dom0 = got.domains[0]
    assert (dom0.name, dom0.domid) == ("dom0", 0)
    if exp["dom0_banks"]:
        assert [(b.host, b.size) for b in dom0.banks or ()] == [tuple(b) for b in exp["dom0_banks"]]
        assert all(b.guest == b.host for b in dom0.banks or ())
        ext = [(p.guest, p.size) for p in dom0.p2m if p.kind == "ext"]
        assert ext == [tuple(r) for r in exp["dom0_extended_regions"]]
    domus = [d for d in got.domains[1:] if d.status == "constructed" and not d.static]
    dynamic = [_merge(c) for c in exp["domu_chunks"] if c]
    assert len(dynamic) == len(domus)
    for d, chunks in zip(domus, dynamic, strict=False):
        predicted = [(b.host, b.size) for b in d.banks or () if b.host is not None]
        if release_of(XenVersion.parse(exp["version"])).dom0_construct:
            assert predicted == chunks
        else:
            assert predicted == [c for c in chunks if c[1] >= EXACT]
        assert all(b.host is not None for b in d.banks or () if b.size >= EXACT)


def test_dom0_mem_sizes_parse_as_xen_does() -> None:
    assert parse_size("512M") == 512 << 20
    assert parse_size("0x100000") == 0x100000 << 10
    assert parse_size("1g") == 1 << 30
    assert parse_size("12Q") is None


HWDOM = Path(__file__).resolve().parent.parent / "data" / "hwdom"


@pytest.mark.parametrize("path", sorted(HWDOM.glob("*/expected-*.json")), ids=lambda p: f"{p.parent.name}@{p.stem[9:]}")
def test_recorded_dom0less_hardware_domain(path: Path) -> None:
    """4.21+: a ``xen,domain`` with ``capabilities = <2>``, ``direct-map`` and static memory
    gets its RAM 1:1 from the heap as dom0 does (its static bank stays unused, HWD-011),
    and the grant window and extended regions of a hardware domain."""
    exp = json.loads(path.read_text())
    target = Target(version=XenVersion.parse(exp["version"]), xen_image=Range(start=exp["xen_image"][0],
                    size=exp["xen_image"][1]), fdt_address=exp["fdt"][0], fdt_size=exp["fdt"][1],
                    gic_spis=exp.get("gic_spis", 224))
    got = boot.simulate(model.build(dt.load(str(path.parent / "board.dts")), target))
    assert got.outcome == exp["outcome"]
    hw = got.domains[0]
    assert [(b.guest, b.host, b.size) for b in hw.banks or ()] == [(s, s, n) for s, n in exp["hwdom_banks"]]
    assert [(p.guest, p.size) for p in hw.p2m if p.kind == "ext"] == [tuple(r) for r in exp["hwdom_extended_regions"]]
    after = [b for d in got.domains[1:] for b in d.banks or ()]
    recorded = [c for chunks in exp["domu_chunks"][1:] for c in chunks]
    assert [(b.host, b.size) for b in after if b.size >= EXACT] == [tuple(c) for c in recorded if c[1] >= EXACT]
    assert all(b.host is None for b in after if b.size < EXACT)


def test_console_ring_follows_cpus_and_log_level() -> None:
    """``console_init_postirq()``: CPUs << (9 + lower threshold), 16 KiB at least once allocated."""
    from xenplan.boot.replay_bridge import console_ring

    assert console_ring({"loglvl": "all"}, 2) == 16 << 10
    assert console_ring({"loglvl": "all"}, 4) == 32 << 10
    assert console_ring({}, 2) == 8 << 10
    assert console_ring({"loglvl": "warning/all"}, 8) == 16 << 10
    assert console_ring({"conring_size": "64k"}, 2) == 64 << 10
