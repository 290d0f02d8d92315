"""Running rule fixtures the way the CLI would, and the two tests every rule area has:
each fires fixture yields exactly its rule at the expected node; each clean fixture
(the fix applied) is silent for that rule.

A fixture's first line may carry its target options, e.g.
``// xenplan: --xen-version 4.16 --xen-image 0x40200000:0x154000``; option
values naming a file beside the fixture (``--partial-dtb``, ``--kernel-image``)
are resolved there.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from xenplan.analysis import Analysis, analyse
from xenplan.targets import board_path, build_target, node_files

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

Fired = Callable[..., set[tuple[str, str | None]]]


def fixture_options(path: Path) -> list[str]:
    first = path.read_text().splitlines()[0] if path.exists() else ""
    if "xenplan:" in first:
        return shlex.split(first.split("xenplan:", 1)[1])
    return []


def analyse_fixture(path: Path) -> Analysis:
    """Parse the fixture's options with the CLI's own option definitions, then analyse it."""
    from xenplan.cli import target_options

    captured: dict[str, object] = {}

    @click.command()
    @target_options
    def cmd(**kw: object) -> None:
        captured.update(kw)

    opts = [f"{o.split('=', 1)[0]}={path.parent / o.split('=', 1)[1]}"
            if "=" in o and (path.parent / o.split("=", 1)[1]).is_file() else o for o in fixture_options(path)]
    res = CliRunner().invoke(cmd, [str(path), *opts], standalone_mode=False)
    if res.exception is not None:
        raise res.exception
    t = build_target(xen_version=captured["xen_version"], arch=captured["arch"],  # type: ignore[arg-type]
                     kconfig=captured["kconfig"], xen_image=captured["xen_image"],  # type: ignore[arg-type]
                     fdt_address=captured["fdt_address"], pa_bits=captured["pa_bits"],  # type: ignore[arg-type]
                     gic_spis=captured["gic_spis"], board=captured["board"],  # type: ignore[arg-type]
                     kernel_images=captured["kernel_images"],  # type: ignore[arg-type]
                     kconfig_file=captured["kconfig_file"])  # type: ignore[arg-type]
    return analyse(str(path), t, captured["overlays"], captured["include_dirs"],  # type: ignore[arg-type]
                   board_path(captured["board"]),  # type: ignore[arg-type]
                   node_files(captured["partial_dtbs"], "--partial-dtb"))  # type: ignore[arg-type]


def fired(path: Path, rule_prefix: str | None = None) -> set[tuple[str, str | None]]:
    """The (rule id, node path) pairs of every finding, optionally of one rule or area only."""
    a = analyse_fixture(path)
    return {(f.rule, f.path) for f in a.findings if rule_prefix is None or f.rule.startswith(rule_prefix)}


def rule_tests(area: str, cases: Sequence[tuple[str, str]]) -> tuple[Callable[..., None], Callable[..., None]]:
    """``test_fires`` and ``test_clean`` for ``tests/fixtures/<area>/<ID>-{fires,clean}.dts``."""
    base = FIXTURES / area

    @pytest.mark.parametrize(("rule_id", "path"), cases)
    def test_fires(check_fixture: Fired, rule_id: str, path: str) -> None:
        assert check_fixture(base / f"{rule_id}-fires.dts", rule_id) == {(rule_id, path)}

    @pytest.mark.parametrize("rule_id", [c[0] for c in cases])
    def test_clean(check_fixture: Fired, rule_id: str) -> None:
        assert check_fixture(base / f"{rule_id}-clean.dts", rule_id) == set()

    return test_fires, test_clean


def rule_set_tests(area: str, fires: dict[str, tuple[str, set[tuple[str, str]]]],
                   clean: Sequence[str]) -> tuple[Callable[..., None], Callable[..., None]]:
    """Like ``rule_tests`` for areas whose fixtures yield several nodes: ``fires`` maps a case
    (``ID`` or ``ID/variant``) to (fixture name, expected set of (rule, node path))."""
    base = FIXTURES / area

    @pytest.mark.parametrize("case", sorted(fires))
    def test_fires(check_fixture: Fired, case: str) -> None:
        name, expected = fires[case]
        assert check_fixture(base / f"{name}.dts", case.split("/")[0]) == expected

    @pytest.mark.parametrize("rule_id", list(clean))
    def test_clean(check_fixture: Fired, rule_id: str) -> None:
        assert check_fixture(base / f"{rule_id}-clean.dts", rule_id) == set()

    return test_fires, test_clean


__all__: list[Any] = [
    "FIXTURES", "Fired", "analyse_fixture", "fired", "fixture_options", "rule_set_tests", "rule_tests"]


def analyse_fixture_with(path: Path, tmp_path: Path, extra: str) -> Analysis:
    """The fixture analysed with ``extra`` added to its ``// xenplan:`` options (a release, say)."""
    lines = path.read_text().splitlines()
    lines[0] += f" {extra}"
    copy = tmp_path / path.name
    copy.write_text("\n".join(lines) + "\n")
    return analyse_fixture(copy)
