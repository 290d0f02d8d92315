"""``xenplan plan``: specs in, layouts the simulated Xen boots out, or a proof that none exists."""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner

from xenplan.analysis import analyse
from xenplan.cli import main
from xenplan.plan.planner import PlanOptions, make_plan
from xenplan.plan.spec import load_spec
from xenplan.targets import build_target

ROOT = Path(__file__).resolve().parent.parent.parent
EXAMPLES = ROOT / "examples"
SCHEMAS = resources.files("xenplan") / "data" / "schema"
PLAN_SCHEMA = jsonschema.Draft202012Validator(json.loads((SCHEMAS / "xenplan-plan-1.schema.json").read_text()))
CHECK_SCHEMA = jsonschema.Draft202012Validator(json.loads((SCHEMAS / "xenplan-1.schema.json").read_text()))

MIXED = '''\
[xen]
version = "{version}"
static-heap = "auto"
{xen}

[[domain]]
name = "linux"
memory = "512M"
cpus = 2
kernel = "22M"
ramdisk = "11M"
bootargs = "console=ttyAMA0"

[[domain]]
name = "static-vm"
memory = "384M"
static = true
kernel = "22M"

[[domain]]
name = "rtos"
memory = "128M"
direct-map = true
near = "low"
kernel = "432K"

[[shared-memory]]
id = "ring0"
size = "2M"
owner = "linux"
borrowers = ["static-vm"]

[[event-channel]]
ends = ["linux:10", "static-vm:11"]
'''

BOARDS = {
    "qemu-virt": (["--board", "qemu-virt"], ""),
    "examples/qemu-virt.dts": ([str(EXAMPLES / "qemu-virt.dts")],
                               'image = "0x40200000:0x154000"\nfdt = "0x48000000"'),
    "examples/zcu102.dts": ([str(EXAMPLES / "zcu102.dts")], 'image = "0x5a00000:0x160000"\nfdt = "0x5c00000"'),
    "examples/multibank.dts": ([str(EXAMPLES / "multibank.dts")],
                               'image = "0x48200000:0x160000"\nfdt = "0x48000000"'),
}


def run(args: list[str]) -> tuple[int, str, str]:
    r = CliRunner().invoke(main, args)
    return r.exit_code, r.stdout, r.stderr


def write(tmp_path: Path, text: str, name: str = "spec.toml") -> str:
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def host_ranges(doc: dict[str, Any]) -> list[tuple[int, int, str]]:
    out = [(int(b["host"], 16), int(b["size"], 16), d["name"]) for d in doc["domains"]
           for b in d["banks"] if d["kind"] != "dynamic"]
    out += [(int(s["host"], 16), int(s["size"], 16), s["id"]) for s in doc["shared_memory"]]
    out += [(int(h["start"], 16), int(h["size"], 16), "heap") for h in doc["static_heap"]]
    out += [(int(m["start"], 16), int(m["size"], 16), d["name"]) for d in doc["domains"] for m in d["modules"]]
    return sorted(out)


@pytest.mark.parametrize("board", sorted(BOARDS))
@pytest.mark.parametrize("version", ["4.18", "4.22"])
def test_every_example_board_gets_a_plan_that_boots(tmp_path: Path, board: str, version: str) -> None:
    args, xen = BOARDS[board]
    spec = write(tmp_path, MIXED.format(version=version, xen=xen))
    code, out, err = run(["plan", *args, "--spec", spec, "--format", "json"])
    if version == "4.18":
        doc = json.loads(out)
        assert code == 1 and doc["fits"] is False and "SHM-015" in doc["proof"]
        return
    assert code == 0, err
    doc = json.loads(out)
    assert not list(PLAN_SCHEMA.iter_errors(doc))
    assert not list(CHECK_SCHEMA.iter_errors(doc["check"]))
    assert doc["fits"] and doc["written"] and doc["proof"] is None
    assert doc["check"]["outcome"] == "boots"
    assert not [f for f in doc["check"]["findings"] if f["severity"] == "error"]
    spans = host_ranges(doc)
    for (s1, n1, a), (s2, _, b) in itertools.pairwise(spans):
        assert s1 + n1 <= s2, f"{a} and {b} overlap"
    by_name = {d["name"]: d for d in doc["domains"]}
    rtos = by_name["rtos"]["banks"]
    assert all(b["guest"] == b["host"] and int(b["host"], 16) + int(b["size"], 16) <= 1 << 32 for b in rtos)
    assert sum(int(b["size"], 16) for b in by_name["static-vm"]["banks"]) == 384 << 20
    ring = doc["shared_memory"][0]
    assert set(ring["guest"]) == {"linux", "static-vm"}


