"""Time of the text report alone at 4,096 domains: ``python benchmarks/render.py``.

The board is ``run.many_domains`` (static domains, 8 banks each); the
analysis runs once, then the unstyled text renderer (what a CI log or a
file gets) prints it three times, concise and with ``--show-explanations``.
The median CPU time of each is reported with the size of the output.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from run import TARGET, board, compile_dtb, many_domains

from xenplan.analysis import analyse
from xenplan.report import render


def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        dtb = compile_dtb(board(64 << 40, many_domains(4096, 8, True)), Path(d), "render4096")
        a = analyse(str(dtb), TARGET)
    print(f"4096 domains, {len(a.findings)} findings")
    for explain in (False, True):
        times = []
        for _ in range(3):
            t0 = time.process_time()
            out = render.check("text", [a], render.Screen("file", "never"), explain=explain)
            times.append(time.process_time() - t0)
        label = "--show-explanations" if explain else "concise"
        print(f"{label:<20} {statistics.median(times):6.3f}s  {len(out.splitlines()):7d} lines")


if __name__ == "__main__":
    main()
