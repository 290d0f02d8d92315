"""House rule: every public function is typed; ``mypy --strict`` passes on the package."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_mypy_strict() -> None:
    pytest.importorskip("mypy")
    p = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-error-summary", "xenplan"], check=False,
                       cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout[-3000:]
