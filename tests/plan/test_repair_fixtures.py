"""The rule fixtures of every placement or size rule: each ``fires`` case is repaired to a clean check
or left with a reason, each ``clean`` case is left alone."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from xenplan.cli import main
from xenplan.plan.repair import RULE_TOPIC

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = sorted(p for p in (ROOT / "tests" / "fixtures").rglob("*.dts")
                  if any(p.name.startswith(f"{rule}-") for rule in RULE_TOPIC))
LEFT = {
    "DOM-002-fires": "not recognised (a typo?)",
    "DOM-020-fires": "not recognised (a typo?)",
    "RSV-010-fires": "no free host range of 256 MiB for it",
    "RSV-011-hole-fires": "no free host range of 256 MiB for it: there is none",
    "RSV-012-fires": "it names nothing the repair moves",
    "RSV-012-hazard-fires": "RT-020",
}
"""Fires cases the repair leaves, and words of the line that says why."""


def args_of(path: Path) -> list[str]:
    first = path.read_text().splitlines()[0]
    return shlex.split(first.split("xenplan:", 1)[1]) if "xenplan:" in first else []


def test_the_placement_rules_have_fixtures() -> None:
    assert len(FIXTURES) >= 30
    assert {p.stem for p in FIXTURES} >= set(LEFT)


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_fixture(path: Path) -> None:
    r = CliRunner().invoke(main, ["plan", str(path), "--repair", *args_of(path), "--format", "json"])
    assert r.exit_code in (0, 1), r.stderr
    doc = json.loads(r.stdout)
    errors = [f for f in doc["check"]["findings"] if f["severity"] == "error"]
    assert doc["repaired"] == (not errors) == (r.exit_code == 0)
    if "-clean" in path.stem:
        assert doc["changes"] == []
    elif path.stem in LEFT:
        assert any(LEFT[path.stem] in line for line in doc["remaining"]), doc["remaining"]
    else:
        assert doc["changes"] and doc["repaired"], doc["remaining"]
