"""The README's "Use it in CI" configuration file, suppression comment and baseline workflow, run as
written: the TOML block becomes a repository's ``xenplan.toml``, the DTS line goes into a board, and the
shell block's ``xenplan`` commands run in that repository."""

from __future__ import annotations

import glob
import json
import re
import shlex
from pathlib import Path

import pytest
from ciboard import board, invoke

ROOT = Path(__file__).resolve().parent.parent


def section() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index("## Use it in CI")
    return text[start:text.index("\n## ", start + 1)]


def block(lang: str, after: str) -> str:
    text = section()
    m = re.compile(rf"```{lang}\n(.*?)```", re.S).search(text, text.index(after))
    assert m is not None, f"no ```{lang} block after {after!r}"
    return m.group(1)


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository laid out as the README's configuration expects, with its suppression comment."""
    (tmp_path / "xenplan.toml").write_text(block("toml", "**A configuration file.**"))
    comment = block("dts", "**A configuration file.**").splitlines()
    board(tmp_path / "boards" / "zcu102", lambda t: t.replace(comment[1], "\n".join(comment), 1))
    (tmp_path / "boards" / "qemu").mkdir()
    for name in ("qemu-virt.dts", "qemu-virt-base.dtsi"):
        (tmp_path / "boards" / "qemu" / name).write_text((ROOT / "examples" / name).read_text())
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_readme_configuration(repo: Path) -> None:
    res = invoke("check", "boards/zcu102/zcu102.dts", "boards/qemu/qemu-virt.dts", "--format", "json")
    assert res.exit_code == 0, res.stderr
    zcu, qemu = json.loads(res.stdout)
    assert zcu["target"]["xen_version"] == qemu["target"]["xen_version"] == "4.20.4"
    assert zcu["target"]["xen_image"] == {"start": "0x5a00000", "size": "0x160000"}
    assert qemu["target"]["xen_image"] == {"start": "0x40200000", "size": "0x154000"}
    assert zcu["target"]["kconfig"]["STATIC_MEMORY"] is True
    found = {(f["rule"], f["path"]) for f in zcu["findings"]}
    assert not {r for r, _ in found} & {"RT-005", "SUP-001"}
    assert ("RT-003", "/chosen/rt-a") not in found
    assert not {("RT-001", "/chosen/rt-b"), ("RT-002", "/chosen/rt-b")} & found
    assert ("RT-001", "/chosen/rt-a") in found
    hidden = {(s["rule"], s["path"], s["suppression"]["kind"]) for s in zcu["suppressed"]}
    assert {("RT-003", "/chosen/rt-a", "external"), ("RT-001", "/chosen/rt-b", "inSource")} <= hidden
    res = invoke("config", "boards/zcu102/zcu102.dts")
    assert re.search(r"xen-image\s+0x5a00000:0x160000\s+per-file \"boards/zcu102/\*\.dts\" xenplan\.toml:\d+",
                     res.stdout)


def test_readme_baseline_workflow(repo: Path) -> None:
    commands = [shlex.split(line, comments=True) for line in block("sh", "**A baseline.**").splitlines()]
    commands = [c for c in commands if c]
    assert [c[:2] for c in commands] == [["xenplan", "check"]] * 2

    def run(args: list[str]) -> int:
        expanded = [x for a in args[1:] for x in (sorted(glob.glob(a)) if "*" in a else [a])]
        return invoke(*expanded).exit_code

    assert run(commands[0]) == 0
    assert (repo / "xenplan-baseline.json").is_file()
    assert run(commands[1]) == 0
    results = json.loads((repo / "xenplan.sarif").read_text())["runs"][0]["results"]
    assert [r for r in results if "suppressions" not in r] == [], "only the suppressed findings remain"
    path = repo / "boards" / "zcu102" / "zcu102.dts"
    path.write_text(path.read_text().replace("memory = <0x0 0x20000>;", "memory = <0x0 0x10000>;"))
    assert run(commands[1]) == 1
    results = json.loads((repo / "xenplan.sarif").read_text())["runs"][0]["results"]
    assert {r["ruleId"] for r in results if "suppressions" not in r} == {"PAGE-003"}
