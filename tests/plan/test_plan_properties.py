"""The planner on generated boards and specs.

* Property: random domain sets on random boards with holes and ``/memreserve/``
  entries; every plan the planner writes is analysed again, from its whole-board
  DTS alone, and ``check`` finds no error in it; a refusal is either a proven
  "does not fit" (with its proof) or "no placement found".
* Exhaustive: on small boards (2 MiB units, a handful of static, 1:1 and
  below-4 GiB domains) every way of giving each domain its units is tried. The
  units of one window class (1:1 or not, below 4 GiB or not) are interchangeable
  for a request that may be split over banks, so trying every count per class
  is trying every placement. The engine must place exactly the specs for which
  one exists, and prove "does not fit" exactly for the others.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from xenplan.analysis import analyse
from xenplan.model.release import release_of
from xenplan.model.target import XenVersion
from xenplan.plan.engine import LOW_TOP, BoardFacts, direct_map_holes, infeasibility, place
from xenplan.plan.planner import PlanOptions, make_plan
from xenplan.plan.spec import DomainSpec, Payload, Spec
from xenplan.targets import build_target

ROOT = Path(__file__).resolve().parent.parent.parent
BOARD = (ROOT / "xenplan" / "data" / "boards" / "qemu-virt.dts").read_text()
MEMORY_NODE = """	memory@40000000 {
		device_type = "memory";
		reg = <0x0 0x40000000 0x1 0x00000000>;
	};"""
MIB = 1 << 20
UNIT = 2 * MIB
SCALE = int(os.environ.get("XENPLAN_PLAN_EXAMPLES_SCALE", "1"))
"""Multiplies the examples of both tests (the README's figures were measured with larger runs)."""


def board_text(banks: list[tuple[int, int]], reserves: list[tuple[int, int]]) -> str:
    nodes = "\n".join(f"\tmemory@{s:x} {{\n\t\tdevice_type = \"memory\";\n"
                      f"\t\treg = <{s >> 32:#x} {s & 0xFFFFFFFF:#x} {n >> 32:#x} {n & 0xFFFFFFFF:#x}>;\n\t}};"
                      for s, n in banks)
    assert MEMORY_NODE in BOARD
    text = BOARD.replace(MEMORY_NODE, nodes)
    rsv = "".join(f"/memreserve/ {s:#x} {n:#x};\n" for s, n in reserves)
    return text.replace("/dts-v1/;\n", "/dts-v1/;\n" + rsv, 1)


@st.composite
def boards(draw: st.DrawFn) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """A first bank at 0x40000000 holding Xen and the DTB, then up to three more with holes between."""
    banks = [(0x40000000, draw(st.integers(256, 1536)) * MIB // UNIT * UNIT)]
    at = banks[0][0] + banks[0][1]
    for _ in range(draw(st.integers(0, 3))):
        at += draw(st.integers(1, 2048)) * UNIT
        size = draw(st.integers(16, 1024)) * UNIT
        banks.append((at, size))
        at += size
    reserves = []
    for _ in range(draw(st.integers(0, 2))):
        s, n = draw(st.sampled_from(banks))
        if n > 0x10000000:
            off = draw(st.integers(0x10000000 // UNIT, n // UNIT - 1)) * UNIT
            reserves.append((s + off, min(draw(st.integers(1, 64)) * UNIT, n - off)))
    return banks, reserves


@st.composite
def specs(draw: st.DrawFn) -> str:
    lines = ['[xen]', 'image = "0x40200000:0x154000"', 'fdt = "0x48000000"']
    version = draw(st.sampled_from(["4.19", "4.22"]))
    lines.append(f'version = "{version}"')
    if draw(st.booleans()):
        lines.append('static-heap = "auto"')
    for i in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["dynamic", "static", "direct", "direct-low", "static-low"]))
        lines += ["[[domain]]", f'name = "d{i}"', f'memory = "{draw(st.integers(8, 256)) * 2}M"',
                  f'kernel = "{draw(st.integers(1, 8))}M"']
        if kind != "dynamic":
            lines.append("static = true")
        if kind.startswith("direct"):
            lines.append("direct-map = true")
        if kind.endswith("low"):
            lines.append('near = "low"')
    return "\n".join(lines) + "\n"


@settings(max_examples=30 * SCALE, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(board=boards(), spec_text=specs())
def test_every_written_plan_passes_check(tmp_path: Path, board: tuple[list[tuple[int, int]], list[tuple[int, int]]],
                                         spec_text: str) -> None:
    from xenplan.plan.spec import load_spec

    board_file = tmp_path / "board.dts"
    board_file.write_text(board_text(*board))
    spec_file = tmp_path / "spec.toml"
    spec_file.write_text(spec_text)
    spec = load_spec(str(spec_file))
    r = make_plan(spec, PlanOptions(board_input=str(board_file)))
    if not r.written:
        assert r.message is not None
        if r.message == "does not fit":
            assert r.proof
            event("does not fit (proven)")
        else:
            assert r.message.startswith("no placement found: ") and r.proof is None
            event("no placement found")
        return
    event("written")
    out = tmp_path / "plan.dts"
    out.write_text(r.board_text or "")
    target = build_target(xen_version=spec.xen.version, xen_image="0x40200000:0x154000", fdt_address="0x48000000")
    a = analyse(str(out), target)
    assert a.result.outcome == "boots"
    assert not [f for f in a.findings if f.severity == "error"], [f.message for f in a.findings]
    for p in r.layout.domains:
        if p.spec.is_static:
            assert sum(b.size for b in p.banks) == p.spec.memory
            if p.spec.near == "low":
                assert all(b.host + b.size <= LOW_TOP for b in p.banks)


# -- exhaustive, on the engine's own terms --------------------------------------------------------

RELEASE = release_of(XenVersion.parse("4.22"))
REGIONS = {
    # (start of the region, low, 1:1-usable)
    "direct-low": (0x36000000, True, True),
    "other-low": (0x38000000, True, False),
    "other-high": (0x100000000, False, False),
    "direct-high": (0x200000000, False, True),
}
CLASSES = list(REGIONS)


def _allowed(direct: bool, low: bool) -> list[str]:
    return [c for c in CLASSES if (REGIONS[c][2] or not direct) and (REGIONS[c][1] or not low)]


def _exists(requests: list[tuple[int, list[str]]], capacity: dict[str, int]) -> bool:
    """Whether some split of every request's units over its allowed classes fits every class's capacity."""
    def splits(units: int, allowed: list[str]) -> Iterator[dict[str, int]]:
        for counts in itertools.product(*(range(min(units, capacity[c]) + 1) for c in allowed)):
            if sum(counts) == units:
                yield dict(zip(allowed, counts, strict=True))

    def search(i: int, left: dict[str, int]) -> bool:
        if i == len(requests):
            return True
        units, allowed = requests[i]
        for split in splits(units, allowed):
            if all(split[c] <= left[c] for c in split) and search(i + 1, {c: left[c] - split.get(c, 0)
                                                                           for c in left}):
                return True
        return False

    return search(0, dict(capacity))


def _domain(i: int, units: int, direct: bool, low: bool) -> DomainSpec:
    return DomainSpec.model_validate({"name": f"d{i}", "memory": units * UNIT, "static": True, "direct-map": direct,
                                      "near": "low" if low else None, "kernel": Payload(size=MIB)})


@settings(max_examples=400 * SCALE, deadline=None)
@given(capacity=st.fixed_dictionaries({c: st.integers(0, 5) for c in CLASSES}),
       domains=st.lists(st.tuples(st.integers(1, 6), st.booleans(), st.booleans()), min_size=1, max_size=4))
def test_exhaustive_small_boards(capacity: dict[str, int], domains: list[tuple[int, bool, bool]]) -> None:
    # Each region ends 2 MiB short of the window edge where that matters, so classes never touch.
    ram = []
    for c in CLASSES:
        start = REGIONS[c][0] - (capacity[c] * UNIT if c in ("direct-low",) else 0)
        if capacity[c]:
            ram.append((start, start + capacity[c] * UNIT))
    facts = BoardFacts(ram=tuple(ram), taken=(), release=RELEASE, fdt_address=None)
    holes = direct_map_holes(RELEASE)
    spec = Spec(domain=tuple(_domain(i, u, d, low) for i, (u, d, low) in enumerate(domains)))
    layout = place(spec, facts, [], None)
    proof = infeasibility(spec, facts, None, [])
    exists = _exists([(u, _allowed(d, low)) for u, d, low in domains], capacity)
    if exists:
        assert layout.failure is None, (capacity, domains, layout.failure)
        assert proof is None, proof
        used: list[tuple[int, int]] = []
        for p in layout.domains:
            assert sum(b.size for b in p.banks) == p.spec.memory
            for b in p.banks:
                assert any(s <= b.host and b.host + b.size <= e for s, e in ram)
                if p.spec.near == "low":
                    assert b.host + b.size <= LOW_TOP
                if p.spec.direct_map:
                    assert not any(b.host < e and s < b.host + b.size for s, e, _ in holes)
                used.append((b.host, b.host + b.size))
        used.sort()
        assert all(a[1] <= b[0] for a, b in itertools.pairwise(used))
        event("placed")
    else:
        assert layout.failure is not None
        assert proof is not None, (capacity, domains)
        event("does not fit (proven)")
