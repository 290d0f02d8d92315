"""Shared test fixtures."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"

DTC_TIMEOUT = 60
"""Seconds; dtc 1.6.1 can loop forever on some inputs (docs/device-tree-input.md section 5)."""


@pytest.fixture(scope="session")
def dtc_compile() -> Callable[[Path | str], bytes]:
    """Compile DTS with ``dtc -I dts -O dtb``: a ``Path`` is a file, a ``str`` is DTS text.

    Skips the test when dtc is not installed. A dtc failure raises
    ``subprocess.CalledProcessError`` with dtc's stderr; results are cached
    for the session.
    """
    dtc = shutil.which("dtc")
    if dtc is None:
        pytest.skip("dtc (package device-tree-compiler) is not installed")
    cache: dict[Path | str, bytes] = {}

    def compile_dts(source: Path | str) -> bytes:
        if source not in cache:
            if isinstance(source, Path):
                args, text = [dtc, "-q", "-I", "dts", "-O", "dtb", "-o", "-", str(source)], None
            else:
                args, text = [dtc, "-q", "-I", "dts", "-O", "dtb", "-o", "-", "-"], source.encode()
            done = subprocess.run(args, check=False, input=text, capture_output=True, timeout=DTC_TIMEOUT)
            if done.returncode != 0:
                raise subprocess.CalledProcessError(
                    done.returncode, args, done.stdout, done.stderr.decode(errors="replace")
                )
            cache[source] = done.stdout
        return cache[source]

    return compile_dts
