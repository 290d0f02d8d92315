"""The GitHub Action (``action.yml``) run here the way a runner would run it.

Each ``run:`` step goes to ``bash --noprofile --norc -eo pipefail`` (the
runner's own bash invocation) with its ``${{ … }}`` expressions replaced by
test values and ``$GITHUB_OUTPUT`` collected into ``steps.ID.outputs``;
``uses:`` steps (setup-python, the SARIF upload) are not run, but their
``if:`` is evaluated to say whether the upload would happen. ``python``
and ``sudo`` are stand-ins that record their arguments, so the install steps
touch nothing; ``xenplan`` is the one of this checkout's environment.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
ACTION: dict[str, Any] = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
QEMU = "--xen-image 0x40200000:0x154000 --fdt-address 0x48000000"
BASH = shutil.which("bash")


@dataclass
class Run:
    """What the composite action did: each step's name and exit status, the expression context at the end."""

    steps: list[tuple[str, int | str]] = field(default_factory=list)
    context: dict[str, str] = field(default_factory=dict)
    log: str = ""

    @property
    def status(self) -> int:
        """The action's exit status: the first failing ``run:`` step's, else 0."""
        return next((s for _, s in self.steps if isinstance(s, int) and s != 0), 0)


def substitute(text: str, context: dict[str, str]) -> str:
    def one(m: re.Match[str]) -> str:
        assert m.group(1) in context, f"an expression this test cannot evaluate: {m.group(1)}"
        return context[m.group(1)]
    return EXPR.sub(one, text)


def condition(text: str, context: dict[str, str]) -> bool:
    """The ``a == 'x' && b == 'y'`` form that ``action.yml`` uses in ``if:``."""
    inner = EXPR.fullmatch(text.strip())
    assert inner is not None, text
    result = True
    for part in inner.group(1).split("&&"):
        name, op, literal = (p.strip() for p in part.partition("=="))
        assert op and literal.startswith("'") and literal.endswith("'"), part
        result = result and context[name] == literal[1:-1]
    return result


def stand_in(folder: Path, name: str) -> Path:
    """A command that appends its arguments to ``<name>.calls`` and succeeds."""
    tool = folder / name
    tool.write_text(f'#!/bin/sh\necho "$*" >> "{folder / (name + ".calls")}"\n')
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    return tool


def run_action(inputs: dict[str, str], tmp: Path, path: str) -> Run:
    assert BASH is not None
    context = {f"inputs.{k}": v.get("default", "") for k, v in ACTION["inputs"].items()}
    unknown = set(inputs) - set(ACTION["inputs"])
    assert not unknown, unknown
    context.update({f"inputs.{k}": v for k, v in inputs.items()})
    context["github.action_path"] = str(ROOT)
    out = Run(context=context)
    for i, step in enumerate(ACTION["runs"]["steps"]):
        name = step.get("name", step.get("uses", f"step {i}"))
        if "uses" in step:
            runs = condition(step["if"], context) if "if" in step else True
            out.steps.append((name, "would run" if runs else "skipped"))
            continue
        assert step["shell"] == "bash" and "if" not in step, step
        script, output = tmp / f"step-{i}.sh", tmp / f"step-{i}.out"
        script.write_text(substitute(step["run"], context))
        output.write_text("")
        env = {"PATH": path, "HOME": str(tmp), "GITHUB_OUTPUT": str(output),
               **{k: substitute(str(v), context) for k, v in step.get("env", {}).items()}}
        done = subprocess.run([BASH, "--noprofile", "--norc", "-eo", "pipefail", str(script)], cwd=ROOT, env=env,
                              capture_output=True, text=True, check=False, timeout=300)
        out.log += done.stdout + done.stderr
        out.steps.append((name, done.returncode))
        if "id" in step:
            for line in output.read_text().splitlines():
                key, _, value = line.partition("=")
                context[f"steps.{step['id']}.outputs.{key}"] = value
        if done.returncode != 0:
            break
    return out


@pytest.fixture
def tools(tmp_path: Path) -> Path:
    folder = tmp_path / "stand-ins"
    folder.mkdir()
    stand_in(folder, "python")
    stand_in(folder, "sudo")
    return folder


def with_xenplan(tools: Path) -> str:
    """Stand-ins first, then this environment's ``xenplan``, then the system (``dtc``)."""
    return os.pathsep.join([str(tools), str(Path(sys.executable).parent), os.environ.get("PATH", "")])


def sarif_results(path: Path) -> list[dict[str, Any]]:
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc["version"] == "2.1.0"
    results: list[dict[str, Any]] = doc["runs"][0]["results"]
    return results


