"""CPU time and peak memory of one child process, from ``wait4`` (what ``/usr/bin/time`` reports).

CPU time (user + system) rather than wall time: on a shared machine it moves
far less with the load of others. Children run without
``PYTHONDONTWRITEBYTECODE`` so that imports come from bytecode caches, as
they do for an installed tool.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from collections.abc import Sequence


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


LAUNCHER = """
import os, subprocess, sys
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
_, status, usage = os.wait4(p.pid, 0)
print(usage.ru_utime + usage.ru_stime, usage.ru_maxrss, os.waitstatus_to_exitcode(status))
"""
"""Runs the command and reports its rusage. Linux counts the memory a child had
before ``exec`` in its peak, so the command is started from this small
interpreter rather than from the benchmark, which may hold a large analysis."""


def run_once(cmd: Sequence[str]) -> tuple[float, int]:
    """(user + system seconds, max RSS in KiB) of one run of ``cmd``, its output discarded."""
    out = subprocess.run([sys.executable, "-c", LAUNCHER, *cmd], check=True, capture_output=True, text=True,
                         env=child_env())
    secs, rss, code = out.stdout.split()
    if int(code) not in (0, 1):
        raise RuntimeError(f"{' '.join(cmd)} exited with {code}")
    return float(secs), int(rss)


def cpu(cmd: Sequence[str], runs: int, *, warm: bool = True) -> tuple[float, int]:
    """Median CPU seconds and the largest max RSS (KiB) over ``runs`` runs (after one warm-up run)."""
    if warm:
        run_once(cmd)
    results = [run_once(cmd) for _ in range(runs)]
    return statistics.median(r[0] for r in results), max(r[1] for r in results)
