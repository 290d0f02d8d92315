"""The real Xen is the judge: every recorded verdict of the public oracle.

Each case was booted on real Xen releases; ``expected-<version>.json`` is
what Xen did. The comparison is field by field:
outcome (a recorded timeout is a hang), failing stage and domain, dropped
modules, each domain's status and, for booted domains, every bank (guest,
host, size). ``exempt.json`` lists recordings that depend on the test
harness rather than on Xen.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from xenplan import boot, dt, model
from xenplan.boot.result import BootResult
from xenplan.dt.tree import Tree
from xenplan.model.base import Range
from xenplan.model.target import Target, XenVersion

CASES = Path(__file__).resolve().parent.parent / "data" / "oracle"
EXEMPT = {(e["case"], v): e["skip"] for e in json.loads((CASES / "exempt.json").read_text()) for v in e["versions"]}


def _recordings() -> list[Any]:
    out = []
    for exp in sorted(CASES.glob("*/expected-*.json")):
        case = exp.parent.name
        version = exp.stem.removeprefix("expected-")
        if EXEMPT.get((case, version)) == "all":
            continue
        out.append(pytest.param(case, version, id=f"{case}@{version}"))
    return out


@cache
def _tree(case: str) -> Tree:
    return dt.load(str(CASES / case / "merged.dts"))


def simulate(case: str, exp: dict[str, Any]) -> BootResult:
    xs, xz = (int(x, 16) for x in exp["xen_image"])
    fs, fz = (int(x, 16) for x in exp["fdt"])
    target = Target(version=XenVersion.parse(exp["xen_version"]), xen_image=Range(start=xs, size=xz),
                    fdt_address=fs, fdt_size=fz)
    return boot.simulate(model.build(_tree(case), target))


def _n(x: str) -> int:
    return int(x, 16)


@pytest.mark.parametrize("case,version", _recordings())
def test_recorded_verdict(case: str, version: str) -> None:
    exp = json.loads((CASES / case / f"expected-{version}.json").read_text())
    got = simulate(case, exp)
    outcome = "hang" if exp["outcome"] == "timeout" else exp["outcome"]
    assert got.outcome == outcome
    ef = exp["failed_at"]
    if ef is None:
        assert got.failed_at is None
    else:
        assert got.failed_at is not None
        assert (got.failed_at.stage, got.failed_at.domain) == (ef["stage"], ef["domain"])
        assert got.failed_at.message == ef["message"]
    assert sorted((m.start, m.size) for m in got.dropped_modules) == sorted(
        (_n(s), _n(z)) for s, z in exp["dropped_modules"])
    doms = {d.name: d for d in got.domains}
    for name, ed in exp["domains"].items():
        assert doms[name].status == ed["status"], name
        if ed["banks"] and ed["status"] == "constructed" and EXEMPT.get((case, version)) != "banks":
            want = [(_n(g), _n(h), _n(s)) for g, h, s in ed["banks"]]
            have = [(b.guest, b.host, b.size) for b in doms[name].banks or ()]
            assert have == want, name
