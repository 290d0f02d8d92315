"""The run-time replay (``xenplan/boot/runtime``) and ``xenplan simulate``.

The trees are the recorded hypercall cases (``tests/data/runtime``), placed
as their consoles show, so the heap is the one the real boot left. What is
asserted here is Xen's code, function by function: ``free_domstatic_page()``
(4.17+) against ``free_domheap_pages()`` (4.16), ``acquire_reserved_page()``,
``assign_pages()``'s ``max_pages`` check and ``relinquish_memory()``.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from tests.boot.test_runtime_measured import RUNTIME, run_case
from tests.test_schema import SCHEMA
from xenplan.boot.runtime import OpSyntaxError, parse_ops, parse_size
from xenplan.boot.runtime.pages import P2M, Page, PageMap, Run
from xenplan.cli import main
from xenplan.simulate import Simulation

STATIC = RUNTIME / "static-balloon"
DIRECT = RUNTIME / "directmap-populate"


def sim(case: Path, version: str, ops: list[str], debug: bool = False) -> Simulation:
    """``ops`` on a recorded case's tree, booted on ``version`` as its console shows (a release
    build unless ``debug``: only a debug build prints Xen's ``gdprintk`` lines)."""
    return run_case(case / f"{version}.json", ops, ("DEBUG=y",) if debug else ())[0]


# ----------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(("text", "size"), [("4K", 4096), ("16M", 16 << 20), ("1G", 1 << 30), ("0x1000", 4096),
                                            ("8192", 8192)])
