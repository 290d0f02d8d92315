"""Shared by the rule tests: run a fixture DTS the way the CLI would.

A fixture's first line may carry its target options, e.g.
``// xenplan: --xen-version 4.16 --xen-image 0x40200000:0x154000``.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Callable

import pytest
from click.testing import CliRunner

from xenplan.analysis import Analysis, analyse
from xenplan.cli import _board_path, _target

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def fixture_options(path: Path) -> list[str]:
    first = path.read_text().splitlines()[0] if path.exists() else ""
    if "xenplan:" in first:
        return shlex.split(first.split("xenplan:", 1)[1])
    return []


def analyse_fixture(path: Path) -> Analysis:
    """Parse the fixture's options with the CLI's own option definitions, then analyse it."""
    import click

    from xenplan.cli import target_options

    captured: dict[str, object] = {}

    @click.command()
    @target_options
    def cmd(**kw: object) -> None:
        captured.update(kw)

    opts = [o if "=" not in o or not o.split("=", 1)[1].endswith(".bin")
            else f"{o.split('=', 1)[0]}={path.parent / o.split('=', 1)[1]}" for o in fixture_options(path)]
    res = CliRunner().invoke(cmd, [str(path), *opts], standalone_mode=False)
    if res.exception is not None:
        raise res.exception
    t = _target(captured["xen_version"], captured["arch"], captured["kconfig"], captured["xen_image"],  # type: ignore[arg-type]
                captured["fdt_address"], captured["pa_bits"], captured["gic_spis"], captured["board"],  # type: ignore[arg-type]
                captured["kernel_images"])  # type: ignore[arg-type]
    return analyse(str(path), t, captured["overlays"], captured["include_dirs"],  # type: ignore[arg-type]
                   _board_path(captured["board"]))  # type: ignore[arg-type]


def fired(path: Path, rule_prefix: str | None = None) -> set[tuple[str, str | None]]:
    """The (rule id, node path) pairs of every finding, optionally of one rule or area only."""
    a = analyse_fixture(path)
    return {(f.rule, f.path) for f in a.findings if rule_prefix is None or f.rule.startswith(rule_prefix)}


@pytest.fixture
def check_fixture() -> Callable[..., set[tuple[str, str | None]]]:
    return fired