def test_action_is_composite_with_the_documented_inputs() -> None:
    assert ACTION["runs"]["using"] == "composite"
    assert set(ACTION["inputs"]) >= {"paths", "args", "sarif", "python-version"}
    assert ACTION["inputs"]["paths"]["required"] is True
    assert ACTION["inputs"]["sarif"]["default"] == "xenplan.sarif"
    uses = [s["uses"] for s in ACTION["runs"]["steps"] if "uses" in s]
    assert [u.split("@")[0] for u in uses] == ["actions/setup-python", "github/codeql-action/upload-sarif"]
    setup = ACTION["runs"]["steps"][0]
    assert setup["with"]["python-version"] == "${{ inputs.python-version }}"
    for step in ACTION["runs"]["steps"]:
        if "run" in step:
            assert "${{" not in step["run"], "inputs reach scripts through env:, never pasted into the script"


def test_findings_give_sarif_and_exit_1(tmp_path: Path, tools: Path) -> None:
    sarif = tmp_path / "out.sarif"
    run = run_action({"paths": "examples/qemu-virt.dts examples/**/kernel-in-static-bank.dts",
                      "args": QEMU, "sarif": str(sarif)}, tmp_path, with_xenplan(tools))
    assert run.status == 1, run.log
    assert run.context["steps.check.outputs.exit-code"] == "1"
    assert [s for _, s in run.steps] == ["would run", 0, 0, 0, "would run", 1]
    results = sarif_results(sarif)
    assert any(r["ruleId"] == "DOM-020" and r["level"] == "error" for r in results)
    uris = {loc["physicalLocation"]["artifactLocation"]["uri"] for r in results for loc in r["locations"]}
    assert any(u.endswith("examples/broken/kernel-in-static-bank.dts") for u in uris), uris
    assert (tools / "python.calls").read_text().split() == ["-m", "pip", "install", "--disable-pip-version-check",
                                                            "--quiet", str(ROOT)]
    assert not (tools / "sudo.calls").exists(), "dtc is installed, so apt-get is not run"


def test_clean_input_exits_0_and_args_reach_xenplan(tmp_path: Path, tools: Path) -> None:
    sarif = tmp_path / "clean.sarif"
    clean = run_action({"paths": "examples/qemu-virt.dts", "args": QEMU, "sarif": str(sarif)},
                       tmp_path, with_xenplan(tools))
    assert clean.status == 0, clean.log
    assert sarif.is_file()
    assert all(r["level"] != "error" for r in sarif_results(sarif))
    strict = run_action({"paths": "examples/qemu-virt.dts", "args": f"{QEMU} --fail-on warning",
                         "sarif": str(sarif)}, tmp_path, with_xenplan(tools))
    assert strict.status == 1, strict.log


def test_bad_input_exits_2_and_skips_the_upload(tmp_path: Path, tools: Path) -> None:
    sarif = tmp_path / "none.sarif"
    run = run_action({"paths": "examples/no-such-board.dts", "sarif": str(sarif)}, tmp_path, with_xenplan(tools))
    assert run.status == 2
    assert "xenplan: error: examples/no-such-board.dts" in run.log
    assert not sarif.exists()
    assert [s for _, s in run.steps] == ["would run", 0, 0, 0, "skipped", 2]


def test_upload_can_be_turned_off(tmp_path: Path, tools: Path) -> None:
    run = run_action({"paths": "examples/qemu-virt.dts", "args": QEMU, "sarif": str(tmp_path / "x.sarif"),
                      "upload": "false"}, tmp_path, with_xenplan(tools))
    assert run.status == 0, run.log
    assert ("Upload the SARIF report", "skipped") in run.steps


def test_missing_dtc_is_installed_with_apt(tmp_path: Path, tools: Path) -> None:
    """Only stand-ins on the PATH: ``dtc`` is missing, so the step asks apt-get for it through sudo."""
    step = next(s for s in ACTION["runs"]["steps"] if "dtc" in s.get("name", ""))
    script = tmp_path / "dtc.sh"
    script.write_text(step["run"])
    assert BASH is not None
    done = subprocess.run([BASH, "--noprofile", "--norc", "-eo", "pipefail", str(script)], env={"PATH": str(tools)},
                          capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode == 0, done.stderr
    calls = (tools / "sudo.calls").read_text().splitlines()
    assert calls[0] == "apt-get update -qq"
    assert calls[1].startswith("apt-get install") and "device-tree-compiler" in calls[1].split()


def readme_yaml() -> list[Any]:
    """The YAML blocks of README's "Use it in CI" section."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Use it in CI", 1)[1].split("\n## ", 1)[0]
    return [yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", section, re.S)]


def test_readme_examples_use_the_real_hook_and_inputs() -> None:
    hooks_doc, workflow = readme_yaml()
    hook_ids = {h["id"] for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))}
    assert {h["id"] for repo in hooks_doc["repos"] for h in repo["hooks"]} <= hook_ids
    [step] = [s for s in workflow["jobs"]["xenplan"]["steps"] if "with" in s]
    assert set(step["with"]) <= set(ACTION["inputs"])
    assert workflow["jobs"]["xenplan"]["permissions"]["security-events"] == "write"
    table = (ROOT / "README.md").read_text(encoding="utf-8").split("## Use it in CI", 1)[1]
    for name in ACTION["inputs"]:
        assert f"| `{name}` |" in table, f"README's input table lacks {name}"