def test_sizes(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize(("text", "why"), [
    ("domU9 balloon-out 4K", "no domain named 'domU9'"),
    ("domU1 balloon-out 6K", "not a positive multiple of 0x1000"),
    ("domU1 populate 4K", "populate needs SIZE@GADDR"),
    ("domU1 populate 4K@0x40000800", "not page aligned"),
    ("domU1 populate 4K@0x40000000 order 1", "not a positive multiple of 0x2000"),
    ("domU1 populate 8K@0x40000000 order 19", "order must be 0 to 18"),
    ("domU1 set-target 4K@0x40000000", "takes no @GADDR"),
    ("domU1 balloon 4K", "expected 'DOMAIN balloon-out"),
    ("create domU1 4K", "already exists"),
    ("domU1 balloon-out lots", "not a size"),
])
def test_unparseable_ops(text: str, why: str) -> None:
    with pytest.raises(OpSyntaxError, match=why):
        parse_ops([text], ["domU1"])


def test_created_domains_are_known_to_later_ops() -> None:
    ops = parse_ops(["create late 16M", "late balloon-out 4K"], ["domU1"])
    assert [(o.kind, o.domain, o.size) for o in ops] == [("create", "late", 16 << 20), ("balloon-out", "late", 4096)]


# ----------------------------------------------------------------------------- ranges


def test_page_map_merges_equal_neighbours() -> None:
    pm = PageMap()
    pm.set(10, 20, Page("heap"))
    pm.set(20, 30, Page("heap"))
    pm.set(15, 16, Page("inuse", "d"))
    assert [(s, e, p.state) for s, e, p in pm.runs(0, 40)] == [
        (0, 10, "none"), (10, 15, "heap"), (15, 16, "inuse"), (16, 30, "heap"), (30, 40, "none")]
    pm.set(15, 16, Page("heap"))
    assert [(s, e) for s, e, _p in pm.runs(5, 35)] == [(5, 10), (10, 30), (30, 35)]


def test_p2m_runs_going_down_split_and_merge() -> None:
    p2m = P2M()
    p2m.add(Run(100, 509, 10, -1))
    p2m.remove(103, 105)
    assert [(r.gfn, r.mfn, r.count, r.step) for r in p2m.all()] == [(100, 509, 3, -1), (105, 504, 5, -1)]
    p2m.add(Run(103, 506, 2, -1))
    assert [(r.gfn, r.mfn, r.count, r.step) for r in p2m.all()] == [(100, 509, 10, -1)]
    assert Run(100, 509, 10, -1).mfn_range == (500, 510)


# ----------------------------------------------------------------------------- what Xen does


def _ops(s: Simulation) -> list[tuple[str, int, str | None]]:
    return [(r.result, r.rc, r.xen_message) for r in s.operations]


def test_static_balloon_out_goes_to_the_reserved_list_from_4_17() -> None:
    s = sim(STATIC, "4.22.0", ["domU1 balloon-out 16K@0x40200000", "domU1 populate 8K@0x50000000",
                               "domU1 populate 12K@0x50002000", "domU1 destroy"], debug=True)
    out = s.operations
    assert [(p.mfn_start, p.mfn_end, p.state, p.flags) for p in out[0].pages] == [
        (0x60200, 0x60204, "static-free", ("PGC_static", "reserved-list"))]
    assert [(p.mfn_start, p.gfn_start) for p in out[1].pages] == [(0x60200, 0x50000)]
    assert _ops(s)[2] == ("error", 2, "d1: failed to retrieve a reserved page")
    rt005 = [f for f in s.findings if f.rule == "RT-005" and "destroyed" in f.message]
    assert rt005 and rt005[0].ranges[0].start == 0x60000000 and rt005[0].ranges[0].size == 0x4000000
    assert [d.status for d in s.result.domains] == ["destroyed"]
    assert any(h.kind == "static-free" and h.start == 0x60000000 for h in s.result.host_map)


def test_static_pages_go_to_the_heap_on_4_16() -> None:
    s = sim(STATIC, "4.16.7", ["domU1 balloon-out 16K@0x40200000", "domU1 populate 16K@0x40200000"])
    assert [(p.mfn_start, p.mfn_end, p.state, p.flags) for p in s.operations[0].pages] == [
        (0x60200, 0x60204, "heap", ())]
    assert all(p.owner == "domU1" and "PGC_reserved" not in p.flags for p in s.operations[1].pages)
    assert {f.rule for f in s.findings} >= {"RT-020"}
    assert all(f.severity == "error" for f in s.findings if f.rule == "RT-020")


def test_a_static_domain_cannot_grow_from_4_17_and_grows_from_the_heap_on_4_16() -> None:
    grow = ["domU1 set-target 0x4001000"]
    new = sim(STATIC, "4.22.0", grow, debug=True)
    assert _ops(new) == [("error", 0, "d1: failed to retrieve a reserved page")]
    old = sim(STATIC, "4.16.7", grow)
    assert _ops(old) == [("ok", 1, None)]
    assert old.operations[0].pages[0].gfn_start == 0x44000
    assert any(f.rule == "RT-020" and "populates it from Xen's heap" in f.message for f in old.findings)


def test_over_max_pages_is_refused_by_assign_pages() -> None:
    s = sim(STATIC, "4.16.7", ["domU1 populate 4K@0x50000000"])
    assert _ops(s) == [("error", 0, "Over-allocation for d1: 16385 > 16384")]
    s = sim(STATIC, "4.16.7", ["domU1 populate 4K@0x50000000"], debug=True)
    assert _ops(s) == [("error", 0, "Over-allocation for d1: 16385 > 16384\n"
                        "Could not allocate order=0 extent: id=1 memflags=0 (0 of 1)")]


def test_a_release_build_prints_no_gdprintk_line() -> None:
    s = sim(STATIC, "4.22.0", ["domU1 populate 4K@0x50000000", "domU1 populate 8K@0x50000000 order 1"])
    assert _ops(s) == [("error", 0, None), ("error", 0, None)]
    s = sim(STATIC, "4.22.0", ["domU1 populate 4K@0x50000000", "domU1 populate 8K@0x50000000 order 1"], debug=True)
    assert [m for _r, _c, m in _ops(s)] == ["d1: failed to retrieve a reserved page",
                                            "Cannot allocate static order-1 pages for d1"]


def test_direct_mapped_domain_keeps_what_it_balloons_out() -> None:
    s = sim(DIRECT, "4.22.0", ["domU1 balloon-out 8K@0x60200000", "domU1 populate 4K@0x70000000",
                               "domU1 populate 8K@0x60200000", "domU1 increase-reservation 4K"], debug=True)
    assert [(p.state, p.owner, p.gfn_start) for p in s.operations[0].pages] == [("inuse", "domU1", 0x60200)]
    assert _ops(s)[1] == ("error", 0, "mfn 0x70000 doesn't belong to d1")
    assert _ops(s)[2] == ("ok", 2, None)
    assert _ops(s)[3][:2] == ("error", 0)
    rules = {f.rule for f in s.findings if "balloons out" in f.message or "populating" in f.message}
    assert rules == {"RT-004"}


def test_balloon_out_of_an_unmapped_frame_stops_there() -> None:
    s = sim(STATIC, "4.22.0", ["domU1 balloon-out 8K@0x43fff000"], debug=True)
    assert _ops(s) == [("error", 1, "Domain 1 page number 44000 invalid")]


def test_create_takes_superpages_then_pages_from_the_heap() -> None:
    s = sim(STATIC, "4.22.0", ["create late 2060K", "late destroy", "late balloon-out 4K"])
    assert _ops(s)[0][:2] == ("ok", 0)
    assert [p.mfn_end - p.mfn_start for p in s.operations[0].pages][:1] == [512]
    assert sum(p.mfn_end - p.mfn_start for p in s.operations[0].pages) == 515
    assert _ops(s)[2] == ("error", -3, None)
    late = [d for d in s.result.domains if d.name == "late"]
    assert late and late[0].status == "destroyed" and late[0].path == "runtime:late"


# ----------------------------------------------------------------------------- the command


def _cli(*args: str) -> tuple[int, str, str]:
    res = CliRunner().invoke(main, ["simulate", str(STATIC / "tree.dts"), "--xen-image", "0x40200000:0x15c000",
                                    "--fdt-address", "0x48000000", *args])
    return res.exit_code, res.stdout, res.stderr


def test_json_is_the_check_document_plus_operations() -> None:
    code, out, _ = _cli("--op", "domU1 balloon-out 4K", "--op", "domU1 destroy", "--format", "json")
    doc = json.loads(out)
    assert code == 0
    assert [o["op"] for o in doc["operations"]] == ["domU1 balloon-out 4K", "domU1 destroy"]
    assert doc["operations"][0]["pages"][0] == {"mfn_start": "0x63fff", "mfn_end": "0x64000", "gfn_start": "0x43fff",
                                                "owner": "domU1", "state": "static-free",
                                                "flags": ["PGC_static", "reserved-list"]}
    assert doc["domains"][0]["status"] == "destroyed"
    assert list(jsonschema.Draft202012Validator(SCHEMA).iter_errors(doc)) == []


def test_text_shows_each_step_and_the_maps() -> None:
    code, out, _ = _cli("--op", "domU1 populate 4K@0x50000000", "--kconfig", "DEBUG=y")
    assert code == 0
    assert "1. domU1 populate 4K@0x50000000: error (rc 0)" in out
    assert "(XEN) d1: failed to retrieve a reserved page" in out
    assert "host physical map" in out and "domU1: guest physical map" in out


def test_fail_on_follows_the_findings() -> None:
    assert _cli("--op", "domU1 destroy", "--fail-on", "warning")[0] == 1


@pytest.mark.parametrize(("op", "message"), [
    ("domU2 destroy", "--op: 'domU2 destroy': no domain named 'domU2' (have: domU1)"),
    ("domU1 balloon-out 100", "--op: 'domU1 balloon-out 100': size 0x64 is not a positive multiple of 0x1000 bytes"),
])
def test_unparseable_op_is_one_line_and_exit_2(op: str, message: str) -> None:
    code, _out, err = _cli("--op", op)
    assert code == 2
    assert err.strip().splitlines() == [f"xenplan: error: {message}"]


def test_scenario_file(tmp_path: Path) -> None:
    sc = tmp_path / "s.toml"
    sc.write_text('xen-version = "4.16"\nops = [\n  "domU1 balloon-out 4K",\n  "domU1 destroy",\n]\n')
    code, out, _ = _cli("--scenario", str(sc), "--format", "json")
    doc = json.loads(out)
    assert doc["target"]["xen_version"] == "4.16.7"
    assert [o["op"] for o in doc["operations"]] == ["domU1 balloon-out 4K", "domU1 destroy"]
    assert code == 1  # RT-020: static isolation lost


@pytest.mark.parametrize(("text", "message"), [
    ('ops = [\n  "domU1 balloon-out 4K",\n  "domU1 fly 4K",\n]\n', "line 3"),
    ('ops = []\nxen_version = "4.16"\n', "line 2"),
])
def test_scenario_errors_name_the_line(tmp_path: Path, text: str, message: str) -> None:
    sc = tmp_path / "s.toml"
    sc.write_text(text)
    code, _out, err = _cli("--scenario", str(sc))
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and message in err


@pytest.mark.parametrize(("version", "fires", "silent"), [
    ("4.16.7", {"RT-020"}, {"RT-001", "RT-005"}),
    ("4.22.0", {"RT-001", "RT-005"}, {"RT-020"}),
])
def test_release_decides_which_rule_a_balloon_and_destroy_raise(version: str, fires: set[str],
                                                                silent: set[str]) -> None:
    s = sim(STATIC, version, ["domU1 balloon-out 16K", "domU1 destroy"])
    raised = {f.rule for f in s.findings if f.message.startswith("domU1 balloons out")
              or f.message.startswith("domU1 is destroyed")}
    assert fires <= raised and not silent & raised