@pytest.mark.parametrize("board", sorted(BOARDS))
def test_418_shares_memory_without_a_static_heap(tmp_path: Path, board: str) -> None:
    args, xen = BOARDS[board]
    spec = write(tmp_path, MIXED.format(version="4.18", xen=xen).replace('static-heap = "auto"', ""))
    code, out, err = run(["plan", *args, "--spec", spec, "--format", "json"])
    doc = json.loads(out)
    if board in ("examples/multibank.dts", "examples/zcu102.dts"):
        assert code == 1 and "/reserved-memory" in doc["proof"]
    else:
        assert code == 0 and doc["written"], err


def test_the_whole_board_dts_checks_clean_on_its_own(tmp_path: Path) -> None:
    spec = write(tmp_path, MIXED.format(version="4.22", xen=""))
    out = tmp_path / "plan.dts"
    code, _, err = run(["plan", "--board", "qemu-virt", "--spec", spec, "--format", "dts", "-o", str(out)])
    assert code == 0, err
    a = analyse(str(out), build_target(board="qemu-virt"))
    assert a.result.outcome == "boots"
    assert not [f for f in a.findings if f.severity == "error"]
    assert "xen,static-heap" in out.read_text()


def test_fragment_and_overlay_apply_to_the_board(tmp_path: Path) -> None:
    if shutil.which("dtc") is None or shutil.which("fdtoverlay") is None:
        pytest.skip("dtc and fdtoverlay (device-tree-compiler) are needed")
    spec = write(tmp_path, MIXED.format(version="4.22", xen=""))
    frag = tmp_path / "chosen.dts"
    assert run(["plan", "--board", "qemu-virt", "--spec", spec, "--format", "fragment", "-o", str(frag)])[0] == 0
    a = analyse(str(frag), build_target(board="qemu-virt"), board=str(ROOT / "xenplan/data/boards/qemu-virt.dts"))
    assert a.result.outcome == "boots" and not [f for f in a.findings if f.severity == "error"]
    dtso = tmp_path / "plan.dtso"
    assert run(["plan", "--board", "qemu-virt", "--spec", spec, "--format", "overlay", "-o", str(dtso)])[0] == 0
    board = tmp_path / "board.dtb"
    subprocess.run(["dtc", "-q", "-I", "dts", "-O", "dtb", "-o", str(board),
                    str(ROOT / "xenplan/data/boards/qemu-virt.dts")], check=True)
    subprocess.run(["dtc", "-q", "-@", "-I", "dts", "-O", "dtb", "-o", str(tmp_path / "plan.dtbo"), str(dtso)],
                   check=True)
    merged = tmp_path / "merged.dtb"
    subprocess.run(["fdtoverlay", "-i", str(board), "-o", str(merged), str(tmp_path / "plan.dtbo")], check=True)
    b = analyse(str(merged), build_target(board="qemu-virt"))
    assert b.result.outcome == "boots" and not [f for f in b.findings if f.severity == "error"]
    assert {d.name for d in b.result.domains} == {"linux", "static-vm", "rtos"}
    assert [(x.host, x.size) for d in b.result.domains for x in d.banks or () if d.static] == \
        [(x.host, x.size) for d in a.result.domains for x in d.banks or () if d.static]


