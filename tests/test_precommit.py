"""The pre-commit hook (``.pre-commit-hooks.yaml``).

The manifest is checked always; when the ``pre-commit`` tool is installed
(it is not a dependency of xenplan), ``pre-commit try-repo`` also installs
this checkout as the hook and runs it on a throw-away repository holding a
clean board and a broken one, as a user's commit would.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
HOOKS: list[dict[str, Any]] = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
PRE_COMMIT = shutil.which("pre-commit") or shutil.which("pre-commit", path=os.path.dirname(sys.executable))


def hook() -> dict[str, Any]:
    [only] = [h for h in HOOKS if h["id"] == "xenplan"]
    return only


def test_manifest_entry() -> None:
    h = hook()
    assert h["entry"] == "xenplan check"
    assert h["language"] == "python"
    assert h["pass_filenames"] is True
    assert h["files"] == r"\.(dts|dtb)$"


@pytest.mark.parametrize(("name", "matched"), [("board.dts", True), ("out/board.dtb", True), ("base.dtsi", False),
                                               ("overlay.dtso", False), ("notes.dts.txt", False)])
def test_hook_picks_device_trees(name: str, matched: bool) -> None:
    assert bool(re.search(hook()["files"], name)) is matched


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args], cwd=repo,
                   check=True, capture_output=True, timeout=60)


@pytest.mark.skipif(PRE_COMMIT is None, reason="pre-commit is not installed (pip install pre-commit)")
def test_try_repo_runs_the_hook(tmp_path: Path) -> None:
    repo = tmp_path / "user-repo"
    (repo / "broken").mkdir(parents=True)
    for rel in ("qemu-virt.dts", "qemu-virt-base.dtsi", "broken/kernel-in-static-bank.dts"):
        shutil.copy(ROOT / "examples" / rel, repo / rel)
    git(repo, "init", "-q")
    git(repo, "add", ".")
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home")}

    def try_repo(*files: str) -> subprocess.CompletedProcess[str]:
        assert PRE_COMMIT is not None
        return subprocess.run([PRE_COMMIT, "try-repo", str(ROOT), "xenplan", "--verbose", "--files", *files],
                              cwd=repo, env=env, capture_output=True, text=True, check=False, timeout=600)

    clean = try_repo("qemu-virt.dts", "qemu-virt-base.dtsi")
    assert clean.returncode == 0, clean.stdout[-3000:] + clean.stderr[-2000:]
    assert "verdict: boots" in clean.stdout
    broken = try_repo("qemu-virt.dts", "broken/kernel-in-static-bank.dts")
    assert broken.returncode == 1, broken.stdout[-3000:] + broken.stderr[-2000:]
    assert "DOM-020" in broken.stdout
    assert "Failed" in broken.stdout
