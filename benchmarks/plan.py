"""How long ``xenplan plan`` takes: ``python benchmarks/plan.py`` (``make bench-plan``).

A generated 64 GiB board with holes (eight 8 GiB banks, a 2 GiB hole after
each, ``/memreserve/`` entries in four of them) and a spec mixing dynamic,
static, static-below-4 GiB and 1:1 domains, a kernel each, and a shared-memory
region every eight domains. Each case is planned in a fresh interpreter
: the placement alone; the placement, the fragment and its simulated
``check`` (what every plan costs, measured even where Xen would refuse the
result); and ``make_plan()`` as ``xenplan plan`` runs it. Time per domain is
shown so that growth is visible.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

GIB = 1 << 30
BANKS = [(0x40000000 + i * 10 * GIB, 8 * GIB) for i in range(8)]
CASES = [28, 64, 1024]
"""28 domains boot (Xen's 32 boot modules, its image and the DTB among them, allow 30 with a kernel each);
64 and 1,024 are the scaling cases: the plan proves they do not fit, and the simulation is timed all the same."""


def board_text() -> str:
    root = Path(__file__).resolve().parent.parent
    text = (root / "xenplan" / "data" / "boards" / "qemu-virt.dts").read_text()
    start = text.index("\tmemory@40000000 {")
    end = text.index("};", start) + 2
    nodes = "\n".join(f"\tmemory@{s:x} {{\n\t\tdevice_type = \"memory\";\n"
                      f"\t\treg = <{s >> 32:#x} {s & 0xFFFFFFFF:#x} {n >> 32:#x} {n & 0xFFFFFFFF:#x}>;\n\t}};"
                      for s, n in BANKS)
    reserves = "".join(f"/memreserve/ {s + 3 * GIB + 0x1234000:#x} 0x200000;\n" for s, _ in BANKS[1::2])
    text = text[:start] + nodes + text[end:]
    return text.replace("/dts-v1/;\n", "/dts-v1/;\n" + reserves, 1)


def spec_text(n: int) -> str:
    memory = max(16, (40 * 1024) // n // 2 * 2)
    lines = ['[xen]', 'version = "4.22"', 'image = "0x40200000:0x154000"', 'fdt = "0x48000000"']
    for i in range(n):
        kind = i % 4
        lines += ["[[domain]]", f'name = "d{i}"', f'memory = "{memory}M"', 'kernel = "4M"']
        if kind == 1:
            lines.append("static = true")
        elif kind == 2:
            lines += ["static = true", 'near = "low"'] if i < 4 else ["static = true"]
        elif kind == 3:
            lines += ["direct-map = true"]
    for i in range(0, n - 1, 8):
        lines += ["[[shared-memory]]", f'id = "r{i}"', 'size = "2M"', f'owner = "d{i}"', f'borrowers = ["d{i + 1}"]']
    return "\n".join(lines) + "\n"


CHILD = """
import sys, tempfile, time
from xenplan.plan.spec import load_spec
from xenplan.plan.planner import (PlanOptions, make_plan, board_facts, load_board, make_target, strip_chosen,
                                  max_phandle, _verify)
from xenplan.plan.emit import fragment
from xenplan.plan.engine import place, module_list
spec = load_spec({spec!r})
opts = PlanOptions(board_input={board!r})
target = make_target(spec, opts)
tree, board = load_board(opts)
strip_chosen(tree)
facts, bootargs = board_facts(tree, target)
t0 = time.process_time()
layout = place(spec, facts, module_list(spec), None)
t1 = time.process_time()
assert layout.failure is None, layout.failure
with tempfile.TemporaryDirectory() as work:
    a = _verify(fragment(spec, layout, target.release, bootargs, phandle_base=max_phandle(tree)), board, target, (),
                work)
t2 = time.process_time()
r = make_plan(spec, opts)
t3 = time.process_time()
errors = sorted({{f.rule for f in a.findings if f.severity == "error"}})
print(t1 - t0, t2 - t1, t3 - t2, r.written, ",".join(errors) or "-", "|", r.proof or r.message or "")
"""


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        board = Path(tmp) / "board.dts"
        board.write_text(board_text())
        print("| domains | placement | per domain | placement + simulated check | per domain | errors Xen meets "
              "| `xenplan plan` | its verdict |")
        print("|---:|---:|---:|---:|---:|---|---:|---|")
        for n in CASES:
            spec = Path(tmp) / f"spec-{n}.toml"
            spec.write_text(spec_text(n))
            done = subprocess.run([sys.executable, "-c", CHILD.format(spec=str(spec), board=str(board))],
                                  capture_output=True, text=True, check=False)
            if done.returncode != 0:
                print(done.stderr, file=sys.stderr)
                return 1
            head, _, verdict = done.stdout.partition("|")
            place_s, check_s, plan_s, written, errors = head.split()
            p, c = float(place_s), float(place_s) + float(check_s)
            verdict = "written" if written == "True" else verdict.strip()[:90]
            print(f"| {n:,} | {p * 1e3:.1f} ms | {p / n * 1e6:.0f} µs | {c:.2f} s | {c / n * 1e3:.2f} ms | {errors} "
                  f"| {float(plan_s):.2f} s | {verdict} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