def test_plans_are_deterministic(tmp_path: Path) -> None:
    spec = write(tmp_path, MIXED.format(version="4.22", xen=""))
    first = run(["plan", "--board", "qemu-virt", "--spec", spec, "--format", "json"])
    second = run(["plan", "--board", "qemu-virt", "--spec", spec, "--format", "json"])
    assert first == second and first[0] == 0
    assert "xenplan-plan-" not in first[1]


def test_text_explains_and_maps(tmp_path: Path) -> None:
    spec = write(tmp_path, MIXED.format(version="4.22", xen=""))
    code, out, _ = run(["plan", "--board", "qemu-virt", "--spec", spec])
    assert code == 0
    assert "what went where" in out and "1:1 RAM below 4 GiB" in out
    assert "host physical map" in out and "static heap" in out


def test_static_heap_auto_is_the_smallest_that_boots(tmp_path: Path) -> None:
    spec = load_spec(write(tmp_path, MIXED.format(version="4.22", xen="")))
    r = make_plan(spec, PlanOptions(board="qemu-virt"))
    assert r.written
    heap = sum(n for _, n in r.layout.static_heap)
    smaller = spec.model_copy(update={"xen": spec.xen.model_copy(update={"static_heap": heap - (2 << 20)})})
    s = make_plan(smaller, PlanOptions(board="qemu-virt"))
    assert s.analysis is not None
    assert [f for f in s.analysis.findings if f.rule.startswith(("HEAP-", "ALLOC-")) and f.severity != "info"]


DOES_NOT_FIT = [
    ('[[domain]]\nname = "rtos"\nmemory = "3G"\ndirect-map = true\nnear = "low"\nkernel = "1M"\n',
     r"rtos needs 3 GiB of 1:1 memory below 4 GiB; \d+ MiB is free there in all; the largest free range there "
     r"is \d+ MiB at 0x"),
    ('[[domain]]\nname = "big"\nmemory = "5G"\nstatic = true\nkernel = "1M"\n', r"big needs 5 GiB of memory"),
    ('[[domain]]\nname = "a"\nmemory = "2G"\nstatic = true\nkernel = "1M"\n'
     '[[domain]]\nname = "b"\nmemory = "2G"\nstatic = true\nkernel = "1M"\n',
     r"the spec needs 4100 MiB of host memory in all"),
    ('[[domain]]\nname = "dyn"\nmemory = "4090M"\nkernel = "1M"\n', r"Xen's allocator replay runs out of heap"),
]


@pytest.mark.parametrize(("text", "proof"), DOES_NOT_FIT)
def test_does_not_fit_comes_with_a_proof(tmp_path: Path, text: str, proof: str) -> None:
    spec = write(tmp_path, text)
    code, out, err = run(["plan", "--board", "qemu-virt", "--spec", spec])
    assert code == 1
    assert err.startswith("does not fit: ")
    code, out, _ = run(["plan", "--board", "qemu-virt", "--spec", spec, "--format", "json"])
    doc = json.loads(out)
    assert code == 1 and doc["fits"] is False and not doc["written"]
    assert not list(PLAN_SCHEMA.iter_errors(doc))
    import re

    assert re.search(proof, doc["proof"]), doc["proof"]


BAD_SPECS = [
    ('[xen]\nstatic-heap = "12Q"\n[[domain]]\nname = "a"\nmemory = "1G"\nkernel = "1M"\n',
     "line 2: xen.static-heap: not a size: '12Q'"),
    ('[[domain]]\nname = "a"\nmemroy = "1G"\nkernel = "1M"\n', "line 3: domain[0].memroy: unknown key"),
    ('[[domain]]\nname = "a"\nmemory = "1G"\nkernel = "1M"\n[[shared-memory]]\nid = "r"\nsize = "2M"\n'
     'owner = "a"\nborrowers = ["zz"]\n', "line 9: shared-memory[0].borrowers: 'zz' is not a domain"),
    ('[[domain]]\nname = "a"\nmemory = "1G"\nkernel = "1M"\nbanks = ["0x50000000:0x1000000"]\n',
     "domain[0]: the banks add up to 0x1000000 bytes"),
    ('[[domain]]\nname = "a"\nmemory = "1G"\nkernel = "1M"\n[[event-channel]]\nends = ["a:1", "b"]\n',
     "line 6: event-channel[0].ends: 'b': expected DOMAIN:PORT"),
    ('[[domain]]\nname = "a"\nmemory = "1G"\nkernel = "no-such-Image"\n',
     "line 4: domain[0].kernel: 'no-such-Image': neither a size nor a readable file"),
]


