"""House rule: ``ruff check`` passes on the package, the tests, the tools and the benchmarks
with the rule set chosen in ``pyproject.toml`` (``[tool.ruff.lint]``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_ruff_clean() -> None:
    pytest.importorskip("ruff")
    p = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format", "concise",
                        "xenplan", "tests", "tools", "benchmarks"], check=False, cwd=ROOT,
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout[-3000:]
