"""Start-up of ``xenplan check`` on small boards, as ratios:
``python benchmarks/startup.py [RUNS] [--modules] [--lopper PATH]``.

Each example is compiled to a DTB with dtc first; then the median CPU time
(user + system) of the whole process over RUNS runs (default 7) of:

- ``python -c "import click, pydantic"``: the floor any click + pydantic tool pays;
- ``python -c pass`` and ``python -c "import click"``: what the floor is made of;
- ``xenplan check X.dtb`` with text and with JSON output (to a pipe);
- ``dtc -I dts -O dtb X.dts``: the native tool that reads the same board;
- with ``--lopper PATH``, ``lopper -f X.dtb OUT.dtb`` (Lopper, the Python device-tree
  framework, reading and writing back the same DTB).

The commands are run in turn, one run of each per round, so that a change
of the machine's load over the measurement touches them all alike; ratios
against the floor and dtc make the figures mean the same on any machine.

``--modules`` adds where a check of ``qemu-virt`` spends its CPU time beyond
``import click``: each module's own import time (``-X importtime``'s "self",
as CPU rather than wall time, from ``time.process_time``), summed by package
and medianed over the runs, and the rest (the work, the output and the exit).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

from measure import child_env, run_once

ROOT = Path(__file__).resolve().parent.parent
BOARD = {"qemu-virt.dts": ["--xen-image", "0x40200000:0x154000", "--fdt-address", "0x48000000"],
         "zcu102.dts": ["--xen-image", "0x5a00000:0x160000", "--fdt-address", "0x5c00000"],
         "multibank.dts": ["--xen-image", "0x48200000:0x160000", "--fdt-address", "0x48000000"]}

PROFILE = """
import atexit, json, runpy, sys, time
import importlib._bootstrap as boot
clock, out, own, load = time.process_time, sys.argv[1], {}, boot._load_unlocked
stack = []
def timed(spec):
    start = clock()
    stack.append(0.0)
    try:
        return load(spec)
    finally:
        inner, total = stack.pop(), clock() - start
        if stack:
            stack[-1] += total
        own[spec.name] = own.get(spec.name, 0.0) + total - inner
boot._load_unlocked = timed
atexit.register(lambda: open(out, "w").write(json.dumps({"own": own, "total": clock()})))
sys.argv = ["xenplan", *sys.argv[2:]]
runpy.run_module("xenplan", run_name="__main__", alter_sys=True)
"""
"""``python -m xenplan ARGS`` with each module's own import CPU time (its imports' taken off)
and the process's CPU time at exit written to a JSON file."""


def medians(cmds: dict[str, list[str]], runs: int) -> dict[str, tuple[float, int]]:
    """Median CPU seconds and largest max RSS (KiB) of each command, runs interleaved after a warm-up."""
    for cmd in cmds.values():
        run_once(cmd)
    got: dict[str, list[tuple[float, int]]] = {k: [] for k in cmds}
    for _ in range(runs):
        for k, cmd in cmds.items():
            got[k].append(run_once(cmd))
    return {k: (statistics.median(r[0] for r in v), max(r[1] for r in v)) for k, v in got.items()}


def group(module: str) -> str:
    """The package a module's time is shown under: xenplan's by layer, the rest by top-level name."""
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "xenplan" and len(parts) > 1 else parts[0]