@pytest.mark.parametrize(("text", "message"), BAD_SPECS)
def test_bad_specs_are_one_line_exit_2(tmp_path: Path, text: str, message: str) -> None:
    code, _, err = run(["plan", "--board", "qemu-virt", "--spec", write(tmp_path, text)])
    assert code == 2
    assert err.count("\n") == 1 and message in err, err


def test_kernel_path_uses_the_image_header(tmp_path: Path) -> None:
    image = bytearray(64)
    image[0:4] = (0x14000008).to_bytes(4, "little")
    image[16:24] = (9 << 20).to_bytes(8, "little")
    image[56:60] = b"ARM\x64"
    (tmp_path / "Image").write_bytes(bytes(image) + bytes(3 << 20))
    spec = write(tmp_path, '[[domain]]\nname = "a"\nmemory = "256M"\nkernel = "Image"\nramdisk = "1M"\n')
    r = make_plan(load_spec(spec), PlanOptions(board="qemu-virt"))
    assert r.written
    kernel, ramdisk = r.layout.domains[0].modules
    assert kernel.size == (3 << 20) + 64
    assert ramdisk.start - kernel.start == 10 << 20


def test_passthrough_on_zcu102(tmp_path: Path) -> None:
    if shutil.which("dtc") is None:
        pytest.skip("dtc is needed")
    gem = tmp_path / "gem3.dtb"
    subprocess.run(["dtc", "-q", "-I", "dts", "-O", "dtb", "-o", str(gem),
                    str(EXAMPLES / "passthrough" / "zcu102-gem3.dts")], check=True)
    spec = write(tmp_path, '[xen]\nimage = "0x5a00000:0x160000"\nfdt = "0x5c00000"\n'
                 '[[domain]]\nname = "net"\nmemory = "256M"\nkernel = "20M"\ndtb = "gem3.dtb"\n'
                 'passthrough = ["/axi/ethernet@ff0e0000"]\n')
    out = tmp_path / "plan.dts"
    code, _, err = run(["plan", str(EXAMPLES / "zcu102.dts"), "--spec", spec, "--format", "dts", "-o", str(out)])
    assert code == 0, err
    text = out.read_text()
    assert "xen,passthrough" in text and "multiboot,device-tree" in text


def test_fixed_banks_are_kept(tmp_path: Path) -> None:
    spec = write(tmp_path, '[[domain]]\nname = "a"\nmemory = "256M"\nkernel = "1M"\n'
                 'banks = ["0x60000000:0x8000000", "0x100000000:0x8000000"]\n')
    r = make_plan(load_spec(spec), PlanOptions(board="qemu-virt"))
    assert r.written
    assert [(b.host, b.size) for b in r.layout.domains[0].banks] == [(0x60000000, 0x8000000),
                                                                       (0x100000000, 0x8000000)]


