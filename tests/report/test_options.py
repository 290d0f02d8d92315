"""The text report's options end to end: ``-o -``, ``--color`` and ``NO_COLOR``, ``--statistics``,
``--show-explanations``, and the length of a clean board's log."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from xenplan.cli import main

ROOT = Path(__file__).resolve().parents[2]
QEMU_VIRT = ROOT / "examples" / "qemu-virt.dts"
MISMATCH = ROOT / "examples" / "broken" / "memory-mismatch.dts"
QEMU = ["--xen-image", "0x40200000:0x154000", "--fdt-address", "0x48000000"]
ESC = "\x1b["


def invoke(*args: str | Path, env: dict[str, str] | None = None) -> Result:
    return CliRunner(env=env).invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_dash_output_is_standard_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for cmd in (["check", QEMU_VIRT, "--format", "json"], ["map", QEMU_VIRT, "--format", "json"]):
        res = invoke(*cmd, *QEMU, "-o", "-")
        assert json.loads(res.stdout)["schema"] == "xenplan/1"
    text = invoke("check", QEMU_VIRT, *QEMU, "-o", "-")
    assert "verdict: boots" in text.stdout
    assert list(tmp_path.iterdir()) == [], "no file named '-'"


def test_colour_follows_the_option_off_a_terminal(tmp_path: Path) -> None:
    assert ESC not in invoke("check", QEMU_VIRT, *QEMU).stdout
    assert ESC not in invoke("check", QEMU_VIRT, *QEMU, "--color", "never").stdout
    assert ESC in invoke("check", QEMU_VIRT, *QEMU, "--color", "always").stdout
    assert ESC in invoke("check", QEMU_VIRT, *QEMU, "--color", "always", env={"NO_COLOR": "1"}).stdout
    assert ESC in invoke("map", QEMU_VIRT, *QEMU, "--color", "always").stdout
    out = tmp_path / "r.txt"
    invoke("check", QEMU_VIRT, *QEMU, "-o", out)
    assert ESC not in out.read_text()


def on_terminal(*args: str, env: dict[str, str]) -> str:
    """Run xenplan with a pseudo-terminal as its standard output; what it wrote."""
    leader, follower = pty.openpty()
    full = {k: v for k, v in os.environ.items() if k != "NO_COLOR"} | {"COLUMNS": "150", "TERM": "xterm"} | env
    p = subprocess.Popen([sys.executable, "-m", "xenplan", *args], stdout=follower, stderr=subprocess.DEVNULL,
                         env=full)
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    p.wait()
    os.close(leader)
    return b"".join(chunks).decode("utf-8", "replace")


@pytest.mark.parametrize("cmd", ["check", "map"])
def test_terminal_colours_unless_no_color(cmd: str) -> None:
    assert ESC in on_terminal(cmd, str(QEMU_VIRT), *QEMU, env={})
    assert ESC not in on_terminal(cmd, str(QEMU_VIRT), *QEMU, env={"NO_COLOR": "1"})
    assert ESC not in on_terminal(cmd, str(QEMU_VIRT), *QEMU, "--color", "never", env={})


def test_statistics_count_every_finding_by_rule() -> None:
    doc = json.loads(invoke("check", QEMU_VIRT, MISMATCH, *QEMU, "--format", "json").stdout)
    want = Counter((f["rule"], f["severity"], f["slug"]) for d in doc for f in d["findings"])
    out = invoke("check", QEMU_VIRT, MISMATCH, *QEMU, "--statistics").stdout.splitlines()
    head = out.index(f"statistics: {sum(want.values())} findings by rule")
    rows = [line.split() for line in out[head + 1:]]
    assert {(r[1], r[2], r[3]): int(r[0]) for r in rows} == want
    assert [int(r[0]) for r in rows] == sorted((int(r[0]) for r in rows), reverse=True)
    assert head > max(i for i, line in enumerate(out) if line.startswith("Xen ")), "after the findings"


def test_statistics_with_github_annotations_and_refused_with_documents() -> None:
    gh = invoke("check", QEMU_VIRT, *QEMU, "--format", "github", "--statistics").stdout
    assert gh.startswith("::") and "statistics: " in gh
    res = CliRunner().invoke(main, ["check", str(QEMU_VIRT), "--format", "json", "--statistics"])
    assert res.exit_code == 2 and "--statistics" in res.stderr


def test_concise_by_default_explained_on_request() -> None:
    short = invoke("check", MISMATCH, *QEMU).stdout
    long = invoke("check", MISMATCH, *QEMU, "--show-explanations").stdout
    assert "why it matters: " not in short
    assert "why it matters: " in long
    findings = [line for line in short.splitlines() if line.startswith(f"{MISMATCH}:")]
    assert findings and all(line in long.splitlines() for line in findings)
    assert all(len(line.split()) > 3 and line.split()[2] in ("error", "warning", "info") for line in findings)


def test_a_clean_board_fits_on_one_screen() -> None:
    res = invoke("check", QEMU_VIRT)
    assert res.exit_code == 0
    assert len(res.stdout.splitlines()) <= 30
    assert res.stdout.splitlines()[-1] == "Xen boots; 7 warnings (run-time hazards), 2 info"
