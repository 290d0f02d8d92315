"""How xenplan scales with domains, static banks and findings: ``python benchmarks/scale.py [--big]``.

Two families of generated boards:

- ``refused`` (``run.many_domains``): static domains, each bank 2 MiB, one
  kernel module each; Xen refuses them early, and every domain is still
  modelled, simulated as far as Xen gets, checked and reported.
- ``clashing`` (``run.many_findings``): domains that clash with each other
  in every way a rule could pair things up (overlapping banks, kernels in a
  neighbour's bank, shared-memory ids and regions, event-channel rings, 1:1
  overlaps), about 5 findings per domain, every domain built as far as it goes.

For each size: ``analyse()`` alone, in a fresh interpreter, and the whole
``xenplan check`` text run as a child process, as CPU time per domain and
per bank; the check also as a ratio to the floor any click + pydantic tool
pays (``python -c "import click, pydantic"``) and to ``dtc -I dts -O dtb``
on the same generated source, so the figures mean something on any
machine; and its peak memory (max RSS).

Time per domain must stay flat from 128 to 4,096 domains, and time per bank
flat from 8 to 64 banks: every stage is linear (or n log n) in domains,
banks and findings. ``--big`` adds 4,096 domains x 64 banks of both
families (the memory ceiling; a few minutes).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from measure import child_env, cpu, run_once
from run import board, compile_dtb, many_domains, many_findings

OPTS = ["--xen-image", "0x40200000:0x154000", "--fdt-address", "0x48000000"]
FAMILIES: dict[str, Callable[[int, int], str]] = {
    "refused": lambda n, banks: many_domains(n, banks, True),
    "clashing": many_findings,
}
SIZES = [(128, 8), (1024, 8), (4096, 8), (128, 64), (1024, 64)]


ANALYSE = """
import sys, time
sys.path.insert(0, {bench!r})
from run import TARGET
from xenplan.analysis import analyse
t0 = time.process_time()
a = analyse({dtb!r}, TARGET)
print(time.process_time() - t0, len(a.findings))
"""


def analyse_cpu(dtb: Path) -> tuple[float, int]:
    """CPU of ``analyse()`` alone, in a fresh interpreter (imports done, not counted)."""
    code = ANALYSE.format(bench=str(Path(__file__).resolve().parent), dtb=str(dtb))
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, env=child_env())
    secs, findings = out.stdout.split()
    return float(secs), int(findings)


def dtc_cpu(src: Path, tmp: Path) -> float:
    """CPU of ``dtc -I dts -O dtb`` on the generated source (median of 3)."""
    runs = sorted(run_once(["dtc", "-q", "-I", "dts", "-O", "dtb", "-o", str(tmp / "dtc.dtb"), str(src)])[0]
                  for _ in range(3))
    return max(runs[1], 1e-4)


def main() -> None:
    sizes = list(SIZES)
    if "--big" in sys.argv:
        sizes.append((4096, 64))
    floor, _ = cpu([sys.executable, "-c", "import click, pydantic"], 5)
    print(f"floor: python -c \"import click, pydantic\" {floor * 1e3:.0f} ms CPU")
    print(f"{'family':<8} {'domains':>7} {'banks':>5} {'findings':>8} | {'analyse':>8} {'/domain':>8} {'/bank':>7} | "
          f"{'check':>8} {'/domain':>8} {'/bank':>7} {'/floor':>7} {'/dtc':>6} {'max RSS':>8}")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for family, make in FAMILIES.items():
            for n, banks in sizes:
                name = f"{family}{n}x{banks}"
                dtb = compile_dtb(board(64 << 40, make(n, banks)), tmp, name)
                dtc = dtc_cpu(tmp / f"{name}.dts", tmp)
                a_cpu, findings = analyse_cpu(dtb)
                c_cpu, rss = cpu([sys.executable, "-m", "xenplan", "check", str(dtb), *OPTS], 1, warm=False)
                nb = n * banks
                print(f"{family:<8} {n:7d} {banks:5d} {findings:8d} | {a_cpu:7.2f}s {a_cpu / n * 1e3:6.2f}ms "
                      f"{a_cpu / nb * 1e6:5.0f}us | {c_cpu:7.2f}s {c_cpu / n * 1e3:6.2f}ms {c_cpu / nb * 1e6:5.0f}us "
                      f"{c_cpu / floor:6.1f}x {c_cpu / dtc:5.1f}x {rss // 1024:5d} MiB", flush=True)


if __name__ == "__main__":
    main()
