"""How xenplan scales with domains and static banks: ``python benchmarks/scale.py [--big]``.

Generated boards (``run.many_domains``: static domains, each bank 2 MiB,
one kernel module each; Xen refuses them early, and every domain is still
modelled, simulated as far as Xen gets, checked and reported). For each:

- ``analyse()`` alone, in a fresh interpreter: CPU time per domain and per bank;
- the whole ``xenplan check`` text run as a child process: CPU time per
  domain and per bank, and its peak memory (max RSS).

Time per domain must stay flat from 128 to 4,096 domains, and time per bank
flat from 8 to 64 banks: every stage is linear (or n log n) in domains,
banks and findings. ``--big`` adds 4,096 domains x 64 banks (the memory
ceiling; about a minute).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from measure import child_env, cpu
from run import board, compile_dtb, many_domains

OPTS = ["--xen-image", "0x40200000:0x154000", "--fdt-address", "0x48000000"]


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


def main() -> None:
    sizes = [(128, 8), (1024, 8), (4096, 8), (128, 64), (1024, 64)]
    if "--big" in sys.argv:
        sizes.append((4096, 64))
    print(f"{'domains':>7} {'banks':>5} {'findings':>8} | {'analyse':>8} {'/domain':>8} {'/bank':>7} | "
          f"{'check':>8} {'/domain':>8} {'/bank':>7} {'max RSS':>8}")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for n, banks in sizes:
            dtb = compile_dtb(board(64 << 40, many_domains(n, banks, True)), tmp, f"s{n}x{banks}")
            a_cpu, findings = analyse_cpu(dtb)
            c_cpu, rss = cpu([sys.executable, "-m", "xenplan", "check", str(dtb), *OPTS], 1, warm=False)
            nb = n * banks
            print(f"{n:7d} {banks:5d} {findings:8d} | {a_cpu:7.2f}s {a_cpu / n * 1e3:6.2f}ms "
                  f"{a_cpu / nb * 1e6:5.0f}us | {c_cpu:7.2f}s {c_cpu / n * 1e3:6.2f}ms {c_cpu / nb * 1e6:5.0f}us "
                  f"{rss // 1024:5d} MiB")


if __name__ == "__main__":
    main()