def test_imagebuilder_config_places_modules_where_the_plan_does(tmp_path: Path) -> None:
    spec = write(tmp_path, MIXED.format(version="4.22", xen=""))
    code, out, _ = run(["plan", "--board", "qemu-virt", "--spec", spec, "--format", "imagebuilder"])
    assert code == 0
    conf = dict(line.split("=", 1) for line in out.splitlines() if "=" in line and not line.startswith("#"))
    r = make_plan(load_spec(spec), PlanOptions(board="qemu-virt"))
    modules = [m for p in r.layout.domains for m in p.modules]
    start = int(conf["MEMORY_START"].strip('"'), 16)
    # ImageBuilder: its script at max(MEMORY_START + 2 MiB, 12 MiB), the first file 2 MiB after.
    assert max(start + (2 << 20), 0xC00000) + (2 << 20) == modules[0].start
    assert conf["NUM_DOMUS"] == "3"
    assert conf["DOMU_DIRECT_MAP[2]"] == "1" and conf["DOMU_DIRECT_MAP[1]"] == "0"
    rtos = r.layout.domains[2].banks[0]
    assert conf["DOMU_STATIC_MEM[2]"] == f'"{rtos.host:#x} {rtos.size:#x}"'
    heap = r.layout.static_heap[0]
    assert conf["XEN_STATIC_HEAP"] == f'"{heap[0]:#x} {heap[1]:#x}"'
    ring = r.layout.shm[0]
    assert conf["DOMU_SHARED_MEM[0]"] == f'"ring0 {ring.host:#x} {ring.guest["linux"]:#x} {ring.size:#x}"'


def test_output_may_not_be_an_input(tmp_path: Path) -> None:
    spec = write(tmp_path, MIXED.format(version="4.22", xen=""))
    code, _, err = run(["plan", "--board", "qemu-virt", "--spec", spec, "-o", spec])
    assert code == 2 and "xenplan: error" in err


def test_cpupools(tmp_path: Path) -> None:
    spec = write(tmp_path, '[[cpupool]]\nname = "rt"\ncpus = ["/cpus/cpu@1"]\nscheduler = "null"\n'
                 '[[domain]]\nname = "a"\nmemory = "128M"\nkernel = "1M"\ncpupool = "rt"\n'
                 '[[domain]]\nname = "b"\nmemory = "128M"\nkernel = "1M"\n')
    out = tmp_path / "plan.dts"
    code, _, err = run(["plan", "--board", "qemu-virt", "--spec", spec, "--format", "dts", "-o", str(out)])
    assert code == 0, err
    a = analyse(str(out), build_target(board="qemu-virt", kconfig=["BOOT_TIME_CPUPOOLS=y", "SCHED_NULL=y"]))
    assert a.result.outcome == "boots" and not [f for f in a.findings if f.severity == "error"]
    assert a.system.cpupools == ("/chosen/cpupool-rt",)
    pool = next(d for d in a.system.domains if d.name == "a").cpupool
    assert pool is not None and a.system.phandles[pool] == "/chosen/cpupool-rt"
    code, _, err = run(["plan", "--board", "qemu-virt", "--spec", spec, "--format", "overlay"])
    assert code == 2 and "cpupool" in err
    code, out_text, _ = run(["plan", "--board", "qemu-virt", "--spec", spec, "--format", "imagebuilder"])
    assert 'CPUPOOL[0]="cpu@1 null"' in out_text and "DOMU_CPUPOOL[0]=0" in out_text
    bad = write(tmp_path, '[[domain]]\nname = "a"\nmemory = "128M"\nkernel = "1M"\ncpupool = "rt"\n', "bad.toml")
    code, _, err = run(["plan", "--board", "qemu-virt", "--spec", bad])
    assert code == 2 and "line 5: domain[0].cpupool: 'rt' is not a [[cpupool]]" in err


def test_second_strategy_places_from_the_bottom(tmp_path: Path) -> None:
    from xenplan.plan.engine import module_list, place
    from xenplan.plan.planner import board_facts, load_board, make_target

    spec = load_spec(write(tmp_path, '[[domain]]\nname = "a"\nmemory = "256M"\nstatic = true\nkernel = "1M"\n'))
    opts = PlanOptions(board="qemu-virt")
    target = make_target(spec, opts)
    facts, _ = board_facts(load_board(opts)[0], target)
    high = place(spec, facts, module_list(spec), None).domains[0].banks
    low = place(spec, facts, module_list(spec), None, "low").domains[0].banks
    assert high[0].host >= 1 << 32 and high[0].host + high[0].size == 0x140000000
    assert low[0].host < 0x50000000
