"""Time ``place_domains`` on small and huge boards (house rule: extents, not pages).

A 16 TiB board must cost about what a 1 GiB board costs, and 1024 dynamic
domains must stay well under a second per hundred. Prints one line per
scenario: board, domains, best wall time of a few runs, free heap left.

    python3 benchmarks/bench_placement.py
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from xenplan.boot.replay import HeapBoard, HeapDomain, PlacementResult, place_domains
from xenplan.model.release import XenVersion, release_of

GiB = 1 << 30
TiB = 1 << 40


def _board(ram: int, version: str = "4.22") -> HeapBoard:
    return HeapBoard(
        ram=((0x40000000, ram),),
        modules=((0x40200000, 0x154000), (0x48000000, 0x9000), (0x48200000, 0x10000)),
        reserved=(),
        static_heap=None,
        fdt_size=0x9000,
        unflat_size=0xA000,
        release=release_of(XenVersion.parse(version)),
    )


def _time(board: HeapBoard, domains: Sequence[HeapDomain], runs: int = 3) -> tuple[float, PlacementResult]:
    best, result = float("inf"), None
    for _ in range(runs):
        t0 = time.perf_counter()
        result = place_domains(board, domains)
        best = min(best, time.perf_counter() - t0)
    assert result is not None
    return best, result


def main() -> None:
    few = [HeapDomain(f"d{i}", cpus=2, memory_kib=(64 << 10) * (i + 1) + 4 * i) for i in range(4)]
    scenarios = [
        ("1 GiB board, 4 small domains", _board(GiB), few),
        ("4 GiB board, 4 small domains", _board(4 * GiB), few),
        ("16 TiB board, 4 small domains", _board(16 * TiB), few),
        ("16 TiB board, 4 domains of 1000 GiB (4 GiB P2M pools)", _board(16 * TiB),
         [HeapDomain(f"big{i}", cpus=8, memory_kib=1000 << 20) for i in range(4)]),
        ("16 TiB board, one domain over 1019 GiB (ALLOC-002)", _board(16 * TiB),
         [HeapDomain("huge", cpus=8, memory_kib=TiB >> 10)]),
        ("16 TiB board, 1024 dynamic domains of 1 GiB + 12 KiB", _board(16 * TiB),
         [HeapDomain(f"d{i}", cpus=1, memory_kib=(1 << 20) + 12) for i in range(1024)]),
        ("8 GiB board, 1024 dynamic domains of 4 MiB", _board(8 * GiB),
         [HeapDomain(f"d{i}", cpus=1, memory_kib=4 << 10) for i in range(1024)]),
    ]
    for label, board, domains in scenarios:
        seconds, result = _time(board, domains)
        ok = sum(p.outcome == "ok" for p in result.domains)
        banks = sum(len(p.banks or ()) for p in result.domains)
        print(f"{label:55s} {seconds * 1000:9.1f} ms  {ok}/{len(domains)} placed, {banks} banks, "
              f"{result.free_bytes / GiB:,.2f} GiB free")


if __name__ == "__main__":
    main()
