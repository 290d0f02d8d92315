"""The JSON output of every example and rule fixture, byte for byte.

A refactoring must not change what xenplan says: these files pin the
``xenplan/1`` document of ``check`` (every example on every modelled
release, every fixture with its own options) and of ``map`` (every example).
The checkout's own path (a bundled board's file, say) is written as
``<repo>``, so a clone anywhere compares the same. A change of behaviour
that is meant regenerates them on purpose:

    XENPLAN_REGEN_GOLDEN=1 .venv/bin/python -m pytest tests/test_golden.py

and the diff of ``tests/data/golden/`` shows what changed.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from xenplan.cli import main

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "data" / "golden"
REGEN = os.environ.get("XENPLAN_REGEN_GOLDEN") == "1"

RELEASES = ("4.16", "4.17", "4.18", "4.19", "4.20", "4.21", "4.22", "4.23-dev")

QEMU = ["--xen-image", "0x40200000:0x154000", "--fdt-address", "0x48000000"]
ZCU = ["--xen-image", "0x5a00000:0x160000", "--fdt-address", "0x5c00000"]
BOARD_OPTIONS = {
    "examples/zcu102.dts": ZCU,
    "examples/broken/directmap-grant-window.dts": ZCU,
    "examples/multibank.dts": ["--xen-image", "0x48200000:0x160000", "--fdt-address", "0x48000000"],
}
EXAMPLES = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "examples").rglob("*.dts")
                  if "passthrough" not in p.parts)
FIXTURES = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "tests" / "fixtures").rglob("*-*.dts")
                  if "bad" not in p.parts)
"""Rule fixtures; ``dt/bad`` holds inputs that are refused, and has no JSON to pin."""


def fixture_args(rel: str) -> list[str]:
    """The options on a fixture's first line, file values resolved beside it."""
    path = ROOT / rel
    first = path.read_text().splitlines()[0]
    opts = shlex.split(first.split("xenplan:", 1)[1]) if "xenplan:" in first else []
    out = []
    for o in opts:
        name, eq, value = o.partition("=")
        out.append(f"{name}={(path.parent / value).relative_to(ROOT).as_posix()}"
                   if eq and (path.parent / value).is_file() else o)
    return out


def run(args: list[str]) -> str:
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        res = CliRunner().invoke(main, args, standalone_mode=False, catch_exceptions=False)
    finally:
        os.chdir(cwd)
    return res.output.replace(str(ROOT), "<repo>")


def compare(name: str, text: str) -> None:
    path = GOLDEN / name
    if REGEN:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return
    assert path.is_file(), f"{name}: no golden file (regenerate with XENPLAN_REGEN_GOLDEN=1)"
    assert text == path.read_text(), f"{name}: the JSON output changed"


def slug(rel: str) -> str:
    return rel.removesuffix(".dts").replace("/", "__")


@pytest.mark.parametrize("release", RELEASES)
@pytest.mark.parametrize("example", EXAMPLES)
def test_check_examples(example: str, release: str) -> None:
    args = ["check", example, *BOARD_OPTIONS.get(example, QEMU), "--xen-version", release, "--format", "json"]
    compare(f"check/{slug(example)}@{release}.json", run(args))


@pytest.mark.parametrize("example", EXAMPLES)
def test_map_examples(example: str) -> None:
    compare(f"map/{slug(example)}.json", run(["map", example, *BOARD_OPTIONS.get(example, QEMU), "--format", "json"]))


@pytest.mark.parametrize("fixture", FIXTURES)
def test_check_fixtures(fixture: str) -> None:
    compare(f"fixtures/{slug(fixture.removeprefix('tests/fixtures/'))}.json",
            run(["check", fixture, *fixture_args(fixture), "--format", "json"]))


def test_every_golden_file_has_a_case() -> None:
    """A golden file no case writes would pin nothing."""
    names = {f"check/{slug(e)}@{r}.json" for e in EXAMPLES for r in RELEASES}
    names |= {f"map/{slug(e)}.json" for e in EXAMPLES}
    names |= {f"fixtures/{slug(f.removeprefix('tests/fixtures/'))}.json" for f in FIXTURES}
    on_disk = {p.relative_to(GOLDEN).as_posix() for p in GOLDEN.rglob("*.json")}
    assert on_disk == names
