"""xenplan as an integrator gets it: an sdist and a wheel built with
``python -m build``, the wheel installed into a fresh virtual environment,
and ``xenplan check`` run from there with no ``dtc`` on the PATH.

A DTB needs no compiler at all; a DTS goes through the pure-Python fallback
(``XENPLAN_NO_DTC=1``, docs/device-tree-input.md). The installed package
must carry its data: the bundled boards and the ``xenplan/1`` JSON Schema.

The build and the install fetch from the package index (setuptools for the
isolated build, the runtime dependencies for the install); when the index
cannot be reached the test skips and says so. The build and installs take
25 s on an idle machine and up to two minutes on a loaded one, so
``XENPLAN_SKIP_PACKAGING=1`` skips them while iterating; CI runs them.
Shell completion, which click provides, is checked here too: README tells
users how to enable it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner

from xenplan.cli import main

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_IN_PACKAGE = "xenplan/data/schema/xenplan-1.schema.json"
PIP_TIMEOUT = 300
OFFLINE = ("NewConnectionError", "Temporary failure in name resolution", "Network is unreachable",
           "No matching distribution found", "Could not find a version that satisfies")
"""pip's words when the package index cannot be reached: the test then skips instead of failing."""


def run(args: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, check=False, **kw)


def fetching(args: list[str], what: str) -> subprocess.CompletedProcess[str]:
    """Run a step that downloads; skip when the index is unreachable, fail on anything else."""
    done = run(args, timeout=PIP_TIMEOUT)
    if done.returncode != 0:
        out = done.stdout + done.stderr
        if any(word in out for word in OFFLINE):
            pytest.skip(f"{what}: the package index cannot be reached ({out.strip().splitlines()[-1]})")
        raise AssertionError(f"{what} failed:\n{out[-3000:]}")
    return done


def new_venv(path: Path) -> Path:
    """A fresh virtual environment (no system site-packages); returns its bin directory."""
    run([sys.executable, "-m", "venv", str(path)], timeout=120).check_returncode()
    return path / "bin"


@dataclass(frozen=True)
class Installed:
    dist: Path
    sdist: Path
    wheel: Path
    bin: Path
    """The fresh environment's bin directory, holding ``python`` and ``xenplan``."""
    no_dtc: Path
    """A PATH directory with no ``dtc`` in it."""
    build_log: str


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    if os.environ.get("XENPLAN_SKIP_PACKAGING") == "1":
        pytest.skip("XENPLAN_SKIP_PACKAGING=1: building and installing the package skipped")
    tmp = tmp_path_factory.mktemp("packaging")
    if find_spec("build") is not None:
        builder = sys.executable
    else:
        builder = str(new_venv(tmp / "build-env") / "python")
        fetching([builder, "-m", "pip", "install", "--quiet", "build"], "pip install build")
    dist = tmp / "dist"
    built = fetching([builder, "-m", "build", "--outdir", str(dist), str(ROOT)], "python -m build")
    sdists, wheels = sorted(dist.glob("xenplan-*.tar.gz")), sorted(dist.glob("xenplan-*.whl"))
    assert len(sdists) == 1 and len(wheels) == 1, sorted(p.name for p in dist.iterdir())
    venv = new_venv(tmp / "venv")
    fetching([str(venv / "python"), "-m", "pip", "install", "--quiet", str(wheels[0])], "pip install the wheel")
    no_dtc = tmp / "no-dtc-bin"
    no_dtc.mkdir()
    return Installed(dist, sdists[0], wheels[0], venv, no_dtc, built.stdout + built.stderr)


