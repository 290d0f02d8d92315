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
from collections.abc import Sequence


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def run_once(cmd: Sequence[str]) -> tuple[float, int]:
    """(user + system seconds, max RSS in KiB) of one run of ``cmd``, its output discarded."""
    p = subprocess.Popen(list(cmd), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=child_env())
    _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode not in (0, 1):
        raise RuntimeError(f"{' '.join(cmd)} exited with {p.returncode}")
    return usage.ru_utime + usage.ru_stime, usage.ru_maxrss


def cpu(cmd: Sequence[str], runs: int, *, warm: bool = True) -> tuple[float, int]:
    """Median CPU seconds and the largest max RSS (KiB) over ``runs`` runs (after one warm-up run)."""
    if warm:
        run_once(cmd)
    results = [run_once(cmd) for _ in range(runs)]
    return statistics.median(r[0] for r in results), max(r[1] for r in results)
