"""Plans booted on the real Xen (``tests/data/plans``): each still plans the same, and Xen built its banks.

For every ``<case>/<version>.log``, the spec is planned again for QEMU ``virt``
and that release: the plan must be the ``plan@<version>.dts`` that booted.
Then the console must show every domain built (Xen's "Serial input to" line
comes after the last one; no panic), every domain loaded
from the kernel module the plan placed, and exactly the banks the plan says:
``dN: STATIC BANK[i]`` lines (host addresses) for static and 1:1 domains,
``dN BANK[i]`` lines (guest addresses) for the others, and dom0's 1:1 ``BANK[i]``
lines where the simulation put them.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from xenplan.plan.planner import PlanOptions, make_plan
from xenplan.plan.spec import load_spec

PLANS = Path(__file__).resolve().parent.parent / "data" / "plans"
LOGS = sorted(PLANS.glob("*/*.log"))

STATIC = re.compile(r"\(XEN\) d(\d+): STATIC BANK\[\d+\] 0x([0-9a-f]+)-0x([0-9a-f]+)")
DYNAMIC = re.compile(r"\(XEN\) d(\d+) BANK\[\d+\] 0x([0-9a-f]+)-0x([0-9a-f]+)")
DOM0 = re.compile(r"\(XEN\) BANK\[\d+\] 0x([0-9a-f]+)-0x([0-9a-f]+)")
KERNEL = re.compile(r"\(XEN\) Loading d(\d+) kernel from boot module @ ([0-9a-f]+)")


def _merged(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[list[int]] = []
    for s, e in sorted(ranges):
        if out and s == out[-1][1]:
            out[-1][1] = e
        else:
            out.append([s, e])
    return [(s, e) for s, e in out]


def test_ten_cases_on_two_releases() -> None:
    cases = {p.parent.name for p in LOGS}
    assert len(cases) >= 10
    assert {p.stem for p in LOGS} >= {"4.18", "4.22"}


@pytest.mark.parametrize("log", LOGS, ids=[f"{p.parent.name}@{p.stem}" for p in LOGS])
def test_recorded_plan_boots_with_the_planned_banks(log: Path) -> None:
    version = log.stem
    spec = load_spec(str(log.parent / "spec.toml"))
    r = make_plan(spec, PlanOptions(board="qemu-virt", xen_version=version))
    assert r.written, r.message
    assert r.board_text == (log.parent / f"plan@{version}.dts").read_text(), "the recorded plan is stale"
    text = log.read_text()
    assert f"Xen version {version}" in text
    assert "*** Serial input to" in text and "Panic" not in text
    domid = {p.spec.name: 1 + i for i, p in enumerate(r.layout.domains)}
    static: dict[int, list[tuple[int, int]]] = {}
    dynamic: dict[int, list[tuple[int, int]]] = {}
    for pattern, into in ((STATIC, static), (DYNAMIC, dynamic)):
        for m in pattern.finditer(text):
            into.setdefault(int(m.group(1)), []).append((int(m.group(2), 16), int(m.group(3), 16)))
    kernels = {int(m.group(1)): int(m.group(2), 16) for m in KERNEL.finditer(text)}
    assert r.analysis is not None
    simulated = {d.name: d for d in r.analysis.result.domains}
    if spec.dom0 is not None:
        dom0 = [(int(m.group(1), 16), int(m.group(2), 16)) for m in DOM0.finditer(text)]
        assert kernels[0] == r.layout.dom0_modules[0].start
        assert _merged(dom0) == _merged([(b.host or 0, (b.host or 0) + b.size)
                                         for b in simulated["dom0"].banks or ()])
    for p in r.layout.domains:
        d = domid[p.spec.name]
        assert kernels[d] == next(m.start for m in p.modules if m.kind == "kernel")
        if p.spec.is_static:
            assert _merged(static[d]) == _merged([(b.host, b.host + b.size) for b in p.banks]), p.spec.name
        else:
            banks = simulated[p.spec.name].banks or ()
            assert _merged(dynamic[d]) == _merged([(b.guest, b.guest + b.size) for b in banks]), p.spec.name
