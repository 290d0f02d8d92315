"""Start-up of ``xenplan check`` on small boards, as ratios: ``python benchmarks/startup.py [RUNS]``.

Each example is compiled to a DTB with dtc first; then the median CPU time
(user + system) of the whole process over RUNS runs (default 7) of:

- ``python -c "import click, pydantic"``: the floor any click + pydantic tool pays;
- ``xenplan check X.dtb`` with text and with JSON output;
- ``dtc -I dts -O dtb X.dts``: the native tool that reads the same board.

Ratios against the first and the last make the figures mean the same on any
machine. ``python -X importtime -m xenplan check ...`` shows where the
start-up goes.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from measure import cpu

ROOT = Path(__file__).resolve().parent.parent
BOARD = {"qemu-virt.dts": ["--xen-image", "0x40200000:0x154000", "--fdt-address", "0x48000000"],
         "zcu102.dts": ["--xen-image", "0x5a00000:0x160000", "--fdt-address", "0x5c00000"],
         "multibank.dts": ["--xen-image", "0x48200000:0x160000", "--fdt-address", "0x48000000"]}


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    py = sys.executable
    floor, floor_rss = cpu([py, "-c", "import click, pydantic"], runs)
    print(f"floor: python -c 'import click, pydantic': {floor * 1000:.0f} ms CPU, {floor_rss // 1024} MiB")
    print(f"{'board':<16} {'dtc':>7} {'text':>7} {'json':>7} {'text/floor':>11} {'json/floor':>11} "
          f"{'text/dtc':>9} {'max RSS':>8}")
    with tempfile.TemporaryDirectory() as d:
        for name, opts in BOARD.items():
            src = ROOT / "examples" / name
            dtb = Path(d) / (src.stem + ".dtb")
            dtc_cmd = ["dtc", "-q", "-I", "dts", "-O", "dtb", "-i", str(src.parent), "-o", str(dtb), str(src)]
            subprocess.run(dtc_cmd, check=True)
            dtc, _ = cpu(dtc_cmd, runs)
            text, rss = cpu([py, "-m", "xenplan", "check", str(dtb), *opts], runs)
            js, _ = cpu([py, "-m", "xenplan", "check", str(dtb), "--format", "json", *opts], runs)
            print(f"{name:<16} {dtc * 1000:5.0f}ms {text * 1000:5.0f}ms {js * 1000:5.0f}ms {text / floor:10.2f}x "
                  f"{js / floor:10.2f}x {text / max(dtc, 0.001):8.0f}x {rss // 1024:5d} MiB")
    print("(dtc often rounds to 0 ms of CPU: the ratio to it uses 1 ms)")


if __name__ == "__main__":
    main()
