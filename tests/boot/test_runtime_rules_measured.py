"""RT rule texts and release ranges against what the recordings in ``tests/data/runtime`` show.

RT-003 on 4.16 (``static-increase``: a static domain that released 16 KiB gets
4 heap pages from increase_reservation), RT-005's destruction (a guest's own
shutdown frees nothing; only a toolstack destroys) and RT-020's leak (the page
another domain receives on 4.16 still holds the static guest's stamp).
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from tests.boot.test_runtime import RUNTIME, sim
from xenplan.checks.registry import lookup
from xenplan.cli import main

INCREASE = RUNTIME / "static-increase"
REUSE = RUNTIME / "static-pages-reuse"
DYNAMIC = RUNTIME / "dynamic-balloon"


@pytest.mark.parametrize("version", ["4.16.7", "4.17.7", "4.22.0"])
def test_rt003_fires_after_a_balloon_out_on_every_release(version: str) -> None:
    s = sim(INCREASE, version, ["domU1 balloon-out 16K", "domU1 increase-reservation 16K"])
    assert s.operations[1].rc == 4
    hits = [f for f in s.findings if f.rule == "RT-003"]
    assert len(hits) == 1 and "ordinary heap frames" in hits[0].message
    assert hits[0].since == "4.16"


def test_rt003_is_silent_without_headroom_and_for_a_dynamic_domain() -> None:
    full = sim(INCREASE, "4.16.7", ["domU1 increase-reservation 16K"])
    assert full.operations[0].rc == 0 and not [f for f in full.findings if f.rule == "RT-003"]
    dyn = sim(DYNAMIC, "4.16.7", ["domU1 balloon-out 16K", "domU1 increase-reservation 16K"])
    assert dyn.operations[1].rc == 4 and not [f for f in dyn.findings if f.rule == "RT-003"]


def test_rt003_applies_from_4_16_in_the_catalogue() -> None:
    assert lookup("RT-003").since == "4.16"


def _check(*args: str) -> list[dict[str, object]]:
    res = CliRunner().invoke(main, ["check", *args, "--format", "json"])
    assert res.exit_code in (0, 1), res.output
    findings = json.loads(res.output)["findings"]
    assert isinstance(findings, list)
    return findings


def test_rt003_model_finding_for_an_unbuilt_static_domain_on_4_16() -> None:
    root = RUNTIME.parent.parent.parent
    found = _check(str(root / "examples" / "broken" / "directmap-grant-window.dts"), "--xen-version", "4.16",
                   "--xen-image", "0x5a00000:0x160000", "--fdt-address", "0x5c00000")
    assert any(f["rule"] == "RT-003" for f in found)


def test_rt005_says_destruction_needs_a_toolstack() -> None:
    s = sim(RUNTIME / "static-balloon", "4.22.0", ["domU1 destroy"])
    (hit,) = [f for f in s.findings if f.rule == "RT-005"]
    assert "toolstack" in hit.message and "SCHEDOP_shutdown" in hit.message and "keeps every page" in hit.message
    docs = lookup("RT-005").docs
    assert "handled as destroy" not in docs and "VIRQ_DOM_EXC" in docs


def test_rt005_is_silent_on_4_16_where_pages_go_to_the_heap() -> None:
    s = sim(RUNTIME / "static-balloon", "4.16.7", ["domU1 destroy"])
    assert not [f for f in s.findings if f.rule == "RT-005"]


REUSE_OPS = ["domU2 balloon-out 64K@0x40200000", "domU1 balloon-out 64K@0x40200000",
             "domU2 populate 64K@0x40200000 order 4"]


def test_rt020_says_the_data_leaked_when_another_domain_gets_a_live_domains_page() -> None:
    s = sim(REUSE, "4.16.7", REUSE_OPS)
    rt020 = [f.message for f in s.findings if f.rule == "RT-020"]
    assert any(m.startswith("domU1 balloons out") and "unscrubbed" in m for m in rt020)
    (got,) = [m for m in rt020 if m.startswith("domU2 receives")]
    assert "isolation is lost and data leaked" in got and "still hold what domU1 wrote" in got


def test_rt020_claims_no_leak_for_a_destroyed_domains_pages() -> None:
    s = sim(RUNTIME / "static-balloon", "4.16.7", ["domU1 destroy", "create late 4040M"])
    rt020 = [f.message for f in s.findings if f.rule == "RT-020"]
    assert any(m.startswith("domU1 is destroyed") and "to be scrubbed before reuse" in m for m in rt020)
    got = [m for m in rt020 if m.startswith("late receives")]
    assert got and all("isolation is lost" in m and "data leaked" not in m for m in got)


def test_rt020_own_pages_back_are_no_leak() -> None:
    s = sim(REUSE, "4.16.7", ["domU1 balloon-out 4K@0x40200000", "domU1 populate 4K@0x40200000"])
    assert not [f for f in s.findings if f.rule == "RT-020" and "data leaked" in f.message]


def test_rt020_is_silent_from_4_17() -> None:
    s = sim(REUSE, "4.22.0", REUSE_OPS)
    assert not [f for f in s.findings if f.rule == "RT-020"]


def test_balloon_out_without_an_address_is_the_top_xen_built() -> None:
    """4.16 ignores ``direct-map``: the recorded 1:1 tree's domain is a static one at 0x40000000, so
    "balloon-out 16K" releases gfns 0x43ffc.. (the recording named 0x63ffc000, not its RAM: rc 0)."""
    s = sim(RUNTIME / "directmap-populate", "4.16.7", ["domU1 balloon-out 16K", "domU1 balloon-out 16K@0x63ffc000"])
    assert s.operations[0].rc == 4 and s.operations[0].pages[0].gfn_start == 0x43ffc
    assert s.operations[1].rc == 0
    new = sim(RUNTIME / "directmap-populate", "4.22.0", ["domU1 balloon-out 16K"])
    assert new.operations[0].rc == 4 and new.operations[0].pages[0].gfn_start == 0x63ffc


def test_idle_scrubbing_explains_the_4_16_reuse_xfail() -> None:
    """The reason ``static-pages-reuse@4.16.7`` stays an expected failure: the boot leaves the
    order-4 chunk at 0x13bb80 dirty at the tail of its list; once Xen's idle loop scrubs it, it
    heads the list and the last populate gets exactly Xen's frames (0x13bb8f downwards)."""
    from tests.boot.test_runtime_measured import run_case
    from xenplan.boot.runtime import Runtime, parse_ops

    rec = REUSE / "4.16.7.json"
    booted, measured = run_case(rec, [])
    rt = Runtime(booted.system, booted.result)
    ops = parse_ops([line for line in (REUSE / "ops.txt").read_text().splitlines() if line.strip()], rt.doms)
    for op in ops[:3]:
        rt.apply(op)
    lst = rt.heap._list(21, 4)
    dirty = lst.tail
    assert dirty is not None and dirty.pfn == 0x13bb80 and dirty.first_dirty == 15 and lst.head is not dirty
    lst.unlink(dirty)
    dirty.first_dirty = None
    lst.push(dirty, at_head=True)
    last = rt.apply(ops[3])
    operations = measured["operations"]
    assert isinstance(operations, list)
    want = {int(e["gfn"], 16): int(e["mfn"], 16) for e in operations[3]["extents"]}
    got = {p.gfn_start - k: p.mfn_start + k for p in last.pages if p.gfn_start is not None
           for k in range(p.mfn_end - p.mfn_start)}
    assert got == want
