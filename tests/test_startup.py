"""What a typical ``check`` loads: start-up is most of its cost, so the path of a DTB check to a pipe
must not bring in what it does not use (``benchmarks/startup.py`` measures the time; README "Speed").

Each case runs the real command in a fresh interpreter, output to a pipe, and lists
``sys.modules`` when the interpreter exits.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
QEMU = ["--xen-image", "0x40200000:0x154000", "--fdt-address", "0x48000000"]

RUNNER = """
import atexit, json, runpy, sys
out = sys.argv[1]
atexit.register(lambda: open(out, "w").write(json.dumps(sorted(sys.modules))))
sys.argv = ["xenplan", *sys.argv[2:]]
runpy.run_module("xenplan", run_name="__main__", alter_sys=True)
"""
"""Runs ``python -m xenplan ARGS`` and writes the names of the modules loaded at exit to a file
(``json`` is the runner's own: the list is written after xenplan's work is done)."""

NEVER = ("pydantic", "pydantic_core", "rich", "concurrent", "tempfile", "tomllib", "email", "importlib.metadata",
         "xenplan.plan", "xenplan.simulate", "xenplan.scenario_file", "xenplan.config_file", "xenplan.tomlfile",
         "xenplan.dt.dts", "xenplan.dt.dts_source", "xenplan.report.text", "xenplan.report.sarif",
         "xenplan.boot.llc", "xenplan.boot.replay.colour", "xenplan.boot.replay.arm32")
"""Modules a check of a DTB with no configuration file never needs: the validating models of the
files users write, rich (text to a pipe is plain), the DTS compiler route and its threads, the
planner, the simulation of run-time operations, the other output formats, and the replays of the
coloured heap and of arm32's domain heap (the board is arm64 without LLC colouring)."""


def loaded(tmp_path: Path, *args: str) -> set[str]:
    out = tmp_path / "modules.json"
    p = subprocess.run([sys.executable, "-c", RUNNER, str(out), *args], capture_output=True, text=True,
                       cwd=tmp_path, timeout=120, check=False)
    assert p.returncode in (0, 1), p.stderr
    names: list[str] = json.loads(out.read_text())
    return set(names) - {"json", "json.decoder", "json.encoder", "json.scanner", "_json"}


def offending(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == n or m.startswith(n + ".") for n in NEVER))


@pytest.fixture
def qemu_dtb(tmp_path: Path, dtc_compile: Callable[[Path | str], bytes]) -> Path:
    dtb = tmp_path / "qemu-virt.dtb"
    dtb.write_bytes(dtc_compile(ROOT / "examples" / "qemu-virt.dts"))
    return dtb


def test_a_text_check_of_a_dtb_loads_only_what_it_uses(tmp_path: Path, qemu_dtb: Path) -> None:
    modules = loaded(tmp_path, "check", str(qemu_dtb), *QEMU)
    assert "xenplan.checks.smem" in modules, "the runner saw the check run"
    assert offending(modules) == []


def test_a_json_check_of_a_dtb_loads_no_validating_model(tmp_path: Path, qemu_dtb: Path) -> None:
    modules = loaded(tmp_path, "check", str(qemu_dtb), "--format", "json", *QEMU)
    assert offending(modules) == []


def test_the_guard_sees_what_a_run_loads(tmp_path: Path, qemu_dtb: Path) -> None:
    """The same runner does see pydantic and rich where a run needs them: a configuration file and
    colour forced on."""
    (tmp_path / "xenplan.toml").write_text('xen-version = "4.20"\n')
    modules = loaded(tmp_path, "check", str(qemu_dtb), "--color", "always", *QEMU)
    assert {"pydantic.main", "rich.console", "xenplan.config_file"} <= modules


def test_a_selected_check_imports_only_the_selected_areas(tmp_path: Path, qemu_dtb: Path) -> None:
    """``--select SMEM`` needs the SMEM rules (and SUP, whose module finds the suppressions that
    would make every rule run); the other areas' modules stay unloaded."""
    from xenplan.checks.index import MODULE

    modules = loaded(tmp_path, "check", str(qemu_dtb), "--select", "SMEM", *QEMU)
    areas = {m for m in modules if m in set(MODULE.values())}
    assert areas == {"xenplan.checks.smem", "xenplan.checks.suppress"}
    modules = loaded(tmp_path, "check", str(qemu_dtb), *QEMU)
    assert set(MODULE.values()) <= modules, "an unnarrowed check runs every area"