def modules(py: str, dtb: Path, opts: list[str], runs: int, check_cpu: float, click_cpu: float) -> None:
    """Where the CPU time of a check beyond ``import click`` goes, by package (see the module docstring).

    ``check_cpu`` and ``click_cpu`` are the medians of the main table: the rest is what is left of
    their difference after the imports (the work, the output and the interpreter's exit)."""
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "own.json"
        docs = []
        for _ in range(runs + 1):
            subprocess.run([py, "-c", PROFILE, str(out), "check", str(dtb), *opts], check=False,
                           capture_output=True, env=child_env())
            docs.append(json.loads(out.read_text()))
        docs = docs[1:]
    with_click = subprocess.run([py, "-c", "import sys, click; print(' '.join(sys.modules))"], check=True,
                                capture_output=True, text=True, env=child_env()).stdout.split()
    floor_mods = set(with_click)
    sums: list[dict[str, float]] = []
    for doc in docs:
        own: dict[str, float] = defaultdict(float)
        for name, secs in doc["own"].items():
            if name not in floor_mods:
                own[group(name)] += secs
        sums.append(own)
    by_group = {g: [s.get(g, 0.0) for s in sums] for g in set().union(*sums)}
    imported = statistics.median(sum(s for n, s in doc["own"].items() if n not in floor_mods) for doc in docs)
    print(f"\nqemu-virt check ({check_cpu * 1000:.0f} ms), CPU beyond `import click` ({click_cpu * 1000:.0f} ms), "
          f"medians of {runs} runs (the import hook adds a little to each import):")
    print(f"  {'imports of modules click does not load':<44} {imported * 1000:6.1f} ms")
    for g, v in sorted(by_group.items(), key=lambda kv: -statistics.median(kv[1])):
        if statistics.median(v) >= 0.0005:
            print(f"    {g:<42} {statistics.median(v) * 1000:6.1f} ms")
    print(f"  {'the rest (parse, read, simulate, rules, output, exit)':<44} "
          f"{(check_cpu - click_cpu - imported) * 1000:6.1f} ms")


def main() -> None:
    argv = sys.argv[1:]
    lopper = argv[argv.index("--lopper") + 1] if "--lopper" in argv else None
    args = [a for a in argv if not a.startswith("--") and a != lopper]
    runs = int(args[0]) if args else 7
    py = sys.executable
    script = Path(py).parent / "xenplan"
    # The console script, as users run it; ``python -m`` adds runpy's own imports.
    xenplan = [str(script)] if script.exists() else [py, "-m", "xenplan"]
    with tempfile.TemporaryDirectory() as d:
        dtbs = {}
        cmds: dict[str, list[str]] = {"floor": [py, "-c", "import click, pydantic"], "bare": [py, "-c", "pass"],
                                      "click": [py, "-c", "import click"]}
        for name, opts in BOARD.items():
            src = ROOT / "examples" / name
            dtb = dtbs[name] = Path(d) / (src.stem + ".dtb")
            dtc_cmd = ["dtc", "-q", "-I", "dts", "-O", "dtb", "-i", str(src.parent), "-o", str(dtb), str(src)]
            subprocess.run(dtc_cmd, check=True)
            cmds[f"{name} dtc"] = dtc_cmd
            cmds[f"{name} text"] = [*xenplan, "check", str(dtb), *opts]
            cmds[f"{name} json"] = [*xenplan, "check", str(dtb), "--format", "json", *opts]
            if lopper:
                cmds[f"{name} lopper"] = [lopper, "-f", str(dtb), str(Path(d) / f"{src.stem}-lopper.dtb")]
        m = medians(cmds, runs)
        floor = m["floor"][0]
        print(f"floor: python -c 'import click, pydantic': {floor * 1000:.0f} ms CPU, {m['floor'][1] // 1024} MiB "
              f"(python -c pass: {m['bare'][0] * 1000:.0f} ms; import click: {m['click'][0] * 1000:.0f} ms)")
        print(f"{'board':<16} {'dtc':>7} {'text':>7} {'json':>7} {'text/floor':>11} {'json/floor':>11} "
              f"{'text/dtc':>9} {'max RSS':>8}")
        for name in BOARD:
            dtc, text, js = m[f"{name} dtc"][0], m[f"{name} text"][0], m[f"{name} json"][0]
            rss = m[f"{name} text"][1]
            print(f"{name:<16} {dtc * 1000:5.0f}ms {text * 1000:5.0f}ms {js * 1000:5.0f}ms {text / floor:10.2f}x "
                  f"{js / floor:10.2f}x {text / max(dtc, 0.001):8.0f}x {rss // 1024:5d} MiB")
        print("(dtc often rounds to 0 ms of CPU: the ratio to it uses 1 ms)")
        if lopper:
            for name in BOARD:
                lop, text = m[f"{name} lopper"][0], m[f"{name} text"][0]
                print(f"{name:<16} lopper -f: {lop * 1000:5.0f} ms CPU ({lop / floor:.2f}x the floor); "
                      f"xenplan check text / lopper: {text / lop:.2f}x")
        if "--modules" in sys.argv:
            modules(py, dtbs["qemu-virt.dts"], BOARD["qemu-virt.dts"], runs, m["qemu-virt.dts text"][0],
                    m["click"][0])


if __name__ == "__main__":
    main()