def xenplan(inst: Installed, args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """The installed console script, with a PATH on which ``dtc`` cannot be found."""
    assert shutil.which("dtc", path=str(inst.no_dtc)) is None
    environ = {"PATH": str(inst.no_dtc), "HOME": str(cwd), "LANG": "C.UTF-8", "COLUMNS": "200", **env}
    return run([str(inst.bin / "xenplan"), *args], cwd=cwd, env=environ, timeout=120)


def test_wheel_and_sdist_carry_data_and_license(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as whl:
        names = set(whl.namelist())
        meta = next(n for n in names if n.endswith(".dist-info/METADATA"))
        metadata = whl.read(meta).decode()
    assert SCHEMA_IN_PACKAGE in names
    assert {"xenplan/data/boards/qemu-virt.dts", "xenplan/data/boards/zcu102.dts"} <= names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert "License-Expression: MIT" in metadata.splitlines()
    assert not any(line.startswith("Classifier: License") for line in metadata.splitlines())
    assert "project.license" not in installed.build_log, "the licence is an SPDX string, not a deprecated table"
    with tarfile.open(installed.sdist) as sd:
        members = {m.name.split("/", 1)[1] for m in sd.getmembers() if "/" in m.name}
    assert {"LICENSE", "pyproject.toml", "README.md", SCHEMA_IN_PACKAGE} <= members


def test_installed_xenplan_checks_a_dtb_without_dtc(installed: Installed, tmp_path: Path,
                                                     dtc_compile: Callable[[Path | str], bytes]) -> None:
    dtb = tmp_path / "qemu-virt.dtb"
    dtb.write_bytes(dtc_compile(ROOT / "examples" / "qemu-virt.dts"))
    done = xenplan(installed, ["check", dtb.name], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "verdict: boots" in done.stdout
    assert "qemu-virt.dtb: offset 0x" in done.stdout


def test_installed_xenplan_reads_dts_through_the_fallback(installed: Installed, tmp_path: Path) -> None:
    example = ROOT / "examples" / "broken" / "kernel-in-static-bank.dts"
    done = xenplan(installed, ["check", str(example), "--xen-version", "4.18"], tmp_path, XENPLAN_NO_DTC="1")
    assert done.returncode == 1, done.stderr
    assert "verdict: panic at domain domU2 [DOM-020]" in done.stdout
    assert f"{example}:" in done.stdout, "findings are placed by DTS line"
    clean = xenplan(installed, ["check", str(ROOT / "examples" / "qemu-virt.dts")], tmp_path, XENPLAN_NO_DTC="1")
    assert clean.returncode == 0, clean.stderr
    assert "verdict: boots" in clean.stdout


def test_installed_json_satisfies_the_installed_schema(installed: Installed, tmp_path: Path) -> None:
    code = "from importlib.resources import files; print(files('xenplan') / 'data/schema/xenplan-1.schema.json')"
    locate = run([str(installed.bin / "python"), "-c", code], cwd=tmp_path, timeout=60)
    schema_path = Path(locate.stdout.strip())
    assert schema_path.is_file() and installed.bin.parent in schema_path.parents, locate
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    example = ROOT / "examples" / "broken" / "kernel-in-static-bank.dts"
    done = xenplan(installed, ["check", str(example), "--format", "json"], tmp_path, XENPLAN_NO_DTC="1")
    assert done.returncode == 1, done.stderr
    jsonschema.Draft202012Validator(schema).validate(json.loads(done.stdout))


def test_installed_completion_script_completes_commands(installed: Installed, tmp_path: Path) -> None:
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("bash is not installed")
    script = xenplan(installed, [], tmp_path, _XENPLAN_COMPLETE="bash_source")
    assert script.returncode == 0, script.stderr
    probe = tmp_path / "probe.sh"
    probe.write_text(script.stdout + 'COMP_WORDS=(xenplan ch); COMP_CWORD=1; _xenplan_completion xenplan\n'
                     'printf "%s\\n" "${COMPREPLY[@]}"\n')
    done = run([bash, "--noprofile", "--norc", str(probe)], cwd=tmp_path, timeout=60,
               env={"PATH": f"{installed.bin}{os.pathsep}{os.environ.get('PATH', '')}", "HOME": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["check"]


@pytest.mark.parametrize(("shell", "marker"), [("bash", "complete -o nosort -F _xenplan_completion xenplan"),
                                               ("zsh", "compdef _xenplan_completion xenplan"),
                                               ("fish", "complete --no-files --command xenplan")])
def test_completion_env_var_prints_a_script(shell: str, marker: str) -> None:
    res = CliRunner().invoke(main, [], prog_name="xenplan", env={"_XENPLAN_COMPLETE": f"{shell}_source"})
    assert res.exit_code == 0
    assert marker in res.output


def test_completion_answers_a_partial_command() -> None:
    res = CliRunner().invoke(main, [], prog_name="xenplan", env={
        "_XENPLAN_COMPLETE": "bash_complete", "COMP_WORDS": "xenplan check --fail", "COMP_CWORD": "2"})
    assert res.exit_code == 0
    assert res.output.split() == ["plain,--fail-on"]
