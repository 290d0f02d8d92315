"""Reading a QEMU guest's serial console until the boot under test has ended (shared by the
``boot`` and ``hypercall`` subcommands of xentrace.py)."""

from __future__ import annotations

import os
import select
import subprocess
import time
from collections.abc import Callable, Sequence


def read_console(cmd: Sequence[str], timeout: float, grace: Callable[[bytes], float | None], *,
                 partial: bool = False) -> list[bytes]:
    """Run ``cmd`` and return its output lines (the last one possibly partial).

    ``grace(line)`` is asked about every complete line, and with ``partial``
    about the unfinished last one too (a prompt such as U-Boot's "=> " never
    ends its line): a number of seconds means the run has ended and that
    much more output is kept; None means go on. QEMU is killed at the first
    deadline reached, ``timeout`` at the latest."""
    # No stdin: with "-serial stdio" whatever the caller's terminal holds would reach Xen as keys.
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.stdout is not None
    deadline, buf, lines = time.time() + timeout, b"", []
    while time.time() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.5)
        if not ready:
            if proc.poll() is not None:
                break
            continue
        chunk = os.read(proc.stdout.fileno(), 65536)
        if not chunk:
            break
        *whole, buf = (buf + chunk).split(b"\n")
        for line in whole:
            lines.append(line)
            keep = grace(line)
            if keep is not None:
                deadline = min(deadline, time.time() + keep)
        if partial and buf:
            keep = grace(buf)
            if keep is not None:
                deadline = min(deadline, time.time() + keep)
    proc.kill()
    proc.wait()
    return [*lines, buf]
